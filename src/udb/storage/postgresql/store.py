"""PostgreSQL adapter: the production database, shared by several service instances.

psycopg 3 with a :class:`psycopg_pool.ConnectionPool`, opened on first use
(never at import or construction), with these settings and their reasons:

* ``postgresql://user@host:5432/db?pool_size=N``: at most N connections
  (default 10, at least one kept open); ``pool_size`` is ours and is removed
  before the URL goes to libpq, every other parameter (``options=-c
  search_path=...``, ``sslmode`` ...) is passed on;
* ``connect_timeout=3`` (unless the URL sets it) and a pool ``timeout`` of
  2 s: with the server down a unit of work fails with :class:`StorageError`
  (answer 101) within 5 s instead of hanging, with room to spare on a busy
  machine, where requests also wait for a free thread (with 4 s, then 3 s, a 101
  was seen to take 5.1 and 5.6 s while the test suite ran). The pool holds more
  connections than a worker has threads, so a healthy database never makes a
  report wait for one;
* ``check``: a connection taken from the pool after a second or more of idling
  is tried first (an empty query), so the connections broken by an outage or a
  server restart are replaced instead of failing a report, and the first that
  fails has all idle ones replaced at once; one that was in use a moment ago
  is not tried (a round trip per report saved under load): if it turns out to
  be broken at the first statement of a unit of work, nothing was done yet, so
  that statement is sent again on a fresh connection (:class:`Session`);
  ``reconnect_timeout`` of 5 s keeps the pool's reconnection back-off short,
  so it recovers soon after the server does;
* sessions run in ``TimeZone=UTC`` (aware datetimes come back in UTC) with
  ``lock_timeout`` (5 s): a writer waits for another writer's row lock, but not
  forever (the ``busy_timeout`` of the SQLite adapter);
* ``CHAR(n)`` values come back without their pad spaces, as PostgreSQL's own
  cast to text gives them (:class:`_UnpaddedChar`), so a CPR number or a
  CorrelationID reads as it was written, in every statement;
* ``synchronous_commit`` is left at the server's ``on``: an answered report is
  on disk (and, with synchronous replication, on the standby).

A unit of work is one connection and one transaction, whose ``BEGIN`` is sent
with its first statement: writers ``BEGIN ISOLATION LEVEL READ COMMITTED``, the
level at which ``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` re-checks its
condition against the newest committed row, which makes the merge rule and the
idempotency key safe across instances; read-only ones ``BEGIN ISOLATION LEVEL
REPEATABLE READ READ ONLY`` (one snapshot for all their reads, and no writes).
A report costs four round trips: ``BEGIN``, the intake, the record and
``COMMIT`` (:mod:`udb.storage.postgresql.intake`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg.abc import Buffer
from psycopg.pq import TransactionStatus
from psycopg.types.string import TextLoader
from psycopg_pool import ConnectionPool

from udb.domain.model import Block, Person
from udb.storage import migrations
from udb.storage.base import SignatureSeen, StorageError, Store
from udb.storage.postgresql import intake, staging
from udb.storage.postgresql.session import PgConnection, Session, split_url, translated
from udb.storage.records import Arrival, Intake, ReportRecord, StagedRegister
from udb.storage.sql import unit_of_work
from udb.storage.sql.dialect import PostgresDialect, aware
from udb.storage.sql.persons import new_token
from udb.storage.sql.unit_of_work import SqlUnitOfWork

DIALECT = PostgresDialect()
DEFAULT_POOL_SIZE = 10
DEFAULT_POOL_TIMEOUT_S = 2.0
DEFAULT_PING_TIMEOUT_S = 1.0
DEFAULT_LOCK_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 3
RECONNECT_TIMEOUT_S = 5.0
#: a connection given back to the pool less than this long ago is used without trying it
CHECK_IDLE_AFTER_S = 1.0
#: the attribute of a pooled connection that holds when it was given back (monotonic)
_RETURNED_AT = "_udb_returned_at"
#: migrations wait this long for another instance's migration (advisory lock)
MIGRATION_LOCK_TIMEOUT = "5min"
#: first key of the advisory lock that serialises migrations (second: the schema)
MIGRATION_LOCK = 0x0DB0_0001

_BEGIN_WRITE = "BEGIN ISOLATION LEVEL READ COMMITTED"
_BEGIN_READ = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
_IN_TRANSACTION = (TransactionStatus.INTRANS, TransactionStatus.INERROR)
_BEGIN_MIGRATION = (
    ("BEGIN", ()),
    (f"SET LOCAL lock_timeout = '{MIGRATION_LOCK_TIMEOUT}'", ()),
    # Several instances may start at once: one migrates, the others wait.
    (
        "SELECT pg_advisory_xact_lock(?, hashtext(coalesce(current_schema(), '')))",
        (MIGRATION_LOCK,),
    ),
)


class _UnpaddedChar(TextLoader):
    """``CHAR(n)`` as text: without the trailing spaces that pad it to ``n``.

    PostgreSQL treats those spaces as insignificant (``bpchar`` compares and
    casts to ``text`` without them); psycopg would return them.
    """

    def load(self, data: Buffer) -> bytes | str:
        value = super().load(data)
        return value.rstrip(" ") if isinstance(value, str) else value.rstrip(b" ")


class PostgresStore(Store):
    dialect = DIALECT.name

    def __init__(
        self,
        url: str,
        *,
        pool_size: int | None = None,
        timeout: float = DEFAULT_POOL_TIMEOUT_S,
        ping_timeout: float = DEFAULT_PING_TIMEOUT_S,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT_S,
    ) -> None:
        conninfo, url_size = split_url(url)
        size = pool_size if pool_size is not None else url_size or DEFAULT_POOL_SIZE
        if size < 1:
            raise ValueError("pool_size must be >= 1")
        self.conninfo = conninfo
        self.max_size = size
        self.min_size = 1
        self.timeout = timeout
        self.ping_timeout = ping_timeout
        self.lock_timeout = lock_timeout
        keys = {unquote(i.partition("=")[0]) for i in urlsplit(conninfo).query.split("&")}
        self._kwargs: dict[str, Any] = {"autocommit": True}
        if "connect_timeout" not in keys:
            self._kwargs["connect_timeout"] = CONNECT_TIMEOUT_S
        if "application_name" not in keys:
            self._kwargs["application_name"] = "udb"
        self._pool: ConnectionPool[PgConnection] | None = None
        self._pool_lock = threading.Lock()
        self._local = threading.local()

    def __repr__(self) -> str:
        parts = urlsplit(self.conninfo)
        host = parts.hostname or ""
        return f"PostgresStore('{parts.scheme}://{host}:{parts.port or 5432}{parts.path}')"

    # connections -------------------------------------------------------

    def _configure(self, conn: PgConnection) -> None:
        conn.adapters.register_loader("bpchar", _UnpaddedChar)
        conn.execute(
            "SELECT set_config('TimeZone', 'UTC', false), set_config('lock_timeout', %s, false)",
            (f"{int(self.lock_timeout * 1000)}ms",),
        )

    def _check(self, conn: PgConnection) -> None:
        """Try a connection taken from the pool, unless it was in use a moment ago.

        :meth:`ConnectionPool.check_connection` costs a round trip, so only a
        connection idle for :data:`CHECK_IDLE_AFTER_S` or longer is tried (under
        load, connections go back and forth within milliseconds). One that fails
        means the server went away (restart, outage): the other idle ones are
        broken too, and the pool would try each in turn, pausing after each
        failure, before a report got a working one, so all idle ones are
        replaced at once. A connection that breaks in use does the same
        (:meth:`release`).
        """
        returned = getattr(conn, _RETURNED_AT, None)
        if returned is not None and time.monotonic() - returned < CHECK_IDLE_AFTER_S:
            return
        try:
            ConnectionPool.check_connection(conn)
        except psycopg.Error:
            pool = self._pool
            if pool is not None:
                pool.drain()
            raise

    def pool(self) -> ConnectionPool[PgConnection]:
        """The connection pool, opened on first use."""
        with self._pool_lock:
            if self._pool is None:
                pool: ConnectionPool[PgConnection] = ConnectionPool(
                    self.conninfo,
                    kwargs=self._kwargs,
                    min_size=self.min_size,
                    max_size=self.max_size,
                    open=False,
                    configure=self._configure,
                    check=self._check,
                    timeout=self.timeout,
                    reconnect_timeout=RECONNECT_TIMEOUT_S,
                    name="udb",
                )
                with translated():
                    pool.open(wait=False)
                self._pool = pool
            return self._pool

    def acquire(self, timeout: float | None = None) -> Session:
        """A connection from the pool; give it back with :meth:`release`."""
        with translated():
            pool = self.pool()
            return Session(pool.getconn(timeout), pool)

    @staticmethod
    def release(session: Session) -> None:
        """Give the connection back: rolled back to idle, or closed (and replaced) if broken.

        A connection that broke in use means the server went away: every idle
        one is replaced too (see :meth:`_check`).
        """
        conn = session.conn
        if not conn.closed and conn.info.transaction_status in _IN_TRANSACTION:
            try:
                conn.execute("ROLLBACK")
            except psycopg.Error:
                conn.close()
        if conn.broken or conn.closed:
            session.pool.drain()
        else:
            setattr(conn, _RETURNED_AT, time.monotonic())
        session.pool.putconn(conn)

    @contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[Session]:
        """A pooled connection for statements outside a unit of work."""
        session = self.acquire(timeout)
        try:
            yield session
        finally:
            self.release(session)

    def close(self) -> None:
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    # Store ---------------------------------------------------------------

    def unit_of_work(self, *, readonly: bool = False) -> PostgresUnitOfWork:
        return PostgresUnitOfWork(self, readonly=readonly)

    def stage_register(self, persons: Iterable[Person]) -> StagedRegister:
        token = new_token()
        previous: str | None = getattr(self._local, "staged", None)
        with self.connection() as session:
            session.execute("BEGIN")
            count = staging.stage(session, persons, token, replaces=previous)
            session.execute("COMMIT")
        self._local.staged = token
        return StagedRegister(token, count)

    def migrate(self) -> Sequence[int]:
        if self.schema_version() == migrations.latest_version():
            return []
        with self.connection() as session:
            return unit_of_work.apply_migrations(session, DIALECT, _BEGIN_MIGRATION)

    def schema_version(self, *, timeout: float | None = None) -> int:
        with self.connection(timeout) as session:
            return unit_of_work.schema_version(session, DIALECT)

    def ping(self) -> bool:
        try:
            return self.schema_version(timeout=self.ping_timeout) == migrations.latest_version()
        except StorageError:
            return False


class PostgresUnitOfWork(SqlUnitOfWork):
    def __init__(self, store: PostgresStore, *, readonly: bool = False) -> None:
        self._store = store
        self._readonly = readonly
        self._session: Session | None = None
        self._open = False
        #: a signature :meth:`receive` read as new, to remember when the work commits:
        #: (key, keep until, now)
        self._replay: tuple[str, datetime, datetime] | None = None

    def __enter__(self) -> PostgresUnitOfWork:
        session = self._store.acquire()
        session.begin(_BEGIN_READ if self._readonly else _BEGIN_WRITE)
        self._session = session
        self._open = True
        self.bind(session, DIALECT, staging.stage)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, self._session = self._session, None
        if session is None:
            return
        try:
            self._rollback(session)
        except StorageError:
            if exc is None:
                raise
        finally:
            self._store.release(session)

    def _rollback(self, session: Session) -> None:
        self._replay = None
        if self._open:
            self._open = False
            # UNKNOWN: the connection is lost, and the server discarded the transaction
            if session.conn.info.transaction_status in _IN_TRANSACTION:
                session.command("ROLLBACK")

    def commit(self) -> None:
        session = self._session
        if session is None or not self._open:
            raise RuntimeError("commit outside an open unit of work")
        replay, self._replay = self._replay, None
        if replay is not None and not session.began:  # only read so far: remember, alone
            self._open = False
            self._remember(session, replay, alone=True)
            return
        if replay is not None:
            self._remember(session, replay, alone=False)
        self._open = False
        if not session.began:
            return  # no statement ran: there is nothing to commit
        if session.conn.info.transaction_status == TransactionStatus.INERROR:
            session.command("ROLLBACK")
            raise StorageError("PostgreSQL failed: a statement failed; the transaction was undone")
        if session.command("COMMIT") != "COMMIT":
            raise StorageError("PostgreSQL failed: the transaction was rolled back, not committed")

    def rollback(self) -> None:
        if self._session is not None:
            self._rollback(self._session)

    def _db(self) -> Session:
        if self._session is None or not self._open:
            raise RuntimeError("statement outside an open unit of work")
        return self._session

    def receive(self, arrival: Arrival) -> Intake:
        """The intake; as the first statement it runs alone and only reads, and the
        signature is remembered with the commit (:meth:`record_and_commit`, :meth:`commit`)."""
        session = self._db()
        if session.began or arrival.replay_key is None or arrival.keep_until is None:
            return intake.receive(session, arrival, self.replay, remember=session.began)
        found = intake.receive(session, arrival, self.replay, remember=False)
        if found.first_seen:
            self._replay = (arrival.replay_key, arrival.keep_until, arrival.received_at)
            # begins the transaction when it purges (one call in 500): then the
            # signature is remembered in it, with the record
            self.replay.maybe_purge(arrival.received_at)
        return found

    def record(self, record: ReportRecord, blocks: Sequence[Block]) -> int | None:
        session = self._db()
        replay, self._replay = self._replay, None
        if replay is not None:
            self._remember(session, replay, alone=False)
        return intake.record(session, record, blocks, self.reports)

    def record_and_commit(self, record: ReportRecord, blocks: Sequence[Block]) -> int | None:
        """One statement alone when nothing else was written: the signature remembered,
        the report logged and its blocks kept, committed when it ends (no BEGIN, no COMMIT)."""
        session = self._db()
        if session.began:
            return super().record_and_commit(record, blocks)
        replay, self._replay = self._replay, None
        self._open = False  # whatever the statement does, this work is done
        return intake.record(session, record, blocks, self.reports, alone=True, replay=replay)

    def _remember(
        self, session: Session, replay: tuple[str, datetime, datetime], *, alone: bool
    ) -> None:
        """Remember the signature :meth:`receive` read as new (SignatureSeen if another
        unit of work did meanwhile); ``alone``: committed at once, outside a transaction."""
        key, keep_until, now = replay
        params = {"key": key, "keep_until": aware(keep_until), "now": aware(now)}
        if alone:
            remembered = session.alone(intake.REMEMBER, params, retry=False)
        else:
            remembered = session.native_one(intake.REMEMBER, params)
        if remembered is None:
            raise SignatureSeen(intake.REPLAY_RACED)
