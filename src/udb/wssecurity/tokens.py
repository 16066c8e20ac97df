"""The Security header's values, read strictly: base64 text, the Timestamp, the X.509 token.

::

    <u:Timestamp u:Id="TimestampRef">
      <u:Created>2026-11-26T18:57:39.928Z</u:Created>     timestamp_of -> (Created, Expires) in UTC
      <u:Expires>2026-11-26T19:02:39.928Z</u:Expires>
    </u:Timestamp>
    <o:BinarySecurityToken ValueType="...#X509v3"
        EncodingType="...#Base64Binary">MIID...</o:BinarySecurityToken>   certificate_of

Every refusal is a :class:`~udb.wssecurity.policy.SecurityError` whose
reason carries no data from the message.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from datetime import UTC, datetime, timedelta, timezone

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from udb import ns
from udb.wssecurity.policy import SecurityError

__all__ = ["base64_value", "certificate_of", "timestamp_of"]

_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,12}))?(Z|[+-]\d{2}:\d{2})",
    re.ASCII,
)


def _elements(parent: etree._Element) -> list[etree._Element]:
    return [child for child in parent if isinstance(child.tag, str)]


def base64_value(element: etree._Element, what: str) -> tuple[str, bytes]:
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


def timestamp_of(timestamp: etree._Element) -> tuple[datetime, datetime]:
    """``Created`` and ``Expires`` of a ``wsu:Timestamp``, as aware instants in UTC."""
    children = _elements(timestamp)
    expected = [ns.qname(ns.WSU, "Created"), ns.qname(ns.WSU, "Expires")]
    if [child.tag for child in children] != expected:
        raise SecurityError("the Timestamp must hold one Created and then one Expires")
    return _datetime(children[0], "Created"), _datetime(children[1], "Expires")


def certificate_of(token: etree._Element) -> x509.Certificate:
    """The RSA certificate a ``wsse:BinarySecurityToken`` (X509v3, Base64Binary) carries."""
    if token.get("ValueType") != ns.WSSE_X509V3:
        raise SecurityError("the BinarySecurityToken is not an X.509 v3 certificate token")
    if token.get("EncodingType", ns.WSSE_BASE64) != ns.WSSE_BASE64:
        raise SecurityError("the BinarySecurityToken is not Base64Binary encoded")
    _, der = base64_value(token, "BinarySecurityToken")
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
