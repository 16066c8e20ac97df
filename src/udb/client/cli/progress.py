"""What ``udb send-batch`` draws: the progress of the sending and the summary table.

On a terminal (rich) a bar with rows done, rate and time left, and a table with
rules and colours; otherwise a line on standard error every few seconds::

    sent 1,200 of 5,000 (24%), 38.2/s, about 1 min 39 s left

and the table as plain columns::

    outcome   code  kind   rows  text
    accepted                  2
    rejected  14    hard      1  Den unge findes ikke i Ungedatabasen
"""

from __future__ import annotations

import time

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

from udb.client.batch import BatchSummary

#: seconds between progress lines when stderr is not a terminal
_PLAIN_EVERY = 5.0
_KINDS = {"14": "hard", "15": "hard", "86": "hard", "280": "soft", "101": "retry"}


def print_table(summary: BatchSummary) -> None:
    """The rows by outcome and code (and the rows not sent), on standard output."""
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
        summary.counts.items(), key=lambda kv: (order[kv[0][0]], _code_key(kv[0][1]))
    ):
        kind = _KINDS.get(code, "hard") if outcome == "rejected" else ""
        shown = text if len(text) <= 80 else text[:79] + "…"
        style = {"accepted": "green", "rejected": "yellow", "error": "red"}[outcome]
        table.add_row(Text(outcome, style=style if terminal else ""), code, kind, str(count), shown)
    missing = summary.missing
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


def print_first_rows(summary: BatchSummary) -> None:
    """The first row of each outcome but accepted, with the ids to quote to support::

    first row of each outcome (every row is in results.csv):
      rejected 14  line 3 (200210-****)  CorrelationID 5e1a…  SystemTransactionID 2a9b…
    """
    order = {"rejected": 1, "error": 2}
    groups = sorted(
        (key for key in summary.first if key[0] in order),
        key=lambda key: (order[key[0]], _code_key(key[1])),
    )
    if not groups:
        return
    click.echo(f"first row of each outcome (every row is in {summary.results.name}):")
    width = max(len(f"{outcome} {code}") for outcome, code in groups)
    for outcome, code in groups:
        row = summary.first[(outcome, code)]
        click.echo(
            f"  {f'{outcome} {code}':<{width}}  line {row.line} ({row.cpr or '-'})  "
            f"CorrelationID {row.correlation_id or '-'}  "
            f"SystemTransactionID {row.system_transaction_id or '-'}"
        )


def _code_key(code: str) -> tuple[int, str]:
    return (int(code), "") if code.isdigit() else (1 << 30, code)


class _RateColumn(ProgressColumn):
    """Rows per second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-/s" if speed is None else f"{speed:,.1f}/s")


class BatchProgress:
    """A bar with rate and ETA on a terminal (rich), otherwise a line every few seconds."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.console = Console(stderr=True)
        self.bar: Progress | None = None
        self.task: TaskID | None = None
        self.started = time.monotonic()
        self.last_line = self.started

    def __enter__(self) -> BatchProgress:
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
