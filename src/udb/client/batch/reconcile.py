"""Reconciliation: the municipality's own current data against what UDB holds (``udb reconcile``).

LOCAL is a file in the ``udb send-batch`` format (:mod:`udb.client.batch.rows`), one
row per young person with the blocks the municipal system holds now. Every row is
checked first (the send-batch rules; the institution must be the one reconciled; a
CPR number only once); then UDB's data is fetched in requests of 100 and each block
compared (values and registration times):

================  ==============================================================
block state       meaning
================  ==============================================================
``same``          the same values, registered at the same moment
``missing``       LOCAL has the block, UDB has none
``differs``       UDB's block is registered earlier than LOCAL's, or at the same
                  moment with other values: LOCAL's is to be sent
``newer-in-udb``  UDB's block is registered later than LOCAL's (or LOCAL has none):
                  nothing is sent; look at it in the municipal system
================  ==============================================================

Each person gets one status: ``missing`` when UDB holds none of the blocks LOCAL has
(the report never arrived); ``differs`` when some block is missing or differs;
``newer-in-udb`` when UDB only has later blocks; ``same``; or, when UDB answers with a
``Fejl``, ``unknown`` (14, not in UDB's register), ``not-allowed`` (86), ``over-age``
(15), ``refused`` (any other code).

DIFF.csv holds one row per person of LOCAL, in LOCAL's order (:data:`DIFF_COLUMNS`)::

    line,cpr,status,blocks,kontakt_status,kontakt_tid,kontakt_udb_tid,job_status,...
    3,2002104321,differs,job,same,2026-11-20T09:15:00+01:00,2026-11-20T09:15:00+01:00,...

The rows to send (the blocks ``missing`` or ``differs``, of persons ``missing`` or
``differs``) are written in the ``send-batch`` format next to DIFF.csv
(:func:`send_path`), for :class:`~udb.client.batch.BatchRunner` to send and resume.
This module uses neither click nor rich.
"""

from __future__ import annotations

import contextlib
import csv
from collections import Counter
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from udb.client import (
    Contact,
    EducationWish,
    Fetched,
    FetchedPerson,
    JobWish,
    Report,
    UdbClient,
)
from udb.client.batch.fields import COLUMNS, Row, RowProblem
from udb.client.batch.readback import REFUSALS, REFUSED, RowWriter, local_time
from udb.client.batch.rows import Format, InputError, format_of, read_rows
from udb.domain import cpr as cprnr

SAME, MISSING, DIFFERS, NEWER = "same", "missing", "differs", "newer-in-udb"
#: every person status, in the order a summary lists them
STATUSES = (SAME, MISSING, DIFFERS, NEWER, "unknown", "not-allowed", "over-age", REFUSED)
#: the blocks, by their name in the columns
BLOCKS = ("kontakt", "job", "uddannelse")
DIFF_COLUMNS = (
    "line",
    "cpr",
    "status",
    "blocks",
    *(f"{block}_{what}" for block in BLOCKS for what in ("status", "tid", "udb_tid")),
    "code",
    "text",
)
#: persons fetched per request (the service's maximum)
CHUNK = 100

_Block = TypeVar("_Block", Contact, JobWish, EducationWish)


def send_path(diff: Path) -> Path:
    """The rows to send, next to DIFF.csv: ``DIFF.send.csv``."""
    return diff.with_name(f"{diff.stem}.send.csv")


def results_path(diff: Path) -> Path:
    """The results of sending them (``udb send-batch``'s, with its journal)."""
    return diff.with_name(f"{diff.stem}.results.csv")


@dataclass(frozen=True, slots=True)
class BlockDiff:
    """One block compared: its state (``None``: neither holds it) and both registration times."""

    state: str | None
    local: datetime | None = None
    udb: datetime | None = None


@dataclass(frozen=True, slots=True)
class Difference:
    """One person of LOCAL compared with UDB: status, each block, and what to send."""

    line: int
    report: Report
    status: str
    blocks: dict[str, BlockDiff] = field(default_factory=dict)
    code: int | None = None
    text: str | None = None

    @property
    def differing(self) -> tuple[str, ...]:
        """The blocks that are not the same (in :data:`BLOCKS` order)."""
        return tuple(
            b for b in BLOCKS if self.blocks.get(b, BlockDiff(None)).state not in (None, SAME)
        )

    @property
    def to_send(self) -> Report | None:
        """LOCAL's blocks that UDB lacks or holds older, as a new report (``None``: nothing)."""
        if self.status not in (MISSING, DIFFERS):
            return None
        wanted = {b for b, d in self.blocks.items() if d.state in (MISSING, DIFFERS)}
        report = self.report
        return Report(
            report.cpr,
            report.institution,
            contact=report.contact if "kontakt" in wanted else None,
            job=report.job if "job" in wanted else None,
            education=report.education if "uddannelse" in wanted else None,
        )


def compare_block(local: _Block | None, udb: Fetched[_Block] | None) -> BlockDiff:
    """The state of one block (see the module's table)."""
    local_at = None if local is None else local.registered_at
    udb_at = None if udb is None else udb.value.registered_at
    if local is None:
        return BlockDiff(None if udb is None else NEWER, local_at, udb_at)
    if udb is None:
        return BlockDiff(MISSING, local_at, udb_at)
    assert udb_at is not None and local_at is not None  # for mypy: both blocks are present
    if udb_at > local_at:
        return BlockDiff(NEWER, local_at, udb_at)
    if udb_at < local_at or udb.value != local:
        return BlockDiff(DIFFERS, local_at, udb_at)
    return BlockDiff(SAME, local_at, udb_at)


def compare(line: int, report: Report, person: FetchedPerson) -> Difference:
    """One person: LOCAL's ``report`` against UDB's ``person`` (the same CPR number)."""
    if not person.found:
        code = int(person.code or 0)
        return Difference(line, report, REFUSALS.get(code, REFUSED), code=code, text=person.text)
    blocks = {
        "kontakt": compare_block(report.contact, person.contact),
        "job": compare_block(report.job, person.job),
        "uddannelse": compare_block(report.education, person.education),
    }
    held = [b for b, d in blocks.items() if d.local is not None]
    states = {d.state for d in blocks.values()}
    if held and all(blocks[b].state == MISSING for b in held):
        status = MISSING
    elif MISSING in states or DIFFERS in states:
        status = DIFFERS
    elif NEWER in states:
        status = NEWER
    else:
        status = SAME
    return Difference(line, report, status, blocks)


def diff_row(difference: Difference) -> dict[str, str | None]:
    """The DIFF.csv row of one person (its own data only)."""
    row: dict[str, str | None] = {
        "line": str(difference.line),
        "cpr": difference.report.cpr,
        "status": difference.status,
        "blocks": " ".join(difference.differing),
        "code": None if difference.code is None else str(difference.code),
        "text": difference.text,
    }
    for block in BLOCKS:
        compared = difference.blocks.get(block, BlockDiff(None))
        row[f"{block}_status"] = compared.state
        row[f"{block}_tid"] = None if compared.local is None else local_time(compared.local)
        row[f"{block}_udb_tid"] = None if compared.udb is None else local_time(compared.udb)
    return row


def send_row(report: Report) -> dict[str, str | None]:
    """A ``send-batch`` row of ``report`` (times with their offset, exact to the microsecond)."""
    row: dict[str, str | None] = dict.fromkeys(COLUMNS)
    row.update(cpr=report.cpr, institution=str(report.institution))
    if report.contact is not None:
        row.update(
            kontakt_navn=report.contact.name,
            kontakt_mail=report.contact.mail,
            kontakt_telefon=report.contact.phone,
            kontakt_tid=report.contact.registered_at.isoformat(),
        )
    if report.job is not None:
        row.update(job=report.job.text, job_tid=report.job.registered_at.isoformat())
    if report.education is not None:
        row.update(
            uddannelse=report.education.text,
            uddannelse_tid=report.education.registered_at.isoformat(),
        )
    return row


@dataclass(frozen=True, slots=True)
class LocalChecked:
    """Every row of LOCAL was read: ``rows`` in all, ``bad`` with a problem."""

    rows: int
    bad: int


@dataclass(frozen=True, slots=True)
class Compared:
    """One person compared and written to DIFF.csv (``to_send``: a row to send was written)."""

    difference: Difference
    to_send: bool


@dataclass(frozen=True, slots=True)
class ReconcileSummary:
    """Persons by status, differing blocks by name, rows to send; from DIFF.csv."""

    diff: Path
    persons: int
    counts: dict[str, int]
    blocks: dict[str, int]
    to_send: int

    @property
    def same(self) -> bool:
        return self.counts.get(SAME, 0) == self.persons


def read_summary(diff: Path) -> ReconcileSummary:
    """The summary of a written DIFF.csv (:class:`ValueError` if it is not one)."""
    counts: Counter[str] = Counter()
    blocks: Counter[str] = Counter()
    with diff.open(encoding="utf-8", newline="") as file:
        reader = csv.DictReader(file)
        if tuple(reader.fieldnames or ()) != DIFF_COLUMNS:
            raise ValueError(f"{diff} is not a DIFF file of udb reconcile")
        for row in reader:
            counts[row["status"]] += 1
            blocks.update(row["blocks"].split())
    to_send = counts[MISSING] + counts[DIFFERS]  # each has a block missing or older in UDB
    return ReconcileSummary(diff, sum(counts.values()), dict(counts), dict(blocks), to_send)


class Reconciler:
    """One reconciliation of ``local`` for ``institution``, written to ``diff``.

    :meth:`check` reads every row first (yielding each :class:`RowProblem`, then
    :class:`LocalChecked`); :meth:`compare` fetches UDB's data and writes DIFF.csv and, with
    ``send``, the rows to send (:func:`send_path`), yielding :class:`Compared` per
    person. Either file appears complete or not at all.
    """

    def __init__(
        self, local: Path, diff: Path, institution: int, *, fmt: Format | None = None
    ) -> None:
        found = fmt or format_of(local)
        if found not in ("csv", "jsonl"):
            raise ValueError("fmt must be 'csv' or 'jsonl' (the file ends in neither)")
        self.local = local
        self.diff = diff
        self.institution = institution
        self.fmt: Format = found
        self.rows = 0
        self.bad = 0
        self._checked = False

    def check(self) -> Generator[RowProblem | LocalChecked, None, None]:
        """Every problem of LOCAL's rows, then :class:`LocalChecked`; raises :class:`InputError`."""
        seen: dict[str, int] = {}
        for row in read_rows(self.local, self.fmt):
            self.rows += 1
            problems = list(row.problems) or self._problems(row, seen)
            if problems:
                self.bad += 1
                yield from problems
        self._checked = True
        yield LocalChecked(self.rows, self.bad)

    def _problems(self, row: Row, seen: dict[str, int]) -> list[RowProblem]:
        report = row.report
        assert report is not None  # a row without problems has its report
        masked = cprnr.mask(report.cpr)
        found: list[RowProblem] = []
        if report.institution != self.institution:
            found.append(
                RowProblem(
                    row.line,
                    "institution",
                    f"is not {self.institution}, the institution reconciled",
                    masked,
                )
            )
        first = seen.setdefault(report.cpr, row.line)
        if first != row.line:
            found.append(
                RowProblem(
                    row.line, "cpr", f"the same person as line {first} (one row each)", masked
                )
            )
        return found

    def compare(
        self, client: UdbClient, *, send: bool = False
    ) -> Generator[Compared, None, ReconcileSummary]:
        """Fetch, compare and write; returns the summary (the generator's value)."""
        if not self._checked or self.bad:
            raise RuntimeError("check() first; a file with bad rows is not reconciled")
        with contextlib.ExitStack() as stack:
            diff_file = stack.enter_context(RowWriter(self.diff, "csv", DIFF_COLUMNS))
            send_file = (
                stack.enter_context(RowWriter(send_path(self.diff), "csv", COLUMNS))
                if send
                else None
            )
            for chunk in self._chunks():
                persons = client.fetch(self.institution, [r.cpr for _, r in chunk])
                for (line, report), person in zip(chunk, persons, strict=True):
                    difference = compare(line, report, person)
                    diff_file.write(diff_row(difference))
                    new = difference.to_send
                    if send_file is not None and new is not None:
                        send_file.write(send_row(new))
                    yield Compared(difference, new is not None)
        return read_summary(self.diff)

    def _chunks(self) -> Iterator[list[tuple[int, Report]]]:
        chunk: list[tuple[int, Report]] = []
        for row in read_rows(self.local, self.fmt):
            if row.report is None:
                raise InputError(f"{self.local} changed after it was checked (line {row.line})")
            chunk.append((row.line, row.report))
            if len(chunk) == CHUNK:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
