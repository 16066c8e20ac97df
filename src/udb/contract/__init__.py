"""The contract: WSDL and XSD files shipped as package data, and their use.

``files/`` holds the source of truth:

* ``IndberetningKontaktJobOgUddOensker_v1.wsdl`` - operations, bindings (SOAP 1.2
  and 1.1), the documentation of every error and fault code;
* ``ipl.xsd`` - the IPL wrapper (Identifier, CorrelationID, Ping, faults);
* ``udb.xsd`` - the business layer (the report and IndberetningSvar);

and those of the read-back service ``HentKontaktJobOgUddOensker`` v1:

* ``HentKontaktJobOgUddOensker_v1.wsdl``, ``hent-ipl.xsd`` (its IPL wrapper, in its own
  namespace), ``hent.xsd`` (the request and HentSvar, reusing ``udb.xsd``'s types).

Each service is described by a :class:`ServiceContract` (:data:`REPORT`,
:data:`READBACK`): its path, WSDL and schemas. The service validates requests
with these very files (:func:`validate`, one compiled schema per service) and
serves them (:func:`wsdl_document`, :func:`xsd_document`) with addresses
rewritten to the host the caller used.
"""

from __future__ import annotations

import threading
from typing import Any

from lxml import etree

from udb import ns, safexml
from udb.contract.documents import (
    ALL_SCHEMA_FILES,
    READBACK,
    REPORT,
    SCHEMA_FILES,
    SERVICES,
    WSDL_FILE,
    ServiceContract,
    file,
    known_elements,
)
from udb.contract.violations import Violation, describe

#: The report service's path below the base URL (ipl-conventions.md, Endpoint).
ENDPOINT_PATH = REPORT.path
#: The read-back service's path.
READBACK_PATH = READBACK.path

__all__ = [
    "ENDPOINT_PATH",
    "READBACK",
    "READBACK_PATH",
    "REPORT",
    "SCHEMA_FILES",
    "SERVICES",
    "WSDL_FILE",
    "ServiceContract",
    "Violation",
    "known_elements",
    "prepare",
    "validate",
    "wsdl_document",
    "xsd_document",
]


class _PackageResolver(etree.Resolver):
    """Resolve schema imports from the package's own files, and nothing else."""

    def resolve(self, system_url: str | None, public_id: str | None, context: object) -> Any:
        name = (system_url or "").rsplit("/", 1)[-1]
        if name in ALL_SCHEMA_FILES:
            return self.resolve_string(file(name), context, base_url=name)
        raise LookupError(f"schema {system_url!r} is not part of the contract")


def _compile(service: ServiceContract) -> etree.XMLSchema:
    parser = safexml.hardened_parser(_PackageResolver())
    root = service.root_schema
    doc = etree.fromstring(file(root), parser=parser, base_url=root)
    return etree.XMLSchema(doc.getroottree())


_lock = threading.Lock()
_compiled: dict[str, etree.XMLSchema] = {}


def prepare(service: ServiceContract = REPORT) -> etree.XMLSchema:
    """Compile the contract's schema once (call before request threads start).

    libxml2 initialises its built-in schema types on the first compilation and
    is not safe while another thread compiles or parses, so the schema is
    compiled exactly once, under a lock, and then shared. Validation with the
    shared object is serialised by the same lock: lxml keeps one error log per
    schema object. Every service's schema is compiled on the first call; the
    answer is ``service``'s.
    """
    with _lock:
        for each in SERVICES:
            if each.name not in _compiled:
                _compiled[each.name] = _compile(each)
        schema = _compiled[service.name]
    known_elements()
    return schema


def validate(
    element: etree._Element, source: bytes, service: ServiceContract = REPORT
) -> list[Violation]:
    """Validate a Body child against the contract; every violation, in document order.

    ``source`` is the raw document the element was parsed from; it is used to
    find the column of each offending element. Reasons never contain a
    submitted value. ``service`` says whose schema applies.
    """
    schema = _compiled.get(service.name) or prepare(service)
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
        if location in ALL_SCHEMA_FILES:
            node.set("schemaLocation", f"{endpoint_url}?xsd={location}")
    for tag in (ns.qname(ns.WSDL_SOAP11, "address"), ns.qname(ns.WSDL_SOAP12, "address")):
        for node in doc.iter(tag):
            node.set("location", endpoint_url)
    return bytes(etree.tostring(doc, xml_declaration=True, encoding="utf-8"))


def wsdl_document(
    endpoint_url: str, *, test_environment: bool = False, service: ServiceContract = REPORT
) -> bytes:
    """``service``'s WSDL with ``soap:address`` and schema locations pointing at
    ``endpoint_url``; in a test environment its documentation begins with
    :data:`TEST_ENVIRONMENT_NOTE`."""
    note = TEST_ENVIRONMENT_NOTE if test_environment else None
    return _served(service.wsdl_file, endpoint_url, note)


def xsd_document(name: str, endpoint_url: str, service: ServiceContract = REPORT) -> bytes | None:
    """One of the schemas ``service`` imports, or ``None`` if ``name`` is not one of them."""
    if name not in service.schema_files:
        return None
    return _served(name, endpoint_url)
