"""What a WS-Security header must satisfy: the verification policy.

The policy is data, decided once at start-up (from settings) and passed to
:func:`udb.wssecurity.verify`::

    SecurityPolicy(allow_sha1=False, trust_anchors=load_trust_anchors(pem_bytes))

It also judges the two things that depend on it: the Timestamp's window and
the signing certificate (validity dates, trust anchors). What is *not*
configurable is fixed in :mod:`udb.wssecurity.verify`: the signature covers
exactly the SOAP Body and the Timestamp, exclusive C14N is the only
canonicalisation and transform (optionally preceded by enveloped-signature,
a no-op there: :mod:`udb.wssecurity.transforms`), and RSA-SHA256 / SHA-256
are always allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm

__all__ = ["SecurityError", "SecurityPolicy", "load_trust_anchors"]


class SecurityError(Exception):
    """The WS-Security header is missing, malformed, does not verify or breaks the policy.

    ``reason`` says which check failed, in plain English and without data
    from the message (no element text, no certificate subject).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _validity(certificate: x509.Certificate, now: datetime, skew: timedelta) -> str | None:
    """Why ``certificate`` is not valid at ``now`` (give or take ``skew``), or None."""
    if certificate.not_valid_before_utc > now + skew:
        return "not yet valid"
    if certificate.not_valid_after_utc < now - skew:
        return "expired"
    return None


@dataclass(frozen=True, slots=True)
class SecurityPolicy:
    """The configurable part of WS-Security verification.

    ``allow_sha1``
        accept RSA-SHA1 signatures and SHA-1 digests (the live platform's
        public clients still use them); RSA-SHA256 and SHA-256 are always
        accepted.
    ``clock_skew``
        tolerance for the Timestamp and the certificates' validity dates.
    ``max_lifetime``
        the longest ``Expires - Created`` a Timestamp may declare.
    ``trust_anchors``
        certificates that must have issued the signing certificate (or be
        it); empty: no chain check, the validity dates are still checked.
    """

    allow_sha1: bool = True
    clock_skew: timedelta = timedelta(minutes=5)
    max_lifetime: timedelta = timedelta(hours=1)
    trust_anchors: tuple[x509.Certificate, ...] = ()

    def __post_init__(self) -> None:
        if self.clock_skew < timedelta(0):
            raise ValueError("clock_skew must not be negative")
        if self.max_lifetime <= timedelta(0):
            raise ValueError("max_lifetime must be positive")
        if not isinstance(self.trust_anchors, tuple) or not all(
            isinstance(anchor, x509.Certificate) for anchor in self.trust_anchors
        ):
            raise TypeError("trust_anchors must be a tuple of x509.Certificate")

    def check_timestamp(self, created: datetime, expires: datetime, now: datetime) -> None:
        """Raise :class:`SecurityError` unless ``now`` lies in the Timestamp's window."""
        if expires <= created:
            raise SecurityError("the Timestamp expires before it was created")
        if expires - created > self.max_lifetime:
            raise SecurityError(
                "the Timestamp's lifetime (Expires - Created) is longer than allowed"
            )
        if created > now + self.clock_skew:
            raise SecurityError("the Timestamp is not yet valid (Created is in the future)")
        if expires <= now - self.clock_skew:
            raise SecurityError("the Timestamp has expired")

    def check_certificate(self, certificate: x509.Certificate, now: datetime) -> None:
        """Raise :class:`SecurityError` unless the signing certificate is acceptable.

        It must be valid at ``now``; with trust anchors it must be one of
        them or be issued directly by one that is valid at ``now`` (issuer
        name and signature checked by ``cryptography``).
        """
        problem = _validity(certificate, now, self.clock_skew)
        if problem:
            raise SecurityError(f"the signing certificate is {problem}")
        if not self.trust_anchors or certificate in self.trust_anchors:
            return
        issuer_outside_validity = False
        for anchor in self.trust_anchors:
            if anchor.subject != certificate.issuer:
                continue
            try:
                certificate.verify_directly_issued_by(anchor)
            except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
                continue
            if _validity(anchor, now, self.clock_skew) is None:
                return
            issuer_outside_validity = True
        if issuer_outside_validity:
            raise SecurityError(
                "the trust anchor that issued the certificate is outside its validity"
            )
        raise SecurityError("the certificate is not issued by a configured trust anchor")


def load_trust_anchors(pem: bytes) -> tuple[x509.Certificate, ...]:
    """The certificates of a PEM file (``udb serve --trust-anchors FILE.pem``).

    Raises :class:`ValueError` when the data holds no certificate or a
    malformed one.
    """
    try:
        anchors = tuple(x509.load_pem_x509_certificates(pem))
    except ValueError:
        raise ValueError("the trust anchor file holds no valid PEM certificate") from None
    if not anchors:  # pragma: no cover - cryptography raises for an empty file
        raise ValueError("the trust anchor file holds no valid PEM certificate")
    return anchors
