"""``udb send-batch FILE --out RESULTS.csv``: many reports, checked first, resumable.

1. Every row of FILE (CSV or JSON Lines, :mod:`udb.client.batch.rows`) is checked
   by the SDK's rules; if any is bad, the bad rows are listed (line, column,
   reason; CPR numbers masked) and nothing is sent.
2. The rows are streamed through :meth:`UdbClient.send_many
   <udb.client.UdbClient.send_many>`; each row's transaction id is chosen and
   journalled before it is sent, and each answer is written to RESULTS.csv as
   it comes (:mod:`udb.client.batch.results`).
3. A summary of the outcomes by code follows, with the first row of each outcome
   but accepted (line, masked CPR number, CorrelationID, SystemTransactionID: what
   support asks for) and, on standard error, for the rows without an answer for
   good, whether they were stored and what to do (:mod:`udb.client.cli.advice`)::

       2 row(s) IPL000004: refused: nothing was stored; the signing certificate is not ...
       3 row(s) have no answer for good yet: run the same command with --resume to send
       them (again, under the same transaction ids); of these, 1 not stored (101, or no
       connection), 2 may have been stored (no answer came; ...)

``--resume`` continues a run: rows answered for good (accepted, or rejected
with 14, 15, 86 or 280) are kept and not sent again; the others (no answer, a
fault, 101, or not sent yet) are sent, under their recorded transaction id
where they have one, so that the service's idempotency answers a report that
did reach it with its first answer and stores it once.

Ctrl-C stops taking new rows and waits for the reports under way (a second
Ctrl-C stops at once; the journal keeps their ids for ``--resume``).

The work is :class:`udb.client.batch.BatchRunner`'s; this command presents
its events (problems, a progress bar, the summary table) and turns Ctrl-C
into :meth:`~udb.client.batch.BatchRunner.request_stop`.

Exit status: 0 every row accepted; 1 some row rejected (14, 15, 86, 280) and
every row answered; 2 a usage problem, bad rows (nothing sent), or rows left
without an answer for good (no answer, a fault, 101, not sent).
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import click

from udb.client import ConnectError, UdbClient, UdbError
from udb.client.batch import (
    Answered,
    BatchRunner,
    BatchSummary,
    Checked,
    Finished,
    Format,
    InputError,
    ResultsError,
    Started,
    format_of,
)
from udb.client.cli.advice import REFUSED_CODES, RESUME, batch_advice
from udb.client.cli.progress import BatchProgress, print_first_rows, print_table
from udb.client.cli.settings import Connection, Failure, Network, connection_options, resolve

_SHOWN_PROBLEMS = 200


@click.command("send-batch")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    metavar="RESULTS.csv",
    help="Where the result of each row is written (one row per input row).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="Reports under way at once.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the run that wrote RESULTS.csv: send only the rows without an answer "
    "for good, under their recorded transaction ids.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl"]),
    help="The format of FILE (default: by its ending, .csv or .jsonl).",
)
@connection_options
def send_batch(
    file: Path,
    out: Path,
    concurrency: int,
    resume: bool,
    fmt: Format | None,
    config_file: Path | None,
    **options: Any,
) -> None:
    """Send every report in FILE (CSV or JSON Lines) and write the answers to RESULTS.csv.

    Every row is checked first; if any is bad, nothing is sent. Exit status 0
    if every row was accepted, 1 if some were rejected, 2 for a usage problem
    or rows left without an answer (run again with --resume).
    """
    fmt = fmt or format_of(file)
    if fmt is None:
        raise click.UsageError("say --format csv or --format jsonl (FILE ends in neither)")
    if out.exists() and out.resolve() == file.resolve():
        raise click.UsageError("--out must not be FILE itself")
    if not out.parent.is_dir():
        raise Failure(f"the directory of --out does not exist: {out.parent}")
    connection = resolve(options, config_file)
    runner = BatchRunner(file, out, fmt=fmt, resume=resume, concurrency=concurrency)
    if not resume:
        for existing in (out, runner.results.journal_path):
            if existing.exists():
                raise Failure(
                    f"{existing} already exists: add --resume to continue that run (rows "
                    "answered for good are not sent again), or choose another --out"
                )
    click.get_current_context().exit(run_batch(runner, connection))


def run_batch(runner: BatchRunner, connection: Connection) -> int:
    """Check, send and summarise a batch (as ``udb send-batch`` does); its exit status.

    Raises :class:`Failure` for bad rows (nothing sent) and for what stops the run.
    """
    file, out = runner.file, runner.results.path
    try:
        checked = _check(runner)
    except (InputError, ResultsError) as exc:
        raise Failure(str(exc)) from None
    except OSError as exc:
        raise Failure(f"cannot use {exc.filename or out}: {exc.strerror}") from None
    except KeyboardInterrupt:
        raise Failure("interrupted while checking the rows; nothing was sent") from None
    if checked.bad:
        raise Failure(f"{checked.bad} bad row(s) in {file}; nothing was sent")
    network = click.get_current_context().find_object(Network)
    client = connection.open(network)
    seen: dict[str, UdbError] = {}
    try:
        summary = _send(runner, client, seen)
    except InputError as exc:
        raise Failure(str(exc)) from None
    except OSError as exc:
        raise Failure(
            f"cannot write {exc.filename or out}: {exc.strerror}; what was written stays, "
            "run again with --resume"
        ) from None
    except KeyboardInterrupt:
        raise Failure("interrupted; run again with --resume") from None
    finally:
        client.close()
    return _summarise(summary, seen)


# 1. check -------------------------------------------------------------------------------


def _check(runner: BatchRunner) -> Checked:
    """List the problems of the bad rows (the first 200) on standard error, as they are found."""
    shown = 0
    counted = False

    def count_the_rest() -> None:
        nonlocal counted
        if shown > _SHOWN_PROBLEMS and not counted:
            click.echo(f"  ... and {shown - _SHOWN_PROBLEMS} more problem(s)", err=True)
        counted = True

    for event in runner.check():
        if isinstance(event, Checked):
            count_the_rest()
            return event
        if event.line is None:  # the results file does not belong to FILE
            count_the_rest()
            click.echo(f"  {event}", err=True)
            continue
        if shown < _SHOWN_PROBLEMS:
            click.echo(f"  {event}", err=True)
        shown += 1
    raise RuntimeError("the check ended without its count")  # pragma: no cover


# 2. send ------------------------------------------------------------------------------


def _send(runner: BatchRunner, client: UdbClient, seen: dict[str, UdbError]) -> BatchSummary:
    """Draw the progress of the sending; Ctrl-C asks the runner to stop (a second: at once).

    ``seen`` gets the first error of each code, for the advice of the summary.

    A Ctrl-C that stops at once while an event is drawn goes to the runner,
    which finishes the results file (keeping the journal) and ends with its
    summary, as when the Ctrl-C comes while it waits for an answer.
    """
    events = runner.send(client)
    progress: BatchProgress | None = None
    stop: _Stop | None = None
    interrupted = False
    try:
        while True:
            try:
                event = events.throw(KeyboardInterrupt()) if interrupted else next(events)
            except StopIteration:
                raise RuntimeError("the run ended without its summary") from None
            interrupted = False
            try:
                if isinstance(event, Started):
                    progress = BatchProgress(event.to_send).__enter__()
                    stop = _Stop(runner, progress).__enter__()
                elif isinstance(event, Answered):
                    if event.item.error is not None:
                        seen.setdefault(event.row.code, event.item.error)
                    if progress is not None:
                        progress.advance()
                elif isinstance(event, Finished):
                    return event.summary
            except KeyboardInterrupt:
                interrupted = True
    finally:
        if stop is not None:
            stop.__exit__()
        if progress is not None:
            progress.__exit__()


class _Stop:
    """Ctrl-C (SIGINT) while sending: the first asks the runner to stop (and says so), the
    next stops at once (KeyboardInterrupt), as does one after the last answer."""

    def __init__(self, runner: BatchRunner, progress: BatchProgress) -> None:
        self.runner = runner
        self.progress = progress
        self._installed = False
        self._previous: Any = None

    def __enter__(self) -> _Stop:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.runner.stop_requested or not self.runner.sending:
            raise KeyboardInterrupt
        self.runner.request_stop()
        self.progress.say(
            f"stopping: waiting for the {self.runner.under_way} report(s) under way "
            "(Ctrl-C again to stop at once)"
        )

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False


# 3. summary -----------------------------------------------------------------------------


def _summarise(summary: BatchSummary, seen: dict[str, UdbError]) -> int:
    """Print the outcomes of every row of FILE by code, and what to do; the exit status."""
    print_table(summary)
    print_first_rows(summary)
    click.echo(
        f"{summary.rows} row(s) in {summary.file.name}: {summary.accepted} accepted, "
        f"{summary.rejected} rejected, {summary.errors} without an answer, {summary.missing} "
        f"not sent; {summary.sent} sent in this run; results in {summary.results}"
    )
    if summary.interrupted:
        click.echo(
            "stopped at once: the reports under way may or may not have been stored",
            err=True,
        )
    elif summary.stopped:
        click.echo("stopped by Ctrl-C", err=True)
    refused = 0
    for (outcome, code), (count, _) in sorted(summary.counts.items()):
        if outcome == "error" and code in REFUSED_CODES:
            refused += count
            click.echo(f"{count} row(s) {code}: {batch_advice(code, seen.get(code))}", err=True)
    unanswered = summary.unanswered
    if unanswered > refused:
        click.echo(
            f"{unanswered - refused} row(s) have no answer for good yet: {RESUME} to send them "
            f"(again, under the same transaction ids){_stored_parts(summary, refused)}",
            err=True,
        )
    if summary.soft:
        click.echo(
            f"{summary.soft} row(s) got 280 (soft): correct the times and send those rows as a "
            "new batch (another --out, new transaction ids)",
            err=True,
        )
    if unanswered:
        return 2
    return 1 if summary.rejected else 0


def _stored_parts(summary: BatchSummary, refused: int) -> str:
    """How many of the rows to send again were not stored, may have been, or were not sent."""
    unconnected = summary.counts.get(("error", ConnectError.__name__), (0, ""))[0]
    not_stored = summary.retry + unconnected
    unknown = summary.errors - refused - unconnected
    parts = [
        f"{not_stored} not stored (101, or no connection)" if not_stored else "",
        f"{unknown} may have been stored (no answer came; the service stores each at most once)"
        if unknown
        else "",
        f"{summary.missing} not sent" if summary.missing else "",
    ]
    shown = [part for part in parts if part]
    return "; of these, " + ", ".join(shown) if shown else ""
