"""``udb send-batch FILE --out RESULTS.csv``: many reports, checked first, resumable.

1. Every row of FILE (CSV or JSON Lines, :mod:`udb.cli.reportrows`) is checked
   by the SDK's rules; if any is bad, the bad rows are listed (line, column,
   reason; CPR numbers masked) and nothing is sent.
2. The rows are streamed through :meth:`UdbClient.send_many
   <udb.client.UdbClient.send_many>`; each row's transaction id is chosen and
   journalled before it is sent, and each answer is written to RESULTS.csv as
   it comes (:mod:`udb.cli.results`).
3. A summary of the outcomes by code follows.

``--resume`` continues a run: rows answered for good (accepted, or rejected
with 14, 15, 86 or 280) are kept and not sent again; the others (no answer, a
fault, 101, or not sent yet) are sent, under their recorded transaction id
where they have one, so that the service's idempotency answers a report that
did reach it with its first answer and stores it once.

Ctrl-C stops taking new rows and waits for the reports under way (a second
Ctrl-C stops at once; the journal keeps their ids for ``--resume``).

Exit status: 0 every row accepted; 1 some row rejected (14, 15, 86, 280) and
every row answered; 2 a usage problem, bad rows (nothing sent), or rows left
without an answer for good (no answer, a fault, 101, not sent).
"""

from __future__ import annotations

import collections
import contextlib
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from udb.cli.connection import Failure, Network, connection_options, resolve
from udb.cli.reportrows import Format, InputError, RowProblem, format_of, read_rows
from udb.cli.results import Loaded, ResultRow, ResultsError, ResultsFile, row_of
from udb.client import Report, UdbClient
from udb.domain import cpr as cprnr
from udb.domain.model import ErrorCode

_SHOWN_PROBLEMS = 200
#: seconds between progress lines when stderr is not a terminal
_PLAIN_EVERY = 5.0


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
    results = ResultsFile(out)
    if not resume:
        for existing in (out, results.journal_path):
            if existing.exists():
                raise Failure(
                    f"{existing} already exists: add --resume to continue that run (rows "
                    "answered for good are not sent again), or choose another --out"
                )
    try:
        loaded = results.load() if resume else None
        batch = _Batch(file, fmt, results, loaded, concurrency)
        batch.check()
    except (InputError, ResultsError) as exc:
        raise Failure(str(exc)) from None
    except OSError as exc:
        raise Failure(f"cannot use {exc.filename or out}: {exc.strerror}") from None
    except KeyboardInterrupt:
        raise Failure("interrupted while checking the rows; nothing was sent") from None
    if batch.bad:
        raise Failure(f"{batch.bad} bad row(s) in {file}; nothing was sent")
    network = click.get_current_context().find_object(Network)
    client = connection.open(network)
    try:
        batch.send(client)
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
    click.get_current_context().exit(batch.summarise())


@dataclass(slots=True)
class _Tally:
    """Rows by (outcome, code), with the text of the first of each."""

    counts: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    rows: int = 0

    def add(self, row: ResultRow) -> None:
        self.rows += 1
        entry = self.counts.setdefault((row.outcome, row.code), [0, row.text])
        entry[0] += 1

    def total(self, outcome: str) -> int:
        return sum(n for (o, _), (n, _) in self.counts.items() if o == outcome)


class _Batch:
    def __init__(
        self,
        file: Path,
        fmt: Format,
        results: ResultsFile,
        loaded: Loaded | None,
        concurrency: int,
    ) -> None:
        self.file = file
        self.fmt = fmt
        self.results = results
        self.loaded = loaded
        self.concurrency = concurrency
        self.rows = 0
        self.bad = 0
        self.to_send = 0
        self.sent = 0
        self.stamp: tuple[int, int] = (0, 0)
        self.interrupted = False
        self.stopped = False
        self.changed_at: int | None = None

    # 1. check ---------------------------------------------------------------------------

    def check(self) -> None:
        """Read every row; list the bad ones (the first 200); count what is to be sent."""
        self.stamp = _stamp(self.file)
        shown = 0
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
                for problem in problems:
                    if shown < _SHOWN_PROBLEMS:
                        click.echo(f"  {problem}", err=True)
                    shown += 1
            elif entry is None or not entry[2]:
                self.to_send += 1
        if shown > _SHOWN_PROBLEMS:
            click.echo(f"  ... and {shown - _SHOWN_PROBLEMS} more problem(s)", err=True)
        beyond = [line for line in entries if line > last_line]
        if beyond:
            self.bad += 1
            click.echo(
                f"  {self.results.path.name} has rows for line {min(beyond)} and later, but "
                f"{self.file.name} ends at line {last_line}: are those the results of "
                "another file?",
                err=True,
            )

    # 2. send ----------------------------------------------------------------------------

    def send(self, client: UdbClient) -> None:
        """Send the rows to send; every answer goes to the results file at once."""
        if _stamp(self.file) != self.stamp:
            raise InputError(f"{self.file} changed after it was checked; nothing was sent")
        lines: collections.deque[tuple[int, str]] = collections.deque()
        clean = False
        self.results.open()
        try:
            with (
                _Progress(self.to_send) as progress,
                _Stop(
                    lambda: progress.say(
                        f"stopping: waiting for the {len(lines)} report(s) under way "
                        "(Ctrl-C again to stop at once)"
                    )
                ) as stop,
            ):
                items = client.send_many(self._inputs(stop, lines), self.concurrency)
                with contextlib.closing(items):
                    for item in items:
                        line, masked = lines.popleft()
                        self.results.write(row_of(item, line, masked))
                        self.sent += 1
                        progress.advance()
                clean = True
                self.stopped = stop.requested
        except KeyboardInterrupt:
            self.interrupted = True
        finally:
            try:
                self.results.finish(clean=clean)
            except KeyboardInterrupt:
                self.interrupted = True
        if self.changed_at is not None:
            raise InputError(
                f"{self.file} changed while it was being sent (line {self.changed_at}); "
                "fix it and run again with --resume"
            )

    def _inputs(
        self, stop: _Stop, lines: collections.deque[tuple[int, str]]
    ) -> Iterator[tuple[Report, str]]:
        """The rows to send, each with its transaction id, journalled before it is handed out."""
        chunk: list[tuple[int, Report, str]] = []
        loaded = self.loaded
        for row in read_rows(self.file, self.fmt):
            if stop.requested:
                return
            if row.report is None:
                self.changed_at = row.line
                return
            stid: str | None = None
            if loaded is not None:
                entry = loaded.entries.get(row.line)
                if entry is not None and entry[2]:
                    continue
                stid = loaded.stids.get(row.line)
            chunk.append((row.line, row.report, stid or str(uuid.uuid4())))
            if len(chunk) >= self.concurrency:
                yield from self._release(chunk, stop, lines)
                chunk = []
        if chunk and not stop.requested:
            yield from self._release(chunk, stop, lines)

    def _release(
        self,
        chunk: list[tuple[int, Report, str]],
        stop: _Stop,
        lines: collections.deque[tuple[int, str]],
    ) -> Iterator[tuple[Report, str]]:
        self.results.note((line, stid) for line, _, stid in chunk)
        for line, report, stid in chunk:
            if stop.requested:
                return
            lines.append((line, cprnr.mask(report.cpr)))
            yield report, stid

    # 3. summary ---------------------------------------------------------------------------

    def summarise(self) -> int:
        """Print the outcomes of every row of FILE by code; the exit status."""
        tally = _Tally()
        for row in self.results.rows():
            tally.add(row)
        missing = self.rows - tally.rows
        _print_table(tally, missing)
        accepted, rejected, errors = (tally.total(o) for o in ("accepted", "rejected", "error"))
        retry = tally.counts.get(("rejected", str(int(ErrorCode.INTERNAL))), [0])[0]
        soft = tally.counts.get(("rejected", str(int(ErrorCode.FUTURE_REGISTRATION))), [0])[0]
        click.echo(
            f"{self.rows} row(s) in {self.file.name}: {accepted} accepted, {rejected} rejected, "
            f"{errors} without an answer, {missing} not sent; {self.sent} sent in this run; "
            f"results in {self.results.path}"
        )
        if self.interrupted:
            click.echo(
                "stopped at once: the reports under way may or may not have been stored",
                err=True,
            )
        elif self.stopped:
            click.echo("stopped by Ctrl-C", err=True)
        unanswered = errors + retry + missing
        if unanswered:
            click.echo(
                f"{unanswered} row(s) have no answer for good yet: run the same command with "
                "--resume to send them (again, under the same transaction ids)",
                err=True,
            )
        if soft:
            click.echo(
                f"{soft} row(s) got 280 (soft): correct the times and send those rows as a new "
                "batch (another --out, new transaction ids)",
                err=True,
            )
        if unanswered:
            return 2
        return 1 if rejected else 0


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


_KINDS = {"14": "hard", "15": "hard", "86": "hard", "280": "soft", "101": "retry"}


def _print_table(tally: _Tally, missing: int) -> None:
    console = Console()
    terminal = console.is_terminal
    table = Table(
        box=box.SIMPLE_HEAD if terminal else None,
        show_edge=terminal,
        pad_edge=False,
        header_style="bold" if terminal else "",
    )
    for title, justify in (
        ("outcome", "left"),
        ("code", "left"),
        ("kind", "left"),
        ("rows", "right"),
        ("text", "left"),
    ):
        table.add_column(title, justify=justify)  # type: ignore[arg-type]
    order = {"accepted": 0, "rejected": 1, "error": 2}
    for (outcome, code), (count, text) in sorted(
        tally.counts.items(), key=lambda kv: (order[kv[0][0]], _code_key(kv[0][1]))
    ):
        kind = _KINDS.get(code, "hard") if outcome == "rejected" else ""
        shown = text if len(text) <= 80 else text[:79] + "…"
        style = {"accepted": "green", "rejected": "yellow", "error": "red"}[outcome]
        table.add_row(Text(outcome, style=style if terminal else ""), code, kind, str(count), shown)
    if missing:
        table.add_row(Text("not sent", style="red" if terminal else ""), "", "", str(missing), "")
    if not table.rows:
        return
    if terminal:
        console.print(table)
        return
    plain = Console(width=200, no_color=True, highlight=False)
    with plain.capture() as captured:
        plain.print(table)
    for line in captured.get().splitlines():
        click.echo(line.rstrip())


def _code_key(code: str) -> tuple[int, str]:
    return (int(code), "") if code.isdigit() else (1 << 30, code)


class _Stop:
    """Ctrl-C (SIGINT) while sending: the first asks to stop (and calls ``announce``),
    the next stops at once (KeyboardInterrupt)."""

    def __init__(self, announce: Callable[[], None]) -> None:
        self.announce = announce
        self.requested = False
        self._installed = False
        self._previous: Any = None

    def __enter__(self) -> _Stop:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.announce()

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)


class _RateColumn(ProgressColumn):
    """Rows per second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-/s" if speed is None else f"{speed:,.1f}/s")


class _Progress:
    """A bar with rate and ETA on a terminal (rich), otherwise a line every few seconds."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.console = Console(stderr=True)
        self.bar: Progress | None = None
        self.task: TaskID | None = None
        self.started = time.monotonic()
        self.last_line = self.started

    def __enter__(self) -> _Progress:
        if self.console.is_terminal:
            self.bar = Progress(
                TextColumn("[bold]sending"),
                BarColumn(),
                MofNCompleteColumn(),
                _RateColumn(),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=self.console,
            )
            self.bar.__enter__()
            self.task = self.bar.add_task("sending", total=self.total)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
        elif self.done:
            self._line()

    def advance(self) -> None:
        self.done += 1
        if self.bar is not None and self.task is not None:
            self.bar.advance(self.task)
            return
        now = time.monotonic()
        if now - self.last_line >= _PLAIN_EVERY:
            self.last_line = now
            self._line()

    def say(self, message: str) -> None:
        if self.bar is not None:
            self.bar.console.print(message)
        else:
            click.echo(message, err=True)

    def _line(self) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.done / elapsed
        share = 100 * self.done / self.total if self.total else 100
        left = (self.total - self.done) / rate if rate else 0
        click.echo(
            f"sent {self.done:,} of {self.total:,} ({share:.0f}%), {rate:,.1f}/s, "
            f"about {_duration(left)} left",
            err=True,
        )


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
