"""Batches from files: check every row, send, keep a results file, resume (``udb send-batch``).

A :class:`BatchRunner` reads a CSV or JSON Lines file of reports
(:mod:`udb.client.batch.rows`, the fields in :mod:`udb.client.batch.fields`),
checks every row before anything is sent, sends the rows through
:meth:`UdbClient.send_many <udb.client.UdbClient.send_many>`, journals each
transaction id before its report is sent (:mod:`udb.client.batch.journal`),
writes one result row per input row (:mod:`udb.client.batch.results`) and can
resume a run that was stopped or killed without storing any report twice. It
yields events (:mod:`udb.client.batch.events`) for a presenter to draw::

    from udb.client import UdbClient
    from udb.client.batch import Answered, BatchRunner, Checked, Finished, RowProblem

    runner = BatchRunner("reports.csv", "results.csv", concurrency=8)  # resume=True goes on
    with UdbClient("https://udb.example.dk", system_name="Vejledningssystem-Aarhus",
                   cert="client.pem", key="client-key.pem") as client:
        for event in runner.run(client):
            if isinstance(event, RowProblem):
                print(event)                     # line 3 (150308-****): job_tid: ...
            elif isinstance(event, Checked) and event.bad:
                print(f"{event.bad} bad row(s); nothing was sent")
            elif isinstance(event, Answered):
                print(event.row.line, event.row.outcome, event.row.code)
            elif isinstance(event, Finished):
                summary = event.summary
                print(summary.accepted, summary.rejected, summary.unanswered)

``results.csv`` then holds a row per input row::

    line,cpr,outcome,code,text,correlation_id,system_transaction_id
    2,150308-****,accepted,,,0b6f…,7d1c5e2a-…
    3,200210-****,rejected,14,Den unge findes ikke i Ungedatabasen,5e1a…,2a9b…

To stop midway, call :meth:`BatchRunner.request_stop` (from a signal handler,
another thread, or between events): no new rows are taken, the reports under
way are answered and written, and the run ends with :class:`Finished`
(``summary.stopped``). A later ``BatchRunner(..., resume=True)`` over the same
files sends the rows without an answer for good (no answer, a fault, 101, not
sent), each under the transaction id it was sent with before. A
``summary.unanswered`` of 0 means every row has its answer for good.

Reading back: :mod:`udb.client.batch.readback` writes what UDB holds as rows in
these columns (``udb fetch``), and :mod:`udb.client.batch.reconcile` compares a
file of the municipality's own current data with UDB's, writes a DIFF file with
each person's status and the rows to send, which a :class:`BatchRunner` sends
(``udb reconcile --send``).

This package uses neither click nor rich; the ``udb send-batch``, ``udb fetch``
and ``udb reconcile`` commands (:mod:`udb.client.cli`) only present its events.
"""

from udb.client.batch._csvio import ResultsError
from udb.client.batch.events import (
    Answered,
    BatchSummary,
    Checked,
    Event,
    Finished,
    Started,
    Stopping,
)
from udb.client.batch.fields import COLUMNS, Row, RowProblem, object_row, parse_time, report_of
from udb.client.batch.results import HEADER, ResultRow, ResultsFile
from udb.client.batch.rows import Format, InputError, format_of, read_rows
from udb.client.batch.runner import BatchRunner

__all__ = [
    "COLUMNS",
    "HEADER",
    "Answered",
    "BatchRunner",
    "BatchSummary",
    "Checked",
    "Event",
    "Finished",
    "Format",
    "InputError",
    "ResultRow",
    "ResultsError",
    "ResultsFile",
    "Row",
    "RowProblem",
    "Started",
    "Stopping",
    "format_of",
    "object_row",
    "parse_time",
    "read_rows",
    "report_of",
]
