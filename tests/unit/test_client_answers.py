"""How the client reads answers: business answers, every IPL fault, and what is not an answer."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.support import SYSTEM
from tests.unit.clientsupport import (
    CORRELATION,
    Script,
    client,
    fault_reply,
    ping_reply,
    report_reply,
    sample_report,
    stid_of,
)
from udb.client import (
    AccessDeniedFault,
    BodyTooLargeFault,
    ErrorCode,
    ErrorKind,
    FaultError,
    ReportError,
    Result,
    RetryPolicy,
    SchemaFault,
    SecurityFault,
    SenderFault,
    ServerFault,
    TransactionIdReusedFault,
    UnexpectedResponse,
)
from udb.soap import faults
from udb.soap.version import SoapVersion

TEXTS = {
    14: "Den unge findes ikke i Ungedatabasen",
    15: "Aldersgrænse overskredet",
    86: "Bruger må ikke indberette oplysninger om dette CPR-nummer",
    101: "exeption - UDB",
    280: "Registreringstid for kontakt, uddannelses- eller jobønsker må ikke fremdateres",
}
ONCE = RetryPolicy(attempts=1)


def test_accepted() -> None:
    with client(Script(None)) as c:
        result = c.send(sample_report(), transaction_id="tx-1")
    assert result == Result(True, None, None, None, CORRELATION, "tx-1", 1)


@pytest.mark.parametrize(
    ("code", "kind"),
    [(14, ErrorKind.HARD), (15, ErrorKind.HARD), (86, ErrorKind.HARD), (280, ErrorKind.SOFT)],
)
def test_business_rejections(code: int, kind: ErrorKind) -> None:
    with client(Script(code)) as c:
        result = c.send(sample_report())
    assert (result.accepted, result.code, result.text, result.kind) == (
        False,
        code,
        TEXTS[code],
        kind,
    )
    assert isinstance(result.code, ErrorCode)
    assert result.attempts == 1 and not result.retryable
    assert uuid.UUID(result.system_transaction_id).version == 4


def test_101_is_hard_and_retryable() -> None:
    with client(Script(101), retry=ONCE) as c:
        result = c.send(sample_report())
    assert (result.code, result.kind, result.retryable) == (101, ErrorKind.HARD, True)


def test_a_code_the_contract_does_not_know_is_hard() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = report_reply(request, 14).content.replace(b">14<", b">999<")
        return httpx.Response(200, content=body)

    with client(handler) as c:
        result = c.send(sample_report())
    assert (result.code, result.kind, result.retryable) == (999, ErrorKind.HARD, False)
    assert not isinstance(result.code, ErrorCode)


FAULTS = [
    (faults.INTERNAL, ServerFault),
    (faults.SCHEMA, SchemaFault),
    (faults.SECURITY, SecurityFault),
    (faults.ACCESS_DENIED, AccessDeniedFault),
    (faults.TRANSACTION_REUSED, TransactionIdReusedFault),
    (faults.TOO_LARGE, BodyTooLargeFault),
]


def test_every_fault_of_the_service_is_mapped() -> None:
    assert {spec.error_code for spec, _ in FAULTS} == {spec.error_code for spec in faults.ALL}


@pytest.mark.parametrize("version", [SoapVersion.SOAP12, SoapVersion.SOAP11])
@pytest.mark.parametrize(("spec", "cls"), FAULTS, ids=[s.error_code for s, _ in FAULTS])
def test_faults_raise_typed_exceptions(
    spec: faults.FaultSpec, cls: type[FaultError], version: SoapVersion
) -> None:
    answer = fault_reply(spec, "line 18, column 11: element KontaktNavn: too long", version)
    with client(Script(answer), retry=ONCE) as c, pytest.raises(cls) as caught:
        c.send(sample_report(), transaction_id="tx-f")
    fault = caught.value
    assert fault.error_code == spec.error_code
    assert fault.correlation_id == CORRELATION
    assert fault.details == "line 18, column 11: element KontaktNavn: too long"
    assert fault.reason == spec.reason
    assert fault.error_message == spec.error_message
    assert fault.http_status == faults.http_status(spec, version)
    assert (fault.system_transaction_id, fault.attempts) == ("tx-f", 1)
    assert isinstance(fault, SenderFault) is (spec.code is faults.FaultCode.SENDER)
    assert fault.retryable is (spec.code is faults.FaultCode.RECEIVER)
    assert spec.error_code in str(fault) and CORRELATION in str(fault)


def test_an_unknown_fault_code_is_classed_by_its_soap_code() -> None:
    sender = fault_reply(faults.SCHEMA).content.replace(b"IPL000002", b"IPL000099")
    receiver = fault_reply(faults.INTERNAL).content.replace(b"IPL000001", b"IPL000098")
    with client(Script(httpx.Response(400, content=sender)), retry=ONCE) as c:
        with pytest.raises(SenderFault) as caught:
            c.send(sample_report())
        assert type(caught.value) is SenderFault and caught.value.error_code == "IPL000099"
    with client(Script(httpx.Response(500, content=receiver)), retry=ONCE) as c:
        with pytest.raises(ServerFault) as raised:
            c.send(sample_report())
        assert raised.value.error_code == "IPL000098"


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (httpx.Response(502, text="<html>Bad gateway</html>"), "not a SOAP envelope"),
        (httpx.Response(404, text="Not found"), "not a SOAP envelope"),
        (httpx.Response(200, content=b""), "not a SOAP envelope"),
        (httpx.Response(200, content=b"<a/>"), "not a SOAP envelope"),
        (
            httpx.Response(200, content=b'<!DOCTYPE x [<!ENTITY e "x">]><x>&e;</x>'),
            "not a SOAP envelope",
        ),
        (httpx.Response(200, content=ping_reply().content), "not an IndberetningKontakt"),
        (httpx.Response(301, headers={"location": "http://elsewhere"}), "not a SOAP"),
    ],
)
def test_what_is_not_an_answer(answer: httpx.Response, message: str) -> None:
    with client(Script(answer), retry=ONCE) as c, pytest.raises(UnexpectedResponse) as caught:
        c.send(sample_report())
    assert message in str(caught.value)
    assert caught.value.http_status == answer.status_code
    assert caught.value.retryable is (answer.status_code >= 500)


def test_an_answer_for_another_transaction_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=report_reply(request).content.replace(stid_of(request).encode(), b"x")
        )

    with client(handler, retry=ONCE) as c, pytest.raises(UnexpectedResponse, match="Identifier"):
        c.send(sample_report())


def test_an_answer_with_the_http_status_but_no_fault() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, content=report_reply(request).content)

    with client(handler, retry=ONCE) as c, pytest.raises(UnexpectedResponse) as caught:
        c.send(sample_report())
    assert caught.value.retryable


def test_a_huge_answer_is_not_read_to_the_end() -> None:
    chunks_read = 0

    def endless() -> object:
        nonlocal chunks_read
        for _ in range(10_000):
            chunks_read += 1
            yield b"<x>" + b" " * 65536

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=endless())  # type: ignore[arg-type]

    with client(handler, retry=ONCE) as c, pytest.raises(UnexpectedResponse, match="larger"):
        c.send(sample_report())
    assert chunks_read < 40


def test_ping() -> None:
    script = Script(ping_reply(True), ping_reply(False))
    with client(script) as c:
        assert c.ping() is True
        assert c.ping() is False
    assert len(script.requests) == 2
    assert all(b"Signature" in r.content and b"Ping" in r.content for r in script.requests)


def test_a_refused_ping_raises() -> None:
    with client(Script(fault_reply(faults.SECURITY))) as c, pytest.raises(SecurityFault):
        c.ping()
    nope = httpx.Response(200, content=b"<nope/>")
    with client(Script(nope)) as c, pytest.raises(UnexpectedResponse):
        c.ping()


def test_requests_carry_the_soap_12_content_type_and_identity() -> None:
    script = Script(None)
    with client(script) as c:
        c.send(sample_report(), transaction_id="tx-h")
    (request,) = script.requests
    assert request.method == "POST"
    assert str(request.url) == "http://udb.test/services/UDB/IndberetningKontaktJobOgUddOensker/v1"
    assert request.headers["content-type"] == "application/soap+xml; charset=utf-8"
    assert request.headers["user-agent"].startswith("udb-client/")
    assert f"<v1:SystemName>{SYSTEM}</v1:SystemName>".encode() in request.content
    assert f"<udb:ModtagerSystemID>{SYSTEM}</udb:ModtagerSystemID>".encode() in request.content


def test_errors_survive_pickling() -> None:
    import pickle

    errors = [
        ReportError("Contact.name", "is too long", element="KontaktNavn"),
        UnexpectedResponse("not SOAP", http_status=502, correlation_id="c"),
        SchemaFault(
            error_code="IPL000002",
            reason="Input error",
            error_message="invalid",
            details="line 1, column 1: x",
            correlation_id="c",
            http_status=400,
        ),
    ]
    errors[2].attempts, errors[2].system_transaction_id = 3, "tx"
    for error in errors:
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and str(copy) == str(error)
        assert copy.__dict__ == error.__dict__
