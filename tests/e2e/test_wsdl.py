"""The served contract, and a SOAP toolkit (zeep) that knows only the WSDL."""

from __future__ import annotations

import uuid
from datetime import datetime

import httpx
import pytest
import zeep
from lxml import etree

from tests.e2e.conftest import Server


def test_the_wsdl_points_at_the_host_the_caller_used(server: Server) -> None:
    url = server.endpoint.replace("127.0.0.1", "localhost")
    response = httpx.get(url + "?wsdl")
    assert response.status_code == 200
    doc = etree.fromstring(response.content)
    locations = doc.xpath("//*[local-name()='address']/@location")
    assert locations == [url, url]
    imports = doc.xpath("//*[local-name()='import']/@schemaLocation")
    assert imports == [url + "?xsd=ipl.xsd"]


@pytest.mark.parametrize(
    ("name", "namespace"),
    [
        ("ipl.xsd", "http://ipl.stil.dk/services/udb/indberetningkontaktjoboguddoensker/v1.0"),
        ("udb.xsd", "http://www.udb.stil.dk/indberetningkontaktjoboguddoensker/v1"),
    ],
)
def test_each_imported_schema_is_served(server: Server, name: str, namespace: str) -> None:
    response = httpx.get(server.endpoint, params={"xsd": name})
    assert response.status_code == 200
    schema = etree.fromstring(response.content)
    assert schema.tag == "{http://www.w3.org/2001/XMLSchema}schema"
    assert schema.get("targetNamespace") == namespace
    if name == "ipl.xsd":
        assert schema.xpath("//*[local-name()='import']/@schemaLocation") == [
            server.endpoint + "?xsd=udb.xsd"
        ]
    else:
        etree.XMLSchema(schema)  # self-contained: compiles as served


def test_unknown_schema_path_and_method(server: Server) -> None:
    assert httpx.get(server.endpoint, params={"xsd": "../pyproject.toml"}).status_code == 404
    assert httpx.get(server.url + "/services/UDB/Other/v1").status_code == 404
    assert httpx.put(server.endpoint, content=b"x").status_code == 405


def _report(cpr: str) -> dict[str, object]:
    return {
        "Identifier": {
            "SystemName": "Vejledningssystem-Aarhus",
            "SystemTransactionID": str(uuid.uuid4()),
        },
        "Message": {
            "IndberetningKontaktJobOgUddOenskerRequest": {
                "ModtagerSystemID": "Vejledningssystem-Aarhus",
                "CPRNr": cpr,
                "KommuneInstitutionNummer": 751001,
                "JobOnsker": {
                    "JobOnsker": "Smed",
                    "JobRegistreringstid": datetime(2026, 11, 1, 10, 0),
                },
            }
        },
    }


@pytest.mark.parametrize(
    "port",
    ["IndberetningKontaktJobOgUddOenskerSoap12Port", "IndberetningKontaktJobOgUddOenskerSoapPort"],
)
def test_zeep_sends_an_accepted_and_a_rejected_report(server: Server, port: str) -> None:
    service = zeep.Client(server.endpoint + "?wsdl").bind(
        "IndberetningKontaktJobOgUddOenskerService", port
    )
    accepted = service.IndberetningKontaktJobOgUddOensker(**_report("1503084232"))
    assert accepted.Message.IndberetningSvar.Ok is True
    assert uuid.UUID(accepted.CorrelationID)
    rejected = service.IndberetningKontaktJobOgUddOensker(**_report("2002104230"))
    assert rejected.Message.IndberetningSvar.Ok is False
    assert rejected.Message.IndberetningSvar.Fejl.FejlKode == 14
    assert (
        rejected.Message.IndberetningSvar.Fejl.FejlTekst == "Den unge findes ikke i Ungedatabasen"
    )
    assert service.Ping() == "up"


def test_zeep_raises_the_ipl_fault(server: Server) -> None:
    client = zeep.Client(server.endpoint + "?wsdl")
    report = _report("1503084232")
    report["Identifier"] = {"SystemName": "Ukendt", "SystemTransactionID": "1"}
    with pytest.raises(zeep.exceptions.Fault) as raised:
        client.service.IndberetningKontaktJobOgUddOensker(**report)
    assert raised.value.message == "Access denied"
    detail = raised.value.detail
    assert detail is not None
    assert "IPL000004" in etree.tostring(detail).decode()


def test_behind_a_proxy_the_wsdl_uses_the_public_url(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.e2e.conftest import start_server, stop_server

    srv = start_server(tmp_path, "--public-url", "https://udb.example.dk/ipl/")
    try:
        doc = etree.fromstring(httpx.get(srv.endpoint + "?wsdl").content)
    finally:
        stop_server(srv)
    public = "https://udb.example.dk/ipl/services/UDB/IndberetningKontaktJobOgUddOensker/v1"
    assert doc.xpath("//*[local-name()='address']/@location") == [public, public]
