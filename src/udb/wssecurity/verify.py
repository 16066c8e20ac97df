"""Verifying the WS-Security header of a request.

The one shape accepted (the live platform's, see ``sign``)::

    <s:Envelope>
      <s:Header>
        <o:Security s:mustUnderstand="1">          exactly one
          <u:Timestamp u:Id="TimestampRef">        exactly one: Created, Expires
          <o:BinarySecurityToken u:Id="SecurityToken-..."
              ValueType="...#X509v3" EncodingType="...#Base64Binary">  exactly one
          <Signature xmlns="http://www.w3.org/2000/09/xmldsig#">      exactly one
            <SignedInfo>  exc-C14N, RSA-SHA256 (or RSA-SHA1), two References:
                          #BodyRef and #TimestampRef, each exc-C14N + SHA-256 (or SHA-1)
            <SignatureValue>
            <KeyInfo><o:SecurityTokenReference><o:Reference URI="#SecurityToken-..."/>
      </s:Header>
      <s:Body u:Id="BodyRef">  exactly one element
    </s:Envelope>

The envelope is not walked here: :func:`verify` takes the parts the SOAP
layer found once (:class:`EnvelopeParts`, :func:`udb.soap.envelope.parse`):
the Envelope element, its Header and Body children and the ``wsse:Security``
blocks of the Header. A signed envelope with a second Body, or with its Body
moved into the Header, is refused here as signature wrapping, before anyone
looks at the envelope's structure.

Every reference is resolved strictly (:mod:`udb.wssecurity.ids`) before
python-xmlsec sees it, and the two elements must be THE Body of the envelope
and THE Timestamp of the Security header. Only those two attributes are then
registered as IDs for xmlsec; xmlsec's own lookup (``xmlsec.tree.add_ids``)
takes the first of several equal Ids and is not used.

The result is a :class:`VerifiedMessage`, or an :class:`UnsignedMessage`
for an envelope without a WS-Security header; callers read the request only
from it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from lxml import etree

from udb import ns
from udb.wssecurity.ids import index_ids, resolve
from udb.wssecurity.policy import SecurityError, SecurityPolicy
from udb.wssecurity.tokens import base64_value, certificate_of, timestamp_of

__all__ = ["EnvelopeParts", "SecurityError", "UnsignedMessage", "VerifiedMessage", "verify"]

_C = xmlsec.constants
EXC_C14N = _C.TransformExclC14N.href
#: algorithm URI -> whether it is SHA-1
SIGNATURE_METHODS = {_C.TransformRsaSha256.href: False, _C.TransformRsaSha1.href: True}
DIGEST_METHODS = {_C.TransformSha256.href: False, _C.TransformSha1.href: True}

_BODIES = frozenset(ns.qname(env, "Body") for env in (ns.SOAP12_ENV, ns.SOAP11_ENV))


class EnvelopeParts(Protocol):
    """What the SOAP layer found in a parsed envelope, once (:func:`udb.soap.envelope.parse`)."""

    @property
    def envelope(self) -> etree._Element:
        """The Envelope element, the root of the document."""

    @property
    def headers(self) -> Sequence[etree._Element]:
        """The Envelope's ``Header`` children (of its SOAP version)."""

    @property
    def bodies(self) -> Sequence[etree._Element]:
        """The Envelope's ``Body`` children."""

    @property
    def security_headers(self) -> Sequence[etree._Element]:
        """The ``wsse:Security`` children of those Headers, in document order."""


@dataclass(frozen=True, slots=True)
class VerifiedMessage:
    """What the signature proved; everything after verification reads only this."""

    body: etree._Element
    payload: etree._Element
    certificate: x509.Certificate
    #: SHA-256 of the certificate (DER), hex: it identifies the caller
    fingerprint: str
    created: datetime
    expires: datetime
    signature_value: str
    uses_sha1: bool
    #: the replay cache's key (SHA-256 of the SignatureValue, hex) and how long to keep
    #: it: until Expires plus the clock skew, as long as the message could be accepted
    replay_key: str
    keep_until: datetime


@dataclass(frozen=True, slots=True)
class UnsignedMessage:
    """An envelope without a WS-Security header: nothing was verified, nothing is trusted.

    ``body`` is the envelope's one Body, as found (None if it has none or several);
    only insecure development mode serves such a request.
    """

    body: etree._Element | None


def _tag(namespace: str, local: str) -> str:
    return ns.qname(namespace, local)


def _elements(parent: etree._Element) -> list[etree._Element]:
    return [child for child in parent if isinstance(child.tag, str)]


def _one(parent: etree._Element, tag: str, what: str) -> etree._Element:
    found = [child for child in parent if child.tag == tag]
    if not found:
        raise SecurityError(f"the {what} is missing")
    if len(found) > 1:
        raise SecurityError(f"the {what} occurs more than once")
    return found[0]


def _check_c14n(method: etree._Element, what: str) -> None:
    """``Algorithm`` is exclusive C14N; the only child allowed is ``InclusiveNamespaces``."""
    children = _elements(method)
    inclusive = _tag(ns.EXC_C14N, "InclusiveNamespaces")
    if method.get("Algorithm") != EXC_C14N or any(c.tag != inclusive for c in children):
        raise SecurityError(f"the {what} is not exclusive C14N")
    if len(children) > 1:
        raise SecurityError(f"the {what} has more than one InclusiveNamespaces")


def _algorithm(
    method: etree._Element, allowed: dict[str, bool], policy: SecurityPolicy, what: str
) -> bool:
    """Check a SignatureMethod or DigestMethod; answer whether it is SHA-1."""
    algorithm = method.get("Algorithm")
    if algorithm not in allowed or _elements(method):
        raise SecurityError(f"the {what} is not an allowed algorithm")
    sha1 = allowed[algorithm]
    if sha1 and not policy.allow_sha1:
        raise SecurityError(f"the {what} uses SHA-1, which the policy does not allow")
    return sha1


def _check_reference(reference: etree._Element, policy: SecurityPolicy) -> bool:
    """Transforms and DigestMethod of one Reference; answer whether it uses SHA-1."""
    dsig = [
        _tag(ns.DS, "Transforms"),
        _tag(ns.DS, "DigestMethod"),
        _tag(ns.DS, "DigestValue"),
    ]
    children = _elements(reference)
    if [child.tag for child in children] != dsig:
        raise SecurityError("a Reference must hold Transforms, DigestMethod and DigestValue")
    transforms = _elements(children[0])
    if len(transforms) != 1 or transforms[0].tag != _tag(ns.DS, "Transform"):
        raise SecurityError("a Reference must have exactly one transform, exclusive C14N")
    _check_c14n(transforms[0], "reference transform")
    base64_value(children[2], "DigestValue")
    return _algorithm(children[1], DIGEST_METHODS, policy, "digest method")


@functools.lru_cache(maxsize=256)
def _verification_key(certificate: x509.Certificate) -> xmlsec.Key:
    """The certificate's key for python-xmlsec, loaded once per certificate.

    :func:`_parsed_certificate` gives the same object for the same token, so
    this cache hits for every message of a client; a refused key is not cached.
    """
    try:
        return xmlsec.Key.from_memory(
            certificate.public_bytes(serialization.Encoding.DER), _C.KeyDataFormatCertDer
        )
    except xmlsec.Error:
        raise SecurityError("the certificate's key cannot be used for verification") from None


def _security(parts: EnvelopeParts) -> tuple[etree._Element, ...]:
    """THE Body, and the Timestamp, BinarySecurityToken and Signature of THE Security header."""
    envelope = parts.envelope
    name = etree.QName(envelope)
    if (
        name.localname != "Envelope"
        or name.namespace not in (ns.SOAP12_ENV, ns.SOAP11_ENV)
        or envelope.getparent() is not None
    ):
        raise SecurityError("the document is not a SOAP envelope")
    if len(parts.bodies) != 1:
        raise SecurityError("the envelope must have exactly one Body")
    if len(parts.headers) > 1:
        raise SecurityError("the envelope has more than one Header")
    if len(parts.security_headers) > 1:
        raise SecurityError("the Header has more than one WS-Security header")
    (security,) = parts.security_headers
    return (
        parts.bodies[0],
        _one(security, _tag(ns.WSU, "Timestamp"), "Timestamp"),
        _one(security, _tag(ns.WSSE, "BinarySecurityToken"), "BinarySecurityToken"),
        _one(security, _tag(ns.DS, "Signature"), "Signature"),
    )


def _check_signed_info(
    signed_info: etree._Element,
    body: etree._Element,
    timestamp: etree._Element,
    ids: dict[str, list[etree._Element]],
    policy: SecurityPolicy,
) -> bool:
    """Algorithms and references of SignedInfo; answer whether SHA-1 is used."""
    items = _elements(signed_info)
    if (
        len(items) < 3
        or items[0].tag != _tag(ns.DS, "CanonicalizationMethod")
        or items[1].tag != _tag(ns.DS, "SignatureMethod")
        or any(item.tag != _tag(ns.DS, "Reference") for item in items[2:])
    ):
        raise SecurityError(
            "SignedInfo must hold CanonicalizationMethod, SignatureMethod and References only"
        )
    _check_c14n(items[0], "canonicalization method")
    uses_sha1 = _algorithm(items[1], SIGNATURE_METHODS, policy, "signature method")
    signed: list[etree._Element] = []
    for reference in items[2:]:
        uses_sha1 = _check_reference(reference, policy) or uses_sha1
        target = resolve(reference.get("URI"), ids)
        if target is not body and target is not timestamp:
            if target.tag in _BODIES:
                raise SecurityError("the signed Body is not the envelope's Body")
            if target.tag == _tag(ns.WSU, "Timestamp"):
                raise SecurityError("the signed Timestamp is not the Security header's Timestamp")
            raise SecurityError("the signature references something other than Body and Timestamp")
        signed.append(target)
    for element, what in ((body, "Body"), (timestamp, "Timestamp")):
        count = sum(1 for target in signed if target is element)
        if count == 0:
            raise SecurityError(f"the {what} is not signed")
        if count > 1:
            raise SecurityError(f"the {what} is referenced more than once")
    return uses_sha1


def _check_key_info(
    key_info: etree._Element, token: etree._Element, ids: dict[str, list[etree._Element]]
) -> None:
    """KeyInfo is ``o:SecurityTokenReference/o:Reference URI="#<the token's wsu:Id>"``."""
    token_reference = _elements(key_info)
    if len(token_reference) != 1 or token_reference[0].tag != _tag(
        ns.WSSE, "SecurityTokenReference"
    ):
        raise SecurityError("KeyInfo must hold one SecurityTokenReference")
    pointer = _elements(token_reference[0])
    if (
        len(pointer) != 1
        or pointer[0].tag != _tag(ns.WSSE, "Reference")
        or _elements(pointer[0])
        or pointer[0].get("ValueType", ns.WSSE_X509V3) != ns.WSSE_X509V3
        or resolve(pointer[0].get("URI"), ids) is not token
    ):
        raise SecurityError("KeyInfo does not reference the BinarySecurityToken")


def verify(
    envelope: EnvelopeParts, *, policy: SecurityPolicy, now: datetime
) -> VerifiedMessage | UnsignedMessage:
    """Verify the WS-Security header of ``envelope`` (its parts, as parsed by ``safexml``).

    An envelope without a ``wsse:Security`` header gives an
    :class:`UnsignedMessage`; whether such a request is served is the
    caller's setting. Otherwise raises :class:`SecurityError` for every failed
    check, and nothing else for any content of the message. ``now`` must be
    timezone-aware.

    Side effect: the ``wsu:Id`` attributes of the Body and the Timestamp are
    registered as IDs in the lxml document (libxml2's ID table), which xmlsec
    needs to find them; parse each request afresh.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    if not envelope.security_headers:
        return UnsignedMessage(envelope.bodies[0] if len(envelope.bodies) == 1 else None)
    now = now.astimezone(UTC)
    body, timestamp, token, signature = _security(envelope)
    certificate = certificate_of(token)
    parts = _elements(signature)
    expected = [_tag(ns.DS, n) for n in ("SignedInfo", "SignatureValue", "KeyInfo")]
    if [part.tag for part in parts] != expected:
        raise SecurityError("the Signature must hold SignedInfo, SignatureValue and KeyInfo only")
    signed_info, signature_value, key_info = parts
    ids = index_ids(envelope.envelope)
    uses_sha1 = _check_signed_info(signed_info, body, timestamp, ids, policy)
    value, raw = base64_value(signature_value, "SignatureValue")
    if base64.b64encode(raw).decode("ascii") != value:  # one spelling per signature: replay key
        raise SecurityError("the SignatureValue is not canonical base64")
    _check_key_info(key_info, token, ids)
    payload = _elements(body)
    if len(payload) != 1:
        raise SecurityError("the signed Body must hold exactly one element")
    created, expires = timestamp_of(timestamp)
    policy.check_timestamp(created, expires, now)
    policy.check_certificate(certificate, now)
    _check_signature(signature, certificate, (body, timestamp))
    return VerifiedMessage(
        body=body,
        payload=payload[0],
        certificate=certificate,
        fingerprint=certificate.fingerprint(hashes.SHA256()).hex(),
        created=created,
        expires=expires,
        signature_value=value,
        uses_sha1=uses_sha1,
        replay_key=hashlib.sha256(value.encode("ascii")).hexdigest(),
        keep_until=expires + policy.clock_skew,
    )


def _check_signature(
    signature: etree._Element,
    certificate: x509.Certificate,
    signed: tuple[etree._Element, ...],
) -> None:
    """The cryptographic check, by python-xmlsec, with the certificate's key.

    Only the two elements resolved above are registered as IDs, and only
    exclusive C14N, SHA-1/SHA-256 and RSA-SHA1/RSA-SHA256 are enabled.
    """
    context = xmlsec.SignatureContext()
    context.key = _verification_key(certificate)  # the context takes a copy
    for transform in (_C.TransformExclC14N, _C.TransformSha256, _C.TransformSha1):
        context.enable_reference_transform(transform)
    for transform in (_C.TransformExclC14N, _C.TransformRsaSha256, _C.TransformRsaSha1):
        context.enable_signature_transform(transform)
    try:
        for element in signed:
            context.register_id(element, "Id", ns.WSU)
    except xmlsec.Error:
        raise SecurityError("a referenced Id is already registered to another element") from None
    try:
        context.verify(signature)
    except xmlsec.VerificationError:
        raise SecurityError("the signature does not verify") from None
    except xmlsec.Error:
        raise SecurityError("the signature could not be checked") from None
