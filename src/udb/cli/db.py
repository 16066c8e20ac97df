"""``udb db``: the database's schema."""

from __future__ import annotations

import os
import shlex
import sqlite3
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import click

from udb.cli.common import check_database, database_option
from udb.storage import StorageError, open_store
from udb.storage.migrations import latest_version
from udb.storage.sqlite import SqliteStore


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


@db.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@database_option
def db_backup(file: Path, force: bool, database_url: str) -> None:
    """Copy the SQLite database to FILE, consistent even while the service writes.

    SQLite's online backup copies the database as of one moment, the
    write-ahead log included (a plain cp of the open file may miss it). It
    writes a temporary file next to FILE and renames it, so FILE is either the
    complete backup or not there. A PostgreSQL database is backed up with
    pg_dump: the command says how.
    """
    if urlsplit(database_url).scheme in ("postgresql", "postgres"):
        raise click.ClickException(
            "udb db backup copies SQLite databases; back up PostgreSQL with pg_dump, e.g.: "
            + _pg_dump_command(database_url, file)
        )
    try:
        store = open_store(database_url)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if not isinstance(store, SqliteStore):  # pragma: no cover - the two schemes above
        raise click.ClickException("udb db backup copies SQLite databases only")
    source = Path(store.path)
    if not source.is_file():
        raise click.ClickException(f"there is no SQLite database at {source}; nothing to back up")
    if file.resolve() == source.resolve():
        raise click.ClickException("FILE is the database itself; give another path")
    if file.exists() and not force:
        raise click.ClickException(f"{file} exists; nothing was written (--force replaces it)")
    if not file.parent.is_dir():
        raise click.ClickException(f"the directory {file.parent} does not exist")
    try:
        size, version = _sqlite_backup(source, file, force=force)
    except FileExistsError as exc:
        raise click.ClickException(f"{file} appeared meanwhile; nothing was written") from exc
    except (sqlite3.Error, OSError) as exc:
        reason = getattr(exc, "sqlite_errorname", None) or getattr(exc, "strerror", None) or exc
        raise click.ClickException(f"the backup failed ({reason}); {file} was not written") from exc
    finally:
        store.close()
    click.echo(f"backed up {source} to {file}: {size:,} bytes, schema version {version}")


def _sqlite_backup(source: Path, target: Path, *, force: bool) -> tuple[int, int]:
    """Back ``source`` up to ``target`` through a temporary file; its size and schema version."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    os.close(fd)
    partial = Path(name)
    try:
        src = sqlite3.connect(source.resolve().as_uri() + "?mode=rw", uri=True, timeout=30)
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)  # one step: a snapshot of one moment (mode=rw: never creates)
            dst.execute("PRAGMA journal_mode=DELETE")  # the backup is one self-contained file
            known = dst.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
            ).fetchone()
            row = (
                dst.execute("SELECT max(version) FROM schema_migrations").fetchone()
                if known
                else None
            )
            (check,) = dst.execute("PRAGMA quick_check").fetchone()
            if check != "ok":
                raise sqlite3.DatabaseError(f"the copy does not check out: {check}")
        finally:
            dst.close()
            src.close()
        with partial.open("rb") as handle:
            os.fsync(handle.fileno())
        if force:
            partial.replace(target)
        else:
            os.link(partial, target)  # fails if the target appeared meanwhile
            partial.unlink()
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return target.stat().st_size, int(row[0] or 0) if row else 0


def _pg_dump_command(database_url: str, file: Path) -> str:
    """The pg_dump command for ``database_url``, without its password or pool_size."""
    parts = urlsplit(database_url)
    netloc = parts.netloc.rpartition("@")
    host = netloc[2]
    user = netloc[0].partition(":")[0]
    query = "&".join(
        item
        for item in parts.query.split("&")
        if item and item.partition("=")[0] not in ("pool_size", "password")
    )
    url = urlunsplit(parts._replace(netloc=f"{user}@{host}" if user else host, query=query))
    return f"pg_dump --format=custom --file {shlex.quote(str(file))} {shlex.quote(url)}"
