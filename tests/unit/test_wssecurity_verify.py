"""Verifying WS-Security headers: the platform example, algorithms, time, certificates, shape."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest
import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from lxml import etree

from tests.unit import wssamples as ws
from tests.unit.wssamples import (
    EXAMPLE_CREATED,
    NOW,
    mutated,
    parsed,
    part,
    q,
    reason,
    resigned,
    signed,
    verified,
)
from udb import ns, safexml
from udb.wssecurity import SecurityError, SecurityPolicy, UnsignedMessage, verify

C = xmlsec.constants
EXAMPLE = ws.SIGNED_REQUEST_XML.encode()
MINUTE = timedelta(minutes=1)


def test_the_platform_example_verifies_at_its_created_time() -> None:
    envelope = parsed(EXAMPLE)
    root = envelope.envelope
    result = verify(envelope, policy=SecurityPolicy(), now=EXAMPLE_CREATED)
    assert result.body is root[1]
    assert result.payload is root[1][0]
    assert (result.created, result.expires) == (EXAMPLE_CREATED, EXAMPLE_CREATED + 5 * MINUTE)
    assert result.uses_sha1 is True
    token = base64.b64decode(part(root, "BinarySecurityToken").text or "")
    assert result.certificate == x509.load_der_x509_certificate(token)
    assert result.signature_value.startswith("W3uOZaHOn4ucVkmxL1fe83TW")
    assert result.signature_value.endswith("jKWk3A==")


def test_the_platform_example_is_expired_now() -> None:
    assert reason(EXAMPLE, now=EXAMPLE_CREATED + timedelta(days=1)) == "the Timestamp has expired"


def test_the_platform_example_is_refused_without_sha1() -> None:
    refused = reason(EXAMPLE, policy=SecurityPolicy(allow_sha1=False), now=EXAMPLE_CREATED)
    assert refused == "the signature method uses SHA-1, which the policy does not allow"


def _set_text(local: str, text: str) -> Callable[[etree._Element], None]:
    def change(root: etree._Element) -> None:
        element = root.find(f".//{{*}}{local}")
        assert element is not None
        element.text = text

    return change


@pytest.mark.parametrize(
    "change",
    [
        _set_text("CPRNr", "1503081235"),
        _set_text("Expires", "2026-11-26T12:04:00.000Z"),
        _set_text("Created", "2026-11-26T12:00:01.000Z"),
        _set_text("DigestValue", base64.b64encode(bytes(32)).decode()),
    ],
    ids=["body", "expires", "created", "digest-value"],
)
def test_tampering_breaks_the_signature(change: Callable[[etree._Element], None]) -> None:
    assert reason(mutated(signed(), change)) == "the signature does not verify"


def test_a_changed_signature_value_or_key_does_not_verify() -> None:
    data = signed()
    value = "".join((part(safexml.parse(data), "SignatureValue").text or "").split())
    flipped = ("B" if value[0] == "A" else "A") + value[1:]
    assert reason(mutated(data, _set_text("SignatureValue", flipped))) == (
        "the signature does not verify"
    )
    other = base64.b64encode(ws.ca().certificate.public_bytes(serialization.Encoding.DER))
    swapped = mutated(data, _set_text("BinarySecurityToken", other.decode()))
    assert reason(swapped) == "the signature does not verify"


def test_the_signature_value_has_one_spelling() -> None:
    """Base64 ignores the unused bits before ``==``; a replay must not get a new cache key."""
    text = part(safexml.parse(EXAMPLE), "SignatureValue").text or ""
    assert text.endswith("3A==")
    respelled = mutated(EXAMPLE, _set_text("SignatureValue", text[:-3] + "B=="))
    assert reason(respelled, now=EXAMPLE_CREATED) == "the SignatureValue is not canonical base64"


def test_sha1_follows_the_policy() -> None:
    strict = SecurityPolicy(allow_sha1=False)
    assert verified(signed(), policy=strict, now=NOW).uses_sha1 is False
    assert reason(signed(digest="sha1"), policy=strict) == (
        "the signature method uses SHA-1, which the policy does not allow"
    )

    def sha1_digests(root: etree._Element) -> None:
        for method in part(root, "SignedInfo").iter(q(ns.DS, "DigestMethod")):
            method.set("Algorithm", C.TransformSha1.href)

    data = resigned(signed(), sha1_digests)
    assert verified(data, policy=SecurityPolicy(), now=NOW).uses_sha1 is True
    assert reason(data, policy=strict) == (
        "the digest method uses SHA-1, which the policy does not allow"
    )


@pytest.mark.parametrize(
    ("lifetime", "now", "expected"),
    [
        (timedelta(hours=1), NOW, None),
        (timedelta(hours=1, seconds=1), NOW, "lifetime (Expires - Created) is longer than allowed"),
        (5 * MINUTE, NOW + 9 * MINUTE, None),  # expired 4 minutes ago: within the skew
        (5 * MINUTE, NOW + 10 * MINUTE, "the Timestamp has expired"),
        (5 * MINUTE, NOW - 5 * MINUTE, None),  # created 5 minutes ahead: within the skew
        (5 * MINUTE, NOW - 6 * MINUTE, "the Timestamp is not yet valid (Created is in the future)"),
    ],
)
def test_timestamp_window(lifetime: timedelta, now: datetime, expected: str | None) -> None:
    data = signed(lifetime=lifetime)
    if expected is None:
        verified(data, policy=SecurityPolicy(), now=now)
    else:
        assert expected in reason(data, now=now)


def test_skew_and_lifetime_come_from_the_policy() -> None:
    policy = SecurityPolicy(clock_skew=timedelta(0), max_lifetime=timedelta(hours=3))
    verified(signed(lifetime=timedelta(hours=2)), policy=policy, now=NOW)
    assert reason(signed(), policy=policy, now=NOW + 5 * MINUTE) == "the Timestamp has expired"


def test_a_timestamp_with_an_offset_is_read_as_utc() -> None:
    data = resigned(signed(), _set_text("Created", "2026-11-26T13:00:00+01:00"))
    assert verified(data, policy=SecurityPolicy(), now=NOW).created == NOW


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_set_text("Expires", "tomorrow"), "Expires is not a dateTime with a time zone"),
        (_set_text("Expires", "2026-11-26T12:05:00"), "Expires is not a dateTime with a time zone"),
        (_set_text("Created", "2026-13-26T12:00:00Z"), "Created is not a valid dateTime"),
        (_set_text("Created", "2026-11-26T12:00:00+25:00"), "Created is not a valid dateTime"),
        (
            _set_text("Expires", "2026-11-26T11:59:00Z"),
            "the Timestamp expires before it was created",
        ),
        (
            lambda r: r.find(".//{*}Created").getparent().remove(r.find(".//{*}Created")),
            "one Created",
        ),
    ],
    ids=["words", "no-zone", "month-13", "offset-25h", "backwards", "no-created"],
)
def test_malformed_timestamp(change: Callable[[etree._Element], None], expected: str) -> None:
    assert expected in reason(mutated(signed(), change))


@pytest.mark.parametrize(
    ("identity", "anchors", "expected"),
    [
        (ws.expired_client, (), "the signing certificate is expired"),
        (ws.future_client, (), "the signing certificate is not yet valid"),
        (ws.client, (ws.ca,), None),
        (ws.client, (ws.impostor_ca, ws.ca), None),
        (
            ws.impostor_client,
            (ws.ca,),
            "the certificate is not issued by a configured trust anchor",
        ),
        (ws.self_signed, (ws.ca,), "the certificate is not issued by a configured trust anchor"),
        (ws.self_signed, (ws.self_signed,), None),
        (ws.client, (ws.client,), None),
        (ws.client_of_expired_ca, (ws.expired_ca,), "trust anchor that issued the certificate"),
    ],
    ids=[
        "expired",
        "not-yet-valid",
        "chains",
        "chains-to-second",
        "same-issuer-name-other-key",
        "self-signed",
        "self-signed-anchor",
        "is-the-anchor",
        "anchor-expired",
    ],
)
def test_certificates(
    identity: Callable[[], ws.Identity],
    anchors: tuple[Callable[[], ws.Identity], ...],
    expected: str | None,
) -> None:
    data = signed(identity=identity())
    policy = SecurityPolicy(trust_anchors=tuple(anchor().certificate for anchor in anchors))
    if expected is None:
        assert verified(data, policy=policy, now=NOW).certificate == (identity().certificate)
    else:
        assert expected in reason(data, policy=policy)


def test_a_non_rsa_certificate_is_refused() -> None:
    der = ws.ec_certificate().public_bytes(serialization.Encoding.DER)
    data = mutated(signed(), _set_text("BinarySecurityToken", base64.b64encode(der).decode()))
    assert reason(data) == "the certificate's public key is not an RSA key"


def _remove(local: str) -> Callable[[etree._Element], None]:
    return lambda root: (
        root.find(f".//{{*}}{local}").getparent().remove(root.find(f".//{{*}}{local}"))
    )


def _duplicate(local: str) -> Callable[[etree._Element], None]:
    def change(root: etree._Element) -> None:
        element = root.find(f".//{{*}}{local}")
        element.addnext(etree.fromstring(etree.tostring(element)))

    return change


def _set(local: str, attribute: str, value: str) -> Callable[[etree._Element], None]:
    return lambda root: root.find(f".//{{*}}{local}").set(attribute, value)


def _add(local: str, xml: str) -> Callable[[etree._Element], None]:
    return lambda root: root.find(f".//{{*}}{local}").append(etree.fromstring(xml))


DS_ = f"xmlns='{ns.DS}'"
SHAPES = {
    "two-headers": (_duplicate("Header"), "the envelope has more than one Header"),
    "two-security": (_duplicate("Security"), "the Header has more than one WS-Security header"),
    "no-timestamp": (_remove("Timestamp"), "the Timestamp is missing"),
    "two-timestamps": (_duplicate("Timestamp"), "the Timestamp occurs more than once"),
    "no-token": (_remove("BinarySecurityToken"), "the BinarySecurityToken is missing"),
    "two-tokens": (_duplicate("BinarySecurityToken"), "BinarySecurityToken occurs more than once"),
    "no-signature": (_remove("Signature"), "the Signature is missing"),
    "two-signatures": (_duplicate("Signature"), "the Signature occurs more than once"),
    "token-type": (_set("BinarySecurityToken", "ValueType", "x"), "not an X.509 v3"),
    "token-encoding": (_set("BinarySecurityToken", "EncodingType", "x"), "not Base64Binary"),
    "token-base64": (_set_text("BinarySecurityToken", "MII*"), "is not valid base64"),
    "token-empty": (_set_text("BinarySecurityToken", ""), "BinarySecurityToken is empty"),
    "token-not-cert": (_set_text("BinarySecurityToken", "AAAA"), "not a parseable X.509"),
    "object": (_add("Signature", f"<Object {DS_}/>"), "SignedInfo, SignatureValue and KeyInfo"),
    "no-keyinfo": (_remove("KeyInfo"), "SignedInfo, SignatureValue and KeyInfo only"),
    "manifest": (_add("SignedInfo", f"<Manifest {DS_}/>"), "CanonicalizationMethod, Signature"),
    "c14n": (
        _set("CanonicalizationMethod", "Algorithm", C.TransformInclC14N.href),
        "the canonicalization method is not exclusive C14N",
    ),
    "hmac": (
        _set("SignatureMethod", "Algorithm", C.TransformHmacSha256.href),
        "the signature method is not an allowed algorithm",
    ),
    "transform": (
        _set("Transform", "Algorithm", C.TransformInclC14N.href),
        "the reference transform is not exclusive C14N",
    ),
    "two-transforms": (_duplicate("Transform"), "or enveloped-signature then exclusive C14N"),
    "no-transforms": (_remove("Transforms"), "Transforms, DigestMethod and DigestValue"),
    "md5": (
        _set("DigestMethod", "Algorithm", C.TransformMd5.href),
        "the digest method is not an allowed algorithm",
    ),
    "uri-empty": (_set("Reference", "URI", ""), "not a same-document '#Id' reference"),
    "uri-xpointer": (_set("Reference", "URI", "#xpointer(/)"), "not a same-document '#Id'"),
    "uri-external": (_set("Reference", "URI", "https://example.invalid/a"), "same-document"),
    "keyinfo-x509data": (
        lambda r: part(r, "KeyInfo").__setitem__(0, etree.Element(q(ns.DS, "X509Data"))),
        "KeyInfo must hold one SecurityTokenReference",
    ),
    "keyinfo-timestamp": (
        lambda r: part(r, "SecurityTokenReference")[0].set("URI", "#TimestampRef"),
        "KeyInfo does not reference the BinarySecurityToken",
    ),
    "signature-value": (_set_text("SignatureValue", "not base64!"), "SignatureValue is not valid"),
    "two-payloads": (_add("Body", "<extra/>"), "the signed Body must hold exactly one element"),
}


@pytest.mark.parametrize("name", SHAPES)
def test_shape(name: str) -> None:
    change, expected = SHAPES[name]
    assert expected in reason(mutated(signed(), change))


@pytest.mark.parametrize(
    "change", [_remove("Header"), _remove("Security")], ids=["no-header", "no-security"]
)
def test_without_a_security_header_nothing_is_verified(
    change: Callable[[etree._Element], None],
) -> None:
    """No WS-Security header: an UnsignedMessage (the endpoint refuses it unless in dev mode)."""
    envelope = parsed(mutated(signed(), change))
    result = verify(envelope, policy=SecurityPolicy(), now=NOW)
    assert isinstance(result, UnsignedMessage)
    assert result.body is envelope.bodies[0]


def test_the_replay_key_and_how_long_to_keep_it() -> None:
    result = verified(signed(), policy=SecurityPolicy(clock_skew=2 * MINUTE))
    assert result.replay_key == hashlib.sha256(result.signature_value.encode()).hexdigest()
    assert result.keep_until == result.expires + 2 * MINUTE
    assert result.fingerprint == ws.client().certificate.fingerprint(hashes.SHA256()).hex()
    later = verified(signed(created=NOW + MINUTE))  # another Timestamp: another signature
    assert later.replay_key != result.replay_key


def test_only_a_root_envelope_is_verified() -> None:
    envelope = parsed(signed())
    root = envelope.envelope
    for element in (root[1], root[1][0]):
        with pytest.raises(SecurityError, match="not a SOAP envelope"):
            verify(
                dataclasses.replace(envelope, envelope=element), policy=SecurityPolicy(), now=NOW
            )


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        verified(signed(), policy=SecurityPolicy(), now=NOW.replace(tzinfo=None))
    copenhagen = NOW.astimezone(timezone(timedelta(hours=1)))
    assert verified(signed(), policy=SecurityPolicy(), now=copenhagen).created == NOW
