"""Reference transforms: exclusive C14N alone, or exactly enveloped-signature then exclusive C14N.

Accepted shapes are re-signed (:func:`resigned`), so the signature really
verifies; refused ones are only changed (:func:`mutated`: some cannot even be
signed), and the transforms are checked before any cryptography.

``data/node-soap-ping.xml`` is a Ping exactly as node-soap 1.13
(``WSSecurityCert`` at its default settings) signed and sent it, with a
throw-away ``udb dev-certs`` certificate.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from tests.unit.wssamples import mutated, part, q, reason, resigned, signed, verified
from udb import ns
from udb.wssecurity import SecurityError, SecurityPolicy
from udb.wssecurity.tokens import certificate_of
from udb.wssecurity.transforms import ENVELOPED, EXC_C14N, check_outside

NODE_SOAP_PING = (Path(__file__).parent / "data" / "node-soap-ping.xml").read_bytes()
NODE_SOAP_SIGNED_AT = datetime(2026, 12, 7, 22, 3, 53, tzinfo=UTC)
INCLUSIVE_C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
XPATH = "http://www.w3.org/TR/1999/REC-xpath-19991116"
ORDER = (
    "a Reference's transforms must be exclusive C14N, or enveloped-signature then exclusive C14N"
)


def _transforms(root: etree._Element) -> list[etree._Element]:
    return list(part(root, "SignedInfo").iter(q(ns.DS, "Transforms")))


def _with(*algorithms: str, which: slice = slice(None)) -> Callable[[etree._Element], None]:
    """A change that gives the chosen References exactly these transforms, in this order."""

    def change(root: etree._Element) -> None:
        for transforms in _transforms(root)[which]:
            for old in list(transforms):
                transforms.remove(old)
            for algorithm in algorithms:
                etree.SubElement(transforms, q(ns.DS, "Transform")).set("Algorithm", algorithm)

    return change


# accepted -------------------------------------------------------------------------


def test_node_soap_default_signature_is_verified() -> None:
    """node-soap's own bytes: enveloped-signature + exc-C14N, plain ``Id="_0"`` on the Body."""
    result = verified(NODE_SOAP_PING, now=NODE_SOAP_SIGNED_AT)
    assert result.body.get("Id") == "_0"
    assert etree.QName(result.payload).localname == "Ping"
    assert not result.uses_sha1
    algorithms = etree.fromstring(NODE_SOAP_PING).xpath(
        "//ds:Reference/ds:Transforms/ds:Transform/@Algorithm", namespaces={"ds": ns.DS}
    )
    assert algorithms == [ENVELOPED, EXC_C14N] * 2


def test_node_soap_message_changed_after_signing_does_not_verify() -> None:
    """The enveloped transform does not loosen the digest: one changed byte fails."""
    changed = NODE_SOAP_PING.replace(b"<Expires>2026-12-07T22:13", b"<Expires>2026-12-07T22:14")
    assert changed != NODE_SOAP_PING
    assert reason(changed, now=NODE_SOAP_SIGNED_AT) == "the signature does not verify"


def test_node_soap_message_is_still_held_to_the_policy() -> None:
    """Accepting node-soap's shape changes nothing else: its Timestamp expires as any other."""
    later = datetime(2026, 12, 7, 23, 0, tzinfo=UTC)
    assert reason(NODE_SOAP_PING, now=later) == "the Timestamp has expired"
    token = certificate_of(part(etree.fromstring(NODE_SOAP_PING), "BinarySecurityToken"))
    result = verified(
        NODE_SOAP_PING, policy=SecurityPolicy(trust_anchors=(token,)), now=NODE_SOAP_SIGNED_AT
    )
    assert result.certificate == token


@pytest.mark.parametrize(
    "which", [slice(None), slice(0, 1), slice(1, 2)], ids=["both", "body", "ts"]
)
def test_enveloped_then_exclusive_c14n_is_accepted(which: slice) -> None:
    data = resigned(signed(), _with(ENVELOPED, EXC_C14N, which=which))
    assert verified(data).payload is not None


def test_enveloped_with_inclusive_namespaces_on_the_c14n_is_accepted() -> None:
    def change(root: etree._Element) -> None:
        _with(ENVELOPED, EXC_C14N)(root)
        for transforms in _transforms(root):
            prefixes = etree.SubElement(transforms[1], q(ns.EXC_C14N, "InclusiveNamespaces"))
            prefixes.set("PrefixList", "s")

    assert verified(resigned(signed(), change)).payload is not None


# refused --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("algorithms", "expected"),
    [
        ((EXC_C14N, ENVELOPED), ORDER),
        ((ENVELOPED,), "the reference transform is not exclusive C14N"),
        ((ENVELOPED, ENVELOPED, EXC_C14N), ORDER),
        ((ENVELOPED, EXC_C14N, EXC_C14N), ORDER),
        ((EXC_C14N, EXC_C14N), ORDER),
        ((ENVELOPED, INCLUSIVE_C14N), "the reference transform is not exclusive C14N"),
        ((XPATH, EXC_C14N), ORDER),
        ((), ORDER),
    ],
    ids=[
        "c14n-then-enveloped",
        "enveloped-alone",
        "enveloped-twice",
        "c14n-twice-after-enveloped",
        "c14n-twice",
        "enveloped-then-inclusive",
        "xpath-then-c14n",
        "none",
    ],
)
def test_other_transform_lists_are_refused(algorithms: tuple[str, ...], expected: str) -> None:
    data = mutated(signed(), _with(*algorithms, which=slice(0, 1)))
    assert reason(data) == expected


def test_enveloped_transform_with_content_is_refused() -> None:
    def change(root: etree._Element) -> None:
        _with(ENVELOPED, EXC_C14N)(root)
        etree.SubElement(_transforms(root)[0][0], q(ns.DS, "XPath")).text = "1"

    assert reason(mutated(signed(), change)) == ORDER


def test_something_else_than_a_transform_in_transforms_is_refused() -> None:
    def change(root: etree._Element) -> None:
        etree.SubElement(_transforms(root)[0], "{urn:other}Transform").set("Algorithm", EXC_C14N)

    assert reason(mutated(signed(), change)) == (
        "a Reference's Transforms may hold only Transform elements"
    )


# the no-op condition, checked on the elements themselves --------------------------
#
# Inside verify() the condition always holds: the Signature must be a child of the
# Security header and the references must name THE Body and THE Timestamp, neither of
# which can hold it. check_outside() states the rule on its own, so that it keeps
# holding should those other checks ever change.

_ENVELOPING = "the enveloped-signature transform is allowed only where the Signature"


def _tree() -> tuple[etree._Element, etree._Element, etree._Element]:
    root = etree.fromstring(
        f"<r><outer><ds:Signature xmlns:ds='{ns.DS}'/></outer><sibling/></r>".encode()
    )
    return root, root[0], root[0][0]


def test_signature_outside_the_referenced_element_passes() -> None:
    root, _outer, signature = _tree()
    check_outside(signature, root[1])


@pytest.mark.parametrize("which", ["parent", "root", "itself"])
def test_signature_inside_the_referenced_element_is_refused(which: str) -> None:
    root, outer, signature = _tree()
    target = {"parent": outer, "root": root, "itself": signature}[which]
    with pytest.raises(SecurityError) as raised:
        check_outside(signature, target)
    assert raised.value.reason.startswith(_ENVELOPING)
