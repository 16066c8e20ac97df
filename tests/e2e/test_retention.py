"""``udb retention`` as a process, and the purges ``udb serve`` runs, on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.conftest import UDB, start_server, stop_server, udb
from tests.support import (
    AARHUS_KUI,
    postgres_schema,
    require_postgres,
    seeded_store,
    sqlite_url,
)
from udb.domain.model import ContactBlock, Person, PersonStatus
from udb.storage.records import RETENTION_KINDS, ReportRecord

PAST_25 = "0101901234"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database with a person past 25 who has a contact person, an old request
    record and a recent one."""
    if request.param == "postgresql":
        require_postgres()
        with postgres_schema() as url:
            _populate(url)
            yield url
        return
    url = sqlite_url(tmp_path)
    _populate(url)
    yield url


def _populate(url: str) -> None:
    now = datetime.now(UTC)
    store = seeded_store(url)
    try:
        with store.unit_of_work() as uow:
            uow.persons.upsert_many(
                [Person(PAST_25, date(1990, 1, 1), PersonStatus.ACTIVE, 751)], now
            )
            record = ReportRecord(
                "00000000-0000-4000-8000-000000000001", 1, "t-1", "0" * 64, PAST_25,
                AARHUS_KUI, now, None,
            )  # fmt: skip
            uow.record(record, [ContactBlock("Mette Vejleder", "mette@aarhus.dk", None, now)])
            for name, age in (("old", 401), ("recent", 1)):
                uow.retention.db.execute(  # type: ignore[attr-defined]
                    "INSERT INTO request_log (received_at, correlation_id, operation, outcome,"
                    " http_status, soap_version, duration_ms)"
                    " VALUES (?, ?, 'Ping', 'up', 200, '1.2', 1)",
                    (uow.retention.d.time(now - timedelta(days=age)), name),  # type: ignore[attr-defined]
                )
            uow.commit()
    finally:
        store.close()


def _purge(
    url: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*UDB, "retention", "purge", *args, "--database", url],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


def _runs(url: str) -> list[dict[str, object]]:
    out = udb("retention", "history", "--json", database_url=url).stdout
    return [json.loads(line) for line in out.splitlines()]


def test_a_dry_run_prints_the_counts_the_purge_then_deletes(database_url: str) -> None:
    dry = _purge(database_url, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    counts = json.loads(dry.stdout)["counts"]
    assert counts["persons_over_25"] == 1 and counts["requests"] == 1
    assert json.loads(_purge(database_url, "--dry-run", "--json").stdout)["counts"] == counts

    done = _purge(database_url)
    assert done.returncode == 0, done.stderr
    assert "persons past 25 (contact person and wishes)" in done.stdout
    printed = [line.split()[-1] for line in done.stdout.splitlines()[1:]]
    assert printed == [str(counts[kind]) for kind in RETENTION_KINDS]
    after = json.loads(_purge(database_url, "--dry-run", "--json").stdout)["counts"]
    assert after["persons_over_25"] == 0 and after["requests"] == 0

    runs = _runs(database_url)
    assert [r["dry_run"] for r in runs] == [True, False, True, True]
    assert runs[1]["counts"] == counts
    table = udb("retention", "history", database_url=database_url).stdout
    assert table.splitlines()[0].split()[:4] == ["run", "started", "(UTC)", "kind"]
    assert len(table.splitlines()) == 5 and "done" in table.splitlines()[1]


def test_the_policy_comes_from_the_environment_and_a_bad_value_is_one_line(
    database_url: str,
) -> None:
    kept = _purge(
        database_url,
        "--dry-run",
        "--json",
        env={"UDB_RETENTION_AFTER_25_DAYS": "36500", "UDB_RETENTION_LOG_DAYS": "1000"},
    )
    counts = json.loads(kept.stdout)["counts"]
    assert counts["persons_over_25"] == 0 and counts["requests"] == 0
    bad = _purge(database_url, env={"UDB_RETENTION_LOG_DAYS": "a year"})
    assert bad.returncode == 1
    assert bad.stderr.strip() == "Error: UDB_RETENTION_LOG_DAYS must be a whole number"
    assert _runs(database_url)[0]["dry_run"] is True  # the bad run recorded nothing


def _wait_for_runs(url: str, n: int, seconds: float) -> list[dict[str, object]]:
    deadline = time.monotonic() + seconds
    runs = _runs(url)
    while len(runs) < n and time.monotonic() < deadline:
        time.sleep(0.2)
        runs = _runs(url)
    return runs


def test_serve_purges_at_start_and_then_every_interval(database_url: str, tmp_path: Path) -> None:
    server = start_server(
        tmp_path, demo=False, database_url=database_url, env={"UDB_RETENTION_INTERVAL_S": "1"}
    )
    try:
        runs = _wait_for_runs(database_url, 2, 30)
    finally:
        stop_server(server)
    assert len(runs) >= 2 and not any(r["dry_run"] for r in runs)
    first = runs[-1]["counts"]
    assert isinstance(first, dict) and first["persons_over_25"] == 1 and first["requests"] == 1
    assert f"retention purge {runs[-1]['run']} deleted: " in server.log()


def test_serve_with_no_retention_does_not_purge(database_url: str, tmp_path: Path) -> None:
    server = start_server(
        tmp_path,
        "--no-retention",
        demo=False,
        database_url=database_url,
        env={"UDB_RETENTION_INTERVAL_S": "1"},
    )
    try:
        time.sleep(4)  # a purging server has run twice or more by now (the test above)
        runs = _runs(database_url)
    finally:
        stop_server(server)
    assert runs == []
    assert "retention off" in server.log()
    assert json.loads(_purge(database_url, "--dry-run", "--json").stdout)["counts"]["requests"] == 1


def test_a_purge_that_finds_another_running_changes_nothing_and_says_so(
    database_url: str,
) -> None:
    from udb.storage import open_store

    store = open_store(database_url)
    try:
        with store.unit_of_work() as uow:
            now = datetime.now(UTC)
            uow.retention.begin_run(now, dry_run=False, stale_before=now - timedelta(hours=6))
            uow.commit()
    finally:
        store.close()
    busy = _purge(database_url)
    assert busy.returncode == 75
    assert busy.stderr.count("\n") == 1 and "another purge is running" in busy.stderr
    assert "running or interrupted" in udb("retention", "history", database_url=database_url).stdout


def _children(pid: int) -> dict[int, str]:
    """The processes whose parent is ``pid``: their command lines."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found[int(entry.name)] = cmdline
    return found


def _running(pid: int) -> bool:
    """True while ``pid`` runs (a zombie nobody reaped has ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_the_schedule_runs_beside_the_workers_and_ends_with_the_server(
    tmp_path: Path,
) -> None:
    url = sqlite_url(tmp_path)
    _populate(url)
    server = start_server(tmp_path, demo=False, database_url=url)
    try:
        schedules = [
            pid for pid, cmd in _children(server.process.pid).items() if "retention schedule" in cmd
        ]
        assert len(schedules) == 1, _children(server.process.pid)
        os.kill(server.process.pid, signal.SIGKILL)  # the supervisor alone, without a word
        server.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _running(schedules[0]) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _running(schedules[0]), "the schedule outlived its server"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.process.pid, signal.SIGKILL)  # the orphaned workers
        stop_server(server)
