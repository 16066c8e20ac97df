"""What UDB holds, as rows in the columns of ``udb send-batch`` (``udb fetch --out``).

Each :class:`~udb.client.FetchedPerson` becomes one row: the columns of a
``send-batch`` row (:data:`~udb.client.batch.fields.COLUMNS`, in that order),
then, per block, the system that reported it and when UDB received it, then
the person's status, and the ``Fejl`` code and text of a refused person:

=====================  ======================================================
column                 holds
=====================  ======================================================
cpr ... uddannelse_tid the blocks UDB holds, as ``udb send-batch`` reads them
                       (times as Danish local time with their offset)
kontakt_af             the system that reported the contact block
kontakt_modtaget       when UDB received it (UTC)
job_af, job_modtaget   the same for the job wish
uddannelse_af,         the same for the education wish
uddannelse_modtaget
status                 ``found`` (the blocks UDB holds, maybe none), ``unknown``
                       (14), ``not-allowed`` (86), ``over-age`` (15), or
                       ``refused`` (any other code)
code, text             FejlKode and FejlTekst of a refused person
=====================  ======================================================

CSV (a header line, UTF-8) or JSON Lines (one object a line, ``null`` for an
empty field). The file is written under a temporary name and renamed when it is
complete, so a failed run leaves no half file behind.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO

from udb.client import FetchedPerson
from udb.client.batch._csvio import fsync_dir
from udb.client.batch.fields import COLUMNS
from udb.client.batch.rows import Format
from udb.domain.clock import DANISH_TZ

SOURCE_COLUMNS = (
    "kontakt_af",
    "kontakt_modtaget",
    "job_af",
    "job_modtaget",
    "uddannelse_af",
    "uddannelse_modtaget",
)
FETCH_COLUMNS = (*COLUMNS, *SOURCE_COLUMNS, "status", "code", "text")
#: the status of a person answered with a Fejl, by its code
REFUSALS = {14: "unknown", 86: "not-allowed", 15: "over-age"}
FOUND = "found"
REFUSED = "refused"


def status_of(person: FetchedPerson) -> str:
    """``found``, or the status of its Fejl code."""
    if person.found:
        return FOUND
    return REFUSALS.get(int(person.code or 0), REFUSED)


def local_time(value: datetime) -> str:
    """A registration time as Danish local time with its offset (what ``send-batch`` reads)."""
    return value.astimezone(DANISH_TZ).isoformat()


def utc_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def fetched_row(person: FetchedPerson, institution: int) -> dict[str, str | None]:
    """The row of one person (see the module for the columns)."""
    row: dict[str, str | None] = dict.fromkeys(FETCH_COLUMNS)
    row.update(cpr=person.cpr, institution=str(institution), status=status_of(person))
    if not person.found:
        row.update(code=str(int(person.code or 0)), text=person.text)
        return row
    if person.contact is not None:
        contact = person.contact.value
        row.update(
            kontakt_navn=contact.name,
            kontakt_mail=contact.mail,
            kontakt_telefon=contact.phone,
            kontakt_tid=local_time(contact.registered_at),
            kontakt_af=person.contact.reported_by,
            kontakt_modtaget=utc_time(person.contact.received_at),
        )
    if person.job is not None:
        row.update(
            job=person.job.value.text,
            job_tid=local_time(person.job.value.registered_at),
            job_af=person.job.reported_by,
            job_modtaget=utc_time(person.job.received_at),
        )
    if person.education is not None:
        row.update(
            uddannelse=person.education.value.text,
            uddannelse_tid=local_time(person.education.value.registered_at),
            uddannelse_af=person.education.reported_by,
            uddannelse_modtaget=utc_time(person.education.received_at),
        )
    return row


class RowWriter:
    """Rows of ``columns`` into ``path`` (CSV or JSON Lines), complete or not at all.

    Use as a context manager: the rows go to a temporary file next to ``path``,
    which replaces ``path`` when the block ends without an exception (and is
    removed when it does not).
    """

    def __init__(self, path: Path, fmt: Format, columns: tuple[str, ...]) -> None:
        self.path = path
        self.fmt = fmt
        self.columns = columns
        self.temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        self._file: IO[str] | None = None
        self._csv: csv.DictWriter[str] | None = None
        self.rows = 0

    def __enter__(self) -> RowWriter:
        self._file = self.temporary.open("w", encoding="utf-8", newline="")
        if self.fmt == "csv":
            self._csv = csv.DictWriter(self._file, self.columns, lineterminator="\n")
            self._csv.writeheader()
        return self

    def write(self, row: dict[str, str | None]) -> None:
        if self._file is None:
            raise RuntimeError("the writer is not open")
        if self._csv is not None:
            self._csv.writerow({k: "" if v is None else v for k, v in row.items()})
        else:
            self._file.write(json.dumps({k: row.get(k) for k in self.columns}, ensure_ascii=False))
            self._file.write("\n")
        self.rows += 1

    def write_all(self, rows: Iterable[dict[str, str | None]]) -> None:
        for row in rows:
            self.write(row)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        file, self._file = self._file, None
        if file is None:
            return
        try:
            if exc_type is None:
                file.flush()
                os.fsync(file.fileno())
            file.close()
            if exc_type is None:
                os.replace(self.temporary, self.path)
                fsync_dir(self.path.parent)
        finally:
            self.temporary.unlink(missing_ok=True)
