"""The input files of a batch: CSV and JSON Lines, read row by row into reports.

Each row holds the fields of :mod:`udb.client.batch.fields` (``cpr``,
``institution``, ``kontakt_navn``, ``kontakt_mail``, ``kontakt_telefon``,
``kontakt_tid``, ``job``, ``job_tid``, ``uddannelse``, ``uddannelse_tid``);
the columns of a block that is never sent may be left out::

    cpr,institution,job,job_tid
    1503084232,751001,Tømrer,2026-11-20T09:20:00+01:00

* CSV: UTF-8 (a byte order mark is allowed), a header line naming the
  columns (any order; the columns of absent blocks may be left out),
  separated by commas, or by semicolons or tabs if the header is.
* JSON Lines: one JSON object per line with the same keys (``null`` or
  ``""`` for an absent field, blank lines ignored); ``institution`` and
  ``kontakt_telefon`` may be JSON numbers, ``cpr`` must be a string.

:func:`read_rows` streams the file (memory does not grow with it) and yields
a :class:`~udb.client.batch.fields.Row` per row: its report, or every
:class:`~udb.client.batch.fields.RowProblem` of it (line, column, reason,
never a value). A file that cannot be read as a whole raises
:class:`InputError`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Literal

from udb.client.batch.fields import COLUMNS, Row, RowProblem, object_row, report_of

Format = Literal["csv", "jsonl"]


class InputError(ValueError):
    """The file as a whole cannot be read (no header, unknown columns, unreadable)."""


def format_of(path: Path) -> Format | None:
    """The format by the file name's ending, or ``None``."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    return None


def read_rows(path: Path, fmt: Format) -> Iterator[Row]:
    """Each row of the file, in order, streamed (memory does not grow with the file).

    Raises :class:`InputError` when the file cannot be read at all.
    """
    try:
        file = path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    with file:
        if fmt == "csv":
            yield from _csv_rows(file)
        else:
            yield from _jsonl_rows(file)


# CSV ------------------------------------------------------------------------------------


class _Lines:
    """The file's lines as text for :mod:`csv`, noting (not raising) lines that are not UTF-8."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self.number = 0
        self.bad: set[int] = set()

    def __iter__(self) -> Iterator[str]:
        for raw in self.file:
            self.number += 1
            if self.number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                self.bad.add(self.number)
                yield raw.decode("utf-8", "replace")


def _csv_rows(file: IO[bytes]) -> Iterator[Row]:
    lines = _Lines(file)
    source = iter(lines)
    first = next(source, None)
    if first is None or not first.strip():
        raise InputError(
            "the file is empty; the first line must name the columns, e.g. " + ",".join(COLUMNS)
        )
    if 1 in lines.bad:
        raise InputError("line 1: the header is not UTF-8 text")
    delimiter = max((",", ";", "\t"), key=first.count)
    header = [name.strip().lower() for name in next(csv.reader([first], delimiter=delimiter))]
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        raise InputError(
            f"line 1: unknown column(s) {', '.join(repr(n[:40]) for n in unknown)}; "
            f"the columns are: {','.join(COLUMNS)}"
        )
    doubled = sorted({name for name in header if header.count(name) > 1})
    if doubled:
        raise InputError(f"line 1: column(s) named twice: {', '.join(doubled)}")
    for required in ("cpr", "institution"):
        if required not in header:
            raise InputError(f"line 1: the column {required} is missing")
    reader = csv.reader(_chain(first, source), delimiter=delimiter, strict=True)
    next(reader)  # the header, again
    start = 2
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line = start
            start = reader.line_num + 1
            yield Row(line, None, (RowProblem(line, None, f"is not valid CSV: {exc}"),))
            continue
        line, start = start, reader.line_num + 1
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue  # a blank line
        if any(n in lines.bad for n in range(line, reader.line_num + 1)):
            yield Row(
                line, None, (RowProblem(line, None, "is not UTF-8 text (save the file as UTF-8)"),)
            )
            continue
        if len(cells) != len(header):
            reason = f"has {len(cells)} fields; the header has {len(header)}"
            yield Row(line, None, (RowProblem(line, None, reason),))
            continue
        yield report_of(dict(zip(header, cells, strict=True)), line)


def _chain(first: str, rest: Iterable[str]) -> Iterator[str]:
    yield first
    yield from rest


# JSON Lines -------------------------------------------------------------------------------


def _jsonl_rows(file: IO[bytes]) -> Iterator[Row]:
    for number, raw in enumerate(file, start=1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            yield Row(number, None, (RowProblem(number, None, "is not UTF-8 text"),))
            continue
        yield object_row(text, number)
