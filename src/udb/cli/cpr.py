"""``udb cpr``: the register fed by the CPR office's extract files."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from udb.cli.common import database_option, open_migrated, refuse_test_environment
from udb.domain.clock import DANISH_TZ, utc_now
from udb.service.cpr_import import CprImportResult, ImportOutcome, import_extract
from udb.storage.records import CprImportRecord

_SHOWN_PROBLEMS = 200


class _Reporter:
    """Progress on a terminal as a bar (rich), elsewhere as a line every few seconds."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.bar: Progress | None = None
        self.task: TaskID | None = None
        self.last_line = 0.0

    def __enter__(self) -> _Reporter:
        if self.console.is_terminal:
            self.bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )
            self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)

    def __call__(self, phase: str, done: int, total: int) -> None:
        if self.bar is not None:
            if phase == "reading":
                if self.task is None:
                    self.task = self.bar.add_task("reading", total=total)
                self.bar.update(self.task, completed=done, total=total)
            elif done == 0:
                self.bar.stop()
                self.console.print("applying to the register ...")
            return
        now = time.monotonic()
        if phase == "reading" and now - self.last_line < 5 and done < total:
            return
        self.last_line = now
        if phase == "reading":
            share = 100 * done / total if total else 100
            click.echo(f"reading: {done:,} of {total:,} bytes ({share:.0f}%)", err=True)
        elif done == 0:
            click.echo("applying to the register ...", err=True)


@click.group()
def cpr() -> None:
    """The register of young people, fed by the CPR office's extract files."""


@cpr.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--full", is_flag=True, help="The file is the complete register.")
@click.option("--incremental", is_flag=True, help="Only the persons in the file change.")
@click.option("--force", is_flag=True, help="Apply a file older than the newest applied one.")
@database_option
def cpr_import(file: Path, full: bool, incremental: bool, force: bool, database_url: str) -> None:
    """Check FILE completely, then apply it to the register in one transaction.

    A full extract is the complete register: persons missing from it are no
    longer known (reports about them get 14; their contact and wish data are
    kept). An incremental extract changes only the persons it holds. Nothing is
    written if any record has a problem; every problem is listed.
    """
    if full == incremental:
        raise click.UsageError(
            "say whether the file is --full or --incremental"
            + (" (one of them, not both)" if full else "")
        )
    store = open_migrated(database_url)
    refuse_test_environment(store, "a CPR extract")
    console = Console(stderr=True)
    try:
        with _Reporter(console) as reporter:
            result = import_extract(
                store, file, full=full, force=force, now=utc_now(), progress=reporter
            )
    finally:
        store.close()
    _report(result, file, "full" if full else "incremental")


def _report(result: CprImportResult, file: Path, kind: str) -> None:
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if result.outcome is ImportOutcome.INVALID:
        for problem in result.problems[:_SHOWN_PROBLEMS]:
            click.echo(f"  {problem}", err=True)
        more = result.problem_count - min(len(result.problems), _SHOWN_PROBLEMS)
        if more > 0:
            click.echo(f"  ... and {more} more", err=True)
        raise click.ClickException(
            f"{result.problem_count} problem(s) in {file.name}; nothing was imported"
        )
    if result.outcome is ImportOutcome.ALREADY_APPLIED:
        when = "" if result.record is None else f" on {_local(result.record)}"
        click.echo(f"{file.name} was applied before{when}; nothing changed")
        return
    if result.outcome is ImportOutcome.ALREADY_APPLIED_AS_OTHER_KIND and result.record:
        raise click.ClickException(
            f"{file.name} was applied before on {_local(result.record)} as"
            f" --{result.record.kind}, so it was not applied as --{kind}: an extract file is"
            f" applied once (recognised by its content); nothing changed"
            + (
                "; for a complete register, import a full extract from the CPR office"
                if kind == "full"
                else ""
            )
        )
    if result.outcome is ImportOutcome.REFUSED_OLDER:
        produced = result.header.production_date if result.header else "?"
        raise click.ClickException(
            f"{file.name} was produced on {produced}, before the newest extract applied "
            f"({result.newest_applied}); nothing was imported (use --force to apply it anyway)"
        )
    record = result.record
    if record is None:  # pragma: no cover - APPLIED always carries its record
        raise click.ClickException("the import did not record what it applied")
    c = record.counts
    click.echo(
        f"{file.name} ({record.kind}, task {record.task_number}, produced "
        f"{record.production_date}): {record.persons} persons"
    )
    click.echo(
        f"  added {c.added}, changed {c.changed}, made non-resident {c.made_non_resident}, "
        f"unchanged {c.unchanged}, warnings {record.warnings}"
    )
    if record.kind == "full":
        click.echo(f"  no longer in the register: {c.unregistered}")


def _local(record: CprImportRecord) -> str:
    """When the file was applied, in Danish time."""
    return record.applied_at.astimezone(DANISH_TZ).isoformat(timespec="seconds")


@cpr.command("history")
@database_option
def cpr_history(database_url: str) -> None:
    """List the extract files applied to the register, oldest first."""
    store = open_migrated(database_url)
    try:
        with store.unit_of_work(readonly=True) as uow:
            records = uow.cpr_imports.list()
    finally:
        store.close()
    if not records:
        click.echo("no CPR extract has been applied")
        return
    table = Table(show_edge=False, box=None, pad_edge=False)
    for title in (
        "applied", "file", "kind", "task", "produced", "persons", "added", "changed",
        "non-resident", "unchanged", "unregistered", "warnings",
    ):  # fmt: skip
        table.add_column(title, justify="right" if title not in ("file", "kind") else "left")
    for r in records:
        c = r.counts
        table.add_row(
            _local(r),
            r.file_name + (" (forced)" if r.forced else ""),
            r.kind,
            r.task_number,
            r.production_date.isoformat(),
            *(str(v) for v in (r.persons, c.added, c.changed, c.made_non_resident, c.unchanged)),
            str(c.unregistered) if r.kind == "full" else "-",
            str(r.warnings),
        )
    Console(file=sys.stdout, width=200).print(table)
