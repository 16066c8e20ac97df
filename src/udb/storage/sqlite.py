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

Times are stored as fixed-width ISO 8601 text in UTC
(``2026-11-20T08:15:00.000000Z``), which compares in time order.
"""

from __future__ import annotations

import builtins
import secrets
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from udb.domain.merge import supersedes
from udb.domain.model import (
    Block,
    BlockKind,
    ClientCertificate,
    ClientSystem,
    ContactBlock,
    EducationWishBlock,
    ErrorCode,
    Institution,
    JobWishBlock,
    Municipality,
    Person,
    PersonStatus,
)
from udb.storage import migrations, reference
from udb.storage.base import (
    ApplyCounts,
    CprImportRecord,
    CprImports,
    Institutions,
    IntegrityError,
    Municipalities,
    Persons,
    PersonView,
    RegisterCounts,
    ReplayCache,
    ReportRecord,
    Reports,
    StagedRegister,
    StorageError,
    Store,
    StoredBlock,
    Systems,
    UnitOfWork,
)

DEFAULT_BUSY_TIMEOUT_S = 5.0


def ts(value: datetime) -> str:
    """An aware datetime as stored: UTC, fixed width, sortable."""
    if value.tzinfo is None:
        raise ValueError("only aware datetimes are stored")
    utc = value.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="microseconds") + "Z"


def from_ts(text: str) -> datetime:
    return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)


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


class SqliteStore(Store):
    dialect = "sqlite"

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
            staged = _stage(conn, persons)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return staged

    def migrate(self) -> Sequence[int]:
        applied: list[int] = []
        conn = self.connection()
        with _translated():
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            for migration in migrations.load():
                conn.execute("BEGIN IMMEDIATE")
                try:
                    done = conn.execute(
                        "SELECT 1 FROM schema_migrations WHERE version = ?", (migration.version,)
                    ).fetchone()
                    if done is None:
                        for statement in migration.statements(self.dialect):
                            conn.execute(statement)
                        conn.execute(
                            "INSERT INTO schema_migrations (version, name, applied_at)"
                            " VALUES (?, ?, ?)",
                            (migration.version, migration.name, ts(datetime.now(UTC))),
                        )
                        applied.append(migration.version)
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
        return applied

    def schema_version(self) -> int:
        conn = self.connection()
        with _translated():
            exists = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
            ).fetchone()
            if exists is None:
                return 0
            row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    def ping(self) -> bool:
        try:
            return self.schema_version() == migrations.latest_version()
        except StorageError:
            self.discard_connection()
            return False


class SqliteUnitOfWork(UnitOfWork):
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
        self.municipalities = _Municipalities(conn)
        self.institutions = _Institutions(conn)
        self.systems = _Systems(conn)
        self.persons = _Persons(conn)
        self.reports = _Reports(conn)
        self.cpr_imports = _CprImports(conn)
        self.replay = _ReplayCache(conn)
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


class _Repo:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def _upsert_reference(
        self, table: str, key: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]
    ) -> ApplyCounts:
        """Insert new rows, update changed ones, leave equal ones alone (small tables).

        Each row is ``(key value, *column values)``; names are this module's constants.
        """
        names = ", ".join(columns)
        existing = {
            row[0]: tuple(row[1:])
            for row in self.conn.execute(f"SELECT {key}, {names} FROM {table}")
        }
        insert = (
            f"INSERT INTO {table} ({key}, {names}) VALUES ({', '.join('?' * (len(columns) + 1))})"
        )
        update = f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in columns)} WHERE {key} = ?"
        todo = reference.plan(existing, rows)
        if todo.inserts:
            self.conn.executemany(insert, todo.inserts)
        if todo.updates:
            self.conn.executemany(update, todo.updates)
        return todo.counts


class _Municipalities(_Repo, Municipalities):
    def upsert_many(self, municipalities: Iterable[Municipality]) -> ApplyCounts:
        return self._upsert_reference(
            "municipalities", "code", ("name",), ((m.code, m.name) for m in municipalities)
        )

    def codes(self) -> set[int]:
        return {row[0] for row in self.conn.execute("SELECT code FROM municipalities")}


class _Institutions(_Repo, Institutions):
    def get(self, number: int) -> Institution | None:
        row = self.conn.execute(
            "SELECT number, municipality_code, name FROM institutions WHERE number = ?", (number,)
        ).fetchone()
        return None if row is None else Institution(*row)

    def upsert_many(self, institutions: Iterable[Institution]) -> ApplyCounts:
        return self._upsert_reference(
            "institutions",
            "number",
            ("municipality_code", "name"),
            ((i.number, i.municipality_code, i.name) for i in institutions),
        )

    def numbers(self) -> set[int]:
        return {row[0] for row in self.conn.execute("SELECT number FROM institutions")}


class _Systems(_Repo, Systems):
    def get(self, name: str) -> ClientSystem | None:
        row = self.conn.execute("SELECT id FROM client_systems WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        return ClientSystem(row[0], name, self._institutions(row[0]))

    def _institutions(self, system_id: int) -> frozenset[int]:
        return frozenset(
            r[0]
            for r in self.conn.execute(
                "SELECT institution_number FROM system_institutions WHERE system_id = ?",
                (system_id,),
            )
        )

    def add(self, name: str, institutions: Iterable[int], now: datetime) -> ClientSystem:
        self.conn.execute(
            "INSERT INTO client_systems (name, created_at) VALUES (?, ?)"
            " ON CONFLICT (name) DO NOTHING",
            (name, ts(now)),
        )
        (system_id,) = self.conn.execute(
            "SELECT id FROM client_systems WHERE name = ?", (name,)
        ).fetchone()
        self.conn.executemany(
            "INSERT INTO system_institutions (system_id, institution_number) VALUES (?, ?)"
            " ON CONFLICT DO NOTHING",
            [(system_id, n) for n in institutions],
        )
        return ClientSystem(system_id, name, self._institutions(system_id))

    def list(self) -> list[ClientSystem]:
        rows = self.conn.execute("SELECT id, name FROM client_systems ORDER BY name").fetchall()
        return [ClientSystem(i, n, self._institutions(i)) for i, n in rows]

    def add_certificate(self, system_id: int, certificate: ClientCertificate) -> None:
        c = certificate
        self.conn.execute(
            "INSERT INTO client_certificates (fingerprint, system_id, subject, not_before,"
            " not_after, added_at, retires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                c.fingerprint,
                system_id,
                c.subject,
                ts(c.not_before),
                ts(c.not_after),
                ts(c.added_at),
                None if c.retires_at is None else ts(c.retires_at),
            ),
        )

    def retire_certificates(self, system_id: int, at: datetime) -> int:
        cursor = self.conn.execute(
            "UPDATE client_certificates SET retires_at = ?"
            " WHERE system_id = ? AND (retires_at IS NULL OR retires_at > ?)",
            (ts(at), system_id, ts(at)),
        )
        return int(cursor.rowcount)

    def certificates(self, system_id: int) -> builtins.list[ClientCertificate]:
        rows = self.conn.execute(
            "SELECT fingerprint, subject, not_before, not_after, added_at, retires_at"
            " FROM client_certificates WHERE system_id = ? ORDER BY added_at, fingerprint",
            (system_id,),
        )
        return [
            ClientCertificate(
                r[0],
                r[1],
                from_ts(r[2]),
                from_ts(r[3]),
                from_ts(r[4]),
                None if r[5] is None else from_ts(r[5]),
            )
            for r in rows
        ]

    def by_certificate(self, fingerprint: str, now: datetime) -> ClientSystem | None:
        row = self.conn.execute(
            "SELECT s.id, s.name FROM client_certificates c"
            " JOIN client_systems s ON s.id = c.system_id"
            " WHERE c.fingerprint = ? AND (c.retires_at IS NULL OR c.retires_at > ?)",
            (fingerprint, ts(now)),
        ).fetchone()
        return None if row is None else ClientSystem(row[0], row[1], self._institutions(row[0]))


class _ReplayCache(_Repo, ReplayCache):
    #: expired entries are purged on about one call in this many
    PURGE_EVERY = 500

    def remember(self, key: str, keep_until: datetime, now: datetime) -> bool:
        stamp = ts(now)
        row = self.conn.execute(
            "INSERT INTO replay_cache (signature_sha256, keep_until) VALUES (?, ?)"
            " ON CONFLICT (signature_sha256) DO UPDATE SET keep_until = excluded.keep_until"
            " WHERE replay_cache.keep_until <= ?"
            " RETURNING signature_sha256",
            (key, ts(keep_until), stamp),
        ).fetchone()
        if secrets.randbelow(self.PURGE_EVERY) == 0:
            self.conn.execute("DELETE FROM replay_cache WHERE keep_until <= ?", (stamp,))
        return row is not None


def _person(row: tuple[str, str, str, int | None, str | None, str | None]) -> Person:
    return Person(row[0], date.fromisoformat(row[1]), PersonStatus(row[2]), row[3], row[4], row[5])


_STAGING = "temp.register_staging"


def _stage(conn: sqlite3.Connection, persons: Iterable[Person]) -> StagedRegister:
    """Stream ``persons`` into this connection's temporary staging table.

    The table lives in SQLite's temp storage: filling it in a transaction of its
    own takes no lock on the database file, so reports go on meanwhile.
    """
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {_STAGING} (cpr TEXT PRIMARY KEY,"
        " birth_date TEXT NOT NULL, status TEXT NOT NULL, municipality_code INTEGER,"
        " cpr_status TEXT, replaced_by TEXT)"
    )
    conn.execute(f"DELETE FROM {_STAGING}")
    conn.executemany(
        f"INSERT INTO {_STAGING} (cpr, {_PERSON_VALUES}) VALUES (?, ?, ?, ?, ?, ?)",
        (
            (
                p.cpr,
                p.birth_date.isoformat(),
                p.status.value,
                p.municipality_code,
                p.cpr_status,
                p.replaced_by,
            )
            for p in persons
        ),
    )
    (count,) = conn.execute(f"SELECT count(*) FROM {_STAGING}").fetchone()
    return StagedRegister(_STAGING, int(count))


_RESIDENT = "{t}.status = 'active' AND {t}.municipality_code IS NOT NULL"
_PERSON_VALUES = "birth_date, status, municipality_code, cpr_status, replaced_by"


def _values_of(table: str) -> str:
    """``(t.birth_date, t.status, ...)``: a person's values as one row value."""
    return "(" + ", ".join(f"{table}.{c}" for c in _PERSON_VALUES.split(", ")) + ")"


class _Persons(_Repo, Persons):
    def get(self, cpr: str) -> Person | None:
        row = self.conn.execute(
            f"SELECT cpr, {_PERSON_VALUES} FROM persons WHERE cpr = ?",
            (cpr,),
        ).fetchone()
        return None if row is None else _person(row)

    def apply_register(
        self, persons: Iterable[Person], *, full: bool, now: datetime
    ) -> RegisterCounts:
        staged = _stage(self.conn, persons)
        return self.apply_staged(staged, full=full, now=now)

    def apply_staged(self, staged: StagedRegister, *, full: bool, now: datetime) -> RegisterCounts:
        """Count, then apply the staged rows set-wise (see :func:`_stage`)."""
        conn = self.conn
        if staged.token != _STAGING:
            raise ValueError("not staged by this adapter")
        same = f"{_values_of('p')} IS {_values_of('s')}"
        total, added, unchanged, made_non_resident = conn.execute(
            "SELECT count(*), coalesce(sum(p.cpr IS NULL), 0),"
            f" coalesce(sum(p.cpr IS NOT NULL AND {same}), 0),"
            f" coalesce(sum(p.cpr IS NOT NULL AND {_RESIDENT.format(t='p')}"
            f" AND NOT ({_RESIDENT.format(t='s')})), 0)"
            " FROM temp.register_staging s LEFT JOIN persons p ON p.cpr = s.cpr"
        ).fetchone()
        changed = total - added - unchanged - made_non_resident
        unregistered = 0
        stamp = ts(now)
        if full:
            missing = (
                "persons.status <> 'unregistered' AND NOT EXISTS"
                " (SELECT 1 FROM temp.register_staging s WHERE s.cpr = persons.cpr)"
            )
            unregistered, were_resident = conn.execute(
                "SELECT count(*),"
                f" coalesce(sum({_RESIDENT.format(t='persons')}), 0)"
                f" FROM persons WHERE {missing}"
            ).fetchone()
            made_non_resident += were_resident
            changed += unregistered - were_resident
            conn.execute(
                f"UPDATE persons SET status = 'unregistered', updated_at = ? WHERE {missing}",
                (stamp,),
            )
        conn.execute(
            f"INSERT INTO persons (cpr, {_PERSON_VALUES}, updated_at)"
            f" SELECT cpr, {_PERSON_VALUES}, ? FROM {_STAGING} WHERE true"
            " ON CONFLICT (cpr) DO UPDATE SET birth_date = excluded.birth_date,"
            " status = excluded.status, municipality_code = excluded.municipality_code,"
            " cpr_status = excluded.cpr_status, replaced_by = excluded.replaced_by,"
            " updated_at = excluded.updated_at"
            f" WHERE {_values_of('persons')} IS NOT {_values_of('excluded')}",
            (stamp,),
        )
        conn.execute(f"DELETE FROM {_STAGING}")
        return RegisterCounts(added, changed, made_non_resident, unchanged, unregistered)

    def view(self, cpr: str) -> PersonView | None:
        person = self.get(cpr)
        if person is None:
            return None
        current: dict[BlockKind, StoredBlock] = {}
        for row in self.conn.execute(
            "SELECT h.kind, h.navn, h.mail, h.telefon, h.tekst, h.registered_at,"
            " r.received_at, s.name, r.system_transaction_id, r.correlation_id"
            " FROM current_blocks c"
            " JOIN block_history h ON h.id = c.history_id"
            " JOIN report_log r ON r.id = h.report_id"
            " JOIN client_systems s ON s.id = r.system_id"
            " WHERE c.cpr = ?",
            (cpr,),
        ):
            kind = BlockKind(row[0])
            current[kind] = StoredBlock(
                _block(kind, row[1], row[2], row[3], row[4], from_ts(row[5])),
                received_at=from_ts(row[6]),
                system_name=row[7],
                system_transaction_id=row[8],
                correlation_id=row[9],
            )
        (history,) = self.conn.execute(
            "SELECT count(*) FROM block_history WHERE cpr = ?", (cpr,)
        ).fetchone()
        (reports,) = self.conn.execute(
            "SELECT count(*) FROM report_log WHERE cpr = ?", (cpr,)
        ).fetchone()
        return PersonView(person, current, history, reports)


def _block(
    kind: BlockKind,
    navn: str | None,
    mail: str | None,
    telefon: int | None,
    tekst: str | None,
    registered: datetime,
) -> Block:
    if kind is BlockKind.KONTAKT:
        return ContactBlock(navn or "", mail or "", telefon, registered)
    if kind is BlockKind.JOB:
        return JobWishBlock(tekst or "", registered)
    return EducationWishBlock(tekst or "", registered)


class _CprImports(_Repo, CprImports):
    _COLUMNS = (
        "file_name, file_sha256, kind, task_number, production_date, previous_production_date,"
        " persons, added, changed, made_non_resident, unchanged, unregistered, warnings,"
        " forced, applied_at"
    )

    def add(self, record: CprImportRecord) -> None:
        c = record.counts
        self.conn.execute(
            f"INSERT INTO cpr_imports ({self._COLUMNS})"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.file_name,
                record.file_sha256,
                record.kind,
                record.task_number,
                record.production_date.isoformat(),
                None
                if record.previous_production_date is None
                else record.previous_production_date.isoformat(),
                record.persons,
                c.added,
                c.changed,
                c.made_non_resident,
                c.unchanged,
                c.unregistered,
                record.warnings,
                int(record.forced),
                ts(record.applied_at),
            ),
        )

    @staticmethod
    def _record(row: Sequence[Any]) -> CprImportRecord:
        return CprImportRecord(
            file_name=row[0],
            file_sha256=row[1],
            kind=row[2],
            task_number=row[3],
            production_date=date.fromisoformat(row[4]),
            previous_production_date=None if row[5] is None else date.fromisoformat(row[5]),
            persons=row[6],
            counts=RegisterCounts(row[7], row[8], row[9], row[10], row[11]),
            warnings=row[12],
            forced=bool(row[13]),
            applied_at=from_ts(row[14]),
        )

    def find(self, file_sha256: str) -> CprImportRecord | None:
        row = self.conn.execute(
            f"SELECT {self._COLUMNS} FROM cpr_imports WHERE file_sha256 = ? ORDER BY id LIMIT 1",
            (file_sha256,),
        ).fetchone()
        return None if row is None else self._record(row)

    def latest_production_date(self) -> date | None:
        (latest,) = self.conn.execute("SELECT max(production_date) FROM cpr_imports").fetchone()
        return None if latest is None else date.fromisoformat(latest)

    def list(self) -> list[CprImportRecord]:
        rows = self.conn.execute(f"SELECT {self._COLUMNS} FROM cpr_imports ORDER BY id")
        return [self._record(row) for row in rows]


class _Reports(_Repo, Reports):
    def find(self, system_id: int, system_transaction_id: str) -> ReportRecord | None:
        row = self.conn.execute(
            "SELECT correlation_id, system_id, system_transaction_id, content_sha256, cpr,"
            " institution_number, received_at, outcome_code FROM report_log"
            " WHERE system_id = ? AND system_transaction_id = ?",
            (system_id, system_transaction_id),
        ).fetchone()
        if row is None:
            return None
        return ReportRecord(
            correlation_id=row[0],
            system_id=row[1],
            system_transaction_id=row[2],
            content_sha256=row[3],
            cpr=row[4],
            institution_number=row[5],
            received_at=from_ts(row[6]),
            outcome=None if row[7] is None else ErrorCode(row[7]),
        )

    def log(self, record: ReportRecord) -> int | None:
        row = self.conn.execute(
            "INSERT INTO report_log (correlation_id, system_id, system_transaction_id,"
            " content_sha256, cpr, institution_number, received_at, outcome_code)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (system_id, system_transaction_id) DO NOTHING RETURNING id",
            (
                record.correlation_id,
                record.system_id,
                record.system_transaction_id,
                record.content_sha256,
                record.cpr,
                record.institution_number,
                ts(record.received_at),
                None if record.outcome is None else int(record.outcome),
            ),
        ).fetchone()
        return None if row is None else int(row[0])

    def add_block(self, report_id: int, cpr: str, block: Block) -> bool:
        if isinstance(block, ContactBlock):
            navn, mail, telefon, tekst = block.navn, block.mail, block.telefon, None
        else:
            navn, mail, telefon, tekst = None, None, None, block.tekst
        registered = ts(block.registreringstid)
        (history_id,) = self.conn.execute(
            "INSERT INTO block_history (report_id, cpr, kind, navn, mail, telefon, tekst,"
            " registered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (report_id, cpr, block.kind.value, navn, mail, telefon, tekst, registered),
        ).fetchone()
        # The merge rule (udb.domain.merge.supersedes) as one conditional upsert.
        row = self.conn.execute(
            "INSERT INTO current_blocks (cpr, kind, history_id, registered_at)"
            " VALUES (?, ?, ?, ?)"
            " ON CONFLICT (cpr, kind) DO UPDATE"
            " SET history_id = excluded.history_id, registered_at = excluded.registered_at"
            " WHERE excluded.registered_at >= current_blocks.registered_at"
            " RETURNING history_id",
            (cpr, block.kind.value, history_id, registered),
        ).fetchone()
        return row is not None and row[0] == history_id


__all__ = ["SqliteStore", "from_ts", "supersedes", "ts"]
