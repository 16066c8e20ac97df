"""The read-back's wire format (udb.soap.readback): requests read, answers valid against the
contract, faults in the read-back's own namespace."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lxml import etree

from tests.support import EXAMPLES
from udb import contract, ns
from udb.domain.model import ContactBlock, EducationWishBlock, ErrorCode, JobWishBlock
from udb.domain.readback import HeldBlock, PersonAnswer, ReadAnswer
from udb.soap import envelope, faults
from udb.soap import readback as wire
from udb.soap.messages import Identifier
from udb.soap.version import SoapVersion
from udb.wssecurity import UnsignedMessage

AT = datetime(2026, 11, 20, 8, 15, 0, 123456, tzinfo=UTC)
REQUEST = (EXAMPLES / "hent-request.xml").read_bytes()


def checked(body: bytes) -> envelope.CheckedRequest:
    parsed = envelope.parse(body, SoapVersion.SOAP12)
    return envelope.checked_payload(parsed, UnsignedMessage(parsed.bodies[0]), contract.READBACK)


def test_the_example_request_is_read() -> None:
    request = checked(REQUEST)
    assert wire.operation(request) is wire.ReadOperation.READ
    read = wire.read_request(request, UnsignedMessage(None), received_at=AT, correlation_id="c")
    assert read.system_name == "Vejledningssystem-Aarhus"
    assert read.request.institution_number == 751001
    assert read.request.cprs == ("1503084232", "0202854232", "2002104230", "0101014230")
    assert read.request.since is None and read.signature is None


def test_a_changes_request_is_read_with_its_token() -> None:
    body = REQUEST.replace(
        b"<hent:CPRNr>1503084232</hent:CPRNr>",
        b"<hent:AendretSiden>2026-11-20T09:15:00</hent:AendretSiden>"
        b"<hent:SideToken>abc-_1</hent:SideToken>",
    )
    body = b"\n".join(line for line in body.split(b"\n") if b"<hent:CPRNr>" not in line)
    read = wire.read_request(
        checked(body), UnsignedMessage(None), received_at=AT, correlation_id="c"
    )
    assert read.request.cprs == ()
    assert read.request.since == datetime(2026, 11, 20, 8, 15, tzinfo=UTC)  # Danish time
    assert read.request.token == "abc-_1"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"<hent:CPRNr>1503084232</hent:CPRNr>", b"<hent:CPRNr>150308423</hent:CPRNr>"),
        (
            b"<hent:CPRNr>1503084232</hent:CPRNr>",
            b"<hent:AendretSiden>2026-11-20T09:15:00</hent:AendretSiden>",
        ),
    ],
)
def test_requests_against_the_schema_are_refused(old: bytes, new: bytes) -> None:
    with pytest.raises(faults.InvalidRequest):
        checked(REQUEST.replace(old, new))


def test_a_report_is_not_an_operation_of_the_read_back() -> None:
    report = (EXAMPLES / "request.xml").read_bytes()
    with pytest.raises(faults.InvalidRequest):
        checked(report)  # not valid against the read-back's schema at all


def test_the_answer_is_valid_against_the_contract() -> None:
    answer = ReadAnswer(
        (
            PersonAnswer(
                "1503084232",
                None,
                (
                    HeldBlock(ContactBlock("Anna", "a@x.dk", 4520304050, AT), AT, "System-A"),
                    HeldBlock(JobWishBlock("Tømrer", AT), AT, "System-B"),
                    HeldBlock(EducationWishBlock("EUD", AT), AT, "System-A"),
                ),
            ),
            PersonAnswer("1503084232"),
            PersonAnswer("0202854232", ErrorCode.NOT_AUTHORISED),
        ),
        until=AT,
        next_token="abc_-",
    )
    body = wire.read_response(SoapVersion.SOAP11, Identifier("S", "T"), "c" * 8, answer)
    root = etree.fromstring(body)
    response = root[0][0]
    response.find(ns.qname(ns.HENT_IPL, "CorrelationID")).text = (  # type: ignore[union-attr]
        "00000000-0000-4000-8000-000000000001"
    )
    assert contract.validate(response, body, contract.READBACK) == []
    svar = response.find(f"{{{ns.HENT_IPL}}}Message/{{{ns.HENT}}}HentSvar")
    assert svar is not None
    assert svar.findtext(f"{{{ns.HENT}}}AendretTil") == "2026-11-20T08:15:00.123456Z"
    assert svar.findtext(f"{{{ns.HENT}}}NaesteSide") == "abc_-"
    kontakt = svar.find(f"{{{ns.HENT}}}Person/{{{ns.HENT}}}KommuneKontakt")
    assert kontakt is not None
    assert kontakt.findtext(f"{{{ns.UDB}}}KontaktNavn") == "Anna"
    assert kontakt.findtext(f"{{{ns.HENT}}}IndberettetAf") == "System-A"


def test_the_ping_answer_and_a_fault_are_in_the_read_backs_namespace() -> None:
    pong = etree.fromstring(wire.ping_response(SoapVersion.SOAP12, True))
    assert pong[0][0].tag == ns.qname(ns.HENT_IPL, "PingResponse")
    fault = faults.build(
        SoapVersion.SOAP12,
        faults.SCHEMA,
        correlation_id="00000000-0000-4000-8000-000000000001",
        now=AT,
        details="x",
        namespace=ns.HENT_IPL,
    )
    detailer = etree.fromstring(fault).find(f".//{{{ns.HENT_IPL}}}ServiceFaultDetailer")
    assert detailer is not None
    assert contract.validate(detailer, fault, contract.READBACK) == []


def test_both_services_serve_their_own_wsdl_and_schemas() -> None:
    url = "https://udb.example.dk" + contract.READBACK_PATH
    wsdl = contract.wsdl_document(url, service=contract.READBACK)
    assert b"HentKontaktJobOgUddOenskerService" in wsdl
    assert f'location="{url}"'.encode() in wsdl
    assert f"{url}?xsd=hent-ipl.xsd".encode() in wsdl
    assert contract.xsd_document("hent.xsd", url, contract.READBACK) is not None
    assert contract.xsd_document("ipl.xsd", url, contract.READBACK) is None
    assert contract.xsd_document("hent.xsd", url) is None  # not the report service's
