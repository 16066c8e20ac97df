"""The contract: WSDL and XSD files shipped as package data, and their use.

``files/`` holds the source of truth:

* ``IndberetningKontaktJobOgUddOensker_v1.wsdl`` - operations, bindings (SOAP 1.2
  and 1.1), the documentation of every error and fault code;
* ``ipl.xsd`` - the IPL wrapper (Identifier, CorrelationID, Ping, faults);
* ``udb.xsd`` - the business layer (the report and IndberetningSvar).

The service validates requests with these very files (:func:`validate`) and
serves them (:func:`wsdl_document`, :func:`xsd_document`) with addresses
rewritten to the host the caller used.
"""

from __future__ import annotations

import threading
from typing import Any

from lxml import etree

from udb import ns, safexml
from udb.contract.documents import SCHEMA_FILES, WSDL_FILE, file, known_elements
from udb.contract.violations import Violation, describe

#: The service's path below the base URL (ipl-conventions.md, Endpoint).
ENDPOINT_PATH = "/services/UDB/IndberetningKontaktJobOgUddOensker/v1"

__all__ = [
    "ENDPOINT_PATH",
    "SCHEMA_FILES",
    "WSDL_FILE",
    "Violation",
    "known_elements",
    "prepare",
    "validate",
    "wsdl_document",
    "xsd_document",
]

_ROOT_SCHEMA = "ipl.xsd"


class _PackageResolver(etree.Resolver):
    """Resolve schema imports from the package's own files, and nothing else."""

    def resolve(self, system_url: str | None, public_id: str | None, context: object) -> Any:
        name = (system_url or "").rsplit("/", 1)[-1]
        if name in SCHEMA_FILES:
            return self.resolve_string(file(name), context, base_url=name)
        raise LookupError(f"schema {system_url!r} is not part of the contract")


def _compile() -> etree.XMLSchema:
    parser = safexml.hardened_parser(_PackageResolver())
    doc = etree.fromstring(file(_ROOT_SCHEMA), parser=parser, base_url=_ROOT_SCHEMA)
    return etree.XMLSchema(doc.getroottree())


_lock = threading.Lock()
_compiled: etree.XMLSchema | None = None


def prepare() -> etree.XMLSchema:
    """Compile the contract's schema once (call before request threads start).

    libxml2 initialises its built-in schema types on the first compilation and
    is not safe while another thread compiles or parses, so the schema is
    compiled exactly once, under a lock, and then shared. Validation with the
    shared object is serialised by the same lock: lxml keeps one error log per
    schema object.
    """
    global _compiled
    with _lock:
        if _compiled is None:
            _compiled = _compile()
        schema = _compiled
    known_elements()
    return schema


def validate(element: etree._Element, source: bytes) -> list[Violation]:
    """Validate a Body child against the contract; every violation, in document order.

    ``source`` is the raw document the element was parsed from; it is used to
    find the column of each offending element. Reasons never contain a
    submitted value.
    """
    schema = _compiled or prepare()
    with _lock:
        if schema.validate(element):
            return []
        errors = list(schema.error_log)
    return describe(errors, element, source)


#: the first line of the WSDL's documentation where the service is a test environment
TEST_ENVIRONMENT_NOTE = (
    "TEST ENVIRONMENT: synthetic data only. The test persons' scenarios apply "
    "(docs/test-environment.md) and every request of an enrolled system is kept in full "
    "for its verification report. Never send real personal data here."
)


def _served(name: str, endpoint_url: str, note: str | None = None) -> bytes:
    doc = safexml.parse(file(name))
    if note is not None:
        documentation = doc.find(ns.qname(ns.WSDL, "documentation"))
        if documentation is not None:
            documentation.text = f"\n    {note}\n{documentation.text or ''}"
    for node in doc.iter(ns.qname(ns.XSD, "import"), ns.qname(ns.XSD, "include")):
        location = node.get("schemaLocation")
        if location in SCHEMA_FILES:
            node.set("schemaLocation", f"{endpoint_url}?xsd={location}")
    for tag in (ns.qname(ns.WSDL_SOAP11, "address"), ns.qname(ns.WSDL_SOAP12, "address")):
        for node in doc.iter(tag):
            node.set("location", endpoint_url)
    return bytes(etree.tostring(doc, xml_declaration=True, encoding="utf-8"))


def wsdl_document(endpoint_url: str, *, test_environment: bool = False) -> bytes:
    """The WSDL with ``soap:address`` and schema locations pointing at ``endpoint_url``;
    in a test environment its documentation begins with :data:`TEST_ENVIRONMENT_NOTE`."""
    note = TEST_ENVIRONMENT_NOTE if test_environment else None
    return _served(WSDL_FILE, endpoint_url, note)


def xsd_document(name: str, endpoint_url: str) -> bytes | None:
    """One of the imported schemas, or ``None`` if ``name`` is not one of them."""
    if name not in SCHEMA_FILES:
        return None
    return _served(name, endpoint_url)
