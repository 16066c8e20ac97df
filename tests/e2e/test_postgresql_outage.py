"""PostgreSQL goes down under load and comes back (issue 5, item 4).

While the database is down every report is answered within 5 s, with
``Ok=false, FejlKode 101`` (or, rarely, an IPL000001 fault), never a hang, and
the server keeps running; Ping answers ``down``. When PostgreSQL returns the
service recovers by itself within 5 s, and what it answered holds: every report
answered Ok=true is stored exactly once, none sent while the database was down
and answered 101 is stored. A report whose COMMIT was acknowledged by nobody
(in flight at the very moment PostgreSQL was killed) may be stored although it
was answered 101; sent again unchanged it is answered Ok=true and stays stored once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.e2e.conftest import SOAP12, Server, start_server, stop_server
from tests.e2e.soap import answer, example, fault, with_stid
from tests.pgcluster import PgCluster, private_postgres

#: every answer, whatever the database does, comes within this
ANSWER_WITHIN_S = 5.0
#: the client gives up only well after that, so a slow answer is measured, not cut short
CLIENT_TIMEOUT_S = 8.0
LOAD_THREADS = 4
#: each load thread sends at most this many reports (bounds the test)
MAX_PER_THREAD = 3000
#: long enough for each load thread to send at least two reports that are refused (about
#: 2 s each, the pool's timeout) after the one in flight at the stop: with 9 s and a 4 s
#: timeout the count of refused reports was exactly LOAD_THREADS on a quiet machine
OUTAGE_S = 11.0
#: Ping waits at most the store's ping timeout (1 s) for a connection; what more it takes
#: during the outage is the machine's load and the wait for a free thread (1.9 s and 3.9 s
#: seen with the test suite and more running beside it): no hang is the claim
PING_DOWN_WITHIN_S = ANSWER_WITHIN_S
HEADERS = {"content-type": SOAP12}


@dataclass(frozen=True)
class Sent:
    stid: str
    started: float
    ended: float
    kind: str  # "ok", "101", "other-code", "IPL000001", "fault:<code>", "error:<exc>"
    correlation_id: str = ""

    @property
    def seconds(self) -> float:
        return self.ended - self.started


def send_report(client: httpx.Client, server: Server) -> Sent:
    body = with_stid(example("request.xml"))
    stid = body.split(b"<v1:SystemTransactionID>")[1].split(b"<")[0].decode()
    started = time.monotonic()
    try:
        response = client.post(server.endpoint, content=body, headers=HEADERS)
    except httpx.HTTPError as exc:
        return Sent(stid, started, time.monotonic(), f"error:{type(exc).__name__}")
    ended = time.monotonic()
    if response.status_code == 200:
        a = answer(response)
        kind = "ok" if a.ok else ("101" if a.code == 101 else f"code:{a.code}")
        return Sent(stid, started, ended, kind, a.correlation_id)
    f = fault(response)
    kind = "IPL000001" if f.error_code == "IPL000001" else f"fault:{f.error_code}"
    return Sent(stid, started, ended, kind, f.correlation_id)


def ping(client: httpx.Client, server: Server) -> tuple[str, float]:
    started = time.monotonic()
    response = client.post(server.endpoint, content=example("ping.xml"), headers=HEADERS)
    seconds = time.monotonic() - started
    if b"<v1:Status>up</v1:Status>" in response.content:
        return "up", seconds
    if b"<v1:Status>down</v1:Status>" in response.content:
        return "down", seconds
    return f"? {response.status_code}", seconds


class Load:
    """Threads sending distinct valid reports until stopped."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.results: list[Sent] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run) for _ in range(LOAD_THREADS)]

    def _run(self) -> None:
        with httpx.Client(timeout=CLIENT_TIMEOUT_S) as client:
            for _ in range(MAX_PER_THREAD):
                if self.stop.is_set():
                    return
                sent = send_report(client, self.server)
                with self._lock:
                    self.results.append(sent)
                time.sleep(0.01)

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=CLIENT_TIMEOUT_S + 5)

    def snapshot(self) -> list[Sent]:
        with self._lock:
            return list(self.results)


@pytest.fixture
def pg_server(tmp_path: Path) -> Iterator[tuple[PgCluster, Server]]:
    with private_postgres() as pg:
        server = start_server(tmp_path, database_url=pg.url)  # runs `udb demo` first
        try:
            yield pg, server
        finally:
            stop_server(server)


def test_outage_is_answered_101_fast_and_the_service_recovers(
    pg_server: tuple[PgCluster, Server],
) -> None:
    pg, server = pg_server
    first = answer(server.post(with_stid(example("request.xml"))))  # also records personal data
    assert first.ok
    accepted = [first.correlation_id]
    pings: list[tuple[str, float]] = []

    with Load(server) as load, httpx.Client(timeout=CLIENT_TIMEOUT_S) as client:
        time.sleep(1.0)  # reports accepted before the outage
        assert any(s.kind == "ok" for s in load.snapshot())

        stopping = time.monotonic()
        pg.stop()  # immediate: the server processes are killed, connections break
        down_from = time.monotonic()
        deadline = down_from + OUTAGE_S
        while time.monotonic() < deadline:
            pings.append(ping(client, server))
            time.sleep(0.5)
        assert server.process.poll() is None, "the server died during the outage"
        down_until = time.monotonic()

        pg.start()  # returns once PostgreSQL accepts connections
        db_back = time.monotonic()
        first_ok: float | None = None
        polls: list[Sent] = []
        while first_ok is None and time.monotonic() < db_back + 2 * ANSWER_WITHIN_S:
            sent = send_report(client, server)
            polls.append(sent)
            if sent.kind == "ok":
                first_ok = sent.ended
            else:
                time.sleep(0.2)
        first_ok_load = min(
            (s.ended for s in load.snapshot() if s.kind == "ok" and s.started >= db_back),
            default=None,
        )
        ping_after = ping(client, server)
        time.sleep(0.5)  # some load after the recovery
    results = load.snapshot() + polls

    # sent while it was down: answered within 5 s, nothing hangs; 101 (or a few
    # IPL000001) if answered before it was back, else 101 or accepted
    during = [s for s in results if down_from <= s.started < down_until]
    refused_down = [s for s in during if s.ended <= down_until]
    in_flight = [s for s in results if s.started < down_from and s.ended > stopping]
    kinds = {k: sum(1 for s in refused_down if s.kind == k) for k in {s.kind for s in refused_down}}
    times = sorted(s.seconds for s in during + in_flight)
    print(
        f"\noutage {down_until - down_from:.1f} s: {len(during)} reports sent while down, "
        f"{len(refused_down)} answered before it returned {kinds}; {len(in_flight)} in flight "
        f"at the stop {[s.kind for s in in_flight]}; answer times {times[0]:.2f}-"
        f"{times[-1]:.2f} s; pings while down {[f'{p[0]} {p[1]:.2f}s' for p in pings]}"
    )
    assert len(refused_down) >= LOAD_THREADS  # the outage was really under load
    assert set(kinds) <= {"101", "IPL000001"}, kinds
    assert kinds.get("IPL000001", 0) <= max(1, len(refused_down) // 10), kinds
    for s in during + in_flight:
        assert s.kind in ("ok", "101", "IPL000001"), s
        assert s.seconds < ANSWER_WITHIN_S, s
    # Ping: down, and fast (a few may still say up right at the start)
    assert pings and pings[-1][0] == "down", pings
    assert all(state in ("up", "down") for state, _ in pings), pings
    assert sum(1 for state, _ in pings if state == "down") >= len(pings) - 1, pings
    assert max(seconds for _, seconds in pings) < PING_DOWN_WITHIN_S, pings

    # recovery: accepted again within 5 s of the database answering, Ping up
    assert first_ok is not None, [s.kind for s in polls]
    recovery = min(t for t in (first_ok, first_ok_load) if t is not None) - db_back
    print(
        f"recovery: first Ok=true {recovery:.2f} s after PostgreSQL answered "
        f"({len(polls)} polls: {[s.kind for s in polls]}); ping after: {ping_after}"
    )
    assert recovery < ANSWER_WITHIN_S
    assert ping_after[0] == "up"
    assert server.process.poll() is None
    for s in results:  # nothing at all hung
        assert s.seconds < ANSWER_WITHIN_S, s
        assert not s.kind.startswith("error:"), s

    # the answers hold: Ok=true stored exactly once, 101 not stored (but see below)
    accepted += [s.correlation_id for s in results if s.kind == "ok"]
    refused = {s.stid: s for s in results if s.kind in ("101", "IPL000001")}
    assert refused
    with psycopg.connect(pg.url, autocommit=True) as conn:
        stored = dict(
            conn.execute(
                "SELECT correlation_id, count(*) FROM report_log"
                " WHERE correlation_id = ANY(%s) GROUP BY correlation_id",
                (accepted,),
            ).fetchall()
        )
        refused_stored = conn.execute(
            "SELECT system_transaction_id FROM report_log WHERE system_transaction_id = ANY(%s)",
            (list(refused),),
        ).fetchall()
    assert {c: stored.get(c, 0) for c in accepted} == dict.fromkeys(accepted, 1)
    # A report whose COMMIT reached PostgreSQL just as it was killed is committed,
    # but its acknowledgement is lost: the service cannot know, and answers 101.
    # Only a report in flight during the stop can be in that doubt, never one sent
    # while the database was down; sent again with its SystemTransactionID it is
    # answered Ok=true (the stored answer) and stays stored once.
    in_doubt = [refused[stid] for (stid,) in refused_stored]
    print(f"answered 101 but stored (commit acknowledgement lost): {len(in_doubt)}")
    for s in in_doubt:
        assert s in in_flight, (
            f"{s.kind} sent {s.started - down_from:.2f} s after the stop, answered after "
            f"{s.seconds:.2f} s, is stored"
        )
    with httpx.Client(timeout=CLIENT_TIMEOUT_S) as client:
        for s in in_doubt:
            body = with_stid(example("request.xml"), s.stid)
            again = answer(client.post(server.endpoint, content=body, headers=HEADERS))
            assert again.ok, again
    with psycopg.connect(pg.url, autocommit=True) as conn:
        (count,) = conn.execute(
            "SELECT count(*) FROM report_log WHERE system_transaction_id = ANY(%s)",
            ([s.stid for s in in_doubt],),
        ).fetchone() or (0,)
    assert count == len(in_doubt)
