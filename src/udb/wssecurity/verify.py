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
                          #BodyRef and #TimestampRef, each exc-C14N (or enveloped-signature
                          then exc-C14N) + SHA-256 (or SHA-1)
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
python-xmlsec sees it: its Id value names exactly one element across every Id
attribute (``wsu:Id``, plain ``Id``, ``ID``, ``xml:id``, ...), and that element
carries it as ``wsu:Id`` or plain ``Id`` (the Ids WSS4J resolves; node-soap
writes ``Id="_0"``). The two elements must be THE Body of the envelope and THE
Timestamp of the Security header. Only those two attributes, each as the
reference named it, are then registered as IDs for xmlsec; xmlsec's own lookup
(``xmlsec.tree.add_ids``) takes the first of several equal Ids and is not used.

Each Reference's transforms are exclusive C14N alone, or exactly the pair
enveloped-signature then exclusive C14N (node-soap's default), which is
accepted only where the Signature lies outside the referenced element, where
it is a no-op (:mod:`udb.wssecurity.transforms`); any other list is refused.

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
from udb.wssecurity.ids import id_attribute, index_ids, resolve
from udb.wssecurity.policy import SecurityError, SecurityPolicy
from udb.wssecurity.tokens import base64_value, certificate_of, timestamp_of
from udb.wssecurity.transforms import check_c14n, check_outside, check_transforms

__all__ = ["EnvelopeParts", "SecurityError", "UnsignedMessage", "VerifiedMessage", "verify"]

_C = xmlsec.constants
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


def _check_reference(reference: etree._Element, policy: SecurityPolicy) -> tuple[bool, bool]:
    """Transforms and DigestMethod of one Reference: (uses SHA-1, uses enveloped-signature)."""
    dsig = [
        _tag(ns.DS, "Transforms"),
        _tag(ns.DS, "DigestMethod"),
        _tag(ns.DS, "DigestValue"),
    ]
    children = _elements(reference)
    if [child.tag for child in children] != dsig:
        raise SecurityError("a Reference must hold Transforms, DigestMethod and DigestValue")
    enveloped = check_transforms(children[0])
    base64_value(children[2], "DigestValue")
    return _algorithm(children[1], DIGEST_METHODS, policy, "digest method"), enveloped


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


@dataclass(frozen=True, slots=True)
class _SignedInfo:
    """What the checks of SignedInfo found, for the cryptographic check."""

    uses_sha1: bool
    #: whether a Reference uses the enveloped-signature transform (then enabled in xmlsec)
    enveloped: bool
    #: the two signed elements, each with the Id value its Reference named
    signed: tuple[tuple[etree._Element, str], ...]


def _check_signed_info(
    signature: etree._Element,
    signed_info: etree._Element,
    body: etree._Element,
    timestamp: etree._Element,
    ids: dict[str, list[etree._Element]],
    policy: SecurityPolicy,
) -> _SignedInfo:
    """Algorithms and references of ``signature``'s SignedInfo."""
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
    check_c14n(items[0], "canonicalization method")
    uses_sha1 = _algorithm(items[1], SIGNATURE_METHODS, policy, "signature method")
    any_enveloped = False
    signed: list[tuple[etree._Element, str]] = []
    for reference in items[2:]:
        sha1, enveloped = _check_reference(reference, policy)
        uses_sha1 = uses_sha1 or sha1
        uri = reference.get("URI")
        target = resolve(uri, ids)
        if target is not body and target is not timestamp:
            if target.tag in _BODIES:
                raise SecurityError("the signed Body is not the envelope's Body")
            if target.tag == _tag(ns.WSU, "Timestamp"):
                raise SecurityError("the signed Timestamp is not the Security header's Timestamp")
            raise SecurityError("the signature references something other than Body and Timestamp")
        if enveloped:
            check_outside(signature, target)
            any_enveloped = True
        signed.append((target, (uri or "")[1:]))
    for element, what in ((body, "Body"), (timestamp, "Timestamp")):
        count = sum(1 for target, _ in signed if target is element)
        if count == 0:
            raise SecurityError(f"the {what} is not signed")
        if count > 1:
            raise SecurityError(f"the {what} is referenced more than once")
    return _SignedInfo(uses_sha1, any_enveloped, tuple(signed))


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

    Side effect: the Id attributes (``wsu:Id`` or plain ``Id``) of the Body
    and the Timestamp are registered as IDs in the lxml document (libxml2's ID table), which xmlsec
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
    facts = _check_signed_info(signature, signed_info, body, timestamp, ids, policy)
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
    _check_signature(signature, certificate, facts)
    return VerifiedMessage(
        body=body,
        payload=payload[0],
        certificate=certificate,
        fingerprint=certificate.fingerprint(hashes.SHA256()).hex(),
        created=created,
        expires=expires,
        signature_value=value,
        uses_sha1=facts.uses_sha1,
        replay_key=hashlib.sha256(value.encode("ascii")).hexdigest(),
        keep_until=expires + policy.clock_skew,
    )


def _check_signature(
    signature: etree._Element, certificate: x509.Certificate, facts: _SignedInfo
) -> None:
    """The cryptographic check, by python-xmlsec, with the certificate's key.

    Only the two elements resolved above are registered as IDs, each by the
    attribute its Reference named, and only exclusive C14N, SHA-1/SHA-256 and
    RSA-SHA1/RSA-SHA256 are enabled, with the enveloped-signature transform
    only when a Reference (checked above) uses it.
    """
    context = xmlsec.SignatureContext()
    context.key = _verification_key(certificate)  # the context takes a copy
    reference_transforms = [_C.TransformExclC14N, _C.TransformSha256, _C.TransformSha1]
    if facts.enveloped:
        reference_transforms.append(_C.TransformEnveloped)
    for transform in reference_transforms:
        context.enable_reference_transform(transform)
    for transform in (_C.TransformExclC14N, _C.TransformRsaSha256, _C.TransformRsaSha1):
        context.enable_signature_transform(transform)
    try:
        for element, value in facts.signed:
            attribute = id_attribute(element, value)
            if attribute is None:  # pragma: no cover - resolve() checked it
                raise SecurityError("a referenced element does not carry the Id")
            context.register_id(element, *attribute)
    except xmlsec.Error:
        raise SecurityError("a referenced Id is already registered to another element") from None
    try:
        context.verify(signature)
    except xmlsec.VerificationError:
        raise SecurityError("the signature does not verify") from None
    except xmlsec.Error:
        raise SecurityError("the signature could not be checked") from None
