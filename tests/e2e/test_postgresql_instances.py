"""Two `udb serve` processes on one PostgreSQL, with interleaved, conflicting reports."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.conftest import Server, start_server, stop_server, udb
from tests.e2e.soap import answer, example
from tests.support import postgres_schema, require_postgres

CPR = "1503084232"


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    require_postgres()
    with postgres_schema() as url:
        udb("demo", database_url=url)
        first = start_server(tmp_path_factory.mktemp("a"), demo=False, database_url=url)
        try:
            second = start_server(tmp_path_factory.mktemp("b"), demo=False, database_url=url)
            try:
                yield first, second
            finally:
                stop_server(second)
        finally:
            stop_server(first)


def job_report(stid: str, minute: int) -> bytes:
    """A report with only a job wish, registered at 2026-11-20T10:<minute>."""
    body = example("request.xml").decode()
    start, end = body.index("<udb:KommuneKontakt>"), body.rindex("</udb:UddannelsesOnsker>")
    job = (
        f"<udb:JobOnsker><udb:JobOnsker>wish {minute:02d}</udb:JobOnsker>"
        f"<udb:JobRegistreringstid>2026-11-20T10:{minute:02d}:00+01:00</udb:JobRegistreringstid>"
        "</udb:JobOnsker>"
    )
    body = body[:start] + job + body[end + len("</udb:UddannelsesOnsker>") :]
    return body.replace("7d1c5e2a-4b3f-4c8d-9e6a-1f2b3c4d5e01", stid).encode()


def test_conflicting_reports_at_two_instances(two_servers: tuple[Server, Server]) -> None:
    first, second = two_servers
    minutes = list(range(60))
    bodies = [(job_report(str(uuid.uuid4()), m)) for m in minutes]
    # every report goes to both instances at once (a retry racing its original),
    # and the reports arrive in an order unrelated to their registration times
    order = sorted(range(len(bodies)), key=lambda i: (i * 37) % len(bodies))
    sends = [(server, bodies[i]) for i in order for server in (first, second)]
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda sent: answer(sent[0].post(sent[1])), sends))
    assert all(r.ok for r in results)

    shown = json.loads(
        udb("persons", "show", CPR, "--json", database_url=first.database_url).stdout
    )
    assert shown["job"]["tekst"] == "wish 59"  # the newest registration time is current
    assert shown["report_count"] == len(bodies)  # every transaction stored once
    assert shown["history_count"] == len(bodies)  # and the history is complete


def test_both_instances_answer_ping_up(two_servers: tuple[Server, Server]) -> None:
    for server in two_servers:
        assert b"<v1:Status>up</v1:Status>" in server.post(example("ping.xml")).content
