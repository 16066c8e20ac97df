"""Id attributes, indexed and resolved strictly.

A same-document reference ``URI="#BodyRef"`` must name exactly one element in
the whole document. Every attribute named ``Id``, ``ID`` or ``id`` counts, in
any namespace (``wsu:Id``, plain ``Id``, ``xml:id``), so an ambiguity through
another Id attribute is caught. The element found must carry the value as
``wsu:Id`` or as a plain (unqualified) ``Id``, the two WSS4J resolves;
xml-crypto (node-soap) writes the plain one unless told otherwise::

    <s:Body u:Id="BodyRef">         resolve("#BodyRef", index_ids(root)) -> this Body
    <s:Body Id="_0">                resolve("#_0", ...) -> this Body
    <x:Extra Id="BodyRef"/>         ... unless this exists too: SecurityError
    <x:Extra ID="_0"/>              ... or this (``ID``, ``xml:id``, ``{ns}Id``): SecurityError
"""

from __future__ import annotations

import re

from lxml import etree

from udb import ns
from udb.wssecurity.policy import SecurityError

__all__ = ["id_attribute", "index_ids", "resolve"]

_ID_NAMES = frozenset({"Id", "ID", "id"})
#: every attribute named in _ID_NAMES, in any namespace (smart strings: ``.getparent()``)
_ID_ATTRIBUTES = etree.XPath(
    "descendant-or-self::*/@*["
    + " or ".join(f"local-name() = '{name}'" for name in sorted(_ID_NAMES))
    + "]",
    smart_strings=True,
)
_WSU_ID = ns.qname(ns.WSU, "Id")
_NCNAME = re.compile(r"[^\W\d][\w.\-]*")


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


def resolve(uri: str | None, ids: dict[str, list[etree._Element]]) -> etree._Element:
    """The one element a same-document reference ``#id`` names by ``wsu:Id`` or plain ``Id``."""
    if uri is None or not uri.startswith("#") or not _NCNAME.fullmatch(uri[1:]):
        raise SecurityError("a reference URI is not a same-document '#Id' reference")
    found = ids.get(uri[1:], [])
    if not found:
        raise SecurityError("a reference Id matches no element")
    if len(found) > 1:
        raise SecurityError("a reference Id matches more than one element")
    if id_attribute(found[0], uri[1:]) is None:
        raise SecurityError("a referenced element does not carry the Id as wsu:Id or plain Id")
    return found[0]


def id_attribute(element: etree._Element, value: str) -> tuple[str, str | None] | None:
    """How ``element`` carries ``value``: ``("Id", WSU)`` (``wsu:Id``), ``("Id", None)`` or None.

    The pair is the (name, namespace) to register as an ID attribute with python-xmlsec.
    """
    if element.get(_WSU_ID) == value:
        return ("Id", ns.WSU)
    if element.get("Id") == value:
        return ("Id", None)
    return None
