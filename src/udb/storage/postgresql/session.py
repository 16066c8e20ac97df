"""A pooled PostgreSQL connection that runs the portable SQL of :mod:`udb.storage.sql`.

:class:`Session` is the :class:`~udb.storage.sql.dialect.PgConnection` of the
PostgreSQL adapter: statements with ``?`` placeholders are turned into
psycopg's once (:meth:`~udb.storage.sql.dialect.PostgresDialect.native`), every
driver or pool error becomes :class:`~udb.storage.base.StorageError` (with a
message that names no data), and a transaction's ``BEGIN`` is sent with its
first statement, so a connection found broken then is replaced and the
statement sent again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

import psycopg
from psycopg import pq
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool, PoolTimeout

from udb.storage.base import IntegrityError, StorageError
from udb.storage.sql.dialect import Params, PostgresDialect

PgConnection = psycopg.Connection[TupleRow]
#: parameters of a native statement: positional (``%s``) or named (``%(name)s``)
NativeParams = Sequence[Any] | Mapping[str, Any]

#: SQLSTATE classes whose message names no data, only the connection (shown to the operator)
_CONNECTION_CLASSES = ("08", "28", "3D", "53", "57")
_native = PostgresDialect.native


def describe(exc: psycopg.Error) -> str:
    """A message for ``exc`` without personal data (no values, no row contents)."""
    if isinstance(exc, PoolTimeout):
        return "PostgreSQL failed: no connection in time (server unreachable or pool exhausted)"
    state = exc.sqlstate
    text = f"PostgreSQL failed: {type(exc).__name__}" + (f" ({state})" if state else "")
    if isinstance(exc, psycopg.OperationalError) and (
        state is None or state[:2] in _CONNECTION_CLASSES
    ):
        detail = str(exc).strip().splitlines()
        if detail:
            text += f": {detail[0]}"
    return text


@contextmanager
def translated() -> Iterator[None]:
    """Turn driver and pool errors into :class:`StorageError`."""
    try:
        yield
    except psycopg.errors.IntegrityError as exc:
        name = exc.diag.constraint_name or exc.sqlstate or type(exc).__name__
        raise IntegrityError(f"constraint violated: {name}") from exc
    except psycopg.Error as exc:  # OperationalError, PoolTimeout, PoolClosed ...
        raise StorageError(describe(exc)) from exc


class Session:
    """A connection whose statements fail with :class:`StorageError`, never a driver error."""

    def __init__(self, conn: PgConnection, pool: ConnectionPool[PgConnection]) -> None:
        self.conn = conn
        #: the pool ``conn`` goes back to (even if the store has opened another since)
        self.pool = pool
        self._begin: str | None = None

    def begin(self, command: str) -> None:
        """Open a transaction with ``command``, sent just before the next statement.

        A unit of work that runs no statement never opens a transaction, and
        one whose connection turns out to be broken at its first statement
        (:meth:`execute`) is started again on another connection.
        """
        self._begin = command

    @property
    def began(self) -> bool:
        """False while the transaction's BEGIN waits for the first statement."""
        return self._begin is None

    def _send_begin(self) -> None:
        begin, self._begin = self._begin, None
        if begin is not None:
            self._command(begin)

    def command(self, sql: str) -> str:
        """Run a statement without parameters or rows (``BEGIN``, ``COMMIT``, ``ROLLBACK``)
        straight through libpq; its command tag (``"COMMIT"``).

        Every report sends two of these: psycopg's cursor machinery costs more CPU
        than the round trip itself (measured: ``python -m bench.wrk``), and a
        command needs none of it. libpq waits without holding the GIL.
        """
        with translated():
            return self._command(sql)

    def _command(self, sql: str) -> str:
        """:meth:`command`, raising the driver's errors (a lost connection is an
        :class:`psycopg.OperationalError`, as psycopg raises it)."""
        pgconn = self.conn.pgconn
        if pgconn.status != pq.ConnStatus.OK:
            raise psycopg.OperationalError("the connection is closed")
        result = pgconn.exec_(sql.encode())
        if result.status != pq.ExecStatus.COMMAND_OK:
            if pgconn.status != pq.ConnStatus.OK:
                message = (pgconn.error_message or b"").decode(errors="replace").strip()
                raise psycopg.OperationalError(message or "the connection was lost")
            raise psycopg.errors.error_from_result(result)
        return (result.command_status or b"").decode()

    # portable SQL (``?``) ------------------------------------------------------

    def execute(self, sql: str, params: Params = ()) -> psycopg.Cursor[TupleRow]:
        return self.native(_native(sql), params)

    def one(self, sql: str, params: Params = ()) -> tuple[Any, ...] | None:
        return self.native_one(_native(sql), params)

    def all(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        cursor = self.execute(sql, params)
        with translated():
            return cursor.fetchall()

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with translated(), self.conn.cursor() as cursor:
            self._send_begin()
            cursor.executemany(_native(sql), rows)

    # native SQL (``%s``, ``%(name)s``) ---------------------------------------------

    def native(self, sql: str, params: NativeParams = ()) -> psycopg.Cursor[TupleRow]:
        with translated():
            if self._begin is None:
                return self.conn.execute(sql, params)
            begin = self._begin
            try:
                return self._begin_with(sql, params)
            except psycopg.OperationalError:
                if not self.conn.broken:
                    raise
            # The connection was lost before the transaction did anything that
            # could last (no COMMIT was sent): start it again on another one.
            self.conn = self._replace(self.conn)
            self._begin = begin
            return self._begin_with(sql, params)

    def alone(self, sql: str, params: NativeParams, *, retry: bool) -> tuple[Any, ...] | None:
        """Run one statement in a transaction of its own, committed when it ends, while
        this session's transaction has not begun (its BEGIN stays pending); its first row.

        ``retry``: a statement that only reads is sent again on another connection if
        this one turns out to be broken; one that writes never is (it may have committed).
        """
        if self.began:
            raise RuntimeError("a statement alone inside a transaction already begun")
        with translated():
            try:
                return self.conn.execute(sql, params).fetchone()
            except psycopg.OperationalError:
                if not (retry and self.conn.broken):
                    raise
            self.conn = self._replace(self.conn)
            return self.conn.execute(sql, params).fetchone()

    def native_one(self, sql: str, params: NativeParams = ()) -> tuple[Any, ...] | None:
        cursor = self.native(sql, params)
        with translated():
            return cursor.fetchone()

    def _begin_with(self, sql: str, params: NativeParams) -> psycopg.Cursor[TupleRow]:
        # Not in a pipeline with the statement: psycopg's pipeline mode costs
        # more CPU here than the round trip it saves (measured).
        self._send_begin()
        return self.conn.execute(sql, params)

    def _replace(self, broken: PgConnection) -> PgConnection:
        """Give a broken connection back (every idle one is replaced too) and take another."""
        self.pool.drain()
        self.pool.putconn(broken)
        return self.pool.getconn()

    def copy(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        """``COPY ... FROM STDIN`` streaming ``rows``; how many were sent."""
        count = 0
        with translated():
            self._send_begin()
        with translated(), self.conn.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        return count


def split_url(url: str) -> tuple[str, int | None]:
    """The URL for libpq without our own ``pool_size`` parameter, and its value."""
    parts: SplitResult = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError("a PostgreSQL URL starts with postgresql:// or postgres://")
    kept: list[str] = []
    pool_size: int | None = None
    for item in filter(None, parts.query.split("&")):
        key, _, value = item.partition("=")
        if unquote(key) != "pool_size":
            kept.append(item)
            continue
        try:
            pool_size = int(unquote(value))
        except ValueError:
            pool_size = 0
        if pool_size < 1:
            raise ValueError("pool_size in the database URL must be a whole number >= 1")
    return urlunsplit(parts._replace(query="&".join(kept))), pool_size
