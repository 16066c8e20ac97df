"""A Reference may name a plain ``Id`` as well as a ``wsu:Id``, if the value is unique.

xml-crypto (node-soap) writes ``Id="_0"`` unless told ``idMode: 'wssecurity'``;
WSS4J resolves both. Whatever the attribute, an Id value must name exactly one
element across every Id attribute of the document (``wsu:Id``, ``Id``, ``ID``,
``id``, ``xml:id``, ``{any}Id``). Accepted messages are re-signed
(:func:`resigned`) so that the signature verifies; refused ones are refused
before any cryptography.
"""

from __future__ import annotations

import pytest
from lxml import etree

from tests.unit.wssamples import mutated, part, q, reason, resigned, signed, verified
from udb import ns

WSU_ID = q(ns.WSU, "Id")


def _body(root: etree._Element) -> etree._Element:
    found = root.find(q(ns.SOAP12_ENV, "Body"))
    assert found is not None
    return found


def _plain(element: etree._Element, value: str) -> None:
    """``element`` carries ``value`` as a plain ``Id`` instead of its ``wsu:Id``."""
    del element.attrib[WSU_ID]
    element.set("Id", value)


def _rename(root: etree._Element, old: str, new: str) -> None:
    for reference in part(root, "SignedInfo").iter(q(ns.DS, "Reference")):
        if reference.get("URI") == "#" + old:
            reference.set("URI", "#" + new)


def _node_soap_ids(root: etree._Element) -> None:
    """node-soap's Ids: ``Id="_0"`` on the Body, ``Id="_1"`` on the Timestamp."""
    _plain(_body(root), "_0")
    _plain(part(root, "Timestamp"), "_1")
    _rename(root, "BodyRef", "_0")
    _rename(root, "TimestampRef", "_1")


def test_plain_ids_on_body_and_timestamp_are_accepted() -> None:
    result = verified(resigned(signed(), _node_soap_ids))
    assert result.body.get("Id") == "_0"
    assert result.body.get(WSU_ID) is None


@pytest.mark.parametrize("local", ["Body", "Timestamp"])
def test_one_plain_id_and_one_wsu_id_are_accepted(local: str) -> None:
    def change(root: etree._Element) -> None:
        _plain(_body(root) if local == "Body" else part(root, "Timestamp"), local + "Ref")

    assert verified(resigned(signed(), change)).payload is not None


def test_plain_id_changed_after_signing_does_not_verify() -> None:
    """The plain Id is signed with its element: changing it breaks the Body's digest."""

    def change(root: etree._Element) -> None:
        _body(root).set("Id", "_9")
        _rename(root, "_0", "_9")

    data = mutated(resigned(signed(), _node_soap_ids), change)
    assert reason(data) == "the signature does not verify"


@pytest.mark.parametrize(
    "attribute",
    [WSU_ID, "Id", "ID", "id", q(ns.XML, "id"), q("urn:other", "Id")],
    ids=["wsu-Id", "plain-Id", "ID", "id", "xml-id", "other-ns-Id"],
)
@pytest.mark.parametrize("where", ["header", "payload"])
def test_a_plain_id_value_on_a_second_element_is_refused(where: str, attribute: str) -> None:
    """The Body's plain ``Id="_0"`` appears again, by any Id attribute, anywhere."""

    def add(root: etree._Element) -> None:
        parent = root[0] if where == "header" else _body(root)[0]
        etree.SubElement(parent, "{urn:other}Extra").set(attribute, "_0")

    data = resigned(signed(), _node_soap_ids)
    assert reason(mutated(data, add)) == "a reference Id matches more than one element"


def test_wrapping_with_a_plain_id_is_refused() -> None:
    """The signed Body (plain Id) moved into the Header, an evil Body with the same plain Id."""

    def wrap(root: etree._Element) -> None:
        body = _body(root)
        evil = etree.fromstring(etree.tostring(body))
        evil.set("Id", "_0")
        root.replace(body, evil)
        root[0].append(body)

    data = mutated(resigned(signed(), _node_soap_ids), wrap)
    assert reason(data) == "a reference Id matches more than one element"


def test_wrapping_signed_body_with_a_plain_id_moved_into_the_header() -> None:
    def wrap(root: etree._Element) -> None:
        body = _body(root)
        evil = etree.fromstring(etree.tostring(body))
        del evil.attrib["Id"]
        root.replace(body, evil)
        root[0].append(body)

    data = mutated(resigned(signed(), _node_soap_ids), wrap)
    assert reason(data) == "the signed Body is not the envelope's Body"


def test_the_same_element_by_its_plain_id_and_its_wsu_id_is_referenced_twice() -> None:
    """Two Ids of one element are still one element: the Body is referenced twice."""

    def change(root: etree._Element) -> None:
        _body(root).set("Id", "Other")
        _rename(root, "TimestampRef", "Other")

    assert reason(mutated(signed(), change)) == "the Body is referenced more than once"
