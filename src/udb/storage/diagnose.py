"""Why a database cannot be used, in one line, before a command opens it.

:func:`probe` is what the command line asks first: for PostgreSQL one direct
connection with the connect timeout (no pool, so no retries and no pool
warnings), for SQLite a look at the file and its directory. A failure is a
:class:`DatabaseUnusable` whose message names the URL without its password
(:func:`display_url`), the cause and what to do::

    postgresql://nobody@127.0.0.1:1/x: connection refused: is PostgreSQL running
    on that host, and listening on that port?

The service itself never probes: during an outage its pool keeps trying, and
each report is answered 101 within the pool's timeout.
"""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import psycopg

from udb.storage import open_store
from udb.storage.base import StorageError
from udb.storage.postgresql.store import CONNECT_TIMEOUT_S, PostgresStore
from udb.storage.sqlite import SqliteStore

#: query parameters of a libpq URL whose value is a secret
_SECRET_PARAMETERS = frozenset({"password", "sslpassword"})
_TIMED_OUT = (
    "no answer in time (connection timed out): check the host and port, "
    "and that a firewall lets the connection through"
)


class DatabaseUnusable(StorageError):
    """The database cannot be used; the message says why and what to do (no password)."""


def display_url(url: str) -> str:
    """``url`` as it may be shown: any password replaced by ``***``.

    >>> display_url("postgresql://udb:s3cret@db.example.dk:5432/udb?sslmode=require")
    'postgresql://udb:***@db.example.dk:5432/udb?sslmode=require'
    >>> display_url("postgresql://udb@db/udb?password=s3cret")
    'postgresql://udb@db/udb?password=***'
    >>> display_url("sqlite:////var/lib/udb/udb.sqlite3")
    'sqlite:////var/lib/udb/udb.sqlite3'
    """
    parts = urlsplit(url)
    netloc = parts.netloc
    userinfo, at, hosts = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.partition(':')[0]}:***@{hosts}"
    query = "&".join(
        f"{key}=***" if unquote(key) in _SECRET_PARAMETERS else item
        for item in filter(None, parts.query.split("&"))
        for key in (item.partition("=")[0],)
    )
    if netloc == parts.netloc and query == "&".join(filter(None, parts.query.split("&"))):
        return url  # nothing secret (and sqlite:////path keeps its four slashes)
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def probe(url: str) -> None:
    """Raise :class:`DatabaseUnusable` if the database at ``url`` cannot be used.

    Passing says only that a command may go on: the server answered and let
    us in, or the SQLite file is a database (or can be created) and can be
    written. ``ValueError`` for a URL :func:`~udb.storage.open_store` refuses.
    """
    store = open_store(url)
    try:
        if isinstance(store, SqliteStore):
            problem = _sqlite_problem(Path(store.path))
        elif isinstance(store, PostgresStore):
            problem = _postgres_problem(store.conninfo)
        else:  # pragma: no cover - open_store makes only these two
            problem = None
    finally:
        store.close()
    if problem:
        raise DatabaseUnusable(f"{display_url(url)}: {problem}")


# SQLite ---------------------------------------------------------------------------


def _sqlite_problem(path: Path) -> str | None:
    parent = path.parent
    if not parent.is_dir():
        return f"the directory {parent} does not exist: create it, or correct the database URL"
    if path.is_dir():
        return f"{path} is a directory, not a database file: correct the database URL"
    if not path.exists():
        if not os.access(parent, os.W_OK):
            return (
                f"cannot create the database in {parent} (not writable): make the directory "
                "writable for this user, or correct the database URL"
            )
        return None
    if not os.access(path, os.R_OK | os.W_OK):
        return (
            f"{path} is read-only (or unreadable) for this user: make it writable "
            "(SQLite also writes its -wal and -shm files beside it)"
        )
    try:
        conn = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True)
        try:
            conn.execute("PRAGMA schema_version").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        name = getattr(exc, "sqlite_errorname", type(exc).__name__)
        if name == "SQLITE_NOTADB":
            return f"{path} is not a SQLite database: correct the database URL"
        return f"{path} cannot be read as a SQLite database ({name})"
    return None


# PostgreSQL -----------------------------------------------------------------------

#: libpq's prefix naming the server (the URL, shown instead, names it too)
_SERVER_PREFIX = re.compile(
    r'^(?:connection failed: )?connection to server at "[^"]*"(?:'
    r" \([^)]*\))?, port \d+ failed: "
)
_ROLE = re.compile(r'role "([^"]+)" does not exist')
_DATABASE = re.compile(r'database "([^"]+)" does not exist')
_HOST = re.compile(r"""(?:resolve host|translate host name) ['"]([^'"]+)['"]""")
_USER = re.compile(r'authentication failed for user "([^"]+)"')


def _postgres_problem(conninfo: str) -> str | None:
    keys = {unquote(i.partition("=")[0]) for i in urlsplit(conninfo).query.split("&")}
    # the URL's own connect_timeout wins (a None keyword is not passed to libpq)
    timeout = None if "connect_timeout" in keys else CONNECT_TIMEOUT_S
    try:
        psycopg.connect(
            conninfo, autocommit=True, application_name="udb", connect_timeout=timeout
        ).close()
    except psycopg.errors.ConnectionTimeout:
        return _TIMED_OUT
    except psycopg.Error as exc:
        return explain_connect_error(str(exc))
    return None


def explain_connect_error(message: str) -> str:
    """The cause of a failed connection, from libpq's message, and what to do.

    libpq gives no SQLSTATE for a connection the server refused, so the
    message is all there is to go by.

    >>> explain_connect_error('connection failed: connection to server at "127.0.0.1", '
    ...     'port 5432 failed: FATAL:  database "udb" does not exist')
    'database "udb" does not exist: create it (createdb udb) or correct the database URL'
    """
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    first = _SERVER_PREFIX.sub("", lines[0] if lines else "")
    first = re.sub(r"^(?:FATAL|ERROR):\s+", "", first)
    lowered = first.lower()
    if "connection refused" in lowered:
        return "connection refused: is PostgreSQL running on that host, and listening on that port?"
    if match := _HOST.search(first):
        return f"unknown host {match[1]}: check the host name in the database URL"
    if "timeout expired" in lowered:
        return _TIMED_OUT
    if match := _USER.search(first):
        return (
            f'authentication failed for user "{match[1]}": check the user name and '
            "password (in the URL, PGPASSWORD or ~/.pgpass)"
        )
    if "no password supplied" in lowered:
        return (
            "the server asks for a password and none was given: put it in the URL, "
            "PGPASSWORD or ~/.pgpass"
        )
    if match := _ROLE.search(first):
        return f'role "{match[1]}" does not exist: correct the user name in the database URL'
    if match := _DATABASE.search(first):
        return (
            f'database "{match[1]}" does not exist: create it (createdb {match[1]}) '
            "or correct the database URL"
        )
    if "pg_hba.conf" in lowered:
        return f"the server does not let this user in from here ({first})"
    if "invalid" in lowered and ("uri" in lowered or "option" in lowered or "port" in lowered):
        return f"the database URL is not valid: {re.sub(r'^connection is bad: ', '', first)}"
    return first or "the connection failed"


__all__ = ["DatabaseUnusable", "display_url", "explain_connect_error", "probe"]
