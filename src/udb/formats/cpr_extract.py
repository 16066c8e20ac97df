"""Streaming reader of the CPR office's fixed-width extract files.

The format is ``shared/spec/cpr-extract.md``: ISO-8859-1 text, one 000 start
record, then the persons sorted by CPR number, each a 001 record followed by
its other records in ascending type order, then one 999 end record::

    00000000000001111112010010120091231
    0010101005038          01000000000000 K2000-01-01 2001-11-12 ...
    002010100503808518511016 ...
    0030101005038 ...
    999999999999900001098

Both forms are read: one record per line (LF or CRLF, trailing spaces maybe
trimmed, extra characters after a record ignored) and unseparated (records
back to back; CR/LF between records skipped). Records 000, 001, 002, 003 and
999 are read field by field (:mod:`udb.formats.cpr_records`); every other
known type is only checked and skipped.

Nothing is raised for a bad file: every :class:`ExtractProblem` is collected with its
position, record type and field, and a person with a problem is not yielded.
Memory holds one person and one read buffer, whatever the file's size.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from udb.domain.cpr import mask
from udb.formats import cpr_records as layout
from udb.formats.cpr_records import (
    ADDRESS,
    END,
    FIELD_ENDS,
    NOT_PERSON_BOUND,
    PERSON,
    POSTAL_ADDRESS,
    RECORD_LENGTHS,
    START,
    Problems,
    detect_form,
    safe_reason,
)
from udb.formats.cpr_sources import SKIPPED, RecordSources

__all__ = ["CprPerson", "ExtractHeader", "ExtractProblem", "ExtractReader", "Position", "check"]


@dataclass(frozen=True, slots=True)
class Position:
    """Where a record begins: its line (line form only) and its byte offset."""

    line: int | None  # 1-based line in a one-record-per-line file
    offset: int  # 0-based byte offset of the record's first byte

    def __str__(self) -> str:
        return f"line {self.line}" if self.line is not None else f"byte {self.offset}"


@dataclass(frozen=True, slots=True)
class ExtractProblem:
    """One thing wrong with the file; the file must not be applied."""

    position: Position
    record_type: str  # "001", or "" if unknown/unreadable
    field: str | None  # None for a problem of the whole record or file
    reason: str  # plain English; never a full CPR number

    def __str__(self) -> str:
        where = str(self.position)
        if self.record_type:
            where += f", record {self.record_type}"
        if self.field:
            where += f", field {self.field}"
        return f"{where}: {self.reason}"


@dataclass(frozen=True, slots=True)
class ExtractHeader:
    """The 000 start record."""

    task_number: str
    production_date: date
    previous_production_date: date | None


@dataclass(frozen=True, slots=True)
class CprPerson:
    """One person of the extract, from its 001, 002 and 003 records."""

    cpr: str
    status: str  # 01 03 05 07 20 30 50 60 70 80 90
    current_cpr: str | None  # the replacing number for status 50/60 when given
    birth_date: date
    municipality_code: int | None  # 002 if present, else 003; 0000 -> None
    position: Position  # of the 001 record


class _Open:
    """The records read so far of the person being assembled."""

    __slots__ = ("address", "bad", "has_address", "has_postal", "person", "position")

    def __init__(self, person: layout.PersonRecord, position: Position, bad: bool) -> None:
        self.person = person
        self.position = position
        self.bad = bad
        self.has_address = False
        self.has_postal = False
        self.address: int | None = None  # 002's municipality, else 003's

    def finished(self) -> CprPerson | None:
        p = self.person
        if self.bad or p.cpr is None or p.birth_date is None:
            return None
        return CprPerson(p.cpr, p.status, p.current_cpr, p.birth_date, self.address, self.position)


class ExtractReader(RecordSources):
    """Streams one extract file; memory does not grow with the file size.

    ``for person in reader.persons(): ...``, then look at ``reader.problems``
    (kept up to ``max_problems``, all counted in ``problem_count``) and
    ``reader.warnings`` (the 999 counter mismatch).
    """

    def __init__(self, path: Path, *, max_problems: int = 1000) -> None:
        self.path = Path(path)
        self.max_problems = max_problems
        self.size = self.path.stat().st_size
        with self.path.open("rb") as fh:
            self.form = detect_form(fh.read(64 * 1024).decode("latin-1"))
        self._progress: Callable[[int, int], None] | None = None
        self._reset()

    def _reset(self) -> None:
        self.header: ExtractHeader | None = None
        self.problems: list[ExtractProblem] = []
        self.problem_count = 0
        self.warnings: list[str] = []
        self.records = 0
        self.bytes_read = 0
        self._last_cpr: str | None = None  # of the previous valid 001, for the sort order
        self._key: str | None = None  # CPR field of the person being read
        self._after_end = False  # the unseparated reader has passed the 999
        self._stopped = False  # the unseparated records could not be followed
        self._end_line = 1
        self._found: Problems = []  # reused
        self._read_fields = layout.PersonReader()
        self._length = 0  # of the record being read

    def _report(
        self, line: int | None, offset: int, record_type: str, field: str | None, reason: str
    ) -> None:
        self.problem_count += 1
        if len(self.problems) < self.max_problems:
            position = Position(line, offset)
            self.problems.append(ExtractProblem(position, record_type, field, safe_reason(reason)))

    def _report_all(self, line: int | None, offset: int, record_type: str, found: Problems) -> None:
        """Report the field problems of the record just read (``self._length`` long)."""
        for field, reason in found:
            if self._length < FIELD_ENDS.get((record_type, field), 0):  # a cut line, maybe
                reason += f" (the record ends after {self._length} characters)"
            self._report(line, offset, record_type, field, reason)

    def persons(self) -> Generator[CprPerson, None, None]:
        """Each person once its records are complete; problems are collected, never raised.

        Calling it again starts over from the beginning of the file.
        """
        self._reset()
        source = self._lines() if self.form == "lines" else self._unseparated()
        found: Problems = []
        cur: _Open | None = None
        key = ""  # the current person's CPR field (when cur is not None)
        last = PERSON  # type of the current person's last record
        records = 0
        started = ended = stray = False
        for line, offset, rec, damaged in source:
            rtype = rec[:3]
            if cur is not None and rec.startswith(key, 3) and not damaged:  # the common cases
                if rtype in SKIPPED and rtype >= last:  # only checked and skipped
                    records += 1
                    last = rtype
                    continue
                if rtype == ADDRESS and last == PERSON:
                    code = rec[13:17]
                elif rtype == POSTAL_ADDRESS and last <= ADDRESS:
                    code = rec[207:211]
                else:
                    code = ""
                if len(code) == 4 and code.isdigit() and code.isascii():
                    if rtype == ADDRESS or not cur.has_address:
                        cur.address = int(code) or None
                    if rtype == ADDRESS:
                        cur.has_address = True
                    else:
                        cur.has_postal = True
                    records += 1
                    last = rtype
                    continue
            length = RECORD_LENGTHS.get(rtype)
            shown = rtype if length else ""
            self._length = len(rec)
            if not started:
                if rtype == START:
                    started = True
                    self._read_start(line, offset, rec.ljust(35), damaged)
                elif not stray:
                    stray = True
                    reason = f"the file must begin with a 000 start record, not {rtype!r}"
                    self._report(line, offset, shown, None, reason + "; skipped up to a 000")
                continue
            if ended:
                self._report(line, offset, shown, None, "data after the 999 end record")
                break
            if rtype == END:
                ended = True
                self.records = records
                if cur is not None and (done := cur.finished()):
                    yield done
                cur = None
                self._read_end(line, offset, rec.ljust(21))
                continue
            records += 1
            if length is None:
                self._report(line, offset, "", None, f"unknown record type {rtype!r}")
                if cur is not None:
                    cur.bad = True
                continue
            if rtype == PERSON:
                self.records = records
                if cur is not None and (done := cur.finished()):
                    yield done
                cur = self._read_person(line, offset, rec.ljust(106), damaged)
                key, last = cur.person.key, PERSON
                continue
            if rtype == START:
                self._report(line, offset, rtype, None, "a second 000 start record")
                continue
            if cur is None:
                self._report(line, offset, rtype, None, "record before the first 001 record")
                continue
            cur.bad |= damaged
            if rtype < last:
                reason = f"record {rtype} after a {last} record: not in ascending type order"
                self._report(line, offset, rtype, None, reason)
                cur.bad = True
            else:
                last = rtype
            if rec[3:13] != key and rtype not in NOT_PERSON_BOUND and cur.person.cpr:
                reason = (
                    f"CPR number {mask(rec[3:13])} is not that of the 001 record "
                    f"at {cur.position} ({mask(cur.person.key)})"
                )
                self._report(line, offset, rtype, "CPR number", reason)
                cur.bad = True
            if rtype in (ADDRESS, POSTAL_ADDRESS):
                self._read_address(line, offset, rec.ljust(length), cur, found)
        if not ended:
            self.records = records
        if not started:
            if self.size == 0:
                self._report(self._end_line, 0, "", None, "the file is empty")
            elif not stray:
                self._report(self._end_line, self.size, START, None, "no 000 start record")
        elif not ended and not self._stopped:
            end_line = self._end_line if self.form == "lines" else None
            self._report(end_line, self.size, END, None, "the file ends without a 999 end record")

    def _read_start(self, line: int | None, offset: int, rec: str, damaged: bool) -> None:
        found: Problems = []
        start = layout.read_start(rec, found)
        self._report_all(line, offset, START, found)
        if start.production_date is not None and not found and not damaged:
            self.header = ExtractHeader(
                start.task_number, start.production_date, start.previous_production_date
            )

    def _read_person(self, line: int | None, offset: int, rec: str, damaged: bool) -> _Open:
        found = self._found
        found.clear()
        person = self._read_fields(rec, found)
        if found:
            self._report_all(line, offset, PERSON, found)
        previous = self._last_cpr
        if previous is not None and person.cpr is not None and person.key <= previous:
            reason = (
                f"CPR number {mask(person.key)} is not after the previous person's "
                f"{mask(previous)}: persons must be sorted by CPR number, each once"
            )
            self._report(line, offset, PERSON, "CPR number", reason)
            found.append(("CPR number", reason))
        if person.cpr is not None and (previous is None or person.key > previous):
            self._last_cpr = person.key
        self._key = person.key
        return _Open(person, Position(line, offset), damaged or bool(found))

    def _read_address(
        self, line: int | None, offset: int, rec: str, cur: _Open, found: Problems
    ) -> None:
        found.clear()
        rtype = rec[:3]
        if rtype == ADDRESS:
            code = layout.read_address(rec, found)
            if cur.has_address:
                found.append((None, "a second 002 record for the same person"))
            elif not found:
                cur.address = code
            cur.has_address = True
        else:
            code = layout.read_postal_address(rec, found)
            if cur.has_postal:
                found.append((None, "a second 003 record for the same person"))
            elif not found and not cur.has_address:
                cur.address = code
            cur.has_postal = True
        if found:
            self._report_all(line, offset, rtype, found)
            cur.bad = True

    def _read_end(self, line: int | None, offset: int, rec: str) -> None:
        found: Problems = []
        counter = layout.read_end(rec, found)
        self._report_all(line, offset, END, found)
        if counter is not None and counter != self.records:
            self.warnings.append(
                f"{Position(line, offset)}: the 999 end record counts {counter} records, "
                f"but the file holds {self.records} records between 000 and 999"
            )


def check(path: Path, *, progress: Callable[[int, int], None] | None = None) -> ExtractReader:
    """Read the whole file once, keeping nothing but problems/warnings/counts.

    ``progress(bytes_read, size)`` is called about every MiB and at the end.
    """
    reader = ExtractReader(path)
    reader._progress = progress
    if progress:
        progress(0, reader.size)
    for _ in reader.persons():
        pass
    if progress:
        progress(reader.bytes_read, reader.size)
    return reader
