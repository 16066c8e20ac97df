"""Error 101: a storage failure answers 101, writes nothing, and the service goes on."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest

from tests.support import AARHUS_KUI, NOW, SYSTEM
from udb.domain.model import ContactBlock, ErrorCode, JobWishBlock, ReportContent, Submission
from udb.service.reports import ReportPolicy, submit
from udb.storage import Store

CPR = "1503084232"


def submission(stid: str) -> Submission:
    report = ReportContent(
        modtager_system_id=SYSTEM,
        cpr=CPR,
        institution_number=AARHUS_KUI,
        kontakt=ContactBlock("Mette", "mette@example.dk", 4520304050, NOW - timedelta(days=1)),
        job=JobWishBlock("Tømrer", NOW - timedelta(days=1)),
    )
    return Submission(SYSTEM, stid, report, NOW, f"corr-{stid}")


def counts(path: str) -> tuple[int, int, int]:
    conn = sqlite3.connect(path)
    try:
        return tuple(  # type: ignore[return-value]
            conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("report_log", "block_history", "current_blocks")
        )
    finally:
        conn.close()


@pytest.mark.parametrize("table", ["report_log", "block_history", "current_blocks"])
def test_a_failing_write_answers_101_and_leaves_nothing_half_written(
    store: Store, database_url: str, table: str
) -> None:
    if store.dialect != "sqlite":
        pytest.skip("fault injected with a SQLite trigger")
    path = database_url.removeprefix("sqlite:///")
    admin = sqlite3.connect(path, isolation_level=None)
    admin.execute(
        f"CREATE TRIGGER fail_{table} BEFORE INSERT ON {table}"
        " BEGIN SELECT RAISE(ABORT, 'injected storage failure'); END"
    )
    before = counts(path)
    try:
        outcome = submit(submission("tx-1"), store, ReportPolicy())
        assert outcome.error is ErrorCode.INTERNAL
        assert counts(path) == before
        # Sent again unchanged while the failure lasts: still 101, still nothing.
        assert submit(submission("tx-1"), store, ReportPolicy()).error is ErrorCode.INTERNAL
    finally:
        admin.execute(f"DROP TRIGGER fail_{table}")
        admin.close()
    # The failure is gone: the same report is now accepted and stored once.
    assert submit(submission("tx-1"), store, ReportPolicy()).ok
    assert counts(path) == (before[0] + 1, before[1] + 2, before[2] + 2)


def test_an_unreachable_database_answers_101(store: Store, database_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    if store.dialect != "sqlite":
        pytest.skip("SQLite file")
    from udb.storage.sqlite import SqliteStore

    gone = SqliteStore(str(tmp_path / "missing-dir" / "udb.sqlite3"))
    assert submit(submission("tx-2"), gone, ReportPolicy()).error is ErrorCode.INTERNAL
    assert not gone.ping()
