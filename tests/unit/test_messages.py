"""Business messages: reading the report, writing the answers."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest
from lxml import etree

import udb.contract
from tests.unit.wssamples import NOW, signed
from tests.unit.xmlsamples import (
    CPR,
    INSTITUTION,
    MAIL,
    NAME,
    PING_XML,
    SYSTEM,
    TRANSACTION_ID,
    position,
    request,
    request_text,
)
from udb import ns, safexml
from udb.domain.model import ErrorCode, Outcome, ReportContent, Signature
from udb.soap import envelope, messages
from udb.soap.faults import InvalidRequest
from udb.soap.version import SoapVersion
from udb.wssecurity import SecurityPolicy, UnsignedMessage, VerifiedMessage, verify

CORRELATION_ID = "0d3f8c52-9a0e-4a57-8f55-6b1b6c1d2e77"


@cache
def contract_schema() -> etree.XMLSchema:
    """ipl.xsd (importing udb.xsd) read straight from the package's files."""
    path = Path(udb.contract.__file__).parent / "files" / "ipl.xsd"
    return etree.XMLSchema(etree.parse(str(path)))


def assert_valid(element: etree._Element) -> None:
    schema = contract_schema()
    assert schema.validate(element), schema.error_log


def report(**edit: object) -> ReportContent:
    read = envelope.read(request(**edit), SoapVersion.SOAP12)  # type: ignore[arg-type]
    return messages.read_report(read.payload, read.source)


def test_example_report_is_read() -> None:
    payload = envelope.read(request(), SoapVersion.SOAP12).payload
    assert messages.read_identifier(payload) == messages.Identifier(SYSTEM, TRANSACTION_ID)
    got = messages.read_report(payload)
    assert (got.modtager_system_id, got.cpr, got.institution_number) == (SYSTEM, CPR, INSTITUTION)
    assert got.kontakt is not None
    assert got.job is not None
    assert got.uddannelse is not None
    assert (got.kontakt.navn, got.kontakt.mail, got.kontakt.telefon) == (NAME, MAIL, 4520304050)
    # 09:15+01:00 with offset; 09:20 without offset is Danish winter time (+01:00)
    assert got.kontakt.registreringstid == datetime(2026, 11, 20, 8, 15, tzinfo=UTC)
    assert got.job.tekst == "Tømrer eller anden byggebranche"
    assert got.job.registreringstid == datetime(2026, 11, 20, 8, 20, tzinfo=UTC)
    assert got.uddannelse.tekst == "Erhvervsuddannelse (EUD), bygge og anlæg"
    assert got.uddannelse.registreringstid == datetime(2026, 11, 20, 8, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-20T09:15:00+01:00", datetime(2026, 11, 20, 8, 15, tzinfo=UTC)),
        ("2026-11-20T09:15:00", datetime(2026, 11, 20, 8, 15, tzinfo=UTC)),
        ("2026-07-01T12:00:00", datetime(2026, 7, 1, 10, 0, tzinfo=UTC)),
        ("2026-11-20T09:15:00Z", datetime(2026, 11, 20, 9, 15, tzinfo=UTC)),
        ("2026-11-20T09:15:00+00:00", datetime(2026, 11, 20, 9, 15, tzinfo=UTC)),
        ("2026-11-20T09:15:00-03:30", datetime(2026, 11, 20, 12, 45, tzinfo=UTC)),
        ("2026-11-20T09:15:00+14:00", datetime(2026, 11, 19, 19, 15, tzinfo=UTC)),
        ("2026-11-20T09:15:00.5Z", datetime(2026, 11, 20, 9, 15, 0, 500000, tzinfo=UTC)),
        ("2026-11-20T09:15:00.123456789Z", datetime(2026, 11, 20, 9, 15, 0, 123456, tzinfo=UTC)),
        ("2026-11-20T09:15:00.999999999Z", datetime(2026, 11, 20, 9, 15, 0, 999999, tzinfo=UTC)),
        ("2026-11-20T24:00:00Z", datetime(2026, 11, 21, 0, 0, tzinfo=UTC)),
        ("2026-12-31T24:00:00+00:00", datetime(2027, 1, 1, 0, 0, tzinfo=UTC)),
        ("2026-11-20T24:00:00", datetime(2026, 11, 20, 23, 0, tzinfo=UTC)),
        ("2026-10-25T02:30:00", datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
        ("9999-12-31T23:59:59", datetime(9999, 12, 31, 22, 59, 59, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", datetime(1, 1, 1, tzinfo=UTC)),
    ],
)
def test_registration_times(text: str, expected: datetime) -> None:
    got = report(replace={"KontaktRegistreringstid": text}).kontakt
    assert got is not None
    assert got.registreringstid == expected
    assert got.registreringstid.utcoffset() is not None


@pytest.mark.parametrize(
    "text",
    [
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
        "9999-12-31T24:00:00Z",
        "0001-01-01T00:00:00",
    ],
)
def test_times_outside_the_representable_range_are_invalid_requests(text: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        report(replace={"JobRegistreringstid": text})
    (violation,) = caught.value.violations
    assert violation.reason == (
        "element JobRegistreringstid: value is not a date and time that can be processed "
        "(it must fall within the years 0001-9999 in UTC)"
    )
    assert text not in str(caught.value)
    assert (violation.line, violation.column) == position(
        request_text(), "<udb:JobRegistreringstid>"
    )


@pytest.mark.parametrize(
    ("removed", "absent"),
    [
        (["KommuneKontakt"], {"kontakt"}),
        (["JobOnsker"], {"job"}),
        (["UddannelsesOnsker"], {"uddannelse"}),
        (["KommuneKontakt", "JobOnsker", "UddannelsesOnsker"], {"kontakt", "job", "uddannelse"}),
    ],
)
def test_absent_blocks_are_none(removed: list[str], absent: set[str]) -> None:
    got = report(remove=removed)
    for block in ("kontakt", "job", "uddannelse"):
        assert (getattr(got, block) is None) == (block in absent)
    assert len(got.blocks) == 3 - len(absent)


def test_absent_telephone_is_none() -> None:
    kontakt = report(remove=["KontaktTelefon"]).kontakt
    assert kontakt is not None
    assert kontakt.telefon is None


@pytest.mark.parametrize(("text", "number"), [("0045", 45), (" 12 ", 12), ("0", 0)])
def test_telephone_is_a_number(text: str, number: int) -> None:
    kontakt = report(replace={"KontaktTelefon": text}).kontakt
    assert kontakt is not None
    assert kontakt.telefon == number


def test_institution_number_allows_whitespace_and_sign() -> None:
    assert report(replace={"KommuneInstitutionNummer": " +0751001 "}).institution_number == 751001


IDENTIFIER = messages.Identifier(SYSTEM, TRANSACTION_ID)
OUTCOMES = [Outcome.accepted()] + [Outcome.rejected(code) for code in ErrorCode]


def _body_child(data: bytes, version: SoapVersion) -> etree._Element:
    root = safexml.parse(data)
    assert root.tag == ns.qname(version.envelope_ns, "Envelope")
    (body,) = root
    assert body.tag == ns.qname(version.envelope_ns, "Body")
    (child,) = body
    return child


@pytest.mark.parametrize("version", list(SoapVersion))
@pytest.mark.parametrize("outcome", OUTCOMES, ids=lambda o: str(int(o.error or 0)))
def test_report_response_is_valid(version: SoapVersion, outcome: Outcome) -> None:
    data = messages.report_response(version, IDENTIFIER, CORRELATION_ID, outcome)
    response = _body_child(data, version)
    assert_valid(response)
    i, u = ns.IPL, ns.UDB
    assert response.findtext(f"{{{i}}}Identifier/{{{i}}}SystemName") == SYSTEM
    assert response.findtext(f"{{{i}}}Identifier/{{{i}}}SystemTransactionID") == TRANSACTION_ID
    assert response.findtext(f"{{{i}}}CorrelationID") == CORRELATION_ID
    svar = response.find(f"{{{i}}}Message/{{{u}}}IndberetningSvar")
    assert svar is not None
    assert svar.findtext(f"{{{u}}}Ok") == ("true" if outcome.ok else "false")
    fejl = svar.find(f"{{{u}}}Fejl")
    if outcome.error is None:
        assert fejl is None
    else:
        assert fejl is not None
        assert fejl.findtext(f"{{{u}}}FejlKode") == str(int(outcome.error))
        assert fejl.findtext(f"{{{u}}}FejlTekst") == outcome.error.text


def test_identifier_is_echoed_verbatim() -> None:
    odd = messages.Identifier("Æblesystem <&> \"'", " 42 ")
    data = messages.report_response(SoapVersion.SOAP12, odd, CORRELATION_ID, Outcome.accepted())
    response = _body_child(data, SoapVersion.SOAP12)
    assert_valid(response)
    assert messages.read_identifier(response) == odd


def test_rejected_answer_matches_the_example() -> None:
    data = messages.report_response(
        SoapVersion.SOAP12, IDENTIFIER, CORRELATION_ID, Outcome.rejected(ErrorCode.AGE_LIMIT)
    )
    text = data.decode("utf-8")
    assert "<udb:FejlKode>15</udb:FejlKode>" in text
    assert "<udb:FejlTekst>Aldersgrænse overskredet</udb:FejlTekst>" in text
    assert data.startswith(b"<?xml version='1.0' encoding='utf-8'?>")


@pytest.mark.parametrize("version", list(SoapVersion))
@pytest.mark.parametrize("up", [True, False])
def test_ping_response_is_valid(version: SoapVersion, up: bool) -> None:
    response = _body_child(messages.ping_response(version, up), version)
    assert response.tag == ns.qname(ns.IPL, "PingResponse")
    assert_valid(response)
    assert response.findtext(ns.qname(ns.IPL, "Status")) == ("up" if up else "down")


# The operation, and the Submission with the authentication result ---------------------------


def test_the_operation_is_told_by_the_payload() -> None:
    assert messages.operation(envelope.read(request(), SoapVersion.SOAP12)) is (
        messages.Operation.REPORT
    )
    ping = envelope.read(PING_XML.encode(), SoapVersion.SOAP12)
    assert messages.operation(ping) is messages.Operation.PING
    assert (messages.Operation.PING.value, messages.Operation.REPORT.value) == (
        "Ping",
        "Indberetning",
    )


def test_an_unsigned_submission_has_no_signature() -> None:
    checked = envelope.read(request(), SoapVersion.SOAP12)
    received = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    message = UnsignedMessage(checked.payload.getparent())
    submission = messages.read_submission(
        checked, message, received_at=received, correlation_id=CORRELATION_ID
    )
    assert (submission.system_name, submission.system_transaction_id) == (SYSTEM, TRANSACTION_ID)
    assert (submission.received_at, submission.correlation_id) == (received, CORRELATION_ID)
    assert submission.report == messages.read_report(checked.payload, checked.source)
    assert submission.signature is None
    assert messages.signature_of(message) is None


def test_a_signed_submission_carries_what_verification_proved() -> None:
    parsed = envelope.parse(signed(), SoapVersion.SOAP12)
    message = verify(parsed, policy=SecurityPolicy(), now=NOW)
    assert isinstance(message, VerifiedMessage)
    checked = envelope.checked_payload(parsed, message)
    submission = messages.read_submission(
        checked, message, received_at=NOW, correlation_id=CORRELATION_ID
    )
    assert submission.signature == Signature(
        message.fingerprint, message.replay_key, message.keep_until
    )
    assert submission.system_name == SYSTEM
