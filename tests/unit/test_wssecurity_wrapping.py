"""References resolved strictly, signature wrapping, and garbage in the header.

The reference tests re-sign the changed message (:func:`resigned`), so the
signature is cryptographically valid and the refusal is for the shape alone.
"""

from __future__ import annotations

import copy
import random

import pytest
import xmlsec
from lxml import etree

from tests.unit.wssamples import (
    NOW,
    mutated,
    parsed,
    part,
    q,
    reason,
    resigned,
    security,
    signed,
)
from tests.unit.xmlsamples import CPR
from udb import ns
from udb.wssecurity import SecurityError, SecurityPolicy, verify

C = xmlsec.constants
WSU_ID = q(ns.WSU, "Id")


def _body(root: etree._Element) -> etree._Element:
    found = root.find(q(ns.SOAP12_ENV, "Body"))
    assert found is not None
    return found


def _references(root: etree._Element) -> list[etree._Element]:
    return list(part(root, "SignedInfo").iter(q(ns.DS, "Reference")))


def _add_reference(root: etree._Element, uri: str) -> None:
    reference = xmlsec.template.add_reference(part(root, "Signature"), C.TransformSha256, uri=uri)
    xmlsec.template.add_transform(reference, C.TransformExclC14N)


def test_body_not_referenced() -> None:
    data = resigned(signed(), lambda r: _references(r)[0].getparent().remove(_references(r)[0]))
    assert reason(data) == "the Body is not signed"


def test_timestamp_not_referenced() -> None:
    data = resigned(signed(), lambda r: _references(r)[1].getparent().remove(_references(r)[1]))
    assert reason(data) == "the Timestamp is not signed"


def test_extra_reference_to_the_token() -> None:
    def add(root: etree._Element) -> None:
        _add_reference(root, "#" + part(root, "BinarySecurityToken").get(WSU_ID, ""))

    data = resigned(signed(), add)
    assert reason(data) == "the signature references something other than Body and Timestamp"


def test_extra_reference_to_part_of_the_body() -> None:
    def add(root: etree._Element) -> None:
        _body(root)[0][0].set(WSU_ID, "Part")
        _add_reference(root, "#Part")

    assert reason(resigned(signed(), add)) == (
        "the signature references something other than Body and Timestamp"
    )


def test_same_reference_twice() -> None:
    data = resigned(signed(), lambda r: _add_reference(r, "#BodyRef"))
    assert reason(data) == "the Body is referenced more than once"


def test_reference_to_a_missing_id() -> None:
    data = mutated(signed(), lambda r: _body(r).set(WSU_ID, "Other"))
    assert reason(data) == "a reference Id matches no element"


@pytest.mark.parametrize("attribute", ["ID", "id", q(ns.XML, "id"), q("urn:other", "Id")])
def test_body_id_neither_wsu_nor_plain_id(attribute: str) -> None:
    """Only ``wsu:Id`` and plain ``Id`` name a signed element (see test_wssecurity_ids)."""

    def other_id(root: etree._Element) -> None:
        del _body(root).attrib[WSU_ID]
        _body(root).set(attribute, "BodyRef")

    assert reason(mutated(signed(), other_id)) == (
        "a referenced element does not carry the Id as wsu:Id or plain Id"
    )


@pytest.mark.parametrize(
    ("where", "attribute", "value"),
    [
        ("header", WSU_ID, "BodyRef"),  # duplicate wsu:Id
        ("payload", WSU_ID, "TimestampRef"),
        ("payload", "Id", "BodyRef"),  # the same Id on two elements, by another attribute
        ("payload", "ID", "TimestampRef"),
        ("header", q(ns.XML, "id"), "BodyRef"),
        ("header", q("urn:other", "Id"), "TimestampRef"),
    ],
    ids=["wsu-header", "wsu-payload", "plain-Id", "plain-ID", "xml-id", "other-ns-Id"],
)
def test_an_id_on_two_elements(where: str, attribute: str, value: str) -> None:
    def add(root: etree._Element) -> None:
        parent = root[0] if where == "header" else _body(root)[0]
        etree.SubElement(parent, "{urn:other}Extra").set(attribute, value)

    assert reason(mutated(signed(), add)) == "a reference Id matches more than one element"


def _evil_body(root: etree._Element, signed_body: etree._Element) -> etree._Element:
    evil = copy.deepcopy(signed_body)
    del evil.attrib[WSU_ID]
    cpr = evil.find(".//{*}CPRNr")
    assert cpr is not None
    cpr.text = "0101010101"
    return evil


def test_wrapping_signed_body_moved_into_the_header() -> None:
    def wrap(root: etree._Element) -> None:
        body = _body(root)
        root.replace(body, _evil_body(root, body))
        root[0].append(body)

    assert reason(mutated(signed(), wrap)) == "the signed Body is not the envelope's Body"


def test_wrapping_signed_body_inside_a_wrapper_in_the_header() -> None:
    def wrap(root: etree._Element) -> None:
        body = _body(root)
        root.replace(body, _evil_body(root, body))
        etree.SubElement(root[0], "{urn:evil}Wrapper").append(body)

    assert reason(mutated(signed(), wrap)) == "the signed Body is not the envelope's Body"


def test_wrapping_signed_body_in_the_security_header() -> None:
    def wrap(root: etree._Element) -> None:
        body = _body(root)
        root.replace(body, _evil_body(root, body))
        security(root).append(body)

    assert reason(mutated(signed(), wrap)) == "the signed Body is not the envelope's Body"


def test_wrapping_evil_body_first() -> None:
    def wrap(root: etree._Element) -> None:
        body = _body(root)
        body.addprevious(_evil_body(root, body))

    assert reason(mutated(signed(), wrap)) == "the envelope must have exactly one Body"


def test_wrapping_evil_body_with_the_same_id() -> None:
    def wrap(root: etree._Element) -> None:
        body = _body(root)
        evil = _evil_body(root, body)
        evil.set(WSU_ID, "BodyRef")
        root.replace(body, evil)
        root[0].append(body)

    assert reason(mutated(signed(), wrap)) == "a reference Id matches more than one element"


def test_wrapping_the_timestamp() -> None:
    def wrap(root: etree._Element) -> None:
        timestamp = part(root, "Timestamp")
        fresh = copy.deepcopy(timestamp)
        del fresh.attrib[WSU_ID]
        security(root).replace(timestamp, fresh)
        etree.SubElement(root[0], "{urn:evil}Wrapper").append(timestamp)

    assert reason(mutated(signed(), wrap)) == (
        "the signed Timestamp is not the Security header's Timestamp"
    )


def test_signature_outside_the_security_header() -> None:
    data = mutated(signed(), lambda r: r[0].append(part(r, "Signature")))
    assert reason(data) == "the Signature is missing"


def test_only_the_verified_body_is_returned() -> None:
    envelope = parsed(signed())
    root = envelope.envelope
    result = verify(envelope, policy=SecurityPolicy(), now=NOW)
    assert result.body is _body(root)
    assert result.body.getparent() is root
    assert result.payload.getparent() is result.body


# Fuzzing: random damage inside the Security header never escapes as another exception.

GARBAGE = ["", "====", "AAAA", "é" * 5, "A" * 4001, "#", "-1", "2026-02-30T00:00:00Z"]


def _damage(root: etree._Element, rng: random.Random) -> None:
    header = root.find(q(ns.SOAP12_ENV, "Header"))
    elements = list((root if header is None else header).iter(etree.Element))
    target = rng.choice(elements)
    action = rng.choice(["remove", "duplicate", "text", "attribute", "move"])
    if action == "remove" and target.getparent() is not None:
        target.getparent().remove(target)
    elif action == "duplicate":
        target.addnext(copy.deepcopy(target))
    elif action == "text":
        target.text = rng.choice(GARBAGE)
    elif action == "attribute" and target.attrib:
        name = rng.choice(list(target.attrib))
        target.set(name, rng.choice(GARBAGE))
    else:
        rng.choice(elements).append(copy.deepcopy(target))


@pytest.mark.parametrize("seed", range(48))
def test_damaged_headers_raise_only_security_error(seed: int) -> None:
    rng = random.Random(seed)
    data = signed(digest=rng.choice(["sha1", "sha256"]))
    for _ in range(rng.randint(1, 3)):
        data = mutated(data, lambda root: _damage(root, rng))
    refusal = "accepted"
    try:
        verify(parsed(data), policy=SecurityPolicy(), now=NOW)
    except SecurityError as exc:  # any other exception fails the test
        refusal = exc.reason
    assert refusal
    assert CPR not in refusal
