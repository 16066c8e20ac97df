"""SQLite adapter: the embedded default.

One connection per thread, opened on first use, with these settings on connect:

* ``journal_mode=WAL``: readers (Ping, ``udb persons show``) never wait for the
  writer, and a commit appends to the log instead of rewriting pages;
* ``synchronous=FULL``: every commit is fsynced to the WAL before the answer
  goes out, so an answered report survives a power cut (NORMAL would not);
* ``foreign_keys=ON``: SQLite does not enforce them otherwise;
* ``busy_timeout``: a writer waits for another writer instead of failing at once;
* transactions start with ``BEGIN IMMEDIATE``: a unit of work takes the write
  lock up front, so two writers never deadlock upgrading a read lock; a
  read-only unit of work starts with a plain ``BEGIN`` and ``query_only`` on,
  and takes no write lock.

Every statement is the shared SQL of :mod:`udb.storage.sql`; this module holds
the connections and the register's staging table (a temporary table of the
connection, so filling it takes no lock on the database file).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Any

from udb.domain.model import Person
from udb.storage import migrations
from udb.storage.base import IntegrityError, StorageError, Store
from udb.storage.records import StagedRegister
from udb.storage.sql import unit_of_work
from udb.storage.sql.dialect import Params, SqlConnection, SqliteDialect
from udb.storage.sql.persons import PERSON_COLUMNS, STAGING, new_token, person_values
from udb.storage.sql.unit_of_work import SqlUnitOfWork

DEFAULT_BUSY_TIMEOUT_S = 5.0
DIALECT = SqliteDialect()


@contextmanager
def _translated() -> Iterator[None]:
    """Turn driver errors into :class:`StorageError`."""
    try:
        yield
    except sqlite3.IntegrityError as exc:
        raise IntegrityError(f"constraint violated: {exc.sqlite_errorname}") from exc
    except sqlite3.Error as exc:
        name = getattr(exc, "sqlite_errorname", type(exc).__name__)
        raise StorageError(f"SQLite failed: {name}") from exc


class _Connection(sqlite3.Connection):
    """A connection whose statements fail with :class:`StorageError`, never a driver error."""

    query_only: bool | None = None

    def set_query_only(self, value: bool) -> None:
        """Switch ``PRAGMA query_only``, only when it changes.

        Setting a pragma makes SQLite discard the connection's prepared
        statements; doing it for every unit of work would recompile them all.
        """
        if self.query_only is not value:
            self.execute(f"PRAGMA query_only={int(value)}")
            self.query_only = value

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        with _translated():
            return super().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        with _translated():
            return super().executemany(sql, parameters)

    def one(self, sql: str, params: Params = ()) -> tuple[Any, ...] | None:
        with _translated():
            row: tuple[Any, ...] | None = super().execute(sql, params).fetchone()
        return row

    def all(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        with _translated():
            return super().execute(sql, params).fetchall()

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.executemany(sql, rows)


def _stage(db: SqlConnection, persons: Iterable[Person], token: str) -> int:
    """Stream ``persons`` into this connection's temporary staging table under ``token``.

    The table lives in SQLite's temp storage: filling it in a transaction of its
    own takes no lock on the database file, so reports go on meanwhile. What
    this connection staged before is dropped.
    """
    db.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {STAGING} (token TEXT NOT NULL, cpr TEXT NOT NULL,"
        " birth_date TEXT NOT NULL, status TEXT NOT NULL, municipality_code INTEGER,"
        " cpr_status TEXT, replaced_by TEXT, PRIMARY KEY (token, cpr))"
    )
    db.execute(f"DELETE FROM {STAGING}")
    db.many(
        f"INSERT INTO {STAGING} (token, {PERSON_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        ((token, *person_values(p, DIALECT)) for p in persons),
    )
    row = db.one(f"SELECT count(*) FROM {STAGING}")
    return int(row[0]) if row else 0


class SqliteStore(Store):
    dialect = DIALECT.name

    def __init__(self, path: str, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT_S) -> None:
        if path in ("", ":memory:") or path.startswith("file:"):
            raise ValueError(
                "the SQLite database must be a file path (an in-memory database "
                "would be private to one connection)"
            )
        self.path = path
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        #: held by this process's writing unit of work (see SqliteUnitOfWork._take_writer)
        self.writer = threading.Lock()

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r})"

    # connections -------------------------------------------------------

    def _open(self) -> _Connection:
        parent = Path(self.path).parent
        if not parent.is_dir():
            raise StorageError(f"the directory of the SQLite database does not exist: {parent}")
        conn = sqlite3.connect(
            self.path, timeout=self.busy_timeout, isolation_level=None, factory=_Connection
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
        return conn

    def connection(self) -> _Connection:
        """This thread's connection, opened on first use."""
        conn: _Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            with _translated():
                conn = self._open()
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def discard_connection(self) -> None:
        """Drop this thread's connection after a failure; the next use reconnects."""
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with self._lock:
                if conn in self._all:
                    self._all.remove(conn)
            with suppress(sqlite3.Error):
                conn.close()

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            with suppress(sqlite3.Error):
                conn.close()
        self._local = threading.local()

    # Store ---------------------------------------------------------------

    def unit_of_work(self, *, readonly: bool = False) -> SqliteUnitOfWork:
        return SqliteUnitOfWork(self, readonly=readonly)

    def stage_register(self, persons: Iterable[Person]) -> StagedRegister:
        conn = self.connection()
        conn.set_query_only(False)
        conn.execute("BEGIN")  # deferred, and it writes only to temp storage: no lock
        try:
            token = new_token()
            staged = StagedRegister(token, _stage(conn, persons, token))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return staged

    def migrate(self) -> Sequence[int]:
        conn = self.connection()
        conn.set_query_only(False)
        return unit_of_work.apply_migrations(conn, DIALECT, [("BEGIN IMMEDIATE", ())])

    def schema_version(self) -> int:
        return unit_of_work.schema_version(self.connection(), DIALECT)

    def ping(self) -> bool:
        try:
            return self.schema_version() == migrations.latest_version()
        except StorageError:
            self.discard_connection()
            return False


class SqliteUnitOfWork(SqlUnitOfWork):
    def __init__(self, store: SqliteStore, *, readonly: bool = False) -> None:
        self._store = store
        self._readonly = readonly
        self._conn: _Connection | None = None
        self._open = False
        self._holds_writer = False

    def __enter__(self) -> SqliteUnitOfWork:
        if not self._readonly:
            self._take_writer()
        try:
            conn = self._store.connection()
            conn.set_query_only(self._readonly)
            conn.execute("BEGIN" if self._readonly else "BEGIN IMMEDIATE")
        except StorageError:
            self._store.discard_connection()
            self._release_writer()
            raise
        self._conn = conn
        self._open = True
        self.bind(conn, DIALECT, _stage)
        return self

    def _take_writer(self) -> None:
        """Queue for this process's writer lock before asking SQLite for its own.

        SQLite makes a waiting writer sleep in growing steps (up to 100 ms); the
        threads of one process queue here instead and are woken the moment the
        writer before them is done. Only processes contend inside SQLite.
        """
        if not self._store.writer.acquire(timeout=self._store.busy_timeout):
            raise StorageError("SQLite failed: SQLITE_BUSY (writers queued too long)")
        self._holds_writer = True

    def _release_writer(self) -> None:
        if self._holds_writer:
            self._holds_writer = False
            self._store.writer.release()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.rollback()
        except StorageError:
            self._store.discard_connection()
            if exc is None:
                raise
            return
        finally:
            self._release_writer()
        if isinstance(exc, StorageError) and not isinstance(exc, IntegrityError):
            # The connection may be broken (disk, I/O): the next unit of work reconnects.
            self._store.discard_connection()

    def commit(self) -> None:
        if self._conn is None or not self._open:
            raise RuntimeError("commit outside an open unit of work")
        self._conn.execute("COMMIT")
        self._open = False
        self._release_writer()

    def rollback(self) -> None:
        if self._conn is not None and self._open:
            self._open = False
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")


__all__ = ["SqliteStore", "SqliteUnitOfWork"]
