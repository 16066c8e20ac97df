"""The results file of a batch (``udb send-batch``, :class:`~udb.client.batch.BatchRunner`).

``RESULTS.csv`` has one row per input row that was answered or failed::

    line,cpr,outcome,code,text,correlation_id,system_transaction_id
    2,150308-****,accepted,,,0b6f…,7d1c5e2a-…
    3,200210-****,rejected,14,Den unge findes ikke i Ungedatabasen,5e1a…,2a9b…
    4,150308-****,error,ConnectError,cannot connect: …,,91c3…

=========  ==========================================  ================================
outcome    code                                        text
=========  ==========================================  ================================
accepted   (empty)                                     (empty)
rejected   FejlKode: 14, 15, 86, 280, 101              FejlTekst (Danish, verbatim)
error      IPL000001-6 (a fault), HTTP nnn (not an     what went wrong; never personal
           answer of the service), ConnectError,       data
           TLSHandshakeError, TimeoutException,
           NetworkError (no answer)
=========  ==========================================  ================================

Rows are appended in input order as the answers come, each flushed at once, so
a run that is stopped keeps every answer it got; the file is fsync'd when the
run ends. A run with ``--resume`` appends the rows it sends again and then
rewrites the file (a new file, fsync'd, renamed over the old one) with one row
per line, in line order; until then the *last* row of a line counts.

``RESULTS.csv.journal`` (``line,system_transaction_id``,
:mod:`udb.client.batch.journal`) is the write-ahead log: each row's
transaction id is written to it, and fsync'd, *before* the row is handed to
the client, so even a run that is killed leaves the id of every report that
may have reached the service. It is removed when a run ends with every report
it handed out answered, and read by ``--resume`` otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from udb.client import (
    BatchItem,
    ErrorCode,
    FaultError,
    Result,
    TransportError,
    UdbError,
    UnexpectedResponse,
)
from udb.client.batch._csvio import ResultsError, cells_of, encode_line, fsync_dir
from udb.client.batch.journal import Journal

HEADER = (
    "line",
    "cpr",
    "outcome",
    "code",
    "text",
    "correlation_id",
    "system_transaction_id",
)
OUTCOMES = ("accepted", "rejected", "error")
#: longest text kept in a row (a schema fault can list many violations)
MAX_TEXT = 1000


@dataclass(frozen=True, slots=True)
class ResultRow:
    line: int
    cpr: str  # masked
    outcome: str
    code: str
    text: str
    correlation_id: str
    system_transaction_id: str

    @property
    def definitive(self) -> bool:
        return definitive(self.outcome, self.code)


def definitive(outcome: str, code: str) -> bool:
    """Whether a row is answered for good: accepted, or rejected with any code but 101.

    Such a row is never sent again: a hard rejection would get the same answer,
    a soft one (280) must be corrected and sent as a new transaction.
    """
    return outcome == "accepted" or (outcome == "rejected" and code != str(int(ErrorCode.INTERNAL)))


def result_fields(result: Result) -> tuple[str, str, str]:
    """(outcome, code, text) of an answer."""
    if result.accepted:
        return "accepted", "", ""
    return "rejected", "" if result.code is None else str(int(result.code)), result.text or ""


def error_fields(error: UdbError) -> tuple[str, str, str]:
    """(code, text, correlation id) of an error: the IPL code, ``HTTP nnn`` or the kind."""
    if isinstance(error, FaultError):
        code = error.error_code or f"HTTP {error.http_status}"
        what = error.details or error.error_message
        text = f"{error.reason}: {what}" if what else error.reason
        return code, one_line(text), error.correlation_id or ""
    if isinstance(error, UnexpectedResponse):
        return f"HTTP {error.http_status}", one_line(str(error)), error.correlation_id or ""
    if isinstance(error, TransportError):
        return type(error).__name__, one_line(str(error)), ""
    return type(error).__name__, one_line(str(error)), ""


def row_of(item: BatchItem, line: int, cpr: str) -> ResultRow:
    """The result row of one batch item."""
    stid = item.system_transaction_id or ""
    if item.result is not None:
        outcome, code, text = result_fields(item.result)
        return ResultRow(line, cpr, outcome, code, text, item.result.correlation_id, stid)
    error = item.error if item.error is not None else UdbError("no result")
    code, text, correlation = error_fields(error)
    return ResultRow(line, cpr, "error", code, text, correlation, stid)


def one_line(text: str) -> str:
    """``text`` on one line, at most :data:`MAX_TEXT` characters (every row is one line)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_TEXT else flat[: MAX_TEXT - 1] + "…"


@dataclass(slots=True)
class Loaded:
    """What a resumed run needs to know of the results so far.

    ``entries``: line -> (offset of its last row, masked CPR number, answered for
    good); ``stids``: line -> the transaction id to send it under again (``None``:
    a new one) for every line that needs sending again, from the rows and the journal.
    """

    entries: dict[int, tuple[int, str, bool]] = field(default_factory=dict)
    stids: dict[int, str | None] = field(default_factory=dict)
    ordered: bool = True
    last_line: int = 0


class ResultsFile:
    """``RESULTS.csv`` and ``RESULTS.csv.journal``: load, append, finish."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.journal_path = path.with_name(path.name + ".journal")
        self.journal = Journal(self.journal_path)
        self.loaded: Loaded | None = None
        self._out: IO[bytes] | None = None
        self._ordered = True
        self._last_line = 0
        self.appended = 0

    # reading ------------------------------------------------------------------------

    def load(self) -> Loaded:
        """Read the rows and the journal left by earlier runs (a torn last line is cut off)."""
        loaded = Loaded()
        if self.path.exists():
            self._load_rows(loaded)
        if self.journal.exists():
            for line, stid in self.journal.load().items():
                entry = loaded.entries.get(line)
                if entry is None or not entry[2]:
                    loaded.stids[line] = stid
        self.loaded = loaded
        return loaded

    def _load_rows(self, loaded: Loaded) -> None:
        with self.path.open("r+b") as file:
            header = file.readline()
            if not header:
                return
            if cells_of(header) != list(HEADER):
                raise ResultsError(
                    f"{self.path} is not a results file of udb send-batch "
                    f"(its first line must be {','.join(HEADER)})"
                )
            offset = len(header)
            for number, raw in enumerate(file, start=2):
                if not raw.endswith(b"\n"):
                    file.truncate(offset)  # the row being written when a run was killed
                    break
                row = _row(raw, f"{self.path} line {number}")
                if row.line <= loaded.last_line:
                    loaded.ordered = False
                loaded.last_line = max(loaded.last_line, row.line)
                loaded.entries[row.line] = (offset, row.cpr, row.definitive)
                if row.definitive:
                    loaded.stids.pop(row.line, None)
                else:
                    reuse = row.system_transaction_id and row.code != "IPL000005"
                    loaded.stids[row.line] = row.system_transaction_id if reuse else None
                offset += len(raw)

    def rows(self) -> Iterator[ResultRow]:
        """The row of each line (streamed; if the file could not be put in order, the last)."""
        if not self._ordered:
            last = {row.line: row for row in self._rows()}
            yield from (last[line] for line in sorted(last))
            return
        yield from self._rows()

    def _rows(self) -> Iterator[ResultRow]:
        with self.path.open("rb") as file:
            file.readline()
            for number, raw in enumerate(file, start=2):
                if raw.endswith(b"\n"):
                    yield _row(raw, f"{self.path} line {number}")

    # writing ------------------------------------------------------------------------

    def open(self) -> None:
        """Open for appending (a new file gets the header); then :meth:`write`, :meth:`note`."""
        new = not self.path.exists() or self.path.stat().st_size == 0
        self._out = self.path.open("ab")
        if new:
            self._out.write(encode_line(HEADER))
            self._out.flush()
            os.fsync(self._out.fileno())
            fsync_dir(self.path.parent)
        if self.loaded is not None:
            self._ordered, self._last_line = self.loaded.ordered, self.loaded.last_line

    def note(self, entries: Iterable[tuple[int, str]]) -> None:
        """Write (line, transaction id) pairs to the journal, durably, before they are sent."""
        self.journal.note(entries)

    def write(self, row: ResultRow) -> None:
        """Append one row and flush it (it survives the process, if not the machine)."""
        if self._out is None:
            raise RuntimeError("the results file is not open")
        offset = self._out.tell()
        self._out.write(encode_line(_cells(row)))
        self._out.flush()
        self.appended += 1
        if row.line <= self._last_line:
            self._ordered = False
        self._last_line = max(self._last_line, row.line)
        if self.loaded is not None:
            self.loaded.entries[row.line] = (offset, row.cpr, row.definitive)

    def finish(self, *, clean: bool) -> None:
        """fsync the rows; put them in line order if needed; drop the journal if ``clean``.

        ``clean``: every report handed to the client was answered and written.
        """
        if self._out is not None:
            self._out.flush()
            os.fsync(self._out.fileno())
            self._out.close()
            self._out = None
        self.journal.close()
        if not self._ordered and self.loaded is not None:
            self._compact(self.loaded)
        if clean:
            self.journal.remove()

    def close(self) -> None:
        """Close without finishing (after an error); what was written stays."""
        if self._out is not None:
            self._out.close()
            self._out = None
        self.journal.close()

    def _compact(self, loaded: Loaded) -> None:
        """Rewrite the file with the last row of each line, in line order, atomically."""
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            with self.path.open("rb") as source, temporary.open("wb") as target:
                target.write(encode_line(HEADER))
                for line in sorted(loaded.entries):
                    offset = loaded.entries[line][0]
                    source.seek(offset)
                    target.write(source.readline())
                target.flush()
                os.fsync(target.fileno())
            os.replace(temporary, self.path)
        finally:
            temporary.unlink(missing_ok=True)
        fsync_dir(self.path.parent)
        self._ordered = True


def _cells(row: ResultRow) -> tuple[str, ...]:
    return (
        str(row.line),
        row.cpr,
        row.outcome,
        row.code,
        one_line(row.text),
        row.correlation_id,
        row.system_transaction_id,
    )


def _row(raw: bytes, where: str) -> ResultRow:
    cells = cells_of(raw)
    if len(cells) != len(HEADER) or not cells[0].isdigit() or cells[2] not in OUTCOMES:
        raise ResultsError(f"{where}: not a result row of udb send-batch")
    line, cpr, outcome, code, text, correlation_id, stid = cells
    return ResultRow(int(line), cpr, outcome, code, text, correlation_id, stid)
