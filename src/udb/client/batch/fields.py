"""One row's fields into a :class:`~udb.client.Report`, checked like the SDK checks it.

A row (a CSV line, a JSON Lines line, the file of ``udb send``) holds the
fields ``cpr``, ``institution`` (the KUI's institution number),
``kontakt_navn``, ``kontakt_mail``, ``kontakt_telefon``, ``kontakt_tid``,
``job``, ``job_tid``, ``uddannelse``, ``uddannelse_tid``. Every one but
``cpr`` and ``institution`` may be empty: a block (contact person, job wish,
education wish) is sent when any of its fields is given, and then needs all of
them but the phone number::

    {"cpr": "1503084232", "institution": 751001,
     "job": "Tømrer", "job_tid": "2026-11-20T09:20:00+01:00"}

* Times are ISO 8601 date and time (``2026-11-20T09:15:00+01:00``, ``...Z``).
  **A time without an offset is Danish local time** (Europe/Copenhagen), as
  the contract reads it (interface.md section 2): a wall-clock time that occurs
  twice when summer time ends is the first (+02:00), one that does not exist
  when it starts is read with +01:00 (:func:`udb.domain.clock.to_instant`).
* In JSON, ``institution`` and ``kontakt_telefon`` may be numbers, ``cpr``
  must be a string; ``null`` or ``""`` is an absent field.

Every value is then checked by the SDK's :class:`~udb.client.Report` (the same
rules, the same messages). A :class:`RowProblem` names the line and the column,
never the value; the CPR number appears only masked (``150308-****``). The
files these rows come from are read by :mod:`udb.client.batch.rows`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from udb.client import Contact, EducationWish, JobWish, Report, ReportError
from udb.domain import cpr as cprnr
from udb.domain.clock import to_instant

COLUMNS = (
    "cpr",
    "institution",
    "kontakt_navn",
    "kontakt_mail",
    "kontakt_telefon",
    "kontakt_tid",
    "job",
    "job_tid",
    "uddannelse",
    "uddannelse_tid",
)
#: The SDK's field names (ReportError.field) and the columns they come from.
_COLUMN_OF = {
    "Report.cpr": "cpr",
    "Report.institution": "institution",
    "Contact.name": "kontakt_navn",
    "Contact.mail": "kontakt_mail",
    "Contact.phone": "kontakt_telefon",
    "Contact.registered_at": "kontakt_tid",
    "JobWish.text": "job",
    "JobWish.registered_at": "job_tid",
    "EducationWish.text": "uddannelse",
    "EducationWish.registered_at": "uddannelse_tid",
}
_DIGITS = re.compile(r"[0-9]+")
_EXAMPLE_TIME = "2026-11-20T09:15:00+01:00"

_Wish = TypeVar("_Wish", JobWish, EducationWish)
_Value = str | int | None


@dataclass(frozen=True, slots=True)
class RowProblem:
    """What is wrong with one field (or the whole row, ``column=None``) of one row."""

    line: int | None
    column: str | None
    reason: str
    #: the masked CPR number of the row, when it has the form of one
    cpr: str | None = None

    def __str__(self) -> str:
        where = [] if self.line is None else [f"line {self.line}"]
        if self.cpr:
            where.append(f"({self.cpr})")
        head = " ".join(where)
        body = f"{self.column}: {self.reason}" if self.column else self.reason
        return f"{head}: {body}" if head else body


@dataclass(frozen=True, slots=True)
class Row:
    """One input row: its (first) line number and its report, or what is wrong with it."""

    line: int
    report: Report | None
    problems: tuple[RowProblem, ...] = ()

    @property
    def masked_cpr(self) -> str:
        return cprnr.mask(self.report.cpr) if self.report is not None else ""


def report_of(values: Mapping[str, object], line: int | None = None) -> Row:
    """A report from a mapping of the fields (a CSV row, a JSON object), or its problems."""
    return _RowReader(values, line).read()


class _RowReader:
    """Reads one row's fields into a :class:`Report`, collecting every problem of the row."""

    def __init__(self, values: Mapping[str, object], line: int | None) -> None:
        self.values = values
        self.line = line
        self.problems: list[RowProblem] = []
        raw = values.get("cpr")
        self.masked = (
            cprnr.mask(raw.strip())
            if isinstance(raw, str) and cprnr.is_cpr_form(raw.strip())
            else None
        )
        self.fields: dict[str, _Value] = {}

    def problem(self, column: str | None, reason: str) -> None:
        self.problems.append(RowProblem(self.line, column, reason, self.masked))

    def read(self) -> Row:
        for key in sorted(str(k) for k in self.values if k not in COLUMNS):
            self.problem(None, f"unknown field {key[:40]!r} (the fields are: {', '.join(COLUMNS)})")
        for column in COLUMNS:
            self.fields[column] = self._value(column, self.values.get(column))
        contact = self._contact()
        job = self._wish("job", "job_tid", JobWish)
        education = self._wish("uddannelse", "uddannelse_tid", EducationWish)
        cpr, institution = self._text("cpr"), self._institution()
        if cpr is None and not any(p.column == "cpr" for p in self.problems):
            self.problem("cpr", "is required")
        if cpr is None or institution is None:
            return Row(self.line or 0, None, tuple(self.problems))
        try:
            Report(cpr.strip(), institution)  # the two fields, even if a block is bad
            if not self.problems:
                report = Report(
                    cpr.strip(), institution, contact=contact, job=job, education=education
                )
                return Row(self.line or 0, report)
        except ReportError as exc:
            self.problem(_COLUMN_OF.get(exc.field, exc.field), exc.reason)
        return Row(self.line or 0, None, tuple(self.problems))

    def _value(self, column: str, value: object) -> _Value:
        """The field as given (``None`` when empty); JSON numbers only where no digit is lost."""
        if isinstance(value, str):
            return value if value.strip() else None
        if value is None:
            return None
        numeric = column in ("institution", "kontakt_telefon")
        if isinstance(value, int) and not isinstance(value, bool):
            if numeric:
                return value
            if column == "cpr":
                self.problem(column, "must be a string: as a number it loses its leading zeros")
                return None
        wanted = "a whole number or a string" if numeric else "a string"
        self.problem(column, f"must be {wanted}, not {_json_type(value)}")
        return None

    def _text(self, column: str) -> str | None:
        value = self.fields.get(column)
        return value if isinstance(value, str) else None

    def _time(self, column: str) -> datetime | None:
        value = self._text(column)
        if value is None:
            return None
        try:
            return parse_time(value.strip())
        except ValueError as exc:
            self.problem(column, str(exc))
            return None

    def _given(self, columns: tuple[str, ...], optional: tuple[str, ...] = ()) -> bool | None:
        """Whether a block is given (any of its columns is), ``None`` if one it needs is missing."""
        given = [c for c in columns if self.fields.get(c) is not None]
        if not given:
            return False
        missing = [c for c in columns if c not in optional and c not in given]
        verb = "is" if len(given) == 1 else "are"
        for column in missing:
            self.problem(column, f"is required when {', '.join(given)} {verb} given")
        return None if missing else True

    def _contact(self) -> Contact | None:
        columns = ("kontakt_navn", "kontakt_mail", "kontakt_telefon", "kontakt_tid")
        if not self._given(columns, optional=("kontakt_telefon",)):
            return None
        name, mail = self._text("kontakt_navn"), self._text("kontakt_mail")
        when = self._time("kontakt_tid")
        phone = self.fields.get("kontakt_telefon")
        if name is None or mail is None or when is None:
            return None
        try:
            return Contact(name, mail, when, phone=None if phone is None else str(phone).strip())
        except ReportError as exc:
            self.problem(_COLUMN_OF.get(exc.field, exc.field), exc.reason)
            return None

    def _wish(self, column: str, time_column: str, kind: type[_Wish]) -> _Wish | None:
        """A :class:`JobWish` or :class:`EducationWish` (``kind``) from its two columns."""
        if not self._given((column, time_column)):
            return None
        text, when = self._text(column), self._time(time_column)
        if text is None or when is None:
            return None
        try:
            return kind(text, when)
        except ReportError as exc:
            self.problem(_COLUMN_OF.get(exc.field, exc.field), exc.reason)
            return None

    def _institution(self) -> int | None:
        value = self.fields.get("institution")
        if value is None:
            if not any(p.column == "institution" for p in self.problems):
                self.problem("institution", "is required")
            return None
        if isinstance(value, int):
            return value
        text = value.strip()
        if not _DIGITS.fullmatch(text):
            self.problem("institution", "must be a whole number from 1 to 2147483647")
            return None
        return int(text)


def parse_time(value: str) -> datetime:
    """An ISO 8601 date and time; without an offset, Danish local time (as the contract reads it).

    >>> parse_time("2026-11-20T09:15:00+01:00").isoformat()
    '2026-11-20T09:15:00+01:00'
    >>> parse_time("2026-07-01T10:00:00").isoformat()   # Danish summer time
    '2026-07-01T08:00:00+00:00'
    >>> parse_time("2026-11-20")
    Traceback (most recent call last):
    ...
    ValueError: must be a date and time, e.g. 2026-11-20T09:15:00+01:00 (a date alone is not enough)
    """
    if "T" not in value.upper() and " " not in value:
        raise ValueError(
            f"must be a date and time, e.g. {_EXAMPLE_TIME} (a date alone is not enough)"
        )
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"is not an ISO 8601 date and time, e.g. {_EXAMPLE_TIME} or 2026-11-20T08:15:00Z"
        ) from None
    if parsed.tzinfo is None:
        return to_instant(parsed)
    return parsed


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def object_row(text: str, line: int | None = None) -> Row:
    """A report from one JSON object (a JSON Lines line, or the file of ``udb send``)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}" if line is None else f"column {exc.colno}"
        return Row(
            line or 0, None, (RowProblem(line, None, f"is not valid JSON: {exc.msg} ({where})"),)
        )
    if not isinstance(data, dict):
        return Row(
            line or 0,
            None,
            (RowProblem(line, None, f"must be a JSON object, not {_json_type(data)}"),),
        )
    return report_of(data, line)
