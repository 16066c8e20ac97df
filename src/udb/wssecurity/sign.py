"""Signing a request exactly as the live platform's clients do.

``sign`` adds this header to a SOAP 1.2 (or 1.1) envelope and marks the
Body ``u:Id="BodyRef"``::

    <s:Header>
      <o:Security s:mustUnderstand="1">
        <u:Timestamp u:Id="TimestampRef">
          <u:Created>2026-11-26T18:57:39.928Z</u:Created>
          <u:Expires>2026-11-26T19:02:39.928Z</u:Expires>
        </u:Timestamp>
        <o:BinarySecurityToken u:Id="SecurityToken-<uuid4>"
            ValueType="...#X509v3" EncodingType="...#Base64Binary">MIID...</o:BinarySecurityToken>
        <Signature xmlns="http://www.w3.org/2000/09/xmldsig#">
          <SignedInfo>
            <CanonicalizationMethod Algorithm="...xml-exc-c14n#"/>
            <SignatureMethod Algorithm="...#rsa-sha256"/>   (rsa-sha1 with digest="sha1")
            <Reference URI="#BodyRef">       exc-C14N transform, SHA-256 (or SHA-1) digest
            <Reference URI="#TimestampRef">  the same
          </SignedInfo>
          <SignatureValue>...</SignatureValue>
          <KeyInfo><o:SecurityTokenReference>
            <o:Reference ValueType="...#X509v3" URI="#SecurityToken-<uuid4>"/>
          </o:SecurityTokenReference></KeyInfo>
        </Signature>
      </o:Security>
    </s:Header>

The digests and the signature are computed by python-xmlsec.
"""

from __future__ import annotations

import base64
import functools
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from udb import ns, safexml
from udb.wssecurity.ids import index_ids

__all__ = ["BODY_ID", "TIMESTAMP_ID", "sign"]

BODY_ID = "BodyRef"
TIMESTAMP_ID = "TimestampRef"

_C = xmlsec.constants
_METHODS = {
    "sha1": (_C.TransformRsaSha1, _C.TransformSha1),
    "sha256": (_C.TransformRsaSha256, _C.TransformSha256),
}


_last_created_ms = 0
_created_lock = threading.Lock()


def _fresh_created() -> datetime:
    """Now, to the millisecond, and later than every earlier default of this process.

    The Timestamp has milliseconds, and RSA PKCS#1 v1.5 signatures are deterministic:
    the same envelope signed twice within one millisecond would carry the same
    SignatureValue, and the service refuses the second as a replay (seen when a retry
    followed a refusal at once). A millisecond later each time, never the same.
    """
    global _last_created_ms  # one clock for the process
    with _created_lock:
        ms = max(time.time_ns() // 1_000_000, _last_created_ms + 1)
        _last_created_ms = ms
    return datetime.fromtimestamp(ms / 1000, UTC)


def _timestamp_text(value: datetime) -> str:
    """UTC with milliseconds and ``Z``: ``2026-11-26T18:57:39.928Z``."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class _Signer:
    """A checked key pair, ready to sign: what every signature with it needs."""

    #: the BinarySecurityToken's text: the certificate's DER in base64
    token: str
    #: the private key loaded by xmlsec (a SignatureContext takes a copy of it)
    key: xmlsec.Key


@functools.lru_cache(maxsize=64)
def _key_pair(key_pem: bytes, cert_pem: bytes) -> _Signer:
    """The signer of ``cert_pem``, after checking that ``key_pem`` is its RSA private key.

    Loading an RSA private key checks its consistency, which costs tens of
    milliseconds, and OpenSSL's set-up on a key's first use costs more than
    the signature itself; a signer signs many messages with one key, so both
    happen once per key and certificate (a refused pair is checked again).
    """
    try:
        certificate = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"cannot load the key or the certificate: {exc}") from None
    public = certificate.public_key()
    if not isinstance(key, rsa.RSAPrivateKey) or not isinstance(public, rsa.RSAPublicKey):
        raise ValueError("signing needs an RSA key and certificate")
    if key.public_key().public_numbers() != public.public_numbers():
        raise ValueError("the private key does not belong to the certificate")
    try:
        xmlsec_key = xmlsec.Key.from_memory(key_pem, _C.KeyDataFormatPem)
    except xmlsec.Error as exc:
        raise ValueError(f"cannot load the key for signing: {exc}") from None
    token = base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()
    return _Signer(token, xmlsec_key)


def _with_wsu_prefix(root: etree._Element) -> etree._Element:
    """``root`` declaring the wsu namespace as ``u`` (as the platform does), children moved."""
    if ns.WSU in root.nsmap.values():
        return root
    nsmap = dict(root.nsmap)
    prefix, n = "u", 0
    while prefix in nsmap:
        n += 1
        prefix = f"u{n}"
    nsmap[prefix] = ns.WSU
    new = etree.Element(root.tag, attrib=dict(root.attrib), nsmap=nsmap)
    new.text = root.text
    for child in list(root):
        new.append(child)
    return new


def sign(
    envelope: bytes,
    *,
    key_pem: bytes,
    cert_pem: bytes,
    digest: Literal["sha1", "sha256"] = "sha256",
    created: datetime | None = None,
    lifetime: timedelta = timedelta(minutes=5),
) -> bytes:
    """Sign ``envelope`` (a SOAP envelope without a Security header); return the signed bytes.

    ``key_pem`` is the unencrypted RSA private key of ``cert_pem``. ``created``
    (timezone-aware, default now: a millisecond later than the previous default, so that
    no two signatures of this process are the same) and ``lifetime`` give the Timestamp.
    Raises :class:`ValueError` for an envelope or key that cannot be signed.
    """
    if digest not in _METHODS:
        raise ValueError("digest must be 'sha1' or 'sha256'")
    if lifetime <= timedelta(0):
        raise ValueError("lifetime must be positive")
    if created is None:
        created = _fresh_created()
    elif created.tzinfo is None or created.utcoffset() is None:
        raise ValueError("created must be a timezone-aware datetime")
    created = created.astimezone(UTC)
    signer = _key_pair(key_pem, cert_pem)

    root = safexml.parse(envelope)
    env = etree.QName(root).namespace
    if etree.QName(root).localname != "Envelope" or env not in (ns.SOAP12_ENV, ns.SOAP11_ENV):
        raise ValueError("the document is not a SOAP 1.1 or 1.2 envelope")
    root = _with_wsu_prefix(root)
    bodies = [child for child in root if child.tag == ns.qname(env, "Body")]
    headers = [child for child in root if child.tag == ns.qname(env, "Header")]
    if len(bodies) != 1 or len(headers) > 1:
        raise ValueError("the envelope must have one Body and at most one Header")
    body = bodies[0]
    if headers:
        header = headers[0]
    else:
        header = etree.Element(ns.qname(env, "Header"))
        root.insert(0, header)
    if header.find(ns.qname(ns.WSSE, "Security")) is not None:
        raise ValueError("the envelope already has a WS-Security header")

    security = etree.SubElement(header, ns.qname(ns.WSSE, "Security"), nsmap={"o": ns.WSSE})
    security.set(ns.qname(env, "mustUnderstand"), "1")
    timestamp = etree.SubElement(security, ns.qname(ns.WSU, "Timestamp"))
    timestamp.set(ns.qname(ns.WSU, "Id"), TIMESTAMP_ID)
    etree.SubElement(timestamp, ns.qname(ns.WSU, "Created")).text = _timestamp_text(created)
    etree.SubElement(timestamp, ns.qname(ns.WSU, "Expires")).text = _timestamp_text(
        created + lifetime
    )
    token_id = f"SecurityToken-{uuid.uuid4()}"
    token = etree.SubElement(security, ns.qname(ns.WSSE, "BinarySecurityToken"))
    token.set(ns.qname(ns.WSU, "Id"), token_id)
    token.set("ValueType", ns.WSSE_X509V3)
    token.set("EncodingType", ns.WSSE_BASE64)
    token.text = signer.token
    body.set(ns.qname(ns.WSU, "Id"), BODY_ID)

    ids = index_ids(root)
    for element in (body, timestamp, token):
        if ids[element.get(ns.qname(ns.WSU, "Id"), "")] != [element]:
            raise ValueError("the envelope already uses an Id the signature needs")

    sign_method, digest_method = _METHODS[digest]
    signature = xmlsec.template.create(root, _C.TransformExclC14N, sign_method)
    security.append(signature)
    for target in (BODY_ID, TIMESTAMP_ID):
        reference = xmlsec.template.add_reference(signature, digest_method, uri=f"#{target}")
        xmlsec.template.add_transform(reference, _C.TransformExclC14N)
    key_info = xmlsec.template.ensure_key_info(signature)
    token_reference = etree.SubElement(key_info, ns.qname(ns.WSSE, "SecurityTokenReference"))
    pointer = etree.SubElement(token_reference, ns.qname(ns.WSSE, "Reference"))
    pointer.set("ValueType", ns.WSSE_X509V3)
    pointer.set("URI", f"#{token_id}")

    context = xmlsec.SignatureContext()
    context.key = signer.key  # the context takes a copy
    context.register_id(body, "Id", ns.WSU)
    context.register_id(timestamp, "Id", ns.WSU)
    context.sign(signature)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")
