"""The contract's files as the package ships them, and the element names they declare.

Two services share the conventions (and ``udb.xsd``, the blocks' types); each has its own
WSDL, IPL wrapper schema and namespace, described by a :class:`ServiceContract`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

from udb import ns, safexml


@dataclass(frozen=True, slots=True)
class ServiceContract:
    """One service of the contract: where it is served and which files describe it."""

    #: the service's name, as in its WSDL
    name: str
    #: the path below the base URL (ipl-conventions.md, Endpoint)
    path: str
    wsdl_file: str
    #: the schemas the WSDL imports, directly or not (served as ``?xsd=NAME``)
    schema_files: tuple[str, ...]
    #: the IPL wrapper schema, the root of validation
    root_schema: str
    #: the IPL namespace: the wrapper's elements, Ping and the fault detail
    ipl_ns: str


REPORT = ServiceContract(
    name="IndberetningKontaktJobOgUddOensker",
    path="/services/UDB/IndberetningKontaktJobOgUddOensker/v1",
    wsdl_file="IndberetningKontaktJobOgUddOensker_v1.wsdl",
    schema_files=("ipl.xsd", "udb.xsd"),
    root_schema="ipl.xsd",
    ipl_ns=ns.IPL,
)
READBACK = ServiceContract(
    name="HentKontaktJobOgUddOensker",
    path="/services/UDB/HentKontaktJobOgUddOensker/v1",
    wsdl_file="HentKontaktJobOgUddOensker_v1.wsdl",
    schema_files=("hent-ipl.xsd", "hent.xsd", "udb.xsd"),
    root_schema="hent-ipl.xsd",
    ipl_ns=ns.HENT_IPL,
)
#: every service, the report service first
SERVICES = (REPORT, READBACK)

WSDL_FILE = REPORT.wsdl_file
SCHEMA_FILES = REPORT.schema_files
#: every schema file of every service
ALL_SCHEMA_FILES = tuple(dict.fromkeys(f for s in SERVICES for f in s.schema_files))


@cache
def file(name: str) -> bytes:
    """One of the files in ``udb/contract/files/``."""
    return (resources.files("udb.contract") / "files" / name).read_bytes()


@cache
def known_elements() -> frozenset[str]:
    """Every element name the contract's schemas declare."""
    names: set[str] = set()
    for name in ALL_SCHEMA_FILES:
        doc = safexml.parse(file(name))
        found = doc.xpath("//xs:element/@name", namespaces={"xs": ns.XSD})
        if isinstance(found, list):
            names.update(str(n) for n in found)
    return frozenset(names)
