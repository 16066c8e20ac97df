"""The repositories of :mod:`udb.storage.base` in SQL, written once for every dialect.

Each repository holds a :class:`~udb.storage.sql.dialect.SqlConnection` (the
adapter's, in the unit of work's open transaction) and the
:class:`~udb.storage.sql.dialect.Dialect`; statements use ``?`` placeholders
and only the names of this module's constants. The persons (the register
proper) are in :mod:`udb.storage.sql.persons`.
"""

from __future__ import annotations

import builtins
import secrets
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from udb.domain.model import (
    Block,
    ContactBlock,
    ErrorCode,
    Institution,
    Municipality,
)
from udb.storage import base, reference
from udb.storage.base import IntegrityError
from udb.storage.records import ApplyCounts, CprImportRecord, RegisterCounts, ReportRecord
from udb.storage.sql.dialect import Dialect, SqlConnection

#: the columns of report_log a ReportRecord is read from (see :func:`report_of`)
REPORT_COLUMNS = (
    "correlation_id, system_id, system_transaction_id, content_sha256, cpr,"
    " institution_number, received_at, outcome_code"
)
#: the columns of block_history that hold a block (see :func:`block_values`)
BLOCK_COLUMNS = "kind, navn, mail, telefon, tekst, registered_at"


#: whether a report is logged under an idempotency key (system id, SystemTransactionID)
KEY_TAKEN = "SELECT 1 FROM report_log WHERE system_id = ? AND system_transaction_id = ?"


class SqlRepository:
    def __init__(self, db: SqlConnection, dialect: Dialect) -> None:
        self.db = db
        self.d = dialect


def report_of(row: Sequence[Any], dialect: Dialect) -> ReportRecord:
    """A report-log record from the columns of :data:`REPORT_COLUMNS`."""
    return ReportRecord(
        correlation_id=row[0],
        system_id=row[1],
        system_transaction_id=row[2],
        content_sha256=row[3],
        cpr=row[4],
        institution_number=row[5],
        received_at=dialect.from_time(row[6]),
        outcome=None if row[7] is None else ErrorCode(row[7]),
    )


def report_values(record: ReportRecord, dialect: Dialect) -> tuple[Any, ...]:
    """The values of :data:`REPORT_COLUMNS` for ``record``."""
    return (
        record.correlation_id,
        record.system_id,
        record.system_transaction_id,
        record.content_sha256,
        record.cpr,
        record.institution_number,
        dialect.time(record.received_at),
        None if record.outcome is None else int(record.outcome),
    )


def block_values(block: Block, dialect: Dialect) -> tuple[Any, ...]:
    """The values of :data:`BLOCK_COLUMNS` for ``block``."""
    if isinstance(block, ContactBlock):
        navn, mail, telefon, tekst = block.navn, block.mail, block.telefon, None
    else:
        navn, mail, telefon, tekst = None, None, None, block.tekst
    return (block.kind.value, navn, mail, telefon, tekst, dialect.time(block.registreringstid))


class _ReferenceTable(SqlRepository):
    def _upsert(
        self, table: str, key: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]
    ) -> ApplyCounts:
        """Insert new rows, update changed ones, leave equal ones alone (small tables).

        Each row is ``(key value, *column values)`` (:func:`udb.storage.reference.plan`).
        """
        names = ", ".join(columns)
        existing = {
            row[0]: tuple(row[1:]) for row in self.db.all(f"SELECT {key}, {names} FROM {table}")
        }
        marks = ", ".join("?" * (len(columns) + 1))
        todo = reference.plan(existing, rows)
        if todo.inserts:
            self.db.many(f"INSERT INTO {table} ({key}, {names}) VALUES ({marks})", todo.inserts)
        if todo.updates:
            assignments = ", ".join(f"{c} = ?" for c in columns)
            self.db.many(f"UPDATE {table} SET {assignments} WHERE {key} = ?", todo.updates)
        return todo.counts


class SqlMunicipalities(_ReferenceTable, base.Municipalities):
    def upsert_many(self, municipalities: Iterable[Municipality]) -> ApplyCounts:
        return self._upsert(
            "municipalities", "code", ("name",), ((m.code, m.name) for m in municipalities)
        )

    def codes(self) -> set[int]:
        return {row[0] for row in self.db.all("SELECT code FROM municipalities")}

    def list(self) -> builtins.list[Municipality]:
        rows = self.db.all("SELECT code, name FROM municipalities ORDER BY code")
        return [Municipality(*row) for row in rows]


class SqlInstitutions(_ReferenceTable, base.Institutions):
    def get(self, number: int) -> Institution | None:
        row = self.db.one(
            "SELECT number, municipality_code, name FROM institutions WHERE number = ?", (number,)
        )
        return None if row is None else Institution(*row)

    def upsert_many(self, institutions: Iterable[Institution]) -> ApplyCounts:
        return self._upsert(
            "institutions",
            "number",
            ("municipality_code", "name"),
            ((i.number, i.municipality_code, i.name) for i in institutions),
        )

    def numbers(self) -> set[int]:
        return {row[0] for row in self.db.all("SELECT number FROM institutions")}

    def list(self) -> builtins.list[Institution]:
        rows = self.db.all(
            "SELECT number, municipality_code, name FROM institutions ORDER BY number"
        )
        return [Institution(*row) for row in rows]


class SqlReplayCache(SqlRepository, base.ReplayCache):
    #: expired entries are purged on about one call in this many
    PURGE_EVERY = 500
    #: at most this many expired entries per purge (the transaction stays short)
    PURGE_LIMIT = 5000

    def remember(self, key: str, keep_until: datetime, now: datetime) -> bool:
        row = self.db.one(
            "INSERT INTO replay_cache (signature_sha256, keep_until) VALUES (?, ?)"
            " ON CONFLICT (signature_sha256) DO UPDATE SET keep_until = excluded.keep_until"
            " WHERE replay_cache.keep_until <= ?"
            " RETURNING 1",
            (key, self.d.time(keep_until), self.d.time(now)),
        )
        self.maybe_purge(now)
        return row is not None

    def count(self, now: datetime) -> int:
        row = self.db.one(
            "SELECT count(*) FROM replay_cache WHERE keep_until > ?", (self.d.time(now),)
        )
        return int(row[0]) if row else 0

    def maybe_purge(self, now: datetime) -> None:
        """:meth:`purge` on about one call in :attr:`PURGE_EVERY`."""
        if secrets.randbelow(self.PURGE_EVERY) == 0:
            self.purge(now)

    def purge(self, now: datetime) -> None:
        """Delete up to :attr:`PURGE_LIMIT` expired entries."""
        self.db.execute(
            "DELETE FROM replay_cache WHERE signature_sha256 IN"
            " (SELECT signature_sha256 FROM replay_cache WHERE keep_until <= ?"
            f" LIMIT ?{self.d.skip_locked})",
            (self.d.time(now), self.PURGE_LIMIT),
        )


class SqlReports(SqlRepository, base.Reports):
    def find(self, system_id: int, system_transaction_id: str) -> ReportRecord | None:
        row = self.db.one(
            f"SELECT {REPORT_COLUMNS} FROM report_log"
            " WHERE system_id = ? AND system_transaction_id = ?",
            (system_id, system_transaction_id),
        )
        return None if row is None else report_of(row, self.d)

    def log(self, record: ReportRecord) -> int | None:
        row = self.db.one(
            f"INSERT INTO report_log ({REPORT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING RETURNING id",
            report_values(record, self.d),
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
        taken = self.db.one(KEY_TAKEN, (record.system_id, record.system_transaction_id))
        if taken is None:
            raise IntegrityError("constraint violated: report_log_correlation_id_key")

    def count_for_system(self, system_id: int) -> int:
        row = self.db.one("SELECT count(*) FROM report_log WHERE system_id = ?", (system_id,))
        return 0 if row is None else int(row[0])

    def add_block(self, report_id: int, cpr: str, block: Block) -> bool:
        values = block_values(block, self.d)
        row = self.db.one(
            f"INSERT INTO block_history (report_id, cpr, {BLOCK_COLUMNS})"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (report_id, cpr, *values),
        )
        if row is None:  # pragma: no cover - an INSERT ... RETURNING yields its row
            raise IntegrityError("constraint violated: the history row was not stored")
        history_id = row[0]
        # The merge rule (udb.domain.merge.supersedes) as one conditional upsert.
        current = self.db.one(
            "INSERT INTO current_blocks (cpr, kind, history_id, registered_at)"
            " VALUES (?, ?, ?, ?)"
            " ON CONFLICT (cpr, kind) DO UPDATE"
            " SET history_id = excluded.history_id, registered_at = excluded.registered_at"
            " WHERE excluded.registered_at >= current_blocks.registered_at"
            " RETURNING history_id",
            (cpr, values[0], history_id, values[-1]),
        )
        return current is not None and current[0] == history_id


class SqlCprImports(SqlRepository, base.CprImports):
    _COLUMNS = (
        "file_name, file_sha256, kind, task_number, production_date, previous_production_date,"
        " persons, added, changed, made_non_resident, unchanged, unregistered, warnings,"
        " forced, applied_at"
    )

    def add(self, record: CprImportRecord) -> None:
        c, d = record.counts, self.d
        previous = record.previous_production_date
        self.db.execute(
            f"INSERT INTO cpr_imports ({self._COLUMNS})"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.file_name,
                record.file_sha256,
                record.kind,
                record.task_number,
                d.day(record.production_date),
                None if previous is None else d.day(previous),
                record.persons,
                c.added,
                c.changed,
                c.made_non_resident,
                c.unchanged,
                c.unregistered,
                record.warnings,
                int(record.forced),
                d.time(record.applied_at),
            ),
        )

    def _record(self, row: Sequence[Any]) -> CprImportRecord:
        d = self.d
        return CprImportRecord(
            file_name=row[0],
            file_sha256=row[1],
            kind=row[2],
            task_number=row[3],
            production_date=d.from_day(row[4]),
            previous_production_date=d.from_optional_day(row[5]),
            persons=row[6],
            counts=RegisterCounts(row[7], row[8], row[9], row[10], row[11]),
            warnings=row[12],
            forced=bool(row[13]),
            applied_at=d.from_time(row[14]),
        )

    def find(self, file_sha256: str) -> CprImportRecord | None:
        row = self.db.one(
            f"SELECT {self._COLUMNS} FROM cpr_imports WHERE file_sha256 = ? ORDER BY id LIMIT 1",
            (file_sha256,),
        )
        return None if row is None else self._record(row)

    def latest_production_date(self) -> date | None:
        row = self.db.one("SELECT max(production_date) FROM cpr_imports")
        return None if row is None else self.d.from_optional_day(row[0])

    def list(self) -> builtins.list[CprImportRecord]:
        rows = self.db.all(f"SELECT {self._COLUMNS} FROM cpr_imports ORDER BY id")
        return [self._record(row) for row in rows]
