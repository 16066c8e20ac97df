"""The batch runner: check every row, then send, journal, write results, resume.

1. :meth:`BatchRunner.check` reads every row of the input (CSV or JSON Lines,
   :mod:`udb.client.batch.rows`) and checks it by the SDK's rules; it yields
   each problem, then :class:`~udb.client.batch.events.Checked`. If any row is
   bad, nothing is to be sent.
2. :meth:`BatchRunner.send` streams the rows through :meth:`UdbClient.send_many
   <udb.client.UdbClient.send_many>`; each row's transaction id is chosen and
   journalled before it is handed to the client, and each answer is written to
   the results file as it comes (:mod:`udb.client.batch.results`).
3. :class:`~udb.client.batch.events.Finished` carries the summary of every row.

With ``resume=True`` a run continues the one that wrote the results file:
rows answered for good (accepted, or rejected with 14, 15, 86 or 280) are
kept and not sent again; the others (no answer, a fault, 101, or not sent
yet) are sent, under their recorded transaction id where they have one, so
that the service's idempotency answers a report that did reach it with its
first answer and stores it once.

:meth:`BatchRunner.request_stop` stops taking new rows: the reports under way
are answered and written, and the run finishes cleanly. A
:class:`KeyboardInterrupt` while sending (a second Ctrl-C) stops at once; the
journal keeps the ids of the reports under way for a resumed run.
"""

from __future__ import annotations

import collections
import contextlib
import os
import uuid
from collections.abc import Generator, Iterator
from pathlib import Path

from udb.client import Report, UdbClient
from udb.client._base import check_concurrency
from udb.client.batch._csvio import ResultsError
from udb.client.batch.events import (
    Answered,
    BatchSummary,
    Checked,
    CheckEvent,
    Event,
    Finished,
    SendEvent,
    Started,
    Stopping,
)
from udb.client.batch.fields import RowProblem
from udb.client.batch.results import Loaded, ResultRow, ResultsFile, row_of
from udb.client.batch.rows import Format, InputError, format_of, read_rows
from udb.domain import cpr as cprnr


class BatchRunner:
    """One run over the rows of ``file``, with its results in ``results``.

    ``fmt`` is ``"csv"`` or ``"jsonl"`` (default: by the file's ending);
    ``concurrency`` reports are under way at once. A runner runs once:
    :meth:`run` (or :meth:`check`, then :meth:`send`).
    """

    def __init__(
        self,
        file: str | os.PathLike[str],
        results: str | os.PathLike[str],
        *,
        fmt: Format | None = None,
        resume: bool = False,
        concurrency: int = 8,
    ) -> None:
        self.file = Path(file)
        found = fmt or format_of(self.file)
        if found not in ("csv", "jsonl"):
            raise ValueError("fmt must be 'csv' or 'jsonl' (the file ends in neither)")
        self.fmt: Format = found
        self.results = ResultsFile(Path(results))
        self.resume = resume
        self.concurrency = check_concurrency(concurrency)
        self.loaded: Loaded | None = None
        #: rows in the file, bad rows, rows to send, rows sent (so far)
        self.rows = 0
        self.bad = 0
        self.to_send = 0
        self.sent = 0
        self.stopped = False
        self.interrupted = False
        self._checked = False
        self._stamp: tuple[int, int] = (0, 0)
        self._stop = False
        self._sending = False
        self._changed_at: int | None = None
        #: (line, masked CPR number) of each report handed to the client and not yet answered
        self._under_way: collections.deque[tuple[int, str]] = collections.deque()

    # control -----------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Take no new rows; the reports under way are still answered and written.

        Safe to call from a signal handler, another thread or between events.
        """
        self._stop = True

    @property
    def stop_requested(self) -> bool:
        return self._stop

    @property
    def sending(self) -> bool:
        """Whether reports are being handed out and answered (from Started to the last answer)."""
        return self._sending

    @property
    def under_way(self) -> int:
        """Reports handed to the client whose answers have not been written yet."""
        return len(self._under_way)

    def run(self, client: UdbClient) -> Generator[Event, None, None]:
        """:meth:`check`, then (if no row is bad) :meth:`send`."""
        yield from self.check()
        if not self.bad:
            yield from self.send(client)

    # 1. check ---------------------------------------------------------------------------

    def check(self) -> Generator[CheckEvent, None, None]:
        """Read every row; yield each problem, then :class:`Checked`.

        Raises :class:`InputError` (the input cannot be read), :class:`ResultsError`
        (the results file is not one of a batch, or exists and ``resume`` is false)
        and :class:`OSError`.
        """
        if not self.resume:
            for existing in (self.results.path, self.results.journal_path):
                if existing.exists():
                    raise ResultsError(
                        f"{existing} already exists: resume the run that wrote it, "
                        "or choose another results file"
                    )
        self.loaded = self.results.load() if self.resume else None
        self._stamp = _stamp(self.file)
        last_line = 0
        entries = self.loaded.entries if self.loaded is not None else {}
        for row in read_rows(self.file, self.fmt):
            self.rows += 1
            last_line = row.line
            problems = list(row.problems)
            entry = entries.get(row.line)
            if entry is not None and row.report is not None and entry[1] != row.masked_cpr:
                problems.append(
                    RowProblem(
                        row.line,
                        "cpr",
                        f"is not the CPR number of line {row.line} in {self.results.path.name} "
                        f"({entry[1]}): are those the results of another file?",
                        row.masked_cpr,
                    )
                )
            if problems:
                self.bad += 1
                yield from problems
            elif entry is None or not entry[2]:
                self.to_send += 1
        beyond = [line for line in entries if line > last_line]
        if beyond:
            self.bad += 1
            yield RowProblem(
                None,
                None,
                f"{self.results.path.name} has rows for line {min(beyond)} and later, but "
                f"{self.file.name} ends at line {last_line}: are those the results of "
                "another file?",
            )
        self._checked = True
        yield Checked(self.rows, self.bad, self.to_send)

    # 2. send ----------------------------------------------------------------------------

    def send(self, client: UdbClient) -> Generator[SendEvent, None, None]:
        """Send the rows to send; write every answer at once; end with :class:`Finished`.

        Raises :class:`InputError` when the input changed after it was checked
        (before sending: nothing was sent; while sending: what was written
        stays, resume to go on) and :class:`OSError` when the results cannot
        be written. Closing the iterator early finishes the results file and
        keeps the journal, as a stop at once does.
        """
        if not self._checked or self.bad:
            raise RuntimeError("check() first; a batch with bad rows is not sent")
        if _stamp(self.file) != self._stamp:
            raise InputError(f"{self.file} changed after it was checked; nothing was sent")
        clean = False
        self.results.open()
        try:
            self._sending = True
            yield Started(self.to_send)
            announced = False
            items = client.send_many(self._inputs(), self.concurrency)
            with contextlib.closing(items):
                for item in items:
                    line, masked = self._under_way.popleft()
                    row = row_of(item, line, masked)
                    self.results.write(row)
                    self.sent += 1
                    yield Answered(row, item)
                    if self._stop and not announced:
                        announced = True
                        yield Stopping(len(self._under_way))
            self._sending = False
            clean = True  # every report handed to the client was answered and written
            self.stopped = self._stop
            if self._stop and not announced:
                yield Stopping(0)
        except KeyboardInterrupt:
            self.interrupted = True
        finally:
            self._sending = False
            try:
                self.results.finish(clean=clean)
            except KeyboardInterrupt:
                self.interrupted = True
        if self._changed_at is not None:
            raise InputError(
                f"{self.file} changed while it was being sent (line {self._changed_at}); "
                "fix it and run again with --resume"
            )
        yield Finished(self.summary())

    def _inputs(self) -> Iterator[tuple[Report, str]]:
        """The rows to send, each with its transaction id, journalled before it is handed out."""
        chunk: list[tuple[int, Report, str]] = []
        loaded = self.loaded
        for row in read_rows(self.file, self.fmt):
            if self._stop:
                return
            if row.report is None:
                self._changed_at = row.line
                return
            stid: str | None = None
            if loaded is not None:
                entry = loaded.entries.get(row.line)
                if entry is not None and entry[2]:
                    continue
                stid = loaded.stids.get(row.line)
            chunk.append((row.line, row.report, stid or str(uuid.uuid4())))
            if len(chunk) >= self.concurrency:
                yield from self._release(chunk)
                chunk = []
        if chunk and not self._stop:
            yield from self._release(chunk)

    def _release(self, chunk: list[tuple[int, Report, str]]) -> Iterator[tuple[Report, str]]:
        self.results.note((line, stid) for line, _, stid in chunk)
        for line, report, stid in chunk:
            if self._stop:
                return
            self._under_way.append((line, cprnr.mask(report.cpr)))
            yield report, stid

    # 3. summary ---------------------------------------------------------------------------

    def summary(self) -> BatchSummary:
        """The outcomes of every row of the input, from the results file."""
        counts: dict[tuple[str, str], tuple[int, str]] = {}
        first: dict[tuple[str, str], ResultRow] = {}
        for row in self.results.rows():
            count, text = counts.get((row.outcome, row.code), (0, row.text))
            counts[(row.outcome, row.code)] = (count + 1, text)
            first.setdefault((row.outcome, row.code), row)
        return BatchSummary(
            file=self.file,
            results=self.results.path,
            rows=self.rows,
            counts=counts,
            sent=self.sent,
            stopped=self.stopped,
            interrupted=self.interrupted,
            first=first,
        )


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns
