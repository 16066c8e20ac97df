"""Why a database cannot be used (udb.storage.diagnose): libpq's messages, SQLite files."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest

from udb.storage.diagnose import DatabaseUnusable, display_url, explain_connect_error, probe

SERVER = 'connection failed: connection to server at "127.0.0.1", port 5432 failed: '


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://udb:pw@db:5432/udb", "postgresql://udb:***@db:5432/udb"),
        (
            "postgresql://udb:p%40ss@db/udb?sslmode=require",
            "postgresql://udb:***@db/udb?sslmode=require",
        ),
        (
            "postgres://udb@db/udb?sslpassword=x&password=y",
            "postgres://udb@db/udb?sslpassword=***&password=***",
        ),
        ("postgresql://udb@db/udb", "postgresql://udb@db/udb"),
        ("sqlite:////var/lib/udb/udb.sqlite3", "sqlite:////var/lib/udb/udb.sqlite3"),
    ],
)
def test_display_url_hides_the_password(url: str, shown: str) -> None:
    assert display_url(url) == shown


@pytest.mark.parametrize(
    ("message", "cause"),
    [
        (
            'connection failed: connection to server at "127.0.0.1", port 1 failed: Connection '
            "refused\n\tIs the server running on that host and accepting TCP/IP connections?",
            "connection refused: is PostgreSQL running on that host, and listening on that port?",
        ),
        (
            "failed to resolve host 'nohost.invalid': [Errno -2] Name or service not known",
            "unknown host nohost.invalid: check the host name in the database URL",
        ),
        (
            'could not translate host name "db.example" to address: Name or service not known',
            "unknown host db.example: check the host name in the database URL",
        ),
        (
            SERVER + "timeout expired",
            "no answer in time (connection timed out): check the host and port, and that a "
            "firewall lets the connection through",
        ),
        (
            SERVER + 'FATAL:  password authentication failed for user "udb"',
            'authentication failed for user "udb": check the user name and password (in the '
            "URL, PGPASSWORD or ~/.pgpass)",
        ),
        (
            SERVER + "fe_sendauth: no password supplied",
            "the server asks for a password and none was given: put it in the URL, PGPASSWORD "
            "or ~/.pgpass",
        ),
        (
            SERVER + 'FATAL:  role "nobody" does not exist',
            'role "nobody" does not exist: correct the user name in the database URL',
        ),
        (
            SERVER + 'FATAL:  database "x" does not exist',
            'database "x" does not exist: create it (createdb x) or correct the database URL',
        ),
        (
            SERVER + 'FATAL:  no pg_hba.conf entry for host "10.0.0.9", user "udb", database '
            '"udb", no encryption',
            "the server does not let this user in from here (no pg_hba.conf entry for host "
            '"10.0.0.9", user "udb", database "udb", no encryption)',
        ),
        (
            'invalid URI query parameter: "bogus"\n',
            'the database URL is not valid: invalid URI query parameter: "bogus"',
        ),
        (
            'connection is bad: invalid port number: "99999"',
            'the database URL is not valid: invalid port number: "99999"',
        ),
        (
            SERVER + "server does not support SSL, but SSL was required",
            "server does not support SSL, but SSL was required",
        ),
    ],
)
def test_libpq_messages_are_explained(message: str, cause: str) -> None:
    assert explain_connect_error(message) == cause


#: the probe answers at once; the pool it replaces waited its timeout (then 4 s) first
FAST_S = 2.0


def test_a_refused_connection_is_told_well_under_a_second() -> None:
    started = time.monotonic()
    with pytest.raises(DatabaseUnusable) as caught:
        probe("postgresql://nobody:secret@127.0.0.1:1/x")
    assert time.monotonic() - started < FAST_S
    assert str(caught.value) == (
        "postgresql://nobody:***@127.0.0.1:1/x: connection refused: is PostgreSQL running on "
        "that host, and listening on that port?"
    )


def test_an_unknown_host_is_told_well_under_a_second() -> None:
    started = time.monotonic()
    with pytest.raises(DatabaseUnusable, match=r"unknown host nohost\.invalid"):
        probe("postgresql://udb@nohost.invalid/udb")
    assert time.monotonic() - started < FAST_S


def test_a_url_open_store_refuses_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unsupported database URL scheme"):
        probe("mysql://udb@127.0.0.1/udb")


# SQLite ---------------------------------------------------------------------------


def _sqlite(path: Path) -> str:
    return "sqlite:///" + str(path)


def test_a_new_sqlite_file_passes_and_is_not_created(tmp_path: Path) -> None:
    probe(_sqlite(tmp_path / "new.sqlite3"))
    assert not (tmp_path / "new.sqlite3").exists()


def test_an_existing_sqlite_database_passes(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "udb.sqlite3") as db:
        db.execute("CREATE TABLE t (x)")
    db.close()
    probe(_sqlite(tmp_path / "udb.sqlite3"))


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        (
            "missing/udb.sqlite3",
            "the directory {d}/missing does not exist: create it, or correct the database URL",
        ),
        (".", "{d} is a directory, not a database file: correct the database URL"),
        ("notes.txt", "{d}/notes.txt is not a SQLite database: correct the database URL"),
    ],
)
def test_an_unusable_sqlite_path_is_named(tmp_path: Path, name: str, problem: str) -> None:
    (tmp_path / "notes.txt").write_text("not a database, but long enough to have a header\n" * 4)
    path = tmp_path / name if name != "." else tmp_path
    with pytest.raises(DatabaseUnusable) as caught:
        probe(_sqlite(path))
    assert str(caught.value) == f"{_sqlite(path)}: " + problem.format(d=tmp_path)


def test_a_read_only_sqlite_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "udb.sqlite3"
    sqlite3.connect(path).close()
    # (root may write any file: the file's mode alone cannot make this test's case)
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda p, mode: False if Path(p) == path else real_access(p, mode)
    )
    with pytest.raises(DatabaseUnusable) as caught:
        probe(_sqlite(path))
    assert str(caught.value) == (
        f"{_sqlite(path)}: {path} is read-only (or unreadable) for this user: make it writable "
        "(SQLite also writes its -wal and -shm files beside it)"
    )


def test_a_directory_where_no_database_can_be_created_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda p, mode: False if Path(p) == tmp_path else real_access(p, mode)
    )
    path = tmp_path / "udb.sqlite3"
    with pytest.raises(DatabaseUnusable) as caught:
        probe(_sqlite(path))
    assert str(caught.value) == (
        f"{_sqlite(path)}: cannot create the database in {tmp_path} (not writable): make the "
        "directory writable for this user, or correct the database URL"
    )
