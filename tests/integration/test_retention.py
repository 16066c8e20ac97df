"""Retention (udb.service.retention) on SQLite and PostgreSQL: what goes, what stays."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta

import pytest

from tests.support import AARHUS_KUI, NOW
from udb.domain.model import (
    Block,
    ContactBlock,
    EducationWishBlock,
    ErrorCode,
    JobWishBlock,
    Person,
    PersonStatus,
)
from udb.service.retention import PurgeRunning, RetentionPolicy, history, purge
from udb.storage import Store, open_store
from udb.storage.records import ReportRecord, RetentionCounts

YOUNG = "1503084232"  # the seeded person, born 2008-03-15, lives in Aarhus
TURNED_25_TODAY = "2611011234"  # born 2001-11-26: 25 on NOW's date
TURNS_25_TOMORROW = "2711011234"
PAST_25_AND_GONE = "0101901234"  # emigrated long ago, and long past 25
EMIGRATED_LONG_AGO = "0101081234"
EMIGRATED_RECENTLY = "0202081234"
UNREGISTERED_LONG_AGO = "0303081234"
NO_MUNICIPALITY_LONG_AGO = "0404081234"
POLICY = RetentionPolicy()  # the defaults: 0, 90 and 400 days

_ids = iter(range(1, 10_000))


def _report(store: Store, cpr: str, received: datetime, *blocks: Block, outcome=None) -> None:  # type: ignore[no-untyped-def]
    n = next(_ids)
    record = ReportRecord(
        correlation_id=f"00000000-0000-4000-8000-{n:012d}",
        system_id=1,
        system_transaction_id=f"t-{n}",
        content_sha256="0" * 64,
        cpr=cpr,
        institution_number=AARHUS_KUI,
        received_at=received,
        outcome=outcome,
    )
    with store.unit_of_work() as uow:
        assert uow.record(record, blocks) is not None
        uow.commit()


def _job(at: datetime, text: str = "Tømrer") -> JobWishBlock:
    return JobWishBlock(text, at)


def _contact(at: datetime) -> ContactBlock:
    return ContactBlock("Mette Vejleder", "mette@aarhus.dk", 87654321, at)


def _sql(store: Store, statement: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    with store.unit_of_work() as uow:
        rows = uow.retention.db.all(statement, params)  # type: ignore[attr-defined]
        uow.commit()
    return rows


def _request_record(store: Store, correlation_id: str, received: datetime) -> None:
    with store.unit_of_work() as uow:
        d = uow.retention.d  # type: ignore[attr-defined]
        uow.retention.db.execute(  # type: ignore[attr-defined]
            "INSERT INTO request_log (received_at, correlation_id, operation, outcome,"
            " http_status, soap_version, duration_ms) VALUES (?, ?, 'Ping', 'up', 200, '1.2', 1)",
            (d.time(received), correlation_id),
        )
        uow.commit()


def _history_rows(store: Store, cpr: str) -> int:
    with store.unit_of_work(readonly=True) as uow:
        view = uow.persons.view(cpr)
    assert view is not None
    return view.history_count


def _reports(store: Store) -> int:
    return int(_sql(store, "SELECT count(*) FROM report_log")[0][0])  # type: ignore[arg-type]


@pytest.fixture
def populated(store: Store) -> Store:
    """Every kind of data, on either side of each limit (NOW: 2026-11-26)."""
    recent = NOW - timedelta(days=1)
    long_ago = NOW - timedelta(days=100)
    with store.unit_of_work() as uow:
        uow.persons.upsert_many(
            [
                Person(TURNED_25_TODAY, date(2001, 11, 26), PersonStatus.ACTIVE, 751),
                Person(TURNS_25_TOMORROW, date(2001, 11, 27), PersonStatus.ACTIVE, 751),
                Person(EMIGRATED_RECENTLY, date(2008, 2, 2), PersonStatus.EMIGRATED, None),
            ],
            NOW - timedelta(days=10),
        )
        uow.persons.upsert_many(
            [
                Person(PAST_25_AND_GONE, date(1990, 1, 1), PersonStatus.EMIGRATED, None),
                Person(EMIGRATED_LONG_AGO, date(2008, 1, 1), PersonStatus.EMIGRATED, None),
                Person(UNREGISTERED_LONG_AGO, date(2008, 3, 3), PersonStatus.UNREGISTERED, 751),
                Person(NO_MUNICIPALITY_LONG_AGO, date(2008, 4, 4), PersonStatus.ACTIVE, None),
            ],
            long_ago,
        )
        uow.commit()
    # The young person: an old job wish superseded by a recent one (the old one goes
    # with its report), an old contact person still current (it and its report stay),
    # an old rejected report (goes) and one just inside the limit (stays).
    _report(store, YOUNG, NOW - timedelta(days=500), _job(NOW - timedelta(days=500)))
    _report(store, YOUNG, NOW - timedelta(days=450), _contact(NOW - timedelta(days=450)))
    _report(store, YOUNG, recent, _job(recent, "Smed"))
    _report(store, YOUNG, NOW - timedelta(days=401), outcome=ErrorCode.UNKNOWN_PERSON)
    _report(store, YOUNG, NOW - timedelta(days=399), outcome=ErrorCode.UNKNOWN_PERSON)
    # Past 25: an old report whose block is current stays until that block is gone.
    _report(store, TURNED_25_TODAY, NOW - timedelta(days=420), _contact(NOW - timedelta(days=420)))
    _report(store, TURNED_25_TODAY, recent, EducationWishBlock("Bygningskonstruktør", recent))
    for cpr in (
        TURNS_25_TOMORROW,
        PAST_25_AND_GONE,
        EMIGRATED_LONG_AGO,
        EMIGRATED_RECENTLY,
        UNREGISTERED_LONG_AGO,
        NO_MUNICIPALITY_LONG_AGO,
    ):
        _report(store, cpr, recent, _job(recent), _contact(recent))
    _request_record(store, "old-request", NOW - timedelta(days=401))
    _request_record(store, "recent-request", NOW - timedelta(days=399))
    with store.unit_of_work() as uow:
        assert uow.replay.remember("expired", NOW - timedelta(seconds=1), NOW - timedelta(hours=1))
        assert uow.replay.remember("live", NOW + timedelta(minutes=5), NOW - timedelta(hours=1))
        uow.commit()
    return store


FIRST = RetentionCounts(
    replay_entries=1,
    requests=1,
    report_blocks=1,
    reports=2,
    persons_over_25=2,
    persons_gone=3,
)


def test_a_dry_run_counts_what_the_purge_then_deletes_and_changes_nothing(populated: Store) -> None:
    reports = _reports(populated)
    dry = purge(populated, POLICY, dry_run=True, now=NOW)
    assert dry.counts == FIRST
    assert _reports(populated) == reports
    assert _history_rows(populated, TURNED_25_TODAY) == 2
    assert _history_rows(populated, EMIGRATED_LONG_AGO) == 2
    assert len(_sql(populated, "SELECT 1 FROM request_log")) == 2
    assert len(_sql(populated, "SELECT 1 FROM replay_cache")) == 2

    done = purge(populated, POLICY, now=NOW, batch=2)  # small batches: several rounds each
    assert done.counts == dry.counts
    assert purge(populated, POLICY, dry_run=True, now=NOW).counts == RetentionCounts(reports=1)


def test_the_purge_deletes_each_kind_and_keeps_the_rest(populated: Store) -> None:
    reports = _reports(populated)
    purge(populated, POLICY, now=NOW)
    for gone in (TURNED_25_TODAY, PAST_25_AND_GONE, EMIGRATED_LONG_AGO, UNREGISTERED_LONG_AGO):
        assert _history_rows(populated, gone) == 0
        with populated.unit_of_work(readonly=True) as uow:
            view = uow.persons.view(gone)
        assert view is not None and view.current == {}  # the register's row stays
    assert _history_rows(populated, NO_MUNICIPALITY_LONG_AGO) == 0
    assert _history_rows(populated, TURNS_25_TOMORROW) == 2
    assert _history_rows(populated, EMIGRATED_RECENTLY) == 2
    # the young person: the superseded old job wish went, the current contact stayed
    with populated.unit_of_work(readonly=True) as uow:
        young = uow.persons.view(YOUNG)
    assert young is not None and young.history_count == 2
    assert {k.value: type(s.block).__name__ for k, s in young.current.items()} == {
        "kontakt": "ContactBlock",
        "job": "JobWishBlock",
    }
    assert _reports(populated) == reports - 2
    assert _sql(populated, "SELECT correlation_id FROM request_log") == [("recent-request",)]
    assert _sql(populated, "SELECT signature_sha256 FROM replay_cache") == [("live",)]

    # The past-25 person's old report lost its last history row: the next purge takes it.
    again = purge(populated, POLICY, now=NOW)
    assert again.counts == RetentionCounts(reports=1)
    assert _reports(populated) == reports - 3
    assert purge(populated, POLICY, now=NOW).counts == RetentionCounts()


def test_the_limits_follow_the_policy(populated: Store) -> None:
    policy = RetentionPolicy(
        after_25=timedelta(days=1), gone=timedelta(days=101), logs=timedelta(days=1000)
    )
    counts = purge(populated, policy, dry_run=True, now=NOW).counts
    # past 25 by a day: only the one born in 1990; gone 101 days: nobody; logs: none old
    assert counts == RetentionCounts(replay_entries=1, persons_over_25=1)


@pytest.mark.parametrize(
    ("today", "purged"), [(datetime(2029, 2, 28, 12), 0), (datetime(2029, 3, 1, 12), 1)]
)
def test_a_person_born_on_29_february_turns_25_on_1_march(
    store: Store, today: datetime, purged: int
) -> None:
    now = today.replace(tzinfo=NOW.tzinfo)
    with store.unit_of_work() as uow:
        uow.persons.upsert_many(
            [Person("2902041234", date(2004, 2, 29), PersonStatus.ACTIVE, 751)], now
        )
        uow.commit()
    _report(store, "2902041234", now - timedelta(days=1), _job(now - timedelta(days=1)))
    assert purge(store, POLICY, now=now).counts.persons_over_25 == purged
    assert _history_rows(store, "2902041234") == 1 - purged


def test_the_history_lists_each_purge_newest_first(populated: Store) -> None:
    dry = purge(populated, POLICY, dry_run=True, now=NOW)
    real = purge(populated, POLICY, now=NOW + timedelta(seconds=1))
    runs = history(populated)
    assert [(r.id, r.dry_run, r.counts) for r in runs] == [
        (real.run_id, False, FIRST),
        (dry.run_id, True, FIRST),
    ]
    assert all(r.finished_at is not None and r.error is None for r in runs)
    assert runs[0].started_at == NOW + timedelta(seconds=1)
    assert runs[0].duration_ms is not None and runs[0].duration_ms >= 0


def test_a_purge_does_not_start_while_another_runs(store: Store) -> None:
    with store.unit_of_work() as uow:
        started = uow.retention.begin_run(NOW, dry_run=False, stale_before=NOW - timedelta(hours=6))
        uow.commit()
    assert started is not None
    with pytest.raises(PurgeRunning):
        purge(store, POLICY, now=NOW + timedelta(minutes=1))
    # a purge started seven hours ago and never finished was interrupted
    assert purge(store, POLICY, now=NOW + timedelta(hours=7)).counts == RetentionCounts()
    with store.unit_of_work() as uow:
        uow.retention.finish_run(started, NOW, RetentionCounts(), 1.0)
        uow.commit()
    assert purge(store, POLICY, now=NOW + timedelta(hours=8)).run_id > started


def test_two_purges_starting_at_once_on_postgresql_do_not_both_run(
    store: Store, database_url: str
) -> None:
    if store.dialect != "postgresql":
        pytest.skip("SQLite has one writer at a time: the second waits for the first's claim")
    other = open_store(database_url)
    try:
        with store.unit_of_work() as uow:
            # The first purge is between taking the lock and committing its claim ...
            assert uow.retention.begin_run(NOW, dry_run=False, stale_before=NOW) is not None
            outcome: list[BaseException | int] = []

            def second() -> None:
                try:
                    outcome.append(purge(other, POLICY, now=NOW).run_id)
                except BaseException as exc:
                    outcome.append(exc)

            thread = threading.Thread(target=second)
            thread.start()
            thread.join(timeout=10)
            # ... and the second skips at once instead of waiting for it.
            assert len(outcome) == 1 and isinstance(outcome[0], PurgeRunning)
            uow.commit()
    finally:
        other.close()
