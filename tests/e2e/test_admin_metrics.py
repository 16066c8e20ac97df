"""The admin listener of ``udb serve --workers 2``: metrics summed over both workers, health.

A known set of requests (accepted, each rejection the demo data produces, a
repeat, faults, Pings) is sent over new connections until both workers have
served reports; ``/metrics`` then holds exactly what was sent, on SQLite and on
PostgreSQL. ``/readyz`` turns 503 while PostgreSQL is down and back to 200 by
itself; a busy admin port refuses to start in one line.
"""

from __future__ import annotations

import re
import socket
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import Server, free_port, start_server, stop_server
from tests.e2e.soap import answer, example, fault, with_stid
from tests.e2e.test_serve_refusals import refused
from tests.pgcluster import private_postgres, require_private_postgres
from tests.support import postgres_schema, require_postgres

#: the log line of a report answered, with the worker's process id
_SERVED_BY = re.compile(r"udb\.api\.endpoint \[(\d+)\] Indberetning ")


@dataclass
class AdminServer:
    server: Server
    admin: str

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.admin + path, timeout=10)


def start_admin_server(tmp_path: Path, *extra: str, database_url: str | None = None) -> AdminServer:
    for _attempt in range(3):
        port = free_port()
        server = start_server(
            tmp_path, "--admin-port", str(port), *extra, database_url=database_url
        )
        admin = AdminServer(server, f"http://127.0.0.1:{port}")
        try:
            if admin.get("/healthz").status_code == 200:
                return admin
        except httpx.TransportError:
            pass
        stop_server(server)
    raise RuntimeError("the admin listener did not answer")


@pytest.fixture(params=["sqlite", "postgresql"])
def two_workers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AdminServer]:
    if request.param == "sqlite":
        srv = start_admin_server(tmp_path, "--workers", "2")
        yield srv
        stop_server(srv.server)
        return
    require_postgres()
    with postgres_schema() as url:
        srv = start_admin_server(tmp_path, "--workers", "2", database_url=url)
        yield srv
        stop_server(srv.server)


@dataclass
class Sent:
    results: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    repeated: int = 0
    reports: int = 0
    pings: int = 0


def send_round(server: Server, sent: Sent) -> None:
    """One of each: every answer the demo data gives, a repeat, four faults, a Ping."""
    for name, result in [
        ("request.xml", "accepted"),
        ("request-14.xml", "14"),
        ("request-86.xml", "86"),
        ("request-15.xml", "15"),
        ("request-280.xml", "280"),
    ]:
        got = answer(server.post(with_stid(example(name))))
        assert (str(got.code) if got.code else "accepted") == result
        sent.results[result] += 1
        sent.reports += 1
    first = with_stid(example("request.xml"))
    stid = first.split(b"<v1:SystemTransactionID>")[1].split(b"<")[0].decode()
    assert answer(server.post(first)).ok
    assert answer(server.post(first)).ok  # the same transaction again: answered as before
    sent.results["accepted"] += 2
    sent.repeated += 1
    sent.reports += 2
    other = with_stid(example("request-14.xml"), stid)  # same key, other content
    assert fault(server.post(other)).error_code == "IPL000005"
    sent.faults["IPL000005"] += 1
    sent.reports += 1
    assert fault(server.post(b"<not-soap")).error_code == "IPL000002"
    assert fault(server.post(example("request.xml"), "text/plain")).error_code == "IPL000002"
    sent.faults["IPL000002"] += 2
    assert fault(server.post(b"x" * 70_000)).error_code == "IPL000006"
    sent.faults["IPL000006"] += 1
    assert server.post(example("ping.xml")).status_code == 200
    sent.pings += 1


def scrape(admin: AdminServer) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = admin.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples[(name, frozenset(labels.items()))]


def test_metrics_sum_every_worker(two_workers: AdminServer) -> None:
    server = two_workers.server
    sent = Sent()
    for _round in range(20):
        send_round(server, sent)
        if len(set(_SERVED_BY.findall(server.log()))) == 2:
            break
    assert len(set(_SERVED_BY.findall(server.log()))) == 2, "one worker served every report"
    samples = scrape(two_workers)
    for result in ("accepted", "14", "15", "86", "101", "280"):
        assert value(samples, "udb_reports_total", result=result) == sent.results[result], result
    assert value(samples, "udb_reports_repeated_total") == sent.repeated
    for number in range(1, 7):
        code = f"IPL00000{number}"
        assert value(samples, "udb_faults_total", code=code) == sent.faults[code], code
    count = "udb_request_duration_seconds_count"
    assert value(samples, count, operation="report") == sent.reports
    assert value(samples, count, operation="ping") == sent.pings
    assert (
        value(samples, "udb_request_duration_seconds_bucket", operation="report", le="+Inf")
        == sent.reports
    )
    assert value(samples, "udb_database_up") == 1
    assert value(samples, "udb_build_info", version="1.0.0.dev0") == 1
    assert value(samples, "udb_register_persons") > 0
    assert value(samples, "udb_schema_version") == value(samples, "udb_schema_version_expected")
    assert value(samples, "udb_client_systems", state="enabled") >= 1
    # no personal data: no CPR number, name, e-mail or phone number in any label or value
    text = two_workers.get("/metrics").text
    leaked = sorted(v for v in server.sent if v in text)
    assert not leaked, f"personal data in /metrics: {len(leaked)} value(s)"
    assert two_workers.get("/healthz").text == "ok\n"
    ready = two_workers.get("/readyz")
    assert (ready.status_code, ready.text) == (200, "ready\n")


def test_the_soap_port_serves_no_admin_path(tmp_path: Path) -> None:
    admin = start_admin_server(tmp_path)
    try:
        for path in ("/metrics", "/healthz", "/readyz"):
            assert httpx.get(admin.server.url + path, timeout=5).status_code == 404
        assert admin.get("/nothing").status_code == 404
        assert httpx.post(admin.admin + "/metrics", timeout=5).status_code == 405
    finally:
        stop_server(admin.server)


def _until(predicate: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.2)
    return False


def test_readyz_is_503_while_postgresql_is_down_and_200_after(tmp_path: Path) -> None:
    require_private_postgres()
    with private_postgres() as pg:
        admin = start_admin_server(tmp_path, "--workers", "2", database_url=pg.url)
        try:
            assert admin.get("/readyz").status_code == 200
            pg.stop()
            assert _until(lambda: admin.get("/readyz").status_code == 503, 10)
            down = admin.get("/readyz")
            assert down.text.startswith("not ready: ") and down.text.count("\n") == 1
            assert "connection refused" in down.text
            assert admin.get("/healthz").status_code == 200  # alive all the same
            started = time.monotonic()
            admin.get("/readyz")
            assert time.monotonic() - started < 5  # a probe is answered in bounded time
            assert _until(lambda: value(scrape(admin), "udb_database_up") == 0, 15)
            pg.start()
            assert _until(lambda: admin.get("/readyz").status_code == 200, 15)
            assert admin.get("/readyz").text == "ready\n"
            assert _until(lambda: value(scrape(admin), "udb_database_up") == 1, 15)
        finally:
            stop_server(admin.server)


def test_a_busy_admin_port_refuses_to_start(tmp_path: Path) -> None:
    database_url = "sqlite:///" + str(tmp_path / "udb.sqlite3")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = refused(
            "--port", str(free_port()), "--admin-port", str(port), database_url=database_url
        )
    assert line.startswith(f"Error: 127.0.0.1:{port} is already in use"), line
    assert "--admin-port" in line


def test_the_admin_port_may_not_be_the_soap_port(tmp_path: Path) -> None:
    database_url = "sqlite:///" + str(tmp_path / "udb.sqlite3")
    port = str(free_port())
    line = refused("--port", port, "--admin-port", port, database_url=database_url)
    assert line == f"Error: --admin-port {port} is the port of --port too: give each its own port"


def test_an_admin_host_that_is_no_address_refuses(tmp_path: Path) -> None:
    database_url = "sqlite:///" + str(tmp_path / "udb.sqlite3")
    line = refused(
        "--port",
        str(free_port()),
        "--admin-port",
        str(free_port()),
        "--admin-host",
        "admin.local",
        database_url=database_url,
    )
    assert line.startswith("Error: --admin-host admin.local is not an IP address"), line
