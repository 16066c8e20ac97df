# ruff: noqa: E501  (the example is copied verbatim)
"""Throw-away certificates and signed envelopes for the WS-Security tests.

Everything is made in memory with ``cryptography`` and cached for the test
session; all dates are relative to the fixed instant :data:`NOW`, never to
the clock::

    data = signed(digest="sha1", identity=client())
    verify(parsed(data), policy=SecurityPolicy(), now=NOW)

:func:`parsed` reads a request as the service does (:func:`udb.soap.envelope.parse`),
which finds the parts :func:`verify` reads.

``SIGNED_REQUEST_XML`` is a copy of ``/work/shared/spec/examples/signed-request.xml``
(signed by a live-platform style client; its Timestamp starts at
:data:`EXAMPLE_CREATED`) so the tests do not depend on the shared folder.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from tests.unit.xmlsamples import request
from udb import ns, safexml
from udb.soap import envelope as soap_envelope
from udb.soap.version import SoapVersion
from udb.wssecurity import SecurityError, SecurityPolicy, VerifiedMessage, sign, verify

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
EXAMPLE_CREATED = datetime(2026, 11, 26, 18, 57, 39, 928000, tzinfo=UTC)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Identity:
    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


@functools.cache
def _key(slot: int) -> rsa.RSAPrivateKey:
    """A few RSA keys, shared by the certificates below (key generation is slow)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_identity(
    name: str,
    key: rsa.RSAPrivateKey,
    *,
    issuer: Identity | None = None,
    not_before: datetime = NOW - 30 * DAY,
    not_after: datetime = NOW + 365 * DAY,
    ca: bool = False,
) -> Identity:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.certificate.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    certificate = builder.sign(issuer.key if issuer else key, hashes.SHA256())
    return Identity(key, certificate)


@functools.cache
def ca() -> Identity:
    """The throw-away CA (trust anchor of most tests)."""
    return make_identity("Test CA", _key(0), not_before=NOW - 365 * DAY, ca=True)


@functools.cache
def impostor_ca() -> Identity:
    """A CA with the same name as :func:`ca` but another key."""
    return make_identity("Test CA", _key(1), not_before=NOW - 365 * DAY, ca=True)


@functools.cache
def expired_ca() -> Identity:
    return make_identity(
        "Old CA", _key(1), not_before=NOW - 900 * DAY, not_after=NOW - DAY, ca=True
    )


@functools.cache
def client() -> Identity:
    """A client certificate issued by :func:`ca`, valid around :data:`NOW`."""
    return make_identity("Test client", _key(2), issuer=ca())


@functools.cache
def self_signed() -> Identity:
    return make_identity("Self-signed client", _key(2))


@functools.cache
def impostor_client() -> Identity:
    """Issued by :func:`impostor_ca`: its issuer name is :func:`ca`'s."""
    return make_identity("Test client", _key(2), issuer=impostor_ca())


@functools.cache
def client_of_expired_ca() -> Identity:
    return make_identity("Old client", _key(2), issuer=expired_ca())


@functools.cache
def expired_client() -> Identity:
    return make_identity("Test client", _key(2), issuer=ca(), not_after=NOW - DAY)


@functools.cache
def future_client() -> Identity:
    return make_identity("Test client", _key(2), issuer=ca(), not_before=NOW + DAY)


@functools.cache
def ec_certificate() -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "EC client")])
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + DAY)
        .sign(key, hashes.SHA256())
    )


def signed(
    *,
    identity: Identity | None = None,
    digest: str = "sha256",
    soap11: bool = False,
    created: datetime = NOW,
    lifetime: timedelta = timedelta(minutes=5),
    envelope: bytes | None = None,
) -> bytes:
    """A request signed by ``identity`` (default :func:`client`)."""
    identity = identity or client()
    return sign(
        envelope if envelope is not None else request(soap11=soap11),
        key_pem=identity.key_pem,
        cert_pem=identity.cert_pem,
        digest=digest,  # type: ignore[arg-type]
        created=created,
        lifetime=lifetime,
    )


def q(namespace: str, local: str) -> str:
    return ns.qname(namespace, local)


def security(root: etree._Element) -> etree._Element:
    found = root.find(f"{{*}}Header/{{{ns.WSSE}}}Security")
    assert found is not None
    return found


def part(root: etree._Element, local: str) -> etree._Element:
    """A descendant of the Security header by local name (Timestamp, Reference, ...)."""
    found = security(root).find(f".//{{*}}{local}")
    assert found is not None
    return found


def mutated(data: bytes, mutate: Callable[[etree._Element], object]) -> bytes:
    """``data`` changed by ``mutate`` (the signature is NOT recomputed)."""
    root = safexml.parse(data)
    mutate(root)
    return etree.tostring(root)


def resigned(
    data: bytes, mutate: Callable[[etree._Element], object], identity: Identity | None = None
) -> bytes:
    """``data`` changed by ``mutate`` and then signed again, digests and all.

    The result has a cryptographically valid signature over whatever its
    References now name (by ``wsu:Id`` or plain ``Id``), so a refusal is for
    the shape, not the crypto.
    """
    root = safexml.parse(data)
    mutate(root)
    signature = part(root, "Signature")
    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_memory(
        (identity or client()).key_pem, xmlsec.constants.KeyDataFormatPem
    )
    for reference in signature.iter(q(ns.DS, "Reference")):
        value = reference.get("URI")[1:]
        target = root.xpath("//*[@u:Id=$id or @Id=$id]", namespaces={"u": ns.WSU}, id=value)
        wsu = target[0].get(q(ns.WSU, "Id")) == value
        context.register_id(target[0], "Id", ns.WSU if wsu else None)
    context.sign(signature)
    return etree.tostring(root)


def parsed(data: bytes) -> soap_envelope.ParsedEnvelope:
    """``data`` parsed afresh as the service parses it, in the SOAP version of its Envelope."""
    version = SoapVersion.for_envelope_ns(etree.QName(safexml.parse(data)).namespace)
    assert version is not None
    return soap_envelope.parse(data, version)


def verified(
    data: bytes, *, policy: SecurityPolicy | None = None, now: datetime = NOW
) -> VerifiedMessage:
    """What :func:`verify` proves about ``data`` (fails the test for an unsigned message)."""
    result = verify(parsed(data), policy=policy or SecurityPolicy(), now=now)
    assert isinstance(result, VerifiedMessage)
    return result


def reason(data: bytes, *, policy: SecurityPolicy | None = None, now: datetime = NOW) -> str:
    """The reason :func:`verify` refuses ``data`` (fails the test if it is accepted)."""
    try:
        verified(data, policy=policy, now=now)
    except SecurityError as exc:
        return exc.reason
    raise AssertionError("the message was accepted")


#: Copy of examples/signed-request.xml (verbatim: SignedInfo's line breaks are signed).
SIGNED_REQUEST_XML = """<?xml version='1.0' encoding='utf-8'?>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:u="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"><s:Header><o:Security xmlns:o="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" s:mustUnderstand="1"><u:Timestamp u:Id="TimestampRef"><u:Created>2026-11-26T18:57:39.928Z</u:Created><u:Expires>2026-11-26T19:02:39.928Z</u:Expires></u:Timestamp><o:BinarySecurityToken u:Id="SecurityToken-504487ed-d99d-4ce4-8dbb-ab9e0f705aa9" ValueType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3" EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary">MIIDODCCAiCgAwIBAgIULqAhu85zMYQue9Oeg+oAZ3WlhvcwDQYJKoZIhvcNAQELBQAwVjEwMC4GA1UEAwwnVmVqbGVkbmluZ3NzeXN0ZW0tQWFyaHVzIChleGFtcGxlIG9ubHkpMSIwIAYDVQQFExlDVlI6MTIzNDU2NzgtRklEOjM4MjgzMTgwMB4XDTI2MTEyNTE4NTczOVoXDTI3MTEyNjE4NTczOVowVjEwMC4GA1UEAwwnVmVqbGVkbmluZ3NzeXN0ZW0tQWFyaHVzIChleGFtcGxlIG9ubHkpMSIwIAYDVQQFExlDVlI6MTIzNDU2NzgtRklEOjM4MjgzMTgwMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAlZWCshvb+gq/R7gH/HCRB1ElpVlA/MX6ZLvqTfZ3WsCM1RxhXWApKclC6nAxx0seBCDlMf5MESAU7OSZGzVPrDsONtNSGvMKaPxVeU6icYJ6HyNtXCcOonGxXKN2RX3fLDMDqWr8fG0S2gvIMCalee6CKw4fjwV1JGoZTS5gZaU8/RHvNUMUr8bVbck+3VkQPquaQyjaFq4KV63kPHol9vAVRh6IPC4aBsRzaa5CRhosQo4N/DeyymFgQpRrea7OtkzzRgDtoc0Mv/oHvhTZMG+BZcgDtoRS/H+55v479QHx3Jbu1u0WUbCqOSjzCCWUrF4GaCJUueJ2N9V5DMitTQIDAQABMA0GCSqGSIb3DQEBCwUAA4IBAQA6F3+uoP1dqR/gzE4MkEMCLc69rxu0T2gjpHV9uWpyPn2wQ3ndTUbPFfv96Q3SP7WPVop61Id3C8dvjgDhlitR2F8kihHcazzVZehnoMceU10e3K5k2a2Puv+GvUOUnXISjUTPCfQHgGOeSNJiP+l6o54NecO/UZPcx/dSV3YGNACdEuIViT65yLk4XvG8pS1KijAcWC28r/8Uu7QOz55ItexHt0LUvH/75X+FffqEo0xiRZY7AsoWiyDaZCiUH6gYpLXlOhpdGkJklKYBqMv1mqveBWUeVh+IzUz898LV3W/AUo/YYg4gooNOJ4iH4n31nsCFc9/TE8CyRE7fpIlI</o:BinarySecurityToken><Signature xmlns="http://www.w3.org/2000/09/xmldsig#">
<SignedInfo>
<CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
<SignatureMethod Algorithm="http://www.w3.org/2000/09/xmldsig#rsa-sha1"/>
<Reference URI="#BodyRef">
<Transforms>
<Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
</Transforms>
<DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/>
<DigestValue>WM+vFN812077M7jD8Y43ZwhOtEQ=</DigestValue>
</Reference>
<Reference URI="#TimestampRef">
<Transforms>
<Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
</Transforms>
<DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/>
<DigestValue>22LICbUCS2DeXyLgYKIqSvnkuBw=</DigestValue>
</Reference>
</SignedInfo>
<SignatureValue>W3uOZaHOn4ucVkmxL1fe83TWWY9q63iDWihw+JH6DqPYwKXWLRwSVC/GHF6ytfKz
Wq1ht7GVTP/LypIXaTkNxr29/k4Co0eiCu7i7Rubg7lHa1pkJa5fGwdN/x3H7sXp
75t9Vc/im67E0vaQw8Q11yfdT+dMnzYIdbFMGtQtMwDzz3i1+NeOYVw2kQFJBFFn
VYEqDZX7dzrKYG6wkEPfe6aOA/9DT6T8c9yEb0SuUb/KB31RRH8fsUaXNBjgbqwn
CQn20JR/WU7XMTc6NEwv471Bw2DiaMg38Tf47qndi2VQrHeGR01dNN6EkCdZUK/3
Wqxm8NX6rxknnq5qjKWk3A==</SignatureValue>
<KeyInfo><o:SecurityTokenReference><o:Reference ValueType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3" URI="#SecurityToken-504487ed-d99d-4ce4-8dbb-ab9e0f705aa9"/></o:SecurityTokenReference></KeyInfo>
</Signature></o:Security></s:Header><s:Body xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" u:Id="BodyRef"><v1:IndberetningKontaktJobOgUddOenskerRequest xmlns:v1="http://ipl.stil.dk/services/udb/indberetningkontaktjoboguddoensker/v1.0" xmlns:udb="http://www.udb.stil.dk/indberetningkontaktjoboguddoensker/v1"><v1:Identifier><v1:SystemName>Vejledningssystem-Aarhus</v1:SystemName><v1:SystemTransactionID>5b0a4a7e-2f6d-4d0e-9a54-2f4c1f0b7a11</v1:SystemTransactionID></v1:Identifier><v1:Message><udb:IndberetningKontaktJobOgUddOenskerRequest><udb:ModtagerSystemID>Vejledningssystem-Aarhus</udb:ModtagerSystemID><udb:CPRNr>1503081234</udb:CPRNr><udb:KommuneInstitutionNummer>751001</udb:KommuneInstitutionNummer><udb:KommuneKontakt><udb:KontaktNavn>Mette Sørensen</udb:KontaktNavn><udb:KontaktMail>mette.sorensen@example.dk</udb:KontaktMail><udb:KontaktTelefon>4520304050</udb:KontaktTelefon><udb:KontaktRegistreringstid>2026-11-20T09:15:00+01:00</udb:KontaktRegistreringstid></udb:KommuneKontakt><udb:JobOnsker><udb:JobOnsker>Tømrer eller anden byggebranche</udb:JobOnsker><udb:JobRegistreringstid>2026-11-20T09:20:00</udb:JobRegistreringstid></udb:JobOnsker><udb:UddannelsesOnsker><udb:UddannelsesOnsker>Erhvervsuddannelse (EUD), bygge og anlæg</udb:UddannelsesOnsker><udb:UddannelseRegistreringstid>2026-11-20T09:20:00</udb:UddannelseRegistreringstid></udb:UddannelsesOnsker></udb:IndberetningKontaktJobOgUddOenskerRequest></v1:Message></v1:IndberetningKontaktJobOgUddOenskerRequest></s:Body></s:Envelope>"""
