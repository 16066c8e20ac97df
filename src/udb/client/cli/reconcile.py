"""``udb reconcile LOCAL --institution N --out DIFF.csv [--send [--resume]]``.

Compares the municipality's own current data (LOCAL, in the ``udb send-batch``
format: one row per young person) with what UDB holds, and writes DIFF.csv, one row
per person: ``same``, ``missing``, ``differs`` (and which blocks), ``newer-in-udb``,
``unknown`` (14), ``not-allowed`` (86), ``over-age`` (15)
(:mod:`udb.client.batch.reconcile`). Every row of LOCAL is checked first, as
``send-batch`` checks it; if any is bad nothing is fetched. A summary by status goes
to the terminal (counts only, never a CPR number)::

    status        persons
    same                3
    missing             1
    differs             1
    blocks not the same: job 1
    5 person(s) of LOCAL.csv reconciled with UDB; every person in DIFF.csv

``--send`` also writes the rows to send (the blocks UDB lacks or holds older, of the
persons ``missing`` or ``differs``) to ``DIFF.send.csv`` and sends them as new reports
exactly as ``udb send-batch DIFF.send.csv --out DIFF.results.csv`` does: journalled,
with their results in ``DIFF.results.csv``. ``--send --resume`` continues that sending
(the same rows, under their recorded transaction ids; LOCAL is not compared again).
Reconcile again afterwards to see everything ``same``.

Exit status: 0 every person ``same``; 1 differences found (also when ``--send`` sent
them: reconcile again to confirm); 2 a usage problem, bad rows, a failed read, or rows
left without an answer by ``--send`` (run again with ``--send --resume``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from udb.client import UdbError
from udb.client.batch import BatchRunner, InputError, ResultsError
from udb.client.batch.fields import RowProblem
from udb.client.batch.reconcile import (
    BLOCKS,
    STATUSES,
    LocalChecked,
    Reconciler,
    ReconcileSummary,
    read_summary,
    results_path,
    send_path,
)
from udb.client.batch.rows import Format, format_of
from udb.client.cli.advice import read_failure
from udb.client.cli.fetch import INSTITUTIONS
from udb.client.cli.send_batch import run_batch
from udb.client.cli.settings import Connection, Failure, Network, connection_options, resolve

_SHOWN_PROBLEMS = 200
#: seconds between progress lines while comparing
_PROGRESS_EVERY = 5.0
_ADVICE = {
    "newer-in-udb": "UDB holds later blocks than LOCAL: nothing is sent; look at them in the "
    "municipal system",
    "unknown": "not in UDB's register (14): check the CPR numbers",
    "not-allowed": "UDB refuses them (86): not persons of the institution's municipality, "
    "or the system may not read for it",
    "over-age": "25 or older (15): UDB holds nothing for them",
    "refused": "UDB answered with another FejlKode (see DIFF.csv)",
}


@click.command("reconcile")
@click.argument("local", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--institution",
    type=INSTITUTIONS,
    required=True,
    metavar="N",
    help="KUI institution number of the municipality (every row's institution).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    metavar="DIFF.csv",
    help="Where each person's status is written.",
)
@click.option(
    "--send",
    is_flag=True,
    help="Send the missing and older blocks as new reports (DIFF.send.csv, results "
    "in DIFF.results.csv).",
)
@click.option(
    "--resume",
    is_flag=True,
    help="With --send: continue the sending of an earlier run (LOCAL is not compared again).",
)
@click.option("--force", is_flag=True, help="Replace DIFF.csv (and its files) of an earlier run.")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="Reports under way at once (--send).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl"]),
    help="The format of LOCAL (default: by its ending).",
)
@connection_options
def reconcile(
    local: Path,
    institution: int,
    out: Path,
    send: bool,
    resume: bool,
    force: bool,
    concurrency: int,
    fmt: Format | None,
    config_file: Path | None,
    **options: Any,
) -> None:
    """Compare LOCAL (the send-batch format) with what UDB holds; write DIFF.csv.

    Exit status 0 all the same, 1 differences found, 2 a usage problem, bad rows, a
    failed read or reports left without an answer.
    """  # fmt: skip
    fmt = fmt or format_of(local)
    if fmt is None:
        raise click.UsageError("say --format csv or --format jsonl (LOCAL ends in neither)")
    if resume and not send:
        raise click.UsageError("--resume continues a --send: give both")
    if out.exists() and out.resolve() == local.resolve():
        raise click.UsageError("--out must not be LOCAL itself")
    if not out.parent.is_dir():
        raise Failure(f"the directory of --out does not exist: {out.parent}")
    connection = resolve(options, config_file)
    results = results_path(out)
    if resume:
        if not out.exists() or not send_path(out).exists():
            raise Failure(f"nothing to resume: {out} or {send_path(out)} does not exist")
        summary = _read(out)
        _print_summary(summary, local)
    else:
        _refuse_existing(out, force)
        summary = _reconcile(Reconciler(local, out, institution, fmt=fmt), connection, send)
        _print_summary(summary, local)
    code = 0 if summary.same else 1
    if send and summary.to_send:
        click.echo(f"sending {summary.to_send} row(s) of {send_path(out).name} as new reports")
        runner = BatchRunner(
            send_path(out), results, fmt="csv", resume=resume, concurrency=concurrency
        )
        code = 2 if run_batch(runner, connection) == 2 else 1
    click.get_current_context().exit(code)


def _refuse_existing(out: Path, force: bool) -> None:
    results = results_path(out)
    journal = results.with_name(results.name + ".journal")
    if journal.exists():
        raise Failure(
            f"{journal} exists: an earlier --send did not finish; add --send --resume to "
            "continue it"
        )
    existing = [p for p in (out, send_path(out), results) if p.exists()]
    if existing and not force:
        raise Failure(
            f"{existing[0]} already exists: add --force to replace it, --send --resume to "
            "continue its sending, or choose another --out"
        )
    if force:
        send_path(out).unlink(missing_ok=True)
        results.unlink(missing_ok=True)


def _read(out: Path) -> ReconcileSummary:
    try:
        return read_summary(out)
    except (OSError, ValueError, KeyError) as exc:
        raise Failure(f"cannot resume from {out}: {exc}") from None


def _reconcile(reconciler: Reconciler, connection: Connection, send: bool) -> ReconcileSummary:
    """Check LOCAL (listing the bad rows), then fetch, compare and write."""
    try:
        checked = _check(reconciler)
    except InputError as exc:
        raise Failure(str(exc)) from None
    except OSError as exc:
        raise Failure(f"cannot read {exc.filename or reconciler.local}: {exc.strerror}") from None
    if checked.bad:
        raise Failure(f"{checked.bad} bad row(s) in {reconciler.local}; nothing was fetched")
    network = click.get_current_context().find_object(Network)
    progress = _Progress(checked.rows)
    try:
        with connection.open(network) as client:
            events = reconciler.compare(client, send=send)
            while True:
                try:
                    next(events)
                except StopIteration as stop:
                    summary: ReconcileSummary = stop.value
                    return summary
                progress.advance()
    except UdbError as error:
        raise Failure(f"{read_failure(error)}; {reconciler.diff} was not written") from None
    except (InputError, ResultsError) as exc:
        raise Failure(str(exc)) from None
    except OSError as exc:
        raise Failure(f"cannot write {exc.filename or reconciler.diff}: {exc.strerror}") from None
    except KeyboardInterrupt:
        raise Failure(f"interrupted; {reconciler.diff} was not written") from None


class _Progress:
    """A line on standard error every few seconds while a long LOCAL is compared."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.last = time.monotonic()

    def advance(self) -> None:
        self.done += 1
        now = time.monotonic()
        if now - self.last >= _PROGRESS_EVERY:
            self.last = now
            click.echo(f"compared {self.done:,} of {self.total:,} person(s)", err=True)


def _check(reconciler: Reconciler) -> LocalChecked:
    shown = 0
    for event in reconciler.check():
        if isinstance(event, RowProblem):
            if shown < _SHOWN_PROBLEMS:
                click.echo(f"  {event}", err=True)
            shown += 1
            continue
        if shown > _SHOWN_PROBLEMS:
            click.echo(f"  ... and {shown - _SHOWN_PROBLEMS} more problem(s)", err=True)
        return event
    raise RuntimeError("the check ended without its count")  # pragma: no cover


def _print_summary(summary: ReconcileSummary, local: Path) -> None:
    """Persons by status and the blocks not the same (counts only, never a CPR number)."""
    click.echo(f"{'status':<14}{'persons':>8}")
    for status in STATUSES:
        if summary.counts.get(status):
            click.echo(f"{status:<14}{summary.counts[status]:>8}")
    blocks = [f"{b} {summary.blocks[b]}" for b in BLOCKS if summary.blocks.get(b)]
    if blocks:
        click.echo(f"blocks not the same: {', '.join(blocks)}")
    click.echo(
        f"{summary.persons} person(s) of {local.name} reconciled with UDB; every person in "
        f"{summary.diff}"
    )
    for status, advice in _ADVICE.items():
        if summary.counts.get(status):
            click.echo(f"{summary.counts[status]} {status}: {advice}", err=True)
