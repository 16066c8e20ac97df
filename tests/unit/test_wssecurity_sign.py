"""Signing requests as the live platform's clients do, and the policy objects."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
import xmlsec
from cryptography.hazmat.primitives import hashes
from lxml import etree

from tests.unit import wssamples
from tests.unit.wssamples import (
    NOW,
    SIGNED_REQUEST_XML,
    client,
    parsed,
    part,
    q,
    security,
    signed,
    verified,
)
from tests.unit.xmlsamples import request, request_text
from udb import ns, safexml
from udb.wssecurity import SecurityPolicy, load_trust_anchors, sign, verify

C = xmlsec.constants


@pytest.mark.parametrize("soap11", [False, True], ids=["soap12", "soap11"])
@pytest.mark.parametrize("digest", ["sha1", "sha256"])
def test_round_trip(soap11: bool, digest: str) -> None:
    envelope = parsed(signed(digest=digest, soap11=soap11))
    root = envelope.envelope
    result = verify(envelope, policy=SecurityPolicy(), now=NOW)
    env = ns.SOAP11_ENV if soap11 else ns.SOAP12_ENV
    assert result.body is root.find(q(env, "Body"))
    assert result.payload is result.body[0]
    assert result.payload.tag == q(ns.IPL, "IndberetningKontaktJobOgUddOenskerRequest")
    assert result.certificate == client().certificate
    assert result.fingerprint == client().certificate.fingerprint(hashes.SHA256()).hex()
    assert (result.created, result.expires) == (NOW, NOW + timedelta(minutes=5))
    assert result.uses_sha1 is (digest == "sha1")
    value = part(root, "SignatureValue").text or ""
    assert result.signature_value == "".join(value.split())
    assert "\n" in value  # xmlsec wraps the base64 at 64 characters


def test_verified_message_is_frozen() -> None:
    result = verified(signed(), policy=SecurityPolicy(), now=NOW)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.uses_sha1 = True  # type: ignore[misc]


def _skeleton(element: etree._Element) -> list[tuple[str | None, str, list[str]]]:
    """(prefix, tag, attribute names) of every element, in document order."""
    return [(e.prefix, e.tag, list(e.attrib)) for e in element.iter(etree.Element)]


def test_shape_is_the_platform_example() -> None:
    mine = safexml.parse(signed(digest="sha1"))
    theirs = safexml.parse(SIGNED_REQUEST_XML.encode())
    assert _skeleton(security(mine)) == _skeleton(security(theirs))
    assert mine.nsmap == theirs.nsmap  # s and u declared on the Envelope
    body = mine.find(q(ns.SOAP12_ENV, "Body"))
    assert body is not None
    assert body.get(q(ns.WSU, "Id")) == "BodyRef"
    assert security(mine).get(q(ns.SOAP12_ENV, "mustUnderstand")) == "1"
    token = part(mine, "BinarySecurityToken").get(q(ns.WSU, "Id")) or ""
    assert re.fullmatch(
        r"SecurityToken-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", token
    )
    assert part(mine, "SecurityTokenReference")[0].get("URI") == f"#{token}"
    uris = [r.get("URI") for r in part(mine, "SignedInfo").iter(q(ns.DS, "Reference"))]
    assert uris == ["#BodyRef", "#TimestampRef"]


def test_sha256_is_the_default() -> None:
    root = safexml.parse(signed())
    assert part(root, "SignatureMethod").get("Algorithm") == C.TransformRsaSha256.href
    digests = {d.get("Algorithm") for d in part(root, "SignedInfo").iter(q(ns.DS, "DigestMethod"))}
    assert digests == {C.TransformSha256.href}


def test_timestamp_is_utc_with_milliseconds() -> None:
    created = datetime(2026, 11, 26, 13, 0, 1, 123456, tzinfo=timezone(timedelta(hours=1)))
    root = safexml.parse(signed(created=created, lifetime=timedelta(seconds=90)))
    assert part(root, "Created").text == "2026-11-26T12:00:01.123Z"
    assert part(root, "Expires").text == "2026-11-26T12:01:31.123Z"


def test_default_created_is_now() -> None:
    now = datetime.now(UTC)
    day = wssamples.DAY
    identity = wssamples.make_identity(
        "Today", client().key, not_before=now - day, not_after=now + day
    )
    data = sign(request(), key_pem=identity.key_pem, cert_pem=identity.cert_pem)
    assert verified(data, policy=SecurityPolicy(), now=now).certificate == identity.certificate


def test_the_same_envelope_signed_at_once_again_is_never_the_same_signature() -> None:
    """A retry re-signed within the same millisecond would otherwise be a replay."""
    identity = wssamples.make_identity("Today", client().key)
    values = re.compile(rb"<ds:SignatureValue>([^<]+)<|<SignatureValue>([^<]+)<")
    signatures = {
        values.search(sign(request(), key_pem=identity.key_pem, cert_pem=identity.cert_pem))
        for _ in range(20)
    }
    assert len({m.group(0) for m in signatures if m is not None}) == 20


def test_a_header_is_created_when_absent() -> None:
    data = signed(envelope=request_text().replace("<s:Header/>", "").encode())
    envelope = parsed(data)
    root = envelope.envelope
    assert root[0].tag == q(ns.SOAP12_ENV, "Header")
    assert verify(envelope, policy=SecurityPolicy(), now=NOW).body is root[1]


def test_other_header_blocks_are_kept() -> None:
    header = "<s:Header><x:Other xmlns:x='urn:example'>1</x:Other></s:Header>"
    data = signed(envelope=request(header=header))
    root = safexml.parse(data)
    assert [etree.QName(block).localname for block in root[0]] == ["Other", "Security"]
    verified(data)


def test_a_u_prefix_in_use_is_not_redeclared() -> None:
    text = request_text().replace("<s:Envelope ", "<s:Envelope xmlns:u='urn:other' ", 1)
    data = signed(envelope=text.encode())
    root = safexml.parse(data)
    assert root.nsmap["u"] == "urn:other"
    assert part(root, "Timestamp").prefix == "u1"
    verified(data)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"envelope": b"<a/>"}, "not a SOAP"),
        ({"envelope": signed()}, "already has a WS-Security header"),
        ({"key_pem": wssamples.self_signed().key_pem.replace(b"M", b"N", 1)}, "cannot load"),
        ({"cert_pem": wssamples.ca().cert_pem}, "does not belong"),
        ({"created": datetime(2026, 11, 26)}, "timezone-aware"),
        ({"digest": "md5"}, "digest must be"),
        ({"lifetime": timedelta(0)}, "lifetime"),
    ],
    ids=["not-envelope", "signed-twice", "bad-key", "key-mismatch", "naive", "md5", "lifetime"],
)
def test_sign_refuses(change: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {
        "envelope": request(),
        "key_pem": client().key_pem,
        "cert_pem": client().cert_pem,
        "created": NOW,
    }
    arguments.update(change)
    with pytest.raises(ValueError, match=message):
        sign(**arguments)  # type: ignore[arg-type]


def test_sign_refuses_an_envelope_already_using_the_ids() -> None:
    text = request_text().replace("<v1:Identifier>", "<v1:Identifier Id='TimestampRef'>")
    with pytest.raises(ValueError, match="already uses an Id"):
        signed(envelope=text.encode())


def test_namespace_constants_match_xmlsec() -> None:
    assert C.DSigNs == ns.DS
    assert ns.EXC_C14N == C.NsExcC14N == C.TransformExclC14N.href


def test_policy_defaults_and_checks() -> None:
    policy = SecurityPolicy()
    assert policy.allow_sha1 is True
    assert policy.clock_skew == timedelta(minutes=5)
    assert policy.max_lifetime == timedelta(hours=1)
    assert policy.trust_anchors == ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.allow_sha1 = False  # type: ignore[misc]
    with pytest.raises(ValueError, match="clock_skew"):
        SecurityPolicy(clock_skew=timedelta(seconds=-1))
    with pytest.raises(ValueError, match="max_lifetime"):
        SecurityPolicy(max_lifetime=timedelta(0))
    with pytest.raises(TypeError, match="tuple"):
        SecurityPolicy(trust_anchors=[wssamples.ca().certificate])  # type: ignore[arg-type]


def test_load_trust_anchors() -> None:
    pem = wssamples.ca().cert_pem + b"\n" + wssamples.self_signed().cert_pem
    anchors = load_trust_anchors(pem)
    assert anchors == (wssamples.ca().certificate, wssamples.self_signed().certificate)
    for bad in (b"", b"not a certificate", wssamples.ca().key_pem):
        with pytest.raises(ValueError, match="no valid PEM certificate"):
            load_trust_anchors(bad)
