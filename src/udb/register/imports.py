"""Importing register files: check everything, then apply all or nothing.

Each import reads and checks every row (:mod:`udb.register.csvfiles`), then
checks the rows against what the database holds (an institution's
municipality must be known), and only if nothing is wrong applies all rows in
one transaction. Rows equal to what is stored are left untouched, so
importing the same file twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from udb.domain.model import Person
from udb.register import csvfiles
from udb.register.csvfiles import RowError
from udb.storage.base import ApplyCounts, Store, UnitOfWork


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import did (``counts``) or why it did nothing (``errors``)."""

    counts: ApplyCounts | None = None
    errors: Sequence[RowError] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.errors


def import_municipalities(store: Store, path: Path) -> ImportResult:
    parsed = csvfiles.read_municipalities(path)
    if parsed.errors:
        return ImportResult(errors=parsed.errors)
    with store.unit_of_work() as uow:
        counts = uow.municipalities.upsert_many(m for _, m in parsed.items)
        uow.commit()
    return ImportResult(counts)


def _unknown_municipalities(
    uow: UnitOfWork, rows: Sequence[tuple[int, int | None]]
) -> list[RowError]:
    known = uow.municipalities.codes()
    return [
        RowError(line, f"municipality_code {code} is not a known municipality")
        for line, code in rows
        if code is not None and code not in known
    ]


def _all_errors(*groups: Sequence[RowError]) -> list[RowError]:
    """Every problem of a file, by line: those of the rows and those against the database."""
    return sorted((e for group in groups for e in group), key=lambda e: e.line)


def import_institutions(store: Store, path: Path) -> ImportResult:
    parsed = csvfiles.read_institutions(path)
    with store.unit_of_work() as uow:
        errors = _all_errors(
            parsed.errors,
            _unknown_municipalities(uow, [(n, i.municipality_code) for n, i in parsed.items]),
        )
        if errors:
            return ImportResult(errors=errors)
        counts = uow.institutions.upsert_many(i for _, i in parsed.items)
        uow.commit()
    return ImportResult(counts)


def apply_persons(uow: UnitOfWork, persons: Sequence[Person], now: datetime) -> ApplyCounts:
    """Bring the register's persons in line with ``persons`` (the shared register path)."""
    return uow.persons.upsert_many(persons, now)


def import_persons(store: Store, path: Path, now: datetime) -> ImportResult:
    parsed = csvfiles.read_persons(path)
    with store.unit_of_work() as uow:
        errors = _all_errors(
            parsed.errors,
            _unknown_municipalities(uow, [(n, p.municipality_code) for n, p in parsed.items]),
        )
        if errors:
            return ImportResult(errors=errors)
        counts = apply_persons(uow, [p for _, p in parsed.items], now)
        uow.commit()
    return ImportResult(counts)
