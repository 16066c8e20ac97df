"""PostgreSQL: register data staged with COPY outside the write transaction, then applied.

The PostgreSQL counterparts of the SQLite-only parts of test_register_apply.py
and test_cpr_import.py.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date, timedelta

import psycopg
import pytest

from tests.integration.test_cpr_import import SAMPLE
from tests.integration.test_register_apply import A, B, C, get
from tests.support import AARHUS_KUI, NOW, SYSTEM
from udb.domain.model import JobWishBlock, Person, PersonStatus, ReportContent, Submission
from udb.service.cpr_import import ImportOutcome, import_extract
from udb.service.reports import ReportPolicy, submit
from udb.storage import Store
from udb.storage.records import RegisterCounts


@pytest.fixture
def database_url(postgres_url: str) -> str:
    """The shared ``store`` fixture, on PostgreSQL only."""
    return postgres_url


@pytest.fixture
def admin(postgres_url: str) -> Iterator[psycopg.Connection]:  # type: ignore[type-arg]
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        yield conn


def staged_rows(admin: psycopg.Connection) -> int:  # type: ignore[type-arg]
    row = admin.execute("SELECT count(*) FROM register_staging").fetchone()
    return int(row[0]) if row else 0


def test_the_sample_fills_the_register(store: Store, admin: psycopg.Connection) -> None:  # type: ignore[type-arg]
    result = import_extract(store, SAMPLE, full=False, now=NOW)
    assert result.outcome is ImportOutcome.APPLIED
    assert result.record is not None and result.record.counts.added == 80
    statuses = Counter(
        row[0]
        for row in admin.execute("SELECT cpr_status FROM persons WHERE cpr_status IS NOT NULL")
    )
    assert statuses == Counter({"01": 69, "50": 1, "60": 3, "70": 1, "80": 3, "90": 3})
    assert staged_rows(admin) == 0  # applied rows leave the staging table


def test_staging_locks_no_persons_and_any_connection_applies_it(
    store: Store,
    admin: psycopg.Connection,  # type: ignore[type-arg]
) -> None:
    writes_meanwhile: list[str] = []

    def persons() -> Iterator[Person]:
        yield A
        # a register writer (the strongest lock there is) while the file is being staged
        with admin.transaction():
            admin.execute("LOCK TABLE persons IN ACCESS EXCLUSIVE MODE NOWAIT")
            admin.execute("UPDATE persons SET updated_at = updated_at")
        writes_meanwhile.append("committed")
        yield B
        yield C

    with store.unit_of_work() as uow:  # holds a connection: staging takes another one
        staged = store.stage_register(persons())
        assert staged.persons == 3 and writes_meanwhile == ["committed"]
        counts = uow.persons.apply_staged(staged, full=False, now=NOW)
        uow.commit()
    assert counts == RegisterCounts(added=3)
    assert get(store, C.cpr) == C
    assert staged_rows(admin) == 0


def test_staging_again_replaces_what_this_thread_staged(
    store: Store,
    admin: psycopg.Connection,  # type: ignore[type-arg]
) -> None:
    store.stage_register([A, B])
    staged = store.stage_register([C])
    assert staged_rows(admin) == 1
    with store.unit_of_work() as uow:
        assert uow.persons.apply_staged(staged, full=False, now=NOW) == RegisterCounts(added=1)
        uow.commit()
    assert get(store, A.cpr) is None


def test_a_stream_that_fails_stages_nothing(store: Store, admin: psycopg.Connection) -> None:  # type: ignore[type-arg]
    def persons() -> Iterator[Person]:
        yield A
        raise OSError("the file went away")

    with pytest.raises(OSError, match="went away"):
        store.stage_register(persons())
    assert staged_rows(admin) == 0
    assert store.stage_register([A]).persons == 1  # and the connection works on


def test_a_large_register_is_counted_exactly(store: Store) -> None:
    def people(n: int, municipality: int | None) -> list[Person]:
        return [
            Person(
                f"{1 + i % 28:02d}{1 + i % 12:02d}1{i:05d}"[:10],
                date(2010, 1, 1) + timedelta(days=i % 300),
                PersonStatus.ACTIVE if municipality else PersonStatus.EMIGRATED,
                municipality,
                "01" if municipality else "80",
            )
            for i in range(n)
        ]

    first = people(5000, 751)
    staged = store.stage_register(first)
    with store.unit_of_work() as uow:
        counts = uow.persons.apply_staged(staged, full=True, now=NOW)
        uow.commit()
    # the test seed's person is not in the file
    assert counts == RegisterCounts(added=5000, made_non_resident=1, unregistered=1)
    second = first[:1000] + [replace(p, municipality_code=101) for p in first[1000:2000]]
    second += people(5000, None)[2000:2500] + first[2500:4000]
    staged = store.stage_register(second)
    with store.unit_of_work() as uow:
        counts = uow.persons.apply_staged(staged, full=True, now=NOW)
        uow.commit()
    # 1,000 moved; 500 emigrated and the 1,000 no longer in the file were resident
    assert counts == RegisterCounts(
        changed=1000, made_non_resident=1500, unchanged=2500, unregistered=1000
    )


def test_reports_go_on_while_the_register_is_applied(store: Store) -> None:
    seeded = "1503084232"  # updated (unregistered) by the open register transaction below
    report = ReportContent(
        SYSTEM, seeded, AARHUS_KUI, job=JobWishBlock("Smed", NOW - timedelta(days=1))
    )
    staged = store.stage_register([A, B, C])
    with store.unit_of_work() as uow, ThreadPoolExecutor(1) as pool:
        assert uow.persons.apply_staged(staged, full=True, now=NOW).unregistered == 1
        started = time.monotonic()
        outcome = pool.submit(
            submit, Submission(SYSTEM, "tx-r", report, NOW, "corr-r"), store, ReportPolicy()
        ).result(timeout=10)
        assert outcome.ok and time.monotonic() - started < 2  # not held up by the register
        uow.commit()
    with store.unit_of_work(readonly=True) as uow:
        view = uow.persons.view(seeded)
    assert view is not None and view.person.status is PersonStatus.UNREGISTERED
    assert view.history_count == 1
