"""``udb db``: the database's schema."""

from __future__ import annotations

import click

from udb.cli.common import check_database, database_option
from udb.storage import StorageError, open_store
from udb.storage.migrations import latest_version


@click.group()
def db() -> None:
    """The database: migrate the schema, check reachability and version."""


@db.command("migrate")
@database_option
def db_migrate(database_url: str) -> None:
    """Apply the schema migrations that are not applied yet (safe to run concurrently)."""
    check_database(database_url)
    try:
        store = open_store(database_url)
        try:
            applied = store.migrate()
            version = store.schema_version()
        finally:
            store.close()
    except (ValueError, StorageError) as exc:
        raise click.ClickException(f"cannot migrate the database: {exc}") from exc
    if applied:
        click.echo(f"applied migration(s) {', '.join(map(str, applied))}; schema version {version}")
    else:
        click.echo(f"schema version {version}: up to date")


@db.command("check")
@database_option
def db_check(database_url: str) -> None:
    """Check that the database answers and holds the current schema (exit 1 if not)."""
    check_database(database_url)
    try:
        store = open_store(database_url)
        try:
            version = store.schema_version()
        finally:
            store.close()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    except StorageError as exc:
        raise click.ClickException(f"the database does not answer: {exc}") from exc
    latest = latest_version()
    if version != latest:
        raise click.ClickException(
            f"schema version {version}, this release needs {latest}: run `udb db migrate`"
        )
    click.echo(f"database reachable ({store.dialect}); schema version {version}: up to date")
