"""The purge use case (udb.service.retention.purge) over the fake store: batches, dry
runs, one purge at a time, and a purge the database stops half-way."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tests.unit.fakes import FakeStore
from udb.domain.model import ClientSystem, JobWishBlock, Person, PersonStatus
from udb.service.retention import PurgeRunning, RetentionPolicy, history, purge
from udb.storage import StorageError
from udb.storage.records import ReportRecord, RetentionCounts

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
POLICY = RetentionPolicy()


@pytest.fixture
def store() -> FakeStore:
    """Five expired replay entries, one live; a person past 25 and an emigrated one with
    a job wish each; an old report whose block is superseded."""
    store = FakeStore()
    with store.unit_of_work() as uow:
        for n in range(5):
            uow.replay.remember(f"old-{n}", NOW - timedelta(minutes=1), NOW - timedelta(hours=1))
        uow.replay.remember("live", NOW + timedelta(minutes=1), NOW - timedelta(hours=1))
        uow.persons.upsert_many(
            [
                Person("0101901234", date(1990, 1, 1), PersonStatus.ACTIVE, 751),
                Person("0101081234", date(2008, 1, 1), PersonStatus.EMIGRATED, None),
                Person("0202081234", date(2008, 2, 2), PersonStatus.ACTIVE, 751),
            ],
            NOW - timedelta(days=91),
        )
        uow.systems.add("Vejledningssystem-Aarhus", [], NOW)
        uow.commit()
    system: ClientSystem | None
    with store.unit_of_work() as uow:
        system = uow.systems.get("Vejledningssystem-Aarhus")
    assert system is not None
    reports = [
        ("0101901234", NOW - timedelta(days=1)),
        ("0101081234", NOW - timedelta(days=1)),
        ("0202081234", NOW - timedelta(days=401)),
        ("0202081234", NOW - timedelta(days=1)),
    ]
    for n, (cpr, received) in enumerate(reports):
        record = ReportRecord(f"c-{n}", system.id, f"t-{n}", "0" * 64, cpr, 751001, received, None)
        with store.unit_of_work() as uow:
            uow.record(record, [JobWishBlock(f"Ønske {n}", received)])
            uow.commit()
    return store


EXPECTED = RetentionCounts(
    replay_entries=5, report_blocks=1, reports=1, persons_over_25=1, persons_gone=1
)


def test_each_kind_is_deleted_in_batches_of_one_transaction_each(store: FakeStore) -> None:
    store.ops.clear()
    result = purge(store, POLICY, now=NOW, batch=2)
    assert result.counts == EXPECTED
    deletes = [op for op in store.ops if op == "retention.delete.replay_entries"]
    assert len(deletes) == 3  # 2 + 2 + 1
    # every batch in a transaction of its own: begin, delete, commit
    for i, op in enumerate(store.ops):
        if op.startswith("retention.delete."):
            assert store.ops[i - 1] == "begin" and store.ops[i + 1] == "commit"
    assert purge(store, POLICY, now=NOW).counts == RetentionCounts()


def test_a_dry_run_changes_nothing_and_counts_what_the_purge_deletes(store: FakeStore) -> None:
    before = store.committed.copy()
    dry = purge(store, POLICY, now=NOW, dry_run=True)
    assert dry.counts == EXPECTED and dry.dry_run
    after = store.committed
    assert (after.replay, after.history, after.reports) == (
        before.replay,
        before.history,
        before.reports,
    )
    assert purge(store, POLICY, now=NOW).counts == dry.counts


def test_a_purge_does_not_start_while_another_is_recorded_as_running(store: FakeStore) -> None:
    with store.unit_of_work() as uow:
        uow.retention.begin_run(NOW, dry_run=False, stale_before=NOW)
        uow.commit()
    with pytest.raises(PurgeRunning):
        purge(store, POLICY, now=NOW + timedelta(hours=1))
    assert len(store.committed.replay) == 6  # nothing deleted
    assert purge(store, POLICY, now=NOW + timedelta(hours=7)).counts.replay_entries == 6


def test_a_purge_the_database_stops_is_recorded_with_the_error_and_does_not_block(
    store: FakeStore,
) -> None:
    store.fail_next(op="retention.delete.reports")
    with pytest.raises(StorageError):
        purge(store, POLICY, now=NOW)
    (failed,) = history(store)
    assert failed.error == "injected failure at retention.delete.reports"
    assert failed.finished_at is not None
    assert failed.counts == RetentionCounts(replay_entries=5, report_blocks=1)
    again = purge(store, POLICY, now=NOW)
    assert again.counts == RetentionCounts(reports=1, persons_over_25=1, persons_gone=1)
    assert [r.id for r in history(store)] == [again.run_id, failed.id]
