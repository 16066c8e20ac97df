"""Business answers over HTTP from a real server process on the demo data set."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.e2e.conftest import SOAP11, Server, udb
from tests.e2e.soap import answer, example, with_stid

TEXTS = {
    14: "Den unge findes ikke i Ungedatabasen",
    86: "Bruger må ikke indberette oplysninger om dette CPR-nummer",
    15: "Aldersgrænse overskredet",
    280: "Registreringstid for kontakt, uddannelses- eller jobønsker må ikke fremdateres",
}


def show(server: Server, cpr: str) -> dict[str, object]:
    data = json.loads(
        udb("persons", "show", cpr, "--json", database_url=server.database_url).stdout
    )
    assert isinstance(data, dict)
    return data


def test_the_example_report_is_accepted(server: Server) -> None:
    response = server.post(with_stid(example("request.xml")))
    result = answer(response)
    assert result.ok and result.code is None
    assert result.system_name == "Vejledningssystem-Aarhus"
    assert uuid.UUID(result.correlation_id).version == 4
    assert response.headers["x-correlation-id"] == result.correlation_id
    assert response.headers["content-type"].startswith("application/soap+xml")


@pytest.mark.parametrize("code", [14, 86, 15, 280])
def test_each_business_error_from_its_example(server: Server, code: int) -> None:
    result = answer(server.post(with_stid(example(f"request-{code}.xml"))))
    assert (result.ok, result.code, result.text) == (False, code, TEXTS[code])


@pytest.mark.parametrize(
    ("cpr", "code"),
    [
        ("0707074236", 14),  # dead and lives in Aarhus: 14 before anything else
        ("0808084234", 14),  # emigrated
        ("0909094236", 14),  # disappeared
        ("0202854232", 86),  # lives in København and is 41: 86 before 15
        ("1503081234", 15),  # the wire example's number: born 1908
    ],
)
def test_precedence_14_86_15_280(server: Server, cpr: str, code: int) -> None:
    body = example("request-280.xml").replace(b"1503084232", cpr.encode())
    result = answer(server.post(with_stid(body)))
    assert result.code == code


def test_a_retry_gets_the_same_answer_and_is_stored_once(server: Server) -> None:
    cpr = "1503084232"
    body = with_stid(example("request.xml").replace(b"Mette", b"Retry"))
    before = show(server, cpr)
    first = answer(server.post(body))
    second = answer(server.post(body))
    assert first.ok and second.ok
    assert first.correlation_id != second.correlation_id
    after = show(server, cpr)
    assert after["report_count"] == before["report_count"] + 1  # type: ignore[operator]
    assert after["history_count"] == before["history_count"] + 3  # type: ignore[operator]


def test_a_retried_rejection_gets_the_same_answer(server: Server) -> None:
    body = with_stid(example("request-15.xml"))
    assert answer(server.post(body)).code == 15
    assert answer(server.post(body)).code == 15


def test_soap_11_is_answered_in_soap_11(server: Server) -> None:
    response = server.post(with_stid(example("request-soap11.xml")), SOAP11)
    assert response.headers["content-type"].startswith("text/xml")
    assert b"http://schemas.xmlsoap.org/soap/envelope/" in response.content
    assert answer(response).ok


def test_ping_answers_up(server: Server) -> None:
    response = server.post(example("ping.xml"))
    assert response.status_code == 200
    assert b"<v1:Status>up</v1:Status>" in response.content


def test_persons_show_reports_the_current_blocks(server: Server) -> None:
    server.post(with_stid(example("request.xml")))
    data = show(server, "1503084232")
    assert data["kontakt"] == {
        "navn": "Mette Sørensen",
        "mail": "mette.sorensen@example.dk",
        "telefon": 4520304050,
        "registreringstid": "2026-11-20T09:15:00+01:00",
        "source": data["kontakt"]["source"],  # type: ignore[index]
    }
    assert data["job"]["registreringstid"] == "2026-11-20T09:20:00+01:00"  # type: ignore[index]
    assert data["uddannelse"]["tekst"] == "Erhvervsuddannelse (EUD), bygge og anlæg"  # type: ignore[index]
    assert data["kontakt"]["source"]["system"] == "Vejledningssystem-Aarhus"  # type: ignore[index]


def test_the_spec_example_is_answered_by_the_century_rule(server: Server) -> None:
    """The wire example's CPR 1503081234 (digit 7 = 1) was born in 1908: 15.

    Its SystemTransactionID differs from docs/examples/request.xml, so sending
    both never collides.
    """
    from tests.support import SHARED

    spec_example = (SHARED / "spec" / "examples" / "request.xml").read_bytes()
    assert answer(server.post(spec_example)).code == 15
    assert answer(server.post(example("request.xml"))).ok


def test_the_log_holds_no_personal_data(server: Server) -> None:
    """Runs last in this module: everything above was logged at DEBUG by now."""
    log = server.log()
    assert "report accepted cpr=150308-****" in log
    for secret in (
        "1503084232",
        "2002104230",
        "1010104238",
        "0101014230",
        "0202854232",
        "1503081234",
        "Mette",
        "Sørensen",
        "mette.sorensen@example.dk",
        "4520304050",
        "Tømrer",
    ):
        assert secret not in log
