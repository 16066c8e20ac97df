"""The contract's files as the package ships them, and the element names they declare."""

from __future__ import annotations

from functools import cache
from importlib import resources

from udb import ns, safexml

WSDL_FILE = "IndberetningKontaktJobOgUddOensker_v1.wsdl"
SCHEMA_FILES = ("ipl.xsd", "udb.xsd")


@cache
def file(name: str) -> bytes:
    """One of the files in ``udb/contract/files/``."""
    return (resources.files("udb.contract") / "files" / name).read_bytes()


@cache
def known_elements() -> frozenset[str]:
    """Every element name the contract's schemas declare."""
    names: set[str] = set()
    for name in SCHEMA_FILES:
        doc = safexml.parse(file(name))
        found = doc.xpath("//xs:element/@name", namespaces={"xs": ns.XSD})
        if isinstance(found, list):
            names.update(str(n) for n in found)
    return frozenset(names)
