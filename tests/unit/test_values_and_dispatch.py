"""Values are read as the schema saw them, and only the two operations are dispatched."""

from __future__ import annotations

import pytest

from tests.unit.xmlsamples import REQUEST_XML, position, request_text, unknown_header
from udb.soap import envelope, messages
from udb.soap.faults import InvalidRequest
from udb.soap.version import SoapVersion


def read(text: str) -> messages.Report:  # type: ignore[name-defined]
    env = envelope.read(text.encode("utf-8"), SoapVersion.SOAP12)
    return messages.read_report(env.payload, env.source)


@pytest.mark.parametrize(
    ("old", "new", "attribute", "expected"),
    [
        ("<udb:CPRNr>1503081234", "<udb:CPRNr>150308<!--x-->1234", "cpr", "1503081234"),
        ("<udb:CPRNr>1503081234", "<udb:CPRNr>150308<?pi x?>1234", "cpr", "1503081234"),
        (
            "<udb:KommuneInstitutionNummer>751001",
            "<udb:KommuneInstitutionNummer><!--x-->751<!--y-->001",
            "institution_number",
            751001,
        ),
        (
            "<udb:ModtagerSystemID>Vejledningssystem-Aarhus",
            "<udb:ModtagerSystemID>Vejledningssystem-<!--x-->Aarhus",
            "modtager_system_id",
            "Vejledningssystem-Aarhus",
        ),
        ("<udb:CPRNr>1503081234", "<udb:CPRNr>150308<![CDATA[12]]>34", "cpr", "1503081234"),
    ],
)
def test_comments_and_instructions_inside_a_value_do_not_cut_it(
    old: str, new: str, attribute: str, expected: object
) -> None:
    assert getattr(read(REQUEST_XML.replace(old, new)), attribute) == expected


def test_a_comment_inside_a_block_value_is_read_whole() -> None:
    text = REQUEST_XML.replace(
        "<udb:KontaktTelefon>4520304050", "<udb:KontaktTelefon>45<?x?>20304050"
    )
    text = text.replace("<udb:KontaktNavn>Mette", "<udb:KontaktNavn><!--x-->Mette")
    text = text.replace("09:15:00+01:00<", "09:15:00<!--x-->+01:00<")
    report = read(text)
    assert report.kontakt is not None
    assert report.kontakt.telefon == 4520304050
    assert report.kontakt.navn == "Mette Sørensen"
    assert report.kontakt.registreringstid.isoformat() == "2026-11-20T08:15:00+00:00"


@pytest.mark.parametrize("value", ["1", "true", " true ", "\n1\n"])
def test_must_understand_is_an_xs_boolean(value: str) -> None:
    text = request_text(header=unknown_header(must_understand=value))
    with pytest.raises(InvalidRequest) as raised:
        envelope.read(text.encode(), SoapVersion.SOAP12)
    assert "mustUnderstand" in str(raised.value)


@pytest.mark.parametrize(
    "body",
    [
        '<v1:PingResponse xmlns:v1="{ipl}"><v1:Status>up</v1:Status></v1:PingResponse>',
        '<udb:IndberetningSvar xmlns:udb="{udb}"><udb:Ok>true</udb:Ok></udb:IndberetningSvar>',
    ],
)
def test_other_contract_elements_are_not_operations(body: str) -> None:
    from tests.unit.xmlsamples import IPL_NS, UDB_NS
    from udb.api.endpoint import Endpoint
    from udb.config import Security
    from udb.service.reports import ReportPolicy

    class NoStore:  # the answer comes before any storage is touched
        pass

    text = (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>\n  '
        + body.format(ipl=IPL_NS, udb=UDB_NS)
        + "</s:Body></s:Envelope>"
    )
    reply = Endpoint(NoStore(), ReportPolicy(), security=Security(required=False)).post(  # type: ignore[arg-type]
        text.encode(),
        "application/soap+xml",
        received_at=None,  # type: ignore[arg-type]
    )
    assert reply.status == 400
    detail = reply.body.decode()
    line, column = position(text, "<" + body.split()[0][1:])
    assert f"line {line}, column {column}: element " in detail
    assert "is not an operation of this service" in detail
