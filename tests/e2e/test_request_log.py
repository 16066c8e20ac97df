"""The support lookup and the JSON log of a real ``udb serve --workers 2 --log-format json``,
on SQLite and PostgreSQL: every request, faults included, is found by its CorrelationID
(the answer's ``X-Correlation-ID``), and every log line is a JSON object without personal
data (``stop_server`` checks the log for everything personal that was sent)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from tests.e2e.conftest import SOAP12, Server, start_server, stop_server, udb
from tests.e2e.soap import example, with_stid
from tests.support import postgres_schema, require_postgres
from udb.cli import main

SYSTEM = "Vejledningssystem-Aarhus"
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@dataclass
class Sent:
    """What was sent, by the CorrelationID each answer carried: (outcome, code)."""

    server: Server
    ids: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    log: str = ""

    def send(self, body: bytes, outcome: str, code: str | None, ct: str = SOAP12) -> str:
        response = self.server.post(body, ct)
        correlation_id = response.headers["x-correlation-id"]
        self.ids[correlation_id] = (outcome, code)
        return correlation_id


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def sent(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Sent]:
    """A known set of requests to a server with two workers and JSON logs; the server is
    stopped (and its log checked for personal data) before the tests read the log."""
    tmp = tmp_path_factory.mktemp("requests")
    if request.param == "postgresql":
        require_postgres()
        schema = postgres_schema()
        url: str | None = schema.__enter__()
    else:
        schema, url = None, None
    try:
        server = start_server(tmp, "--workers", "2", "--log-format", "json", database_url=url)
        result = Sent(server)
        try:
            accepted = with_stid(example("request.xml"))
            result.send(accepted, "accepted", None)
            result.send(accepted, "accepted", None)  # the same transaction: answered again
            for code in ("14", "15", "86", "280"):
                result.send(with_stid(example(f"request-{code}.xml")), "rejected", code)
            result.send(example("ping.xml"), "up", None)
            result.send(b"<not xml", "fault", "IPL000002")
            result.send(accepted, "fault", "IPL000002", ct="application/json")
            result.send(b"<a/>" * 20_000, "fault", "IPL000006")
        finally:
            stop_server(server)
        result.log = server.log()
        yield result
    finally:
        if schema is not None:
            schema.__exit__(None, None, None)


def run(sent: Sent, *args: str) -> str:
    """The command line in this process (the server's database; faster than a process)."""
    done = CliRunner().invoke(main, [*args, "--database", sent.server.database_url])
    assert done.exit_code == 0, done.output
    return done.stdout


def show(sent: Sent, correlation_id: str) -> dict[str, object]:
    return dict(json.loads(run(sent, "requests", "show", correlation_id, "--json")))


def listed(sent: Sent, *args: str) -> list[dict[str, object]]:
    return [
        json.loads(line) for line in run(sent, "requests", "list", "--json", *args).splitlines()
    ]


def test_every_request_is_found_by_its_correlation_id(sent: Sent) -> None:
    assert len(sent.ids) == 10
    for correlation_id, (outcome, code) in sent.ids.items():
        record = show(sent, correlation_id)
        assert (record["correlation_id"], record["outcome"], record["code"]) == (
            correlation_id,
            outcome,
            code,
        )
        assert ISO_UTC.match(str(record["received_at"]))
        assert isinstance(record["duration_ms"], float)


def test_a_report_shows_who_sent_it_and_a_fault_its_details(sent: Sent) -> None:
    by_code = {code: cid for cid, (_, code) in sent.ids.items()}
    rejected = show(sent, by_code["14"])
    assert (rejected["operation"], rejected["system"], rejected["status"]) == (
        "Indberetning",
        SYSTEM,
        200,
    )
    assert rejected["meaning"] == "Den unge findes ikke i Ungedatabasen"
    assert re.fullmatch(r"\d{6}-\*{4}", str(rejected["cpr"]))
    too_large = show(sent, by_code["IPL000006"])
    assert (too_large["operation"], too_large["status"], too_large["system"]) == ("-", 413, None)
    assert "larger than" in str(too_large["details"])
    repeated = [show(sent, cid)["repeated"] for cid, (o, _) in sent.ids.items() if o == "accepted"]
    assert sorted(repeated) == [False, True]


def test_the_text_of_show_answers_why_a_request_was_refused(sent: Sent) -> None:
    [invalid, _] = [cid for cid, (_, code) in sent.ids.items() if code == "IPL000002"]
    text = run(sent, "requests", "show", invalid)
    assert "fault IPL000002" in text
    assert "Input error" in text and "details" in text


def test_an_unknown_correlation_id_is_one_line_and_exit_1(sent: Sent) -> None:
    done = udb(
        "requests",
        "show",
        "00000000-0000-4000-8000-000000000000",
        database_url=sent.server.database_url,
        check=False,
    )
    assert done.returncode == 1 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1
    assert "no request with CorrelationID" in done.stderr


def test_list_filters(sent: Sent) -> None:
    everything = listed(sent, "--limit", "100")
    assert {r["correlation_id"] for r in everything} == set(sent.ids)
    times = [str(r["received_at"]) for r in everything]
    assert times == sorted(times, reverse=True)
    assert [r["code"] for r in listed(sent, "--outcome", "86")] == ["86"]
    assert len(listed(sent, "--outcome", "rejected")) == 4
    assert len(listed(sent, "--outcome", "accepted")) == 2
    faults = listed(sent, "--outcome", "fault")
    assert sorted(str(r["code"]) for r in faults) == ["IPL000002", "IPL000002", "IPL000006"]
    assert len(listed(sent, "--outcome", "ipl000006")) == 1
    assert len(listed(sent, "--system", SYSTEM)) == 6
    assert listed(sent, "--system", "Nobody") == []
    assert len(listed(sent, "--since", "1h")) == 10
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert listed(sent, "--since", future) == []
    assert len(listed(sent, "--limit", "3")) == 3
    assert len(listed(sent, "--outcome", "fault", "--system", SYSTEM)) == 0


def test_list_refuses_a_bad_filter_in_one_line(sent: Sent) -> None:
    for args in (("--outcome", "99"), ("--since", "yesterday")):
        done = CliRunner().invoke(main, ["requests", "list", *args])
        assert done.exit_code == 2
        assert "Traceback" not in done.output
        assert done.output.strip().splitlines()[-1].startswith("Error: Invalid value")


def test_every_log_line_is_a_json_object(sent: Sent) -> None:
    lines = [line for line in sent.log.splitlines() if line.strip()]
    assert lines
    for line in lines:
        entry = json.loads(line)
        assert isinstance(entry, dict)
        assert {"time", "level", "logger", "process", "message"} <= set(entry)
        assert ISO_UTC.match(entry["time"])


def test_the_request_lines_hold_the_request_fields(sent: Sent) -> None:
    entries = [json.loads(line) for line in sent.log.splitlines() if line.strip()]
    requests = {e["correlation_id"]: e for e in entries if "correlation_id" in e and "status" in e}
    assert set(requests) == set(sent.ids)
    for correlation_id, (outcome, code) in sent.ids.items():
        entry = requests[correlation_id]
        assert (entry["outcome"], entry["code"], entry["level"]) == (outcome, code, "INFO")
        assert entry["logger"] == "udb.api.endpoint"
        assert isinstance(entry["duration_ms"], float) and isinstance(entry["status"], int)
    by_code = {code: requests[cid] for cid, (_, code) in sent.ids.items()}
    assert (by_code["15"]["system"], by_code["15"]["operation"]) == (SYSTEM, "Indberetning")
    assert isinstance(by_code["15"]["institution"], int)
    assert re.fullmatch(r"\d{6}-\*{4}", by_code["15"]["cpr"])
    assert by_code["IPL000006"]["status"] == 413
    assert len({e["process"] for e in requests.values()}) >= 1
