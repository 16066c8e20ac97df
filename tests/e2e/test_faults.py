"""IPL faults and error 101 from a real server process."""

from __future__ import annotations

import sqlite3
import uuid

import httpx

from tests.e2e.conftest import SOAP11, Server
from tests.e2e.soap import answer, example, fault, with_stid

NAME = "Mette Sørensen"


def test_schema_violation_is_ipl000002_with_line_and_column(server: Server) -> None:
    body = with_stid(example("request.xml")).replace(NAME.encode(), b"N" * 101)
    body = body.replace(
        b"<udb:KommuneInstitutionNummer>751001", b"<udb:KommuneInstitutionNummer>x1"
    )
    response = server.post(body)
    assert response.status_code == 400
    f = fault(response)
    assert (f.code, f.reason, f.error_code) == ("s:Sender", "Input error", "IPL000002")
    assert f.error_message.startswith("The request is invalid according to the schema definition")
    assert "element KommuneInstitutionNummer" in f.details
    assert "element KontaktNavn: value is longer than the maximum length 100" in f.details
    assert "line 16, column 11" in f.details or "line 16, column" in f.details
    assert "N" * 20 not in f.details and "x1" not in f.details
    assert response.headers["x-correlation-id"] == f.correlation_id


def test_a_body_that_is_not_xml_is_ipl000002(server: Server) -> None:
    f = fault(
        server.post(b"<s:Envelope xmlns:s='http://www.w3.org/2003/05/soap-envelope'><s:Body>")
    )
    assert f.error_code == "IPL000002"
    assert "not well-formed" in f.details and "line 1" in f.details


def test_soap_11_faults_use_client_and_http_500(server: Server) -> None:
    body = with_stid(example("request-soap11.xml")).replace(b"1503084232", b"15030842")
    response = server.post(body, SOAP11)
    assert response.status_code == 500
    f = fault(response)
    assert (f.code, f.reason, f.error_code) == ("s:Client", "Input error", "IPL000002")


def test_unsupported_content_type_is_ipl000002(server: Server) -> None:
    response = server.post(example("request.xml"), "application/json")
    assert response.status_code == 400
    assert "Content-Type" in fault(response).details


def test_unknown_system_is_ipl000004(server: Server) -> None:
    body = with_stid(example("request.xml")).replace(b"Vejledningssystem-Aarhus", b"Ukendt-System")
    response = server.post(body)
    assert response.status_code == 400
    f = fault(response)
    assert (f.code, f.reason, f.error_code) == ("s:Sender", "Access denied", "IPL000004")


def test_modtager_system_id_must_name_the_caller_ipl000004(server: Server) -> None:
    body = with_stid(example("request.xml")).replace(
        b"<udb:ModtagerSystemID>Vejledningssystem-Aarhus",
        b"<udb:ModtagerSystemID>Vejledningssystem-Koebenhavn",
    )
    f = fault(server.post(body))
    assert f.error_code == "IPL000004" and "ModtagerSystemID" in f.details


def test_a_transaction_id_reused_for_another_report_is_ipl000005(server: Server) -> None:
    stid = str(uuid.uuid4())
    assert answer(server.post(with_stid(example("request.xml"), stid))).ok
    changed = with_stid(example("request.xml").replace(b"Mette", b"Anne"), stid)
    response = server.post(changed)
    assert response.status_code == 400
    f = fault(response)
    assert (f.reason, f.error_code) == ("Input error", "IPL000005")
    assert "Anne" not in f.details


def test_a_body_over_the_limit_is_ipl000006(server: Server) -> None:
    big = b"<!--" + b"x" * 70_000 + b"-->" + example("request.xml")
    response = server.post(big)
    assert response.status_code == 413
    f = fault(response)
    assert (f.code, f.reason, f.error_code) == ("s:Sender", "Input error", "IPL000006")


def test_a_chunked_body_is_cut_off_at_the_limit(server: Server) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(1000):  # 1 MB offered, no Content-Length
            yield b"x" * 1024

    response = httpx.post(
        server.endpoint,
        content=chunks(),
        headers={"content-type": "application/soap+xml"},
        timeout=10,
    )
    assert response.status_code == 413
    assert fault(response).error_code == "IPL000006"


def test_a_failing_database_answers_101_and_the_service_goes_on(own_server: Server) -> None:
    path = own_server.database_url.removeprefix("sqlite:///")
    admin = sqlite3.connect(path, isolation_level=None)
    admin.execute(
        "CREATE TRIGGER fail BEFORE INSERT ON block_history"
        " BEGIN SELECT RAISE(ABORT, 'injected'); END"
    )
    body = with_stid(example("request.xml"))
    result = answer(own_server.post(body))
    assert (result.ok, result.code, result.text) == (False, 101, "exeption - UDB")
    assert admin.execute("SELECT count(*) FROM report_log").fetchone()[0] == 0
    admin.execute("DROP TRIGGER fail")
    admin.close()
    assert answer(own_server.post(body)).ok  # the same report, sent again unchanged
    assert b"up" in own_server.post(example("ping.xml")).content


def test_an_unexpected_failure_is_ipl000001_without_internals(own_server: Server) -> None:
    path = own_server.database_url.removeprefix("sqlite:///")
    admin = sqlite3.connect(path, isolation_level=None)
    admin.execute("UPDATE persons SET status = 'corrupt' WHERE cpr = '1503084232'")
    admin.close()
    response = own_server.post(with_stid(example("request.xml")))
    assert response.status_code == 500
    f = fault(response)
    assert (f.code, f.reason, f.error_code) == ("s:Receiver", "Internal error", "IPL000001")
    assert "CorrelationID" in f.error_message
    assert "corrupt" not in response.text and "1503084232" not in response.text
    assert f.correlation_id in own_server.log()
    assert answer(own_server.post(with_stid(example("request-14.xml")))).code == 14
