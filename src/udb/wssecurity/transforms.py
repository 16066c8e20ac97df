"""The canonicalisation and the transforms a signature may name, checked strictly.

Exclusive C14N is the only canonicalisation. A Reference's ``Transforms`` is one
of two lists, nothing else::

    <Transforms>                                             the live platform, zeep, WSS4J
      <Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
    </Transforms>

    <Transforms>                                             node-soap (xml-crypto) by default
      <Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>
      <Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
    </Transforms>

The enveloped-signature transform removes the Signature that holds it from what
the Reference digests. Where that Signature is not inside the referenced
element it removes nothing, and the pair digests exactly what exclusive C14N
alone digests; :func:`check_outside` holds a Reference to that case.
"""

from __future__ import annotations

import xmlsec
from lxml import etree

from udb import ns
from udb.wssecurity.policy import SecurityError

__all__ = ["ENVELOPED", "EXC_C14N", "check_c14n", "check_outside", "check_transforms"]

EXC_C14N = xmlsec.constants.TransformExclC14N.href
ENVELOPED = xmlsec.constants.TransformEnveloped.href
_TRANSFORM = ns.qname(ns.DS, "Transform")
_INCLUSIVE = ns.qname(ns.EXC_C14N, "InclusiveNamespaces")


def _elements(parent: etree._Element) -> list[etree._Element]:
    return [child for child in parent if isinstance(child.tag, str)]


def check_c14n(method: etree._Element, what: str) -> None:
    """``Algorithm`` is exclusive C14N; the only child allowed is ``InclusiveNamespaces``."""
    children = _elements(method)
    if method.get("Algorithm") != EXC_C14N or any(c.tag != _INCLUSIVE for c in children):
        raise SecurityError(f"the {what} is not exclusive C14N")
    if len(children) > 1:
        raise SecurityError(f"the {what} has more than one InclusiveNamespaces")


def check_transforms(transforms: etree._Element) -> bool:
    """Check a Reference's ``Transforms``; answer whether it starts with enveloped-signature.

    Accepted: ``[exc-C14N]`` and ``[enveloped-signature, exc-C14N]``, in that
    order, each a ``ds:Transform`` (the enveloped one without children).
    """
    items = _elements(transforms)
    if any(item.tag != _TRANSFORM for item in items):
        raise SecurityError("a Reference's Transforms may hold only Transform elements")
    enveloped = (
        len(items) == 2 and items[0].get("Algorithm") == ENVELOPED and not _elements(items[0])
    )
    if len(items) != 1 and not enveloped:
        raise SecurityError(
            "a Reference's transforms must be exclusive C14N,"
            " or enveloped-signature then exclusive C14N"
        )
    check_c14n(items[-1], "reference transform")
    return enveloped


def check_outside(signature: etree._Element, target: etree._Element) -> None:
    """An enveloped-signature transform is a no-op only if ``signature`` is not in ``target``."""
    if target is signature or any(above is target for above in signature.iterancestors()):
        raise SecurityError(
            "the enveloped-signature transform is allowed only where the Signature"
            " is outside the referenced element"
        )
