"""PostgreSQL adapter: the production database, shared by several service instances.

psycopg 3 with a :class:`psycopg_pool.ConnectionPool`, opened on first use
(never at import or construction), with these settings and their reasons:

* ``postgresql://user@host:5432/db?pool_size=N``: at most N connections
  (default 10, at least one kept open); ``pool_size`` is ours and is removed
  before the URL goes to libpq, every other parameter (``options=-c
  search_path=...``, ``sslmode`` ...) is passed on;
* ``connect_timeout=3`` (unless the URL sets it) and a pool ``timeout`` of
  4 s: with the server down a unit of work fails with :class:`StorageError`
  (answer 101) within 5 s instead of hanging;
* ``check``: a connection taken from the pool after a second or more of idling
  is tried first (an empty query), so the connections broken by an outage or a
  server restart are replaced instead of failing a report, and the first that
  fails has all idle ones replaced at once; one that was in use a moment ago
  is not tried (a round trip per report saved under load): if it turns out to
  be broken at the first statement of a unit of work, nothing was done yet, so
  that statement is sent again on a fresh connection; ``reconnect_timeout`` of
  5 s keeps the pool's reconnection back-off short, so it recovers soon after
  the server does;
* sessions run in ``TimeZone=UTC`` (aware datetimes come back in UTC) with
  ``lock_timeout`` (5 s): a writer waits for another writer's row lock, but not
  forever (the ``busy_timeout`` of the SQLite adapter);
* ``synchronous_commit`` is left at the server's ``on``: an answered report is
  on disk (and, with synchronous replication, on the standby).

A unit of work is one connection and one transaction, whose ``BEGIN`` is sent
with its first statement: writers ``BEGIN ISOLATION LEVEL READ COMMITTED``, the level at which
``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` re-checks its condition against
the newest committed row, which makes the merge rule and the idempotency key
safe across instances; read-only ones ``BEGIN ISOLATION LEVEL REPEATABLE READ
READ ONLY`` (one snapshot for all their reads, as in SQLite, and no writes).

A report costs four round trips: ``BEGIN``, the intake (the replay cache and
every lookup in one statement: :meth:`PostgresUnitOfWork.receive`), the record
(the report log, the history and the merge rule in one statement:
:meth:`PostgresUnitOfWork.record`) and ``COMMIT`` (it took about twelve when
each repository was asked in turn).
"""

from __future__ import annotations

import builtins
import functools
import secrets
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool, PoolTimeout

from udb.domain.model import (
    Block,
    ClientCertificate,
    ClientSystem,
    ContactBlock,
    ErrorCode,
    Institution,
    Person,
)
from udb.storage import migrations, pg_register
from udb.storage.base import (
    Arrival,
    Intake,
    IntegrityError,
    ReplayCache,
    ReportRecord,
    Reports,
    StagedRegister,
    StorageError,
    Store,
    Systems,
    UnitOfWork,
)
from udb.storage.pg_register import Repo, aware

Connection = psycopg.Connection[TupleRow]
#: statement parameters: positional (``%s``) or named (``%(name)s``)
Params = Sequence[Any] | Mapping[str, Any]

DEFAULT_POOL_SIZE = 10
DEFAULT_POOL_TIMEOUT_S = 4.0
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
#: SQLSTATE classes whose message names no data, only the connection (shown to the operator)
_CONNECTION_CLASSES = ("08", "28", "3D", "53", "57")


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

    def __init__(self, conn: Connection, pool: ConnectionPool[Connection]) -> None:
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
            self.conn.execute(begin)

    def execute(self, sql: str, params: Params = ()) -> psycopg.Cursor[TupleRow]:
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

    def _begin_with(self, sql: str, params: Params) -> psycopg.Cursor[TupleRow]:
        # Not in a pipeline with the statement: psycopg's pipeline mode costs
        # more CPU here than the round trip it saves (measured).
        self._send_begin()
        return self.conn.execute(sql, params)

    def _replace(self, broken: Connection) -> Connection:
        """Give a broken connection back (every idle one is replaced too) and take another."""
        self.pool.drain()
        self.pool.putconn(broken)
        return self.pool.getconn()

    def one(self, sql: str, params: Params = ()) -> tuple[Any, ...] | None:
        cursor = self.execute(sql, params)
        with translated():
            return cursor.fetchone()

    def all(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        cursor = self.execute(sql, params)
        with translated():
            return cursor.fetchall()

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with translated(), self.conn.cursor() as cursor:
            self._send_begin()
            cursor.executemany(sql, rows)

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


class PostgresStore(Store):
    dialect = "postgresql"

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
        self._pool: ConnectionPool[Connection] | None = None
        self._pool_lock = threading.Lock()
        self._local = threading.local()

    def __repr__(self) -> str:
        parts = urlsplit(self.conninfo)
        host = parts.hostname or ""
        return f"PostgresStore('{parts.scheme}://{host}:{parts.port or 5432}{parts.path}')"

    # connections -------------------------------------------------------

    def _configure(self, conn: Connection) -> None:
        conn.execute(
            "SELECT set_config('TimeZone', 'UTC', false), set_config('lock_timeout', %s, false)",
            (f"{int(self.lock_timeout * 1000)}ms",),
        )

    def _check(self, conn: Connection) -> None:
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

    def pool(self) -> ConnectionPool[Connection]:
        """The connection pool, opened on first use."""
        with self._pool_lock:
            if self._pool is None:
                pool: ConnectionPool[Connection] = ConnectionPool(
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
        token = pg_register.new_token()
        previous: str | None = getattr(self._local, "staged", None)
        with self.connection() as session:
            session.execute("BEGIN")
            count = pg_register.stage(session, persons, token, replaces=previous)
            session.execute("COMMIT")
        self._local.staged = token
        return StagedRegister(token, count)

    def migrate(self) -> Sequence[int]:
        latest = migrations.latest_version()
        if self.schema_version() == latest:
            return []
        applied: list[int] = []
        with self.connection() as session:
            for migration in migrations.load():
                session.execute("BEGIN")
                session.execute(f"SET LOCAL lock_timeout = '{MIGRATION_LOCK_TIMEOUT}'")
                # Several instances may start at once: one migrates, the others wait.
                session.execute(
                    "SELECT pg_advisory_xact_lock(%s, hashtext(coalesce(current_schema(), '')))",
                    (MIGRATION_LOCK,),
                )
                session.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
                    " name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
                )
                done = session.one(
                    "SELECT 1 FROM schema_migrations WHERE version = %s", (migration.version,)
                )
                if done is None:
                    for statement in migration.statements(self.dialect):
                        session.execute(statement)
                    session.execute(
                        "INSERT INTO schema_migrations (version, name, applied_at)"
                        " VALUES (%s, %s, %s)",
                        (migration.version, migration.name, datetime.now(UTC)),
                    )
                    applied.append(migration.version)
                session.execute("COMMIT")
        return applied

    def schema_version(self, *, timeout: float | None = None) -> int:
        with self.connection(timeout) as session:
            exists = session.one("SELECT to_regclass('schema_migrations') IS NOT NULL")
            if exists is None or not exists[0]:
                return 0
            found = session.one("SELECT max(version) FROM schema_migrations")
        return int(found[0] or 0) if found else 0

    def ping(self) -> bool:
        try:
            return self.schema_version(timeout=self.ping_timeout) == migrations.latest_version()
        except StorageError:
            return False


class PostgresUnitOfWork(UnitOfWork):
    def __init__(self, store: PostgresStore, *, readonly: bool = False) -> None:
        self._store = store
        self._readonly = readonly
        self._session: Session | None = None
        self._open = False

    def __enter__(self) -> PostgresUnitOfWork:
        session = self._store.acquire()
        session.begin(_BEGIN_READ if self._readonly else _BEGIN_WRITE)
        self._session = session
        self._open = True
        self.municipalities = pg_register.PgMunicipalities(session)
        self.institutions = pg_register.PgInstitutions(session)
        self.systems = _Systems(session)
        self.persons = pg_register.PgPersons(session)
        self.reports = _Reports(session)
        self.cpr_imports = pg_register.PgCprImports(session)
        self.replay = _ReplayCache(session)
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
            self.rollback_session(session)
        except StorageError:
            if exc is None:
                raise
        finally:
            self._store.release(session)

    def rollback_session(self, session: Session) -> None:
        if self._open:
            self._open = False
            # UNKNOWN: the connection is lost, and the server discarded the transaction
            if session.conn.info.transaction_status in _IN_TRANSACTION:
                session.execute("ROLLBACK")

    def commit(self) -> None:
        session = self._session
        if session is None or not self._open:
            raise RuntimeError("commit outside an open unit of work")
        self._open = False
        if not session.began:
            return  # no statement ran: there is nothing to commit
        if session.conn.info.transaction_status == TransactionStatus.INERROR:
            session.execute("ROLLBACK")
            raise StorageError("PostgreSQL failed: a statement failed; the transaction was undone")
        cursor = session.execute("COMMIT")
        if cursor.statusmessage != "COMMIT":
            raise StorageError("PostgreSQL failed: the transaction was rolled back, not committed")

    def rollback(self) -> None:
        if self._session is not None:
            self.rollback_session(self._session)

    def _db(self) -> Session:
        if self._session is None or not self._open:
            raise RuntimeError("statement outside an open unit of work")
        return self._session

    def receive(self, arrival: Arrival) -> Intake:
        """One statement: the replay cache's insert and every lookup (see :data:`_RECEIVE`)."""
        signed = arrival.certificate_fingerprint is not None
        keep_until = arrival.keep_until
        replay = arrival.replay_key is not None and keep_until is not None
        sql = _RECEIVE[(signed, replay)]
        params: dict[str, Any] = {
            "fingerprint": arrival.certificate_fingerprint,
            "name": arrival.system_name,
            "now": aware(arrival.received_at),
            "stid": arrival.system_transaction_id,
            "cpr": arrival.cpr,
            "institution": arrival.institution_number,
        }
        if arrival.replay_key is not None and keep_until is not None:
            params["key"] = arrival.replay_key
            params["keep_until"] = aware(keep_until)
        row = self._db().one(sql, params)
        if row is None:  # pragma: no cover - the statement always yields one row
            raise StorageError("PostgreSQL failed: the intake query returned no row")
        if replay and secrets.randbelow(_ReplayCache.PURGE_EVERY) == 0:
            _ReplayCache(self._db()).purge(arrival.received_at)
        first_seen, system_id, system_name, institutions = row[0:4]
        system = (
            None
            if system_id is None
            else ClientSystem(system_id, system_name, frozenset(institutions))
        )
        earlier = None if row[4] is None else _Reports.record_of(row[4:12])
        person = None if row[12] is None else pg_register.person_of(row[12:18])
        institution = None if row[18] is None else Institution(*row[18:21])
        return Intake(bool(first_seen), system, earlier, person, institution)

    def record(self, record: ReportRecord, blocks: Sequence[Block]) -> int | None:
        """One statement: the report log's row, the history and the merge rule for each block."""
        db = self._db()
        params: list[Any] = [
            record.correlation_id,
            record.system_id,
            record.system_transaction_id,
            record.content_sha256,
            record.cpr,
            record.institution_number,
            aware(record.received_at),
            None if record.outcome is None else int(record.outcome),
        ]
        if blocks:
            for block in blocks:
                params.extend(_block_values(block))
            params.extend((record.cpr, record.cpr))
        row = db.one(_record_sql(len(blocks)), params)
        report_id = None if row is None else row[0]
        if report_id is not None:
            return int(report_id)
        _Reports(db).raise_unless_key_taken(record)
        return None


def _block_values(block: Block) -> tuple[Any, ...]:
    if isinstance(block, ContactBlock):
        navn, mail, telefon, tekst = block.navn, block.mail, block.telefon, None
    else:
        navn, mail, telefon, tekst = None, None, None, block.tekst
    return (block.kind.value, navn, mail, telefon, tekst, aware(block.registreringstid))


_RECORD_VALUES = "(%s::text, %s::text, %s::text, %s::bigint, %s::text, %s::timestamptz)"


@functools.cache
def _record_sql(blocks: int) -> str:
    """Log a report and keep its blocks: one statement, so one round trip.

    The history rows, and the merge rule (:func:`udb.domain.merge.supersedes`)
    as a conditional upsert of each current block, are written only if the log
    row was (``FROM l``); a key already used writes nothing and yields NULL.
    """
    log = (
        "WITH l AS (INSERT INTO report_log (correlation_id, system_id, system_transaction_id,"
        " content_sha256, cpr, institution_number, received_at, outcome_code)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id)"
    )
    if blocks == 0:
        return log + " SELECT id FROM l"
    values = ", ".join([_RECORD_VALUES] * blocks)
    return (
        log + f", b (kind, navn, mail, telefon, tekst, registered_at) AS (VALUES {values}),"
        " h AS (INSERT INTO block_history (report_id, cpr, kind, navn, mail, telefon, tekst,"
        " registered_at) SELECT l.id, %s, b.kind, b.navn, b.mail, b.telefon, b.tekst,"
        " b.registered_at FROM l, b RETURNING id, kind, registered_at),"
        " c AS (INSERT INTO current_blocks (cpr, kind, history_id, registered_at)"
        " SELECT %s, h.kind, h.id, h.registered_at FROM h"
        " ON CONFLICT (cpr, kind) DO UPDATE"
        " SET history_id = excluded.history_id, registered_at = excluded.registered_at"
        " WHERE excluded.registered_at >= current_blocks.registered_at RETURNING 1)"
        " SELECT l.id, (SELECT count(*) FROM c) FROM l"
    )


def _receive_sql(signed: bool, replay: bool) -> str:
    """The intake of one report in one statement (:meth:`PostgresUnitOfWork.receive`).

    Remembers the signature in the replay cache (a data-modifying CTE, which
    runs whether or not it is read) and reads the caller's system with its
    institutions, the report already logged under the idempotency key, the
    person and the institution: each a LEFT JOIN on a one-row relation, so the
    statement always yields exactly one row.
    """
    remember = (
        "r AS (INSERT INTO replay_cache (signature_sha256, keep_until)"
        " VALUES (%(key)s, %(keep_until)s)"
        " ON CONFLICT (signature_sha256) DO UPDATE SET keep_until = excluded.keep_until"
        " WHERE replay_cache.keep_until <= %(now)s RETURNING 1), "
    )
    system = (
        "s AS (SELECT s.id, s.name FROM client_certificates c"
        " JOIN client_systems s ON s.id = c.system_id WHERE c.fingerprint = %(fingerprint)s"
        " AND (c.retires_at IS NULL OR c.retires_at > %(now)s))"
        if signed
        else "s AS (SELECT id, name FROM client_systems WHERE name = %(name)s)"
    )
    return (
        "WITH "
        + (remember if replay else "")
        + system
        + " SELECT "
        + ("EXISTS (SELECT 1 FROM r)" if replay else "true")
        + ", s.id, s.name, ARRAY(SELECT institution_number FROM system_institutions"
        " WHERE system_id = s.id),"
        " l.correlation_id::text, l.system_id, l.system_transaction_id,"
        " l.content_sha256::text, l.cpr::text, l.institution_number, l.received_at,"
        " l.outcome_code,"
        " p.cpr::text, p.birth_date, p.status, p.municipality_code, p.cpr_status::text,"
        " p.replaced_by::text,"
        " i.number, i.municipality_code, i.name"
        " FROM (SELECT 1) AS one"
        " LEFT JOIN s ON true"
        " LEFT JOIN report_log l ON l.system_id = s.id AND l.system_transaction_id = %(stid)s"
        " LEFT JOIN persons p ON p.cpr = %(cpr)s"
        " LEFT JOIN institutions i ON i.number = %(institution)s"
    )


#: by (signed, with a replay key)
_RECEIVE = {
    (signed, replay): _receive_sql(signed, replay)
    for signed in (True, False)
    for replay in (True, False)
}


class _Systems(Repo, Systems):
    def get(self, name: str) -> ClientSystem | None:
        row = self.db.one("SELECT id FROM client_systems WHERE name = %s", (name,))
        if row is None:
            return None
        return ClientSystem(row[0], name, self._institutions(row[0]))

    def _institutions(self, system_id: int) -> frozenset[int]:
        return frozenset(
            r[0]
            for r in self.db.all(
                "SELECT institution_number FROM system_institutions WHERE system_id = %s",
                (system_id,),
            )
        )

    def add(self, name: str, institutions: Iterable[int], now: datetime) -> ClientSystem:
        self.db.execute(
            "INSERT INTO client_systems (name, created_at) VALUES (%s, %s)"
            " ON CONFLICT (name) DO NOTHING",
            (name, aware(now)),
        )
        row = self.db.one("SELECT id FROM client_systems WHERE name = %s", (name,))
        if row is None:  # pragma: no cover - inserted or already there
            raise StorageError("PostgreSQL failed: the client system was not stored")
        system_id = row[0]
        numbers = [(system_id, n) for n in institutions]
        if numbers:
            self.db.many(
                "INSERT INTO system_institutions (system_id, institution_number)"
                " VALUES (%s, %s) ON CONFLICT DO NOTHING",
                numbers,
            )
        return ClientSystem(system_id, name, self._institutions(system_id))

    def list(self) -> list[ClientSystem]:
        rows = self.db.all("SELECT id, name FROM client_systems ORDER BY name")
        return [ClientSystem(i, n, self._institutions(i)) for i, n in rows]

    def add_certificate(self, system_id: int, certificate: ClientCertificate) -> None:
        c = certificate
        self.db.execute(
            "INSERT INTO client_certificates (fingerprint, system_id, subject, not_before,"
            " not_after, added_at, retires_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                c.fingerprint,
                system_id,
                c.subject,
                aware(c.not_before),
                aware(c.not_after),
                aware(c.added_at),
                None if c.retires_at is None else aware(c.retires_at),
            ),
        )

    def retire_certificates(self, system_id: int, at: datetime) -> int:
        cursor = self.db.execute(
            "UPDATE client_certificates SET retires_at = %s"
            " WHERE system_id = %s AND (retires_at IS NULL OR retires_at > %s)",
            (aware(at), system_id, at),
        )
        return int(cursor.rowcount)

    def certificates(self, system_id: int) -> builtins.list[ClientCertificate]:
        rows = self.db.all(
            "SELECT fingerprint::text, subject, not_before, not_after, added_at, retires_at"
            " FROM client_certificates WHERE system_id = %s ORDER BY added_at, fingerprint",
            (system_id,),
        )
        return [ClientCertificate(*row) for row in rows]

    def by_certificate(self, fingerprint: str, now: datetime) -> ClientSystem | None:
        row = self.db.one(
            "SELECT s.id, s.name FROM client_certificates c"
            " JOIN client_systems s ON s.id = c.system_id"
            " WHERE c.fingerprint = %s AND (c.retires_at IS NULL OR c.retires_at > %s)",
            (fingerprint, aware(now)),
        )
        return None if row is None else ClientSystem(row[0], row[1], self._institutions(row[0]))


class _ReplayCache(Repo, ReplayCache):
    #: expired entries are purged on about one call in this many
    PURGE_EVERY = 500
    #: at most this many expired entries per purge (the transaction stays short)
    PURGE_LIMIT = 5000

    def remember(self, key: str, keep_until: datetime, now: datetime) -> bool:
        row = self.db.one(
            "INSERT INTO replay_cache (signature_sha256, keep_until) VALUES (%s, %s)"
            " ON CONFLICT (signature_sha256) DO UPDATE SET keep_until = excluded.keep_until"
            " WHERE replay_cache.keep_until <= %s"
            " RETURNING 1",
            (key, aware(keep_until), aware(now)),
        )
        if secrets.randbelow(self.PURGE_EVERY) == 0:
            self.purge(now)
        return row is not None

    def purge(self, now: datetime) -> None:
        """Delete up to :attr:`PURGE_LIMIT` expired entries.

        SKIP LOCKED: instances purging at once neither wait for nor deadlock
        with each other, nor with a report that renews an expired key.
        """
        self.db.execute(
            "DELETE FROM replay_cache WHERE signature_sha256 IN"
            " (SELECT signature_sha256 FROM replay_cache WHERE keep_until <= %s"
            "  LIMIT %s FOR UPDATE SKIP LOCKED)",
            (aware(now), self.PURGE_LIMIT),
        )


class _Reports(Repo, Reports):
    def find(self, system_id: int, system_transaction_id: str) -> ReportRecord | None:
        row = self.db.one(
            "SELECT correlation_id::text, system_id, system_transaction_id,"
            " content_sha256::text, cpr::text, institution_number, received_at, outcome_code"
            " FROM report_log WHERE system_id = %s AND system_transaction_id = %s",
            (system_id, system_transaction_id),
        )
        return None if row is None else self.record_of(row)

    @staticmethod
    def record_of(row: Sequence[Any]) -> ReportRecord:
        return ReportRecord(
            correlation_id=row[0],
            system_id=row[1],
            system_transaction_id=row[2],
            content_sha256=row[3],
            cpr=row[4],
            institution_number=row[5],
            received_at=row[6],
            outcome=None if row[7] is None else ErrorCode(row[7]),
        )

    def log(self, record: ReportRecord) -> int | None:
        row = self.db.one(
            "INSERT INTO report_log (correlation_id, system_id, system_transaction_id,"
            " content_sha256, cpr, institution_number, received_at, outcome_code)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING RETURNING id",
            (
                record.correlation_id,
                record.system_id,
                record.system_transaction_id,
                record.content_sha256,
                record.cpr,
                record.institution_number,
                aware(record.received_at),
                None if record.outcome is None else int(record.outcome),
            ),
        )
        if row is not None:
            return int(row[0])
        self.raise_unless_key_taken(record)
        return None

    def raise_unless_key_taken(self, record: ReportRecord) -> None:
        """After ``ON CONFLICT DO NOTHING`` wrote nothing: was it the idempotency key?

        ON CONFLICT without a target: PostgreSQL waits for and then skips a
        conflicting row only in the target's index, and the same report racing
        itself with the same correlation_id would fail on that other unique
        index instead. So any conflict ends here; only the key's is "already used".
        """
        taken = self.db.one(
            "SELECT 1 FROM report_log WHERE system_id = %s AND system_transaction_id = %s",
            (record.system_id, record.system_transaction_id),
        )
        if taken is None:
            raise IntegrityError("constraint violated: report_log_correlation_id_key")

    def add_block(self, report_id: int, cpr: str, block: Block) -> bool:
        if isinstance(block, ContactBlock):
            navn, mail, telefon, tekst = block.navn, block.mail, block.telefon, None
        else:
            navn, mail, telefon, tekst = None, None, None, block.tekst
        registered = aware(block.registreringstid)
        # One statement: the history row, and the merge rule
        # (udb.domain.merge.supersedes) as a conditional upsert of the current block.
        row = self.db.one(
            "WITH h AS (INSERT INTO block_history (report_id, cpr, kind, navn, mail, telefon,"
            " tekst, registered_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id)"
            " INSERT INTO current_blocks (cpr, kind, history_id, registered_at)"
            " SELECT %s, %s, h.id, %s FROM h"
            " ON CONFLICT (cpr, kind) DO UPDATE"
            " SET history_id = excluded.history_id, registered_at = excluded.registered_at"
            " WHERE excluded.registered_at >= current_blocks.registered_at"
            " RETURNING history_id",
            (
                *(report_id, cpr, block.kind.value, navn, mail, telefon, tekst, registered),
                *(cpr, block.kind.value, registered),
            ),
        )
        return row is not None


__all__ = ["PostgresStore", "PostgresUnitOfWork", "Session", "StorageError", "translated"]
