"""The storage adapters: schema, transactions, repositories."""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta

import pytest

from tests.support import AARHUS_KUI, NOW, SYSTEM
from udb.domain.model import (
    ContactBlock,
    ErrorCode,
    Institution,
    JobWishBlock,
    Municipality,
    Person,
    PersonStatus,
)
from udb.storage import IntegrityError, StorageError, Store, migrations, open_store
from udb.storage.records import ReportRecord

CPR = "1503084232"


def record(stid: str = "t-1", outcome: ErrorCode | None = None, corr: str = "c-1") -> ReportRecord:
    return ReportRecord(
        correlation_id=corr,
        system_id=1,
        system_transaction_id=stid,
        content_sha256="0" * 64,
        cpr=CPR,
        institution_number=AARHUS_KUI,
        received_at=NOW,
        outcome=outcome,
    )


def test_migrate_brings_the_schema_to_the_latest_version_once(store: Store) -> None:
    assert store.schema_version() == migrations.latest_version() >= 1
    assert list(store.migrate()) == []
    assert store.ping()


def test_a_new_database_is_empty_until_migrated(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = open_store("sqlite:///" + str(tmp_path / "new.sqlite3"))
    assert store.schema_version() == 0
    assert not store.ping()
    assert list(store.migrate()) == list(range(1, migrations.latest_version() + 1))
    assert store.ping()
    store.close()


def test_sqlite_connections_are_durable_and_enforce_foreign_keys(store: Store) -> None:
    if store.dialect != "sqlite":
        pytest.skip("SQLite settings")
    conn = store.connection()  # type: ignore[attr-defined]
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_a_unit_of_work_rolls_back_unless_committed(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.municipalities.upsert_many([Municipality(990, "Prøvekommune")])
    with store.unit_of_work() as uow:
        assert 990 not in uow.municipalities.codes()
        uow.municipalities.upsert_many([Municipality(990, "Prøvekommune")])
        uow.commit()
    with store.unit_of_work() as uow:
        assert 990 in uow.municipalities.codes()


def test_an_exception_rolls_back(store: Store) -> None:
    def write_then_fail() -> None:
        with store.unit_of_work() as uow:
            uow.municipalities.upsert_many([Municipality(990, "Prøvekommune")])
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_then_fail()
    with store.unit_of_work() as uow:
        assert 990 not in uow.municipalities.codes()


def test_a_readonly_unit_of_work_reads_and_refuses_writes(store: Store) -> None:
    with store.unit_of_work(readonly=True) as uow:
        assert uow.persons.get(CPR) is not None
        with pytest.raises(StorageError):
            uow.municipalities.upsert_many([Municipality(990, "Prøvekommune")])
    with store.unit_of_work() as uow:  # the connection writes again afterwards
        uow.municipalities.upsert_many([Municipality(990, "Prøvekommune")])
        uow.commit()


def test_constraint_violations_are_integrity_errors(store: Store) -> None:
    with pytest.raises(IntegrityError), store.unit_of_work() as uow:
        uow.institutions.upsert_many([Institution(999001, 999, "no such municipality")])


def test_upserts_count_and_leave_equal_rows_alone(store: Store) -> None:
    later = NOW + timedelta(days=1)
    people = [
        Person(CPR, date(2008, 3, 15), PersonStatus.ACTIVE, 751),
        Person("0101094230", date(2009, 1, 1), PersonStatus.DEAD, None),
    ]
    with store.unit_of_work() as uow:
        counts = uow.persons.upsert_many(people, later)
        uow.commit()
    assert (counts.added, counts.changed, counts.unchanged) == (1, 0, 1)
    moved = [Person(CPR, date(2008, 3, 15), PersonStatus.ACTIVE, 101)]
    with store.unit_of_work() as uow:
        counts = uow.persons.upsert_many(moved, later)
        assert uow.persons.get(CPR) == moved[0]
        uow.commit()
    assert (counts.added, counts.changed, counts.unchanged) == (0, 1, 0)


def test_systems_are_added_once_and_gain_institutions(store: Store) -> None:
    with store.unit_of_work() as uow:
        first = uow.systems.get(SYSTEM)
        again = uow.systems.add(SYSTEM, [101001], NOW)
        uow.commit()
    assert first is not None and again.id == first.id
    assert again.institutions == frozenset({AARHUS_KUI, 101001})
    with store.unit_of_work() as uow:
        assert [s.name for s in uow.systems.list()] == [SYSTEM]
        assert uow.systems.get("Unknown") is None


def test_the_idempotency_key_is_unique(store: Store) -> None:
    with store.unit_of_work() as uow:
        first = uow.reports.log(record())
        second = uow.reports.log(record(outcome=ErrorCode.AGE_LIMIT, corr="c-2"))
        found = uow.reports.find(1, "t-1")
        uow.commit()
    assert first is not None
    assert second is None
    assert found is not None and found.outcome is None and found.correlation_id == "c-1"


def test_rejected_reports_keep_their_code(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.reports.log(record("t-2", ErrorCode.FUTURE_REGISTRATION))
        uow.commit()
    with store.unit_of_work() as uow:
        found = uow.reports.find(1, "t-2")
    assert found is not None and found.outcome is ErrorCode.FUTURE_REGISTRATION


def test_blocks_merge_by_registration_time(store: Store) -> None:
    t = NOW - timedelta(days=3)
    with store.unit_of_work() as uow:
        report_id = uow.reports.log(record())
        assert report_id is not None
        assert uow.reports.add_block(report_id, CPR, JobWishBlock("newer", t))
        assert not uow.reports.add_block(
            report_id, CPR, JobWishBlock("older", t - timedelta(seconds=1))
        )
        assert uow.reports.add_block(report_id, CPR, JobWishBlock("same time, later", t))
        assert uow.reports.add_block(
            report_id, CPR, ContactBlock("A", "a@example.dk", None, t - timedelta(days=9))
        )
        uow.commit()
    with store.unit_of_work() as uow:
        view = uow.persons.view(CPR)
    assert view is not None
    current = {kind.value: stored.block for kind, stored in view.current.items()}
    assert current["job"] == JobWishBlock("same time, later", t)
    assert current["kontakt"] == ContactBlock("A", "a@example.dk", None, t - timedelta(days=9))
    assert "uddannelse" not in current
    assert view.history_count == 4
    assert view.report_count == 1
    assert view.current[next(iter(view.current))].system_name == SYSTEM


def test_a_locked_database_is_a_storage_error(store: Store, database_url: str) -> None:
    if store.dialect != "sqlite":
        pytest.skip("SQLite locking")
    path = database_url.removeprefix("sqlite:///")
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    store.busy_timeout = 0.05  # type: ignore[attr-defined]
    store.close()
    try:
        with pytest.raises(StorageError) as raised, store.unit_of_work():
            pass
        assert "locked" in str(raised.value).lower() or "busy" in str(raised.value).lower()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    with store.unit_of_work() as uow:  # and it recovers
        assert uow.persons.get(CPR) is not None


@pytest.mark.parametrize("url", ["sqlite:///", "sqlite:///:memory:", "mysql://x/y", "nonsense"])
def test_unsupported_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        open_store(url)
