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

Every reference is resolved strictly by this module before python-xmlsec sees
it: the Id must name exactly one element in the whole document (``wsu:Id``,
and also any ``Id``, ``ID`` or ``xml:id``, so an ambiguity through another Id
attribute is caught), and the two elements must be THE Body of the envelope
and THE Timestamp of the Security header. Only those two attributes are then
registered as IDs for xmlsec; xmlsec's own lookup (``xmlsec.tree.add_ids``)
takes the first of several equal Ids and is not used.

The result is a :class:`VerifiedMessage`; callers read the request only
from it.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import xmlsec
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from udb import ns
from udb.wssecurity.policy import SecurityError, SecurityPolicy

__all__ = ["SecurityError", "VerifiedMessage", "index_ids", "verify"]

_C = xmlsec.constants
EXC_C14N = _C.TransformExclC14N.href
#: algorithm URI -> whether it is SHA-1
SIGNATURE_METHODS = {_C.TransformRsaSha256.href: False, _C.TransformRsaSha1.href: True}
DIGEST_METHODS = {_C.TransformSha256.href: False, _C.TransformSha1.href: True}

_ID_NAMES = frozenset({"Id", "ID", "id"})
#: every attribute named in _ID_NAMES, in any namespace (smart strings: ``.getparent()``)
_ID_ATTRIBUTES = etree.XPath(
    "descendant-or-self::*/@*["
    + " or ".join(f"local-name() = '{name}'" for name in sorted(_ID_NAMES))
    + "]",
    smart_strings=True,
)
_WSU_ID = ns.qname(ns.WSU, "Id")
_BODIES = frozenset(ns.qname(env, "Body") for env in (ns.SOAP12_ENV, ns.SOAP11_ENV))
_NCNAME = re.compile(r"[^\W\d][\w.\-]*")
_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,12}))?(Z|[+-]\d{2}:\d{2})",
    re.ASCII,
)


@dataclass(frozen=True, slots=True)
class VerifiedMessage:
    """What the signature proved; everything after verification reads only this."""

    body: etree._Element
    payload: etree._Element
    certificate: x509.Certificate
    fingerprint: str
    created: datetime
    expires: datetime
    signature_value: str
    uses_sha1: bool


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


def index_ids(root: etree._Element) -> dict[str, list[etree._Element]]:
    """Every element of the document by the value of each of its Id attributes.

    Any attribute named ``Id``, ``ID`` or ``id`` counts, in any namespace
    (``wsu:Id``, plain ``Id``, ``xml:id``); an element is listed once per value.
    """
    index: dict[str, list[etree._Element]] = {}
    # One XPath in C over all attributes, in document order: an element's
    # attributes come one after the other, so a value it carries twice
    # (``Id`` and ``wsu:Id``) is the last one listed under that value.
    for value in _ID_ATTRIBUTES(root):
        element = value.getparent()
        found = index.setdefault(str(value), [])
        if not found or found[-1] is not element:
            found.append(element)
    return index


def _resolve(uri: str | None, ids: dict[str, list[etree._Element]]) -> etree._Element:
    """The one element a same-document reference ``#id`` names by ``wsu:Id``."""
    if uri is None or not uri.startswith("#") or not _NCNAME.fullmatch(uri[1:]):
        raise SecurityError("a reference URI is not a same-document '#Id' reference")
    found = ids.get(uri[1:], [])
    if not found:
        raise SecurityError("a reference Id matches no element")
    if len(found) > 1:
        raise SecurityError("a reference Id matches more than one element")
    if found[0].get(_WSU_ID) != uri[1:]:
        raise SecurityError("a referenced element does not carry the Id as wsu:Id")
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
    _base64(children[2], "DigestValue")
    return _algorithm(children[1], DIGEST_METHODS, policy, "digest method")


def _base64(element: etree._Element, what: str) -> tuple[str, bytes]:
    """The element's text without whitespace and its decoded bytes."""
    if _elements(element):
        raise SecurityError(f"the {what} must hold only base64 text")
    text = "".join((element.text or "").split())
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SecurityError(f"the {what} is not valid base64") from None
    if not data:
        raise SecurityError(f"the {what} is empty")
    return text, data


def _datetime(element: etree._Element, what: str) -> datetime:
    match = _DATETIME.fullmatch((element.text or "").strip())
    if _elements(element) or match is None:
        raise SecurityError(f"the Timestamp's {what} is not a dateTime with a time zone")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    offset = timedelta(0)
    if zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        offset = sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    try:
        tz = timezone(offset)
        value = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tz
        )
        return value.astimezone(UTC)
    except (ValueError, OverflowError):
        raise SecurityError(f"the Timestamp's {what} is not a valid dateTime") from None


def _timestamp(timestamp: etree._Element) -> tuple[datetime, datetime]:
    children = _elements(timestamp)
    expected = [_tag(ns.WSU, "Created"), _tag(ns.WSU, "Expires")]
    if [child.tag for child in children] != expected:
        raise SecurityError("the Timestamp must hold one Created and then one Expires")
    return _datetime(children[0], "Created"), _datetime(children[1], "Expires")


def _certificate(token: etree._Element) -> x509.Certificate:
    if token.get("ValueType") != ns.WSSE_X509V3:
        raise SecurityError("the BinarySecurityToken is not an X.509 v3 certificate token")
    if token.get("EncodingType", ns.WSSE_BASE64) != ns.WSSE_BASE64:
        raise SecurityError("the BinarySecurityToken is not Base64Binary encoded")
    _, der = _base64(token, "BinarySecurityToken")
    certificate = _parsed_certificate(der)
    if not isinstance(certificate.public_key(), rsa.RSAPublicKey):
        raise SecurityError("the certificate's public key is not an RSA key")
    return certificate


@functools.lru_cache(maxsize=256)
def _parsed_certificate(der: bytes) -> x509.Certificate:
    """The certificate in ``der``, parsed once: a client signs every message with the same one.

    Certificate objects are immutable; a refused token is not cached.
    """
    try:
        certificate = x509.load_der_x509_certificate(der)
        certificate.public_key()
        certificate.not_valid_before_utc  # noqa: B018  (parse the dates now)
        certificate.not_valid_after_utc  # noqa: B018
    except (ValueError, UnsupportedAlgorithm):
        raise SecurityError(
            "the BinarySecurityToken is not a parseable X.509 certificate"
        ) from None
    return certificate


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


def _security(envelope: etree._Element) -> tuple[etree._Element, ...]:
    """THE Body, and the Timestamp, BinarySecurityToken and Signature of THE Security header."""
    name = etree.QName(envelope)
    if (
        name.localname != "Envelope"
        or name.namespace not in (ns.SOAP12_ENV, ns.SOAP11_ENV)
        or envelope.getparent() is not None
    ):
        raise SecurityError("the document is not a SOAP envelope")
    bodies = [child for child in envelope if child.tag == _tag(name.namespace, "Body")]
    if len(bodies) != 1:
        raise SecurityError("the envelope must have exactly one Body")
    headers = [child for child in envelope if child.tag == _tag(name.namespace, "Header")]
    if not headers:
        raise SecurityError("the envelope has no Header (a WS-Security header is required)")
    if len(headers) > 1:
        raise SecurityError("the envelope has more than one Header")
    securities = [child for child in headers[0] if child.tag == _tag(ns.WSSE, "Security")]
    if not securities:
        raise SecurityError("the Header has no WS-Security (wsse:Security) header")
    if len(securities) > 1:
        raise SecurityError("the Header has more than one WS-Security header")
    security = securities[0]
    return (
        bodies[0],
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
        target = _resolve(reference.get("URI"), ids)
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
        or _resolve(pointer[0].get("URI"), ids) is not token
    ):
        raise SecurityError("KeyInfo does not reference the BinarySecurityToken")


def verify(envelope: etree._Element, *, policy: SecurityPolicy, now: datetime) -> VerifiedMessage:
    """Verify the WS-Security header of ``envelope`` (the root, parsed by ``safexml``).

    Raises :class:`SecurityError` for every failed check, and nothing else
    for any content of the message. ``now`` must be timezone-aware.

    Side effect: the ``wsu:Id`` attributes of the Body and the Timestamp are
    registered as IDs in the lxml document (libxml2's ID table), which xmlsec
    needs to find them; parse each request afresh.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    now = now.astimezone(UTC)
    body, timestamp, token, signature = _security(envelope)
    certificate = _certificate(token)
    parts = _elements(signature)
    expected = [_tag(ns.DS, n) for n in ("SignedInfo", "SignatureValue", "KeyInfo")]
    if [part.tag for part in parts] != expected:
        raise SecurityError("the Signature must hold SignedInfo, SignatureValue and KeyInfo only")
    signed_info, signature_value, key_info = parts
    ids = index_ids(envelope)
    uses_sha1 = _check_signed_info(signed_info, body, timestamp, ids, policy)
    value, raw = _base64(signature_value, "SignatureValue")
    if base64.b64encode(raw).decode("ascii") != value:  # one spelling per signature: replay key
        raise SecurityError("the SignatureValue is not canonical base64")
    _check_key_info(key_info, token, ids)
    payload = _elements(body)
    if len(payload) != 1:
        raise SecurityError("the signed Body must hold exactly one element")
    created, expires = _timestamp(timestamp)
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
