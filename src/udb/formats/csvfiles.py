"""CSV inputs of the register, read and checked row by row.

=====================  ==============================================
file                   header
=====================  ==============================================
municipalities         ``municipality_code,name``
institutions           ``institution_number,municipality_code,name``
persons                ``cpr,status,municipality_code``
=====================  ==============================================

UTF-8 (a byte order mark is allowed), one header line. The fields are
separated by commas, semicolons (what Danish Excel writes) or tabs, whichever
the header line uses (as ``udb send-batch`` reads its files)::

    cpr;status;municipality_code
    1503084232;active;751

A reader returns every valid row and a :class:`RowError` for every bad one;
nothing is written here. Error messages never quote a CPR number in full.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from udb.domain import cpr as cprnr
from udb.domain.model import Institution, Municipality, Person, PersonStatus

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(slots=True)
class Parsed(Generic[T]):
    #: (line number, value) of every valid row, in file order
    items: list[tuple[int, T]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


class _Bad(ValueError):
    pass


def _text(path: Path) -> str:
    """The file as text; :class:`_BadFile` (with the line) if it is not UTF-8."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise _BadFile(line, "the file is not UTF-8 text (in Excel: save as CSV UTF-8)") from None


class _BadFile(ValueError):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


DELIMITERS = (",", ";", "\t")


def delimiter(header_line: str) -> str:
    """The separator the header line uses: the one of :data:`DELIMITERS` it has most of.

    >>> delimiter("cpr;status;municipality_code"), delimiter("code,name")
    (';', ',')
    """
    return max(DELIMITERS, key=header_line.count)


def _rows(path: Path, header: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str] | RowError]]:
    """(line number, row or error) for each data row; :class:`_BadFile` if unreadable."""
    text = _text(path)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter(text.split("\n", 1)[0]))
    expected = ",".join(header) + " (separated by commas, semicolons or tabs)"
    try:
        first = next(reader)
    except StopIteration:
        raise _BadFile(1, "the file is empty; expected the header " + expected) from None
    except csv.Error as exc:
        raise _BadFile(reader.line_num, f"the file is not valid CSV: {exc}") from None
    if tuple(c.strip() for c in first) != header:
        raise _BadFile(1, "the header must be exactly " + expected)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise _BadFile(reader.line_num, f"the file is not valid CSV: {exc}") from None
        line = reader.line_num
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            yield line, RowError(line, f"expected {len(header)} fields, found {len(row)}")
            continue
        yield line, {name: value.strip() for name, value in zip(header, row, strict=True)}


def _read(
    path: Path,
    header: tuple[str, ...],
    convert: Callable[[dict[str, str]], T],
    key: Callable[[T], object],
    describe_key: Callable[[T], str],
) -> Parsed[T]:
    parsed: Parsed[T] = Parsed()
    first_line: dict[object, int] = {}
    try:
        for line, row in _rows(path, header):
            if isinstance(row, RowError):
                parsed.errors.append(row)
                continue
            try:
                item = convert(row)
            except _Bad as exc:
                parsed.errors.append(RowError(line, str(exc)))
                continue
            k = key(item)
            if k in first_line:
                parsed.errors.append(
                    RowError(line, f"{describe_key(item)} also on line {first_line[k]}")
                )
                continue
            first_line[k] = line
            parsed.items.append((line, item))
    except _BadFile as exc:
        parsed.errors.append(RowError(exc.line, exc.reason))
    return parsed


def _int(value: str, name: str, low: int, high: int) -> int:
    if not value.isascii() or not value.isdigit():
        raise _Bad(f"{name} must be a whole number")
    number = int(value)
    if not low <= number <= high:
        raise _Bad(f"{name} must be between {low} and {high}")
    return number


def _name(value: str, name: str) -> str:
    if not value:
        raise _Bad(f"{name} must not be empty")
    if len(value) > 200:
        raise _Bad(f"{name} is longer than 200 characters")
    return value


def _municipality(row: dict[str, str]) -> Municipality:
    return Municipality(
        _int(row["municipality_code"], "municipality_code", 1, 999), _name(row["name"], "name")
    )


def _institution(row: dict[str, str]) -> Institution:
    return Institution(
        _int(row["institution_number"], "institution_number", 1, 2_147_483_647),
        _int(row["municipality_code"], "municipality_code", 1, 999),
        _name(row["name"], "name"),
    )


STATUSES = {s.value: s for s in PersonStatus}


def _person(row: dict[str, str]) -> Person:
    number = row["cpr"]
    if not cprnr.is_cpr_form(number):
        raise _Bad("cpr must be exactly 10 digits")
    born = cprnr.birth_date(number)
    if born is None:
        raise _Bad(f"cpr {cprnr.mask(number)} does not start with a valid birth date")
    status = STATUSES.get(row["status"])
    if status is None:
        raise _Bad("status must be one of " + ", ".join(STATUSES))
    municipality: int | None = None
    if row["municipality_code"]:
        municipality = _int(row["municipality_code"], "municipality_code", 1, 999)
    elif status is PersonStatus.ACTIVE:
        raise _Bad("municipality_code is required for an active person")
    return Person(number, born, status, municipality)


def read_municipalities(path: Path) -> Parsed[Municipality]:
    return _read(
        path,
        ("municipality_code", "name"),
        _municipality,
        lambda m: m.code,
        lambda m: f"municipality_code {m.code}",
    )


def read_institutions(path: Path) -> Parsed[Institution]:
    return _read(
        path,
        ("institution_number", "municipality_code", "name"),
        _institution,
        lambda i: i.number,
        lambda i: f"institution_number {i.number}",
    )


def read_persons(path: Path) -> Parsed[Person]:
    return _read(
        path,
        ("cpr", "status", "municipality_code"),
        _person,
        lambda p: p.cpr,
        lambda p: f"cpr {cprnr.mask(p.cpr)}",
    )
