"""Options and helpers shared by the commands."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from udb.config import DEFAULT_DATABASE_URL
from udb.formats.csvfiles import RowError
from udb.service.register import ImportResult
from udb.service.testenv import is_test_environment
from udb.storage import StorageError, Store, open_store
from udb.storage.diagnose import DatabaseUnusable, probe
from udb.storage.records import ApplyCounts

F = TypeVar("F", bound=Callable[..., Any])


def database_option(func: F) -> F:
    return click.option(
        "--database",
        "database_url",
        envvar="UDB_DATABASE_URL",
        default=DEFAULT_DATABASE_URL,
        show_default=True,
        show_envvar=True,
        metavar="URL",
        help="Database URL (sqlite:///relative/path or sqlite:////absolute/path).",
    )(func)


def check_database(url: str) -> None:
    """Exit with one line if the database cannot be used: its URL (no password), why, what to do.

    One direct attempt (:func:`udb.storage.diagnose.probe`), so a wrong URL is
    told at once and by its cause, not after the pool's retries and timeout.
    """
    try:
        probe(url)
    except DatabaseUnusable as exc:
        raise click.ClickException(f"cannot open the database {exc}") from None
    except ValueError as exc:
        raise click.ClickException(f"cannot open the database: {exc}") from None


def open_migrated(url: str) -> Store:
    """Open the database and bring its schema up to date, or exit with a message."""
    check_database(url)
    try:
        store = open_store(url)
        store.migrate()
    except (ValueError, StorageError) as exc:
        raise click.ClickException(f"cannot open the database: {exc}") from exc
    return store


def report_errors(errors: Sequence[RowError], what: str) -> None:
    for error in errors:
        click.echo(f"  {error}", err=True)
    raise click.ClickException(f"{len(errors)} problem(s) in {what}; nothing was imported")


def report_import(result: ImportResult, what: str) -> None:
    if not result.ok:
        report_errors(result.errors, what)
    counts = result.counts or ApplyCounts()
    click.echo(
        f"{what}: {counts.added} added, {counts.changed} changed, {counts.unchanged} unchanged"
    )


def refuse_test_environment(store: Store, what: str) -> None:
    """Refuse (one line) to bring register data into a test environment: synthetic only."""
    if is_test_environment(store):
        store.close()
        raise click.ClickException(
            f"this database is a test environment (udb testenv): its register is synthetic "
            f"and {what} would mix real persons into it; nothing was imported"
        )
