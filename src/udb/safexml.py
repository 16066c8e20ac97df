"""The one hardened XML parser: everything that reads XML goes through it.

* no DTD: a document with a document type declaration is refused, so neither
  internal nor external entities (XXE, billion laughs, quadratic blow-up) get a
  chance; entities are never resolved or loaded;
* no network and no file access: nothing outside the bytes given is read;
* libxml2's default limits stay on (``huge_tree`` off): nesting deeper than
  256 levels and oversized text nodes are errors, not work;
* the size of the input is bounded by the caller before parsing (the HTTP
  layer stops reading at the configured body limit);
* comments and processing instructions are dropped while parsing, so a value
  written as ``150308<!--x-->4232`` reads as the one text the schema validated
  (``1503084232``), never as the part before the comment.

lxml parsers are not shared between threads; each thread gets its own.
"""

from __future__ import annotations

import threading
from typing import Any

from lxml import etree

__all__ = ["UnsafeXml", "XmlSyntaxError", "hardened_parser", "parse"]

XmlSyntaxError = etree.XMLSyntaxError


class UnsafeXml(ValueError):
    """The document is well-formed but uses a feature we refuse (a DTD)."""

    def __init__(self, reason: str, line: int = 1, column: int = 1) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line
        self.column = column


class _NothingFromOutside(etree.Resolver):
    """Answer every request for an external DTD or entity with nothing.

    ``load_dtd=False`` alone does not stop libxml2 from reading a local file
    named as external subset or parameter entity (``<!DOCTYPE a SYSTEM
    "/etc/passwd">``); this resolver does, before the document is refused
    for having a DTD at all.
    """

    def resolve(self, system_url: str | None, public_id: str | None, context: object) -> Any:
        return self.resolve_string("", context)


_local = threading.local()


def hardened_parser(resolver: etree.Resolver | None = None) -> etree.XMLParser:
    """A new parser with the settings above.

    ``resolver`` answers requests for external documents; by default nothing
    from outside is ever read. Only the contract's schema loader passes its own
    (which serves the package's XSD files and nothing else).
    """
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        collect_ids=False,
        remove_comments=True,
        remove_pis=True,
    )
    parser.resolvers.add(resolver or _NothingFromOutside())
    return parser


def _parser() -> etree.XMLParser:
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = hardened_parser()
    return parser


#: The first bytes of a document in UTF-16 or UTF-32 without a byte order mark:
#: XML 1.0 (section 4.3.3) requires the mark for those encodings.
_NO_BOM_WIDE = (b"<\x00\x00\x00", b"\x00\x00\x00<", b"<\x00", b"\x00<")


def parse(data: bytes) -> etree._Element:
    """Parse ``data`` and return the root element.

    Raises :class:`XmlSyntaxError` for input that is not well-formed and
    :class:`UnsafeXml` for a document with a DTD.
    """
    if data.startswith(_NO_BOM_WIDE):
        raise UnsafeXml("a UTF-16 or UTF-32 document must begin with a byte order mark")
    root = etree.fromstring(data, parser=_parser())
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise UnsafeXml("a document type declaration (DTD) is not allowed")
    return root
