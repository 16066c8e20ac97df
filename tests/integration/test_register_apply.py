"""Applying register data: counts, full versus incremental, idempotence."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from tests.support import NOW
from udb.domain.model import Person, PersonStatus
from udb.storage import Store
from udb.storage.records import CprImportRecord, RegisterCounts

A = Person("0101104230", date(2010, 1, 1), PersonStatus.ACTIVE, 751, "01")
B = Person("0202104230", date(2010, 2, 2), PersonStatus.ACTIVE, 101, "01")
C = Person("0303104230", date(2010, 3, 3), PersonStatus.DEAD, None, "90")
SEEDED = "1503084232"  # from the CSV-like seed of the store fixture


def apply(store: Store, persons: list[Person], *, full: bool) -> RegisterCounts:
    with store.unit_of_work() as uow:
        counts = uow.persons.apply_register(iter(persons), full=full, now=NOW)
        uow.commit()
    return counts


def get(store: Store, cpr: str) -> Person | None:
    with store.unit_of_work(readonly=True) as uow:
        return uow.persons.get(cpr)


def test_incremental_adds_and_changes_only_the_persons_given(store: Store) -> None:
    assert apply(store, [A, B, C], full=False) == RegisterCounts(added=3)
    moved = replace(A, municipality_code=101)
    emigrated = replace(B, status=PersonStatus.EMIGRATED, cpr_status="80", municipality_code=None)
    counts = apply(store, [moved, emigrated, C], full=False)
    assert counts == RegisterCounts(changed=1, made_non_resident=1, unchanged=1)
    assert get(store, A.cpr) == moved
    assert get(store, B.cpr) == emigrated
    assert get(store, SEEDED) is not None and get(store, SEEDED).status is PersonStatus.ACTIVE  # type: ignore[union-attr]


def test_applying_the_same_data_twice_changes_nothing(store: Store) -> None:
    apply(store, [A, B, C], full=True)
    assert apply(store, [A, B, C], full=True) == RegisterCounts(unchanged=3)


def test_full_makes_everyone_else_unregistered_and_keeps_their_data(store: Store) -> None:
    counts = apply(store, [A], full=True)
    assert counts == RegisterCounts(added=1, made_non_resident=1, unregistered=1)
    seeded = get(store, SEEDED)
    assert seeded is not None
    assert seeded.status is PersonStatus.UNREGISTERED
    assert seeded.municipality_code == 751 and seeded.birth_date == date(2008, 3, 15)
    # a later full import that holds the person again brings them back
    back = Person(SEEDED, date(2008, 3, 15), PersonStatus.ACTIVE, 751, "01")
    assert apply(store, [A, back], full=True) == RegisterCounts(changed=1, unchanged=1)
    # an already unregistered person is not counted again
    apply(store, [A], full=True)
    assert apply(store, [A], full=True) == RegisterCounts(unchanged=1)


def test_a_replaced_number_points_to_the_current_one(store: Store) -> None:
    old = Person("0404104230", date(2010, 4, 4), PersonStatus.REPLACED, None, "60", "0404104248")
    apply(store, [old], full=False)
    stored = get(store, old.cpr)
    assert stored == old and not stored.resident  # type: ignore[union-attr]


def test_the_history_of_applied_files(store: Store) -> None:
    record = CprImportRecord(
        file_name="extract.txt",
        file_sha256="ab" * 32,
        kind="full",
        task_number="111111",
        production_date=date(2026, 11, 1),
        previous_production_date=None,
        persons=3,
        counts=RegisterCounts(3, 0, 0, 0, 0),
        warnings=1,
        forced=False,
        applied_at=NOW,
    )
    with store.unit_of_work() as uow:
        assert uow.cpr_imports.latest_production_date() is None
        uow.cpr_imports.add(record)
        uow.cpr_imports.add(
            replace(record, file_sha256="cd" * 32, production_date=date(2026, 11, 8))
        )
        uow.commit()
    with store.unit_of_work(readonly=True) as uow:
        assert uow.cpr_imports.find("ab" * 32) == record
        assert uow.cpr_imports.find("ef" * 32) is None
        assert uow.cpr_imports.latest_production_date() == date(2026, 11, 8)
        assert [r.file_sha256 for r in uow.cpr_imports.list()] == ["ab" * 32, "cd" * 32]


def test_staging_holds_no_write_lock_and_applies_in_a_short_transaction(
    store: Store, database_url: str
) -> None:
    import sqlite3

    if store.dialect != "sqlite":
        pytest.skip("SQLite file locks (PostgreSQL: test_postgresql_register.py)")
    writes_meanwhile: list[str] = []

    def persons():  # type: ignore[no-untyped-def]
        yield A
        other = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=0)
        try:  # a report's transaction while the file is being staged
            other.execute("BEGIN IMMEDIATE")
            other.execute("UPDATE municipalities SET name = name")
            other.execute("COMMIT")
            writes_meanwhile.append("committed")
        finally:
            other.close()
        yield B
        yield C

    staged = store.stage_register(persons())
    assert staged.persons == 3
    assert writes_meanwhile == ["committed"]
    with store.unit_of_work() as uow:
        counts = uow.persons.apply_staged(staged, full=False, now=NOW)
        uow.commit()
    assert counts == RegisterCounts(added=3)
    assert get(store, C.cpr) == C
