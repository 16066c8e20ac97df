"""What a :class:`~udb.client.batch.BatchRunner` yields while it runs, and its summary.

A run yields, in this order::

    RowProblem ...      checking: each problem of a bad row (line, column, reason;
                        ``line=None``: the results file does not belong to the input)
    Checked             every row read; if ``bad``, nothing is sent and the run ends here
    Started             sending begins: ``to_send`` rows
    Answered ...        one per row, as its result row is written to the results file
    Stopping            (after :meth:`~udb.client.batch.BatchRunner.request_stop`) no new
                        rows are taken; the reports under way are still answered
    Finished            the results file is complete; ``summary`` counts every row

No event holds more personal data than the results file: CPR numbers are
masked (``150308-****``). Only :attr:`Answered.item` holds the report itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeAlias

from udb.client import BatchItem, ErrorCode
from udb.client.batch.fields import RowProblem
from udb.client.batch.results import ResultRow


@dataclass(frozen=True, slots=True)
class Checked:
    """Every row of the input was read and checked.

    ``rows``: rows in the file; ``bad``: rows with a problem (and 1 more if the
    results file belongs to another input); ``to_send``: good rows without an
    answer for good yet (on a resumed run, fewer than the good rows).
    """

    rows: int
    bad: int
    to_send: int


@dataclass(frozen=True, slots=True)
class Started:
    """Sending begins; ``to_send`` rows will be sent unless the run is stopped."""

    to_send: int


@dataclass(frozen=True, slots=True)
class Answered:
    """One row's outcome, already written (and flushed) to the results file."""

    row: ResultRow
    item: BatchItem


@dataclass(frozen=True, slots=True)
class Stopping:
    """A stop was requested: no new rows are taken; ``under_way`` reports are still awaited."""

    under_way: int


@dataclass(frozen=True, slots=True)
class BatchSummary:
    """The outcome of every row of the input, as the results file holds it after a run.

    ``counts`` maps (outcome, code) to (rows, the text of the first such row),
    e.g. ``("rejected", "14") -> (3, "Den unge findes ikke i Ungedatabasen")``, and
    ``first`` to the first such row (its line, masked CPR number, CorrelationID and
    transaction id, to quote to support); ``sent`` counts the rows sent in this run.
    ``stopped``: the run was asked to stop and ended cleanly; ``interrupted``: it
    stopped at once (a second Ctrl-C), and the reports under way may or may not have
    been stored.
    """

    file: Path
    results: Path
    rows: int
    counts: Mapping[tuple[str, str], tuple[int, str]]
    sent: int
    stopped: bool = False
    interrupted: bool = False
    first: Mapping[tuple[str, str], ResultRow] = field(default_factory=dict)

    def total(self, outcome: str) -> int:
        """Rows with ``outcome`` (``accepted``, ``rejected`` or ``error``)."""
        return sum(n for (o, _), (n, _) in self.counts.items() if o == outcome)

    @property
    def accepted(self) -> int:
        return self.total("accepted")

    @property
    def rejected(self) -> int:
        """Rejected rows, with any FejlKode (101 included)."""
        return self.total("rejected")

    @property
    def errors(self) -> int:
        """Rows without an answer: no answer came, a fault, or not an answer of the service."""
        return self.total("error")

    @property
    def missing(self) -> int:
        """Rows not sent (the run was stopped before them)."""
        return self.rows - sum(n for n, _ in self.counts.values())

    @property
    def retry(self) -> int:
        """Rows rejected with 101: not stored, to send again under the same transaction id."""
        return self.counts.get(("rejected", str(int(ErrorCode.INTERNAL))), (0, ""))[0]

    @property
    def soft(self) -> int:
        """Rows rejected with 280: to correct and send as new transactions."""
        return self.counts.get(("rejected", str(int(ErrorCode.FUTURE_REGISTRATION))), (0, ""))[0]

    @property
    def unanswered(self) -> int:
        """Rows without an answer for good: a resumed run sends them (again)."""
        return self.errors + self.retry + self.missing


@dataclass(frozen=True, slots=True)
class Finished:
    """The run ended; the results file is complete and durable."""

    summary: BatchSummary


#: what :meth:`BatchRunner.check <udb.client.batch.BatchRunner.check>` yields
CheckEvent: TypeAlias = RowProblem | Checked
#: what :meth:`BatchRunner.send <udb.client.batch.BatchRunner.send>` yields
SendEvent: TypeAlias = Started | Answered | Stopping | Finished
#: any event of a run
Event: TypeAlias = CheckEvent | SendEvent
