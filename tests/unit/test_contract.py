"""The contract files as served (WSDL, XSD) and as used for validation."""

from __future__ import annotations

import re

import pytest
from lxml import etree

from tests.unit.xmlsamples import PING_XML, REQUEST_XML
from udb import contract, ns, safexml
from udb.domain.model import ErrorCode
from udb.soap import faults

URL = "https://udb.example.test:8443/services/UDB/IndberetningKontaktJobOgUddOensker/v1"
NS = {"wsdl": ns.WSDL, "soap": ns.WSDL_SOAP11, "soap12": ns.WSDL_SOAP12, "xs": ns.XSD}


def _wsdl() -> etree._Element:
    return safexml.parse(contract.wsdl_document(URL))


def _payload(text: str) -> tuple[etree._Element, bytes]:
    source = text.encode("utf-8")
    body = safexml.parse(source).find(ns.qname(ns.SOAP12_ENV, "Body"))
    assert body is not None
    return body[0], source


def test_wsdl_addresses_of_both_ports_point_at_the_endpoint() -> None:
    doc = _wsdl()
    ports = doc.findall("wsdl:service/wsdl:port", NS)
    assert len(ports) == 2
    locations = {etree.QName(port[-1]).namespace: port[-1].get("location") for port in ports}
    assert locations == {ns.WSDL_SOAP11: URL, ns.WSDL_SOAP12: URL}
    assert "localhost:8080" not in contract.wsdl_document(URL).decode("utf-8")


def test_wsdl_schema_import_points_at_the_served_xsd() -> None:
    imports = _wsdl().findall("wsdl:types/xs:schema/xs:import", NS)
    assert [i.get("schemaLocation") for i in imports] == [f"{URL}?xsd=ipl.xsd"]


def test_wsdl_follows_the_url_it_is_given() -> None:
    other = "http://127.0.0.1:8080/services/UDB/IndberetningKontaktJobOgUddOensker/v1"
    text = contract.wsdl_document(other).decode("utf-8")
    assert f'location="{other}"' in text
    assert f'schemaLocation="{other}?xsd=ipl.xsd"' in text
    assert URL not in text


def test_wsdl_is_served_with_xml_declaration() -> None:
    assert contract.wsdl_document(URL).startswith(b"<?xml version='1.0' encoding='utf-8'?>")


def test_ipl_xsd_import_of_udb_xsd_is_rewritten() -> None:
    served = contract.xsd_document("ipl.xsd", URL)
    assert served is not None
    doc = safexml.parse(served)
    assert doc.get("targetNamespace") == ns.IPL
    imports = doc.findall("xs:import", NS)
    assert [(i.get("namespace"), i.get("schemaLocation")) for i in imports] == [
        (ns.UDB, f"{URL}?xsd=udb.xsd")
    ]


def test_udb_xsd_is_served() -> None:
    served = contract.xsd_document("udb.xsd", URL)
    assert served is not None
    doc = safexml.parse(served)
    assert doc.get("targetNamespace") == ns.UDB
    assert doc.find("xs:element[@name='IndberetningSvar']", NS) is not None


@pytest.mark.parametrize(
    "name",
    [
        "../pyproject.toml",
        "/etc/passwd",
        "../../../../etc/passwd",
        "files/ipl.xsd",
        "./ipl.xsd",
        "ipl.xsd/../udb.xsd",
        "IPL.XSD",
        "ipl.xsd ",
        "ipl.xsd\x00",
        "",
        contract.WSDL_FILE,
        "__init__.py",
        "violations.py",
    ],
)
def test_xsd_document_refuses_other_names(name: str) -> None:
    assert contract.xsd_document(name, URL) is None


@pytest.mark.parametrize("code", [spec.error_code for spec in faults.ALL])
def test_wsdl_documents_every_fault_code(code: str) -> None:
    text = contract.wsdl_document(URL).decode("utf-8")
    spec = next(s for s in faults.ALL if s.error_code == code)
    row = re.search(rf"{code}\s+(Sender|Receiver)\s+(\d{{3}})\s+(\w+ \w+)", text)
    assert row is not None
    assert (row[1], int(row[2]), row[3]) == (spec.code.value, spec.http_status, spec.reason)


@pytest.mark.parametrize("code", list(ErrorCode))
def test_wsdl_documents_every_business_code(code: ErrorCode) -> None:
    text = contract.wsdl_document(URL).decode("utf-8")
    assert re.search(rf'\b{int(code)}\s+"{re.escape(code.text)}"', text)


def test_wsdl_documents_the_order_of_business_checks() -> None:
    assert "14 → 86 → 15 → 280" in contract.wsdl_document(URL).decode("utf-8")


def test_wsdl_and_schemas_are_well_formed_without_dtd() -> None:
    for name in contract.SCHEMA_FILES:
        served = contract.xsd_document(name, URL)
        assert served is not None
        assert safexml.parse(served).getroottree().docinfo.doctype == ""
    assert _wsdl().tag == ns.qname(ns.WSDL, "definitions")


def test_example_request_is_valid() -> None:
    payload, source = _payload(REQUEST_XML)
    assert contract.validate(payload, source) == []


def test_ping_is_valid() -> None:
    payload, source = _payload(PING_XML)
    assert contract.validate(payload, source) == []


def test_validate_reports_a_violation_for_an_invalid_payload() -> None:
    text = REQUEST_XML.replace("<udb:CPRNr>1503081234<", "<udb:CPRNr>150308123<")
    payload, source = _payload(text)
    (violation,) = contract.validate(payload, source)
    assert violation.reason == "element CPRNr: value must be exactly 10 digits 0-9"


def test_known_elements_are_the_declared_names() -> None:
    known = contract.known_elements()
    assert {"CPRNr", "KontaktNavn", "Ping", "ServiceFaultDetailer", "FejlKode"} <= known
    assert "x0101901234" not in known
