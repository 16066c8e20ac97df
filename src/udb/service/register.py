"""Importing register files: check everything, then apply all or nothing.

Each import reads and checks every row (:mod:`udb.formats.csvfiles`), then
checks the rows against what the database holds (an institution's
municipality must be known), and only if nothing is wrong applies all rows in
one transaction. Rows equal to what is stored are left untouched, so
importing the same file twice changes nothing.

A person's municipality, on the other hand, need not be in the municipality
table: the CPR register is the authority on where people live, and the table
may lag behind it. Such persons are imported with a warning that names the
unknown codes (:func:`unknown_municipalities`), by ``udb persons import`` and
``udb cpr import`` alike; reports about them get 86 until a KUI institution of
their municipality exists.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from udb.domain.model import Person
from udb.formats import csvfiles
from udb.formats.csvfiles import Parsed, RowError
from udb.storage.base import Store, UnitOfWork
from udb.storage.records import ApplyCounts

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import did (``counts``) or why it did nothing (``errors``)."""

    counts: ApplyCounts | None = None
    errors: Sequence[RowError] = field(default_factory=tuple)
    #: facts the operator should know about an applied file (it was applied all the same)
    warnings: Sequence[str] = field(default_factory=tuple)

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


def _import_checked(
    store: Store,
    parsed: Parsed[T],
    municipality_of: Callable[[T], int | None],
    apply: Callable[[UnitOfWork, list[T]], ApplyCounts],
) -> ImportResult:
    """Apply ``parsed`` only if neither its rows nor their municipalities have a problem."""
    with store.unit_of_work() as uow:
        unknown = _unknown_municipalities(uow, [(n, municipality_of(v)) for n, v in parsed.items])
        errors = _all_errors(parsed.errors, unknown)
        if errors:
            return ImportResult(errors=errors)
        counts = apply(uow, [v for _, v in parsed.items])
        uow.commit()
    return ImportResult(counts)


def import_institutions(store: Store, path: Path) -> ImportResult:
    return _import_checked(
        store,
        csvfiles.read_institutions(path),
        lambda i: i.municipality_code,
        lambda uow, items: uow.institutions.upsert_many(items),
    )


def apply_persons(uow: UnitOfWork, persons: Sequence[Person], now: datetime) -> ApplyCounts:
    """Bring the register's persons in line with ``persons`` (the shared register path)."""
    return uow.persons.upsert_many(persons, now)


def import_persons(store: Store, path: Path, now: datetime) -> ImportResult:
    """Apply a persons file; residents of municipalities the table lacks only warn."""
    parsed = csvfiles.read_persons(path)
    if parsed.errors:
        return ImportResult(errors=parsed.errors)
    persons = [p for _, p in parsed.items]
    with store.unit_of_work() as uow:
        warning = unknown_municipalities(resident_codes(persons), uow.municipalities.codes())
        counts = apply_persons(uow, persons, now)
        uow.commit()
    return ImportResult(counts, warnings=() if warning is None else (warning,))


def resident_codes(persons: Iterable[Person]) -> Counter[int]:
    """How many of ``persons`` live in Denmark in each municipality."""
    return Counter(p.municipality_code for p in persons if p.municipality_code and p.resident)


def unknown_municipalities(residents: Counter[int], known: set[int]) -> str | None:
    """The warning for residents of municipalities the table lacks, or None.

    >>> unknown_municipalities(Counter({751: 3, 999: 2, 998: 1}), {751}).split(";")[0]
    '3 person(s) live in municipality codes not in the municipality table: 999 (2), 998 (1)'
    >>> unknown_municipalities(Counter({751: 3}), {751}) is None
    True
    """
    unknown = sorted(
        ((code, n) for code, n in residents.items() if code not in known),
        key=lambda item: (-item[1], item[0]),
    )
    if not unknown:
        return None
    listed = ", ".join(f"{code} ({n})" for code, n in unknown)
    return (
        f"{sum(n for _, n in unknown)} person(s) live in municipality codes not in the"
        f" municipality table: {listed}; imported all the same (the CPR register is the"
        " authority), but reports about them get 86 until that municipality and its KUI"
        " institution are imported"
    )
