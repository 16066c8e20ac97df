"""SIGKILL the server under load, again and again (issue 5, item 5).

``udb serve --workers 2`` on a private PostgreSQL (``fsync=on``) gets reports
from several threads; after a second or two the whole process group (the
granian supervisor and its workers) is killed with SIGKILL, and a new server is
started on the same database. After the last round every report answered
``Ok=true`` before a kill is stored exactly once, nothing is stored twice, the
history holds the three blocks of every stored report, and a report whose answer
was lost in a kill, sent again unchanged, is answered ``Ok=true`` and still
stored once.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

from tests.e2e.conftest import SOAP12, Server, start_server, stop_server
from tests.e2e.soap import answer, example, with_stid
from tests.pgcluster import private_postgres

#: seconds of load before each kill
ROUNDS = (1.0, 1.6, 1.3, 1.9)
LOAD_THREADS = 4
#: each load thread sends at most this many reports per round (bounds the test)
MAX_PER_THREAD = 2000
#: blocks in docs/examples/request.xml: contact, job wish, education wish
BLOCKS_PER_REPORT = 3
#: reports whose answer was lost that are sent again after the last kill
RESEND_SAMPLE = 12


@dataclass
class Round:
    server: Server
    #: SystemTransactionID -> CorrelationID of every report answered Ok=true
    accepted: dict[str, str] = field(default_factory=dict)
    #: SystemTransactionID -> body of every report whose answer was lost (connection error)
    lost: dict[str, bytes] = field(default_factory=dict)
    #: those of them that were sent (not refused at connect): in flight at the kill
    in_flight: set[str] = field(default_factory=set)
    #: anything else (not expected at all)
    other: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    killed: threading.Event = field(default_factory=threading.Event)

    def load(self) -> None:
        with httpx.Client(timeout=10) as client:
            for _ in range(MAX_PER_THREAD):
                if self.killed.is_set():
                    return
                stid = f"crash-{os.urandom(8).hex()}"
                body = with_stid(example("request.xml"), stid)
                try:
                    response = client.post(
                        self.server.endpoint, content=body, headers={"content-type": SOAP12}
                    )
                except httpx.TransportError as exc:
                    with self.lock:
                        self.lost[stid] = body
                        if not isinstance(exc, httpx.ConnectError):
                            self.in_flight.add(stid)
                    continue
                a = answer(response)
                with self.lock:
                    if a.ok:
                        self.accepted[stid] = a.correlation_id
                    else:
                        self.other.append(f"{stid}: code {a.code}")


def kill_group(server: Server) -> None:
    """SIGKILL the server's whole process group, as a crash of the machine would."""
    os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the workers are gone too
        try:
            os.killpg(server.process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError("processes of the killed server's group are still alive")


def test_sigkill_under_load_loses_no_accepted_report_and_stores_none_twice(
    tmp_path: Path,
) -> None:
    accepted: dict[str, str] = {}
    lost: dict[str, bytes] = {}
    in_flight: set[str] = set()
    with private_postgres() as pg:
        for number, seconds in enumerate(ROUNDS):
            (tmp_path / f"round{number}").mkdir()
            server = start_server(
                tmp_path / f"round{number}",
                "--workers",
                "2",
                demo=number == 0,
                database_url=pg.url,
            )
            # one report from here first: the server works, and its personal data is known
            first = answer(server.post(with_stid(example("request.xml"), f"crash-{number}")))
            assert first.ok
            rnd = Round(server)
            rnd.accepted[first.system_transaction_id] = first.correlation_id
            threads = [threading.Thread(target=rnd.load) for _ in range(LOAD_THREADS)]
            for thread in threads:
                thread.start()
            time.sleep(seconds)
            rnd.killed.set()  # no new reports: only those in flight meet the kill
            kill_group(server)
            for thread in threads:
                thread.join(timeout=20)
            assert not any(thread.is_alive() for thread in threads)
            stop_server(server)  # only the log check: the server is already dead
            assert not rnd.other, rnd.other[:5]
            assert rnd.accepted, "no report was accepted in this round"
            print(
                f"\nround {number}: killed after {seconds} s, {len(rnd.accepted)} accepted,"
                f" {len(rnd.lost)} answers lost ({len(rnd.in_flight)} in flight)"
            )
            accepted.update(rnd.accepted)
            lost.update(rnd.lost)
            in_flight.update(rnd.in_flight)
        # PostgreSQL holds no sessions of the dead servers, nor locks they held
        with psycopg.connect(pg.url, autocommit=True) as conn:
            conn.execute("SELECT 1")
        assert lost, "no answer was lost in any kill"

        # a report whose answer was lost, sent again unchanged: Ok=true
        (tmp_path / "last").mkdir()
        server = start_server(tmp_path / "last", demo=False, database_url=pg.url)
        try:
            # those that reached the server first: their transaction may have committed
            resent = sorted(lost, key=lambda stid: (stid not in in_flight, stid))[:RESEND_SAMPLE]
            with psycopg.connect(pg.url, autocommit=True) as conn:
                before = dict(
                    conn.execute(
                        "SELECT system_transaction_id, correlation_id FROM report_log"
                        " WHERE system_transaction_id = ANY(%s)",
                        (resent,),
                    ).fetchall()
                )
            for stid in resent:
                again = answer(server.post(lost[stid]))
                assert again.ok, (stid, again)
                assert again.system_transaction_id == stid
        finally:
            stop_server(server)
        print(f"resent {len(resent)} lost answers, {len(before)} of them had been stored")

        with psycopg.connect(pg.url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT system_transaction_id, correlation_id, outcome_code FROM report_log"
                " WHERE system_transaction_id LIKE 'crash-%'"
            ).fetchall()
            duplicates = conn.execute(
                "SELECT system_transaction_id FROM report_log"
                " GROUP BY system_id, system_transaction_id HAVING count(*) > 1"
            ).fetchall()
            (history,) = conn.execute("SELECT count(*) FROM block_history").fetchone() or (0,)
            (stored_ok,) = conn.execute(
                "SELECT count(*) FROM report_log WHERE outcome_code IS NULL"
            ).fetchone() or (0,)
            (orphans,) = conn.execute(
                "SELECT count(*) FROM report_log r WHERE outcome_code IS NULL AND"
                " (SELECT count(*) FROM block_history h WHERE h.report_id = r.id) <> %s",
                (BLOCKS_PER_REPORT,),
            ).fetchone() or (0,)

    stored: dict[str, list[str]] = {}
    for stid, correlation_id, outcome in rows:
        assert outcome is None, (stid, outcome)  # every report sent is valid
        stored.setdefault(stid, []).append(correlation_id)
    # every report answered Ok=true before a kill: stored once, under its CorrelationID
    missing = [stid for stid in accepted if stid not in stored]
    assert not missing, f"{len(missing)} accepted report(s) not stored"
    assert {stid: stored[stid] for stid in accepted} == {
        stid: [cid] for stid, cid in accepted.items()
    }
    # the resent ones too, and under the first CorrelationID if the first try was stored
    for stid in resent:
        assert len(stored[stid]) == 1
        if stid in before:
            assert stored[stid] == [before[stid]]
    # nothing twice, and the history holds exactly the blocks of the stored reports
    assert duplicates == []
    assert len(stored) == len(rows)
    assert stored_ok == len(rows)
    assert history == BLOCKS_PER_REPORT * stored_ok
    assert orphans == 0
    print(
        f"{len(accepted)} reports accepted before the kills, {len(rows)} stored,"
        f" {history} history rows"
    )
