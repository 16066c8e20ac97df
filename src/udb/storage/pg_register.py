"""PostgreSQL: the register's repositories, and register data staged with COPY.

The register is what the operator imports: municipalities, institutions,
persons (from the CPR office's extracts, :class:`PgCprImports`).

A register file is streamed with ``COPY`` into ``register_staging``, a regular
UNLOGGED table (not written to the WAL: staged rows are scratch data that a
crash may lose), under a random token, in a transaction of its own that locks
no other table: reports go on meanwhile. Being a regular table, the staged rows
are visible to the later unit of work whichever pooled connection it gets;
:meth:`PgPersons.apply_staged` then works set-wise over the token's rows, in a
short transaction, and deletes them. The table is created on first use
(``CREATE UNLOGGED TABLE IF NOT EXISTS``), outside the migration history: it
holds no data between imports.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from udb.domain.model import (
    Block,
    BlockKind,
    ContactBlock,
    EducationWishBlock,
    Institution,
    JobWishBlock,
    Municipality,
    Person,
    PersonStatus,
)
from udb.storage import reference
from udb.storage.base import (
    ApplyCounts,
    CprImportRecord,
    CprImports,
    Institutions,
    Municipalities,
    Persons,
    PersonView,
    RegisterCounts,
    StagedRegister,
    StoredBlock,
)

if TYPE_CHECKING:
    from udb.storage.postgresql import Session

STAGING = "register_staging"
_TOKEN_PREFIX = "pg-staged-"  # noqa: S105 (a name, not a secret)
#: staged rows older than this were abandoned (the process died): removed when staging
_ABANDONED_AFTER = "1 day"
#: analyse the staged rows above this many, so the planner joins them sensibly
_ANALYZE_FROM = 1000
#: an advisory lock key: creating the staging table (two instances may do it at once)
_CREATE_LOCK = 0x0DB0_0002

_PERSON_VALUES = "birth_date, status, municipality_code, cpr_status, replaced_by"
_RESIDENT = "{t}.status = 'active' AND {t}.municipality_code IS NOT NULL"
_PERSON_SELECT = (
    "cpr::text, birth_date, status, municipality_code, cpr_status::text, replaced_by::text"
)


def aware(value: datetime) -> datetime:
    """An aware datetime as stored (TIMESTAMPTZ); naive ones are refused, as in SQLite."""
    if value.tzinfo is None:
        raise ValueError("only aware datetimes are stored")
    return value


def _values_of(table: str) -> str:
    """``(t.birth_date, t.status, ...)``: a person's values as one row value."""
    return "(" + ", ".join(f"{table}.{c}" for c in _PERSON_VALUES.split(", ")) + ")"


def new_token() -> str:
    return _TOKEN_PREFIX + secrets.token_hex(16)


def _ensure_table(db: Session) -> None:
    row = db.one(f"SELECT to_regclass('{STAGING}') IS NOT NULL")
    if row is not None and row[0]:
        return
    db.execute(
        "SELECT pg_advisory_xact_lock(%s, hashtext(coalesce(current_schema(), '')))",
        (_CREATE_LOCK,),
    )
    # The column types are those of persons, so a value persons refuses is refused here.
    db.execute(
        f"CREATE UNLOGGED TABLE IF NOT EXISTS {STAGING} (token TEXT NOT NULL,"
        " cpr CHAR(10) NOT NULL, birth_date DATE NOT NULL, status TEXT NOT NULL,"
        " municipality_code INTEGER, cpr_status CHAR(2), replaced_by CHAR(10),"
        " staged_at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (token, cpr))"
    )


def stage(
    db: Session, persons: Iterable[Person], token: str, *, replaces: str | None = None
) -> int:
    """COPY ``persons`` into the staging table under ``token``, in ``db``'s open transaction.

    ``replaces`` is the token this thread staged before: its rows go. The number
    of persons staged is returned.
    """
    _ensure_table(db)
    db.execute(
        f"DELETE FROM {STAGING} WHERE token = %s"
        f" OR staged_at < now() - interval '{_ABANDONED_AFTER}'",
        (replaces or "",),
    )
    count = db.copy(
        f"COPY {STAGING} (token, cpr, {_PERSON_VALUES}) FROM STDIN",
        (
            (
                token,
                p.cpr,
                p.birth_date,
                p.status.value,
                p.municipality_code,
                p.cpr_status,
                p.replaced_by,
            )
            for p in persons
        ),
    )
    if count >= _ANALYZE_FROM:
        db.execute(f"ANALYZE {STAGING}")
    return count


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


def person_of(row: Sequence[Any]) -> Person:
    """A person from the columns of ``_PERSON_SELECT``."""
    return Person(row[0], row[1], PersonStatus(row[2]), row[3], row[4], row[5])


class Repo:
    def __init__(self, session: Session) -> None:
        self.db = session


class PgPersons(Repo, Persons):
    def get(self, cpr: str) -> Person | None:
        row = self.db.one(f"SELECT {_PERSON_SELECT} FROM persons WHERE cpr = %s", (cpr,))
        return None if row is None else person_of(row)

    def apply_register(
        self, persons: Iterable[Person], *, full: bool, now: datetime
    ) -> RegisterCounts:
        token = new_token()
        count = stage(self.db, persons, token)
        return self.apply_staged(StagedRegister(token, count), full=full, now=now)

    def apply_staged(self, staged: StagedRegister, *, full: bool, now: datetime) -> RegisterCounts:
        """Count, then apply the staged rows set-wise (see :func:`stage`)."""
        if not staged.token.startswith(_TOKEN_PREFIX):
            raise ValueError("not staged by this adapter")
        token, stamp = staged.token, aware(now)
        db = self.db
        # Register writers queue here, so the counts below are exact; reports
        # only read persons (and FOR KEY SHARE them): they are not held up.
        db.execute("LOCK TABLE persons IN SHARE ROW EXCLUSIVE MODE")
        same = f"{_values_of('p')} IS NOT DISTINCT FROM {_values_of('s')}"
        row = db.one(
            "SELECT count(*), count(*) FILTER (WHERE p.cpr IS NULL),"
            f" count(*) FILTER (WHERE p.cpr IS NOT NULL AND {same}),"
            f" count(*) FILTER (WHERE p.cpr IS NOT NULL AND {_RESIDENT.format(t='p')}"
            f" AND NOT ({_RESIDENT.format(t='s')}))"
            f" FROM {STAGING} s LEFT JOIN persons p ON p.cpr = s.cpr WHERE s.token = %s",
            (token,),
        )
        total, added, unchanged, made_non_resident = row or (0, 0, 0, 0)
        changed = total - added - unchanged - made_non_resident
        unregistered = 0
        if full:
            missing = (
                "persons.status <> 'unregistered' AND NOT EXISTS"
                f" (SELECT 1 FROM {STAGING} s WHERE s.token = %s AND s.cpr = persons.cpr)"
            )
            gone = db.one(
                f"SELECT count(*), count(*) FILTER (WHERE {_RESIDENT.format(t='persons')})"
                f" FROM persons WHERE {missing}",
                (token,),
            )
            unregistered, were_resident = gone or (0, 0)
            made_non_resident += were_resident
            changed += unregistered - were_resident
            db.execute(
                f"UPDATE persons SET status = 'unregistered', updated_at = %s WHERE {missing}",
                (stamp, token),
            )
        db.execute(
            f"INSERT INTO persons (cpr, {_PERSON_VALUES}, updated_at)"
            f" SELECT cpr, {_PERSON_VALUES}, %s FROM {STAGING} WHERE token = %s"
            " ON CONFLICT (cpr) DO UPDATE SET birth_date = excluded.birth_date,"
            " status = excluded.status, municipality_code = excluded.municipality_code,"
            " cpr_status = excluded.cpr_status, replaced_by = excluded.replaced_by,"
            " updated_at = excluded.updated_at"
            f" WHERE {_values_of('persons')} IS DISTINCT FROM {_values_of('excluded')}",
            (stamp, token),
        )
        db.execute(f"DELETE FROM {STAGING} WHERE token = %s", (token,))
        return RegisterCounts(added, changed, made_non_resident, unchanged, unregistered)

    def view(self, cpr: str) -> PersonView | None:
        person = self.get(cpr)
        if person is None:
            return None
        current: dict[BlockKind, StoredBlock] = {}
        for row in self.db.all(
            "SELECT h.kind, h.navn, h.mail, h.telefon, h.tekst, h.registered_at,"
            " r.received_at, s.name, r.system_transaction_id, r.correlation_id::text"
            " FROM current_blocks c"
            " JOIN block_history h ON h.id = c.history_id"
            " JOIN report_log r ON r.id = h.report_id"
            " JOIN client_systems s ON s.id = r.system_id"
            " WHERE c.cpr = %s",
            (cpr,),
        ):
            kind = BlockKind(row[0])
            current[kind] = StoredBlock(
                _block(kind, row[1], row[2], row[3], row[4], row[5]),
                received_at=row[6],
                system_name=row[7],
                system_transaction_id=row[8],
                correlation_id=row[9],
            )
        counts = self.db.one(
            "SELECT (SELECT count(*) FROM block_history WHERE cpr = %s),"
            " (SELECT count(*) FROM report_log WHERE cpr = %s)",
            (cpr, cpr),
        )
        history, reports = counts or (0, 0)
        return PersonView(person, current, history, reports)


class _Reference(Repo):
    def _upsert_reference(
        self, table: str, key: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]
    ) -> ApplyCounts:
        """Insert new rows, update changed ones, leave equal ones alone (small tables).

        Each row is ``(key value, *column values)``; names are this module's constants.
        """
        names = ", ".join(columns)
        existing = {
            row[0]: tuple(row[1:]) for row in self.db.all(f"SELECT {key}, {names} FROM {table}")
        }
        marks = ", ".join(["%s"] * (len(columns) + 1))
        insert = f"INSERT INTO {table} ({key}, {names}) VALUES ({marks})"
        update = f"UPDATE {table} SET {', '.join(f'{c} = %s' for c in columns)} WHERE {key} = %s"
        todo = reference.plan(existing, rows)
        if todo.inserts:
            self.db.many(insert, todo.inserts)
        if todo.updates:
            self.db.many(update, todo.updates)
        return todo.counts


class PgMunicipalities(_Reference, Municipalities):
    def upsert_many(self, municipalities: Iterable[Municipality]) -> ApplyCounts:
        return self._upsert_reference(
            "municipalities", "code", ("name",), ((m.code, m.name) for m in municipalities)
        )

    def codes(self) -> set[int]:
        return {row[0] for row in self.db.all("SELECT code FROM municipalities")}


class PgInstitutions(_Reference, Institutions):
    def get(self, number: int) -> Institution | None:
        row = self.db.one(
            "SELECT number, municipality_code, name FROM institutions WHERE number = %s",
            (number,),
        )
        return None if row is None else Institution(*row)

    def upsert_many(self, institutions: Iterable[Institution]) -> ApplyCounts:
        return self._upsert_reference(
            "institutions",
            "number",
            ("municipality_code", "name"),
            ((i.number, i.municipality_code, i.name) for i in institutions),
        )

    def numbers(self) -> set[int]:
        return {row[0] for row in self.db.all("SELECT number FROM institutions")}


class PgCprImports(Repo, CprImports):
    _COLUMNS = (
        "file_name, file_sha256::text, kind, task_number, production_date,"
        " previous_production_date, persons, added, changed, made_non_resident, unchanged,"
        " unregistered, warnings, forced, applied_at"
    )

    def add(self, record: CprImportRecord) -> None:
        c = record.counts
        self.db.execute(
            f"INSERT INTO cpr_imports ({self._COLUMNS.replace('::text', '')})"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                record.file_name,
                record.file_sha256,
                record.kind,
                record.task_number,
                record.production_date,
                record.previous_production_date,
                record.persons,
                c.added,
                c.changed,
                c.made_non_resident,
                c.unchanged,
                c.unregistered,
                record.warnings,
                int(record.forced),
                aware(record.applied_at),
            ),
        )

    @staticmethod
    def _record(row: Sequence[Any]) -> CprImportRecord:
        return CprImportRecord(
            file_name=row[0],
            file_sha256=row[1],
            kind=row[2],
            task_number=row[3],
            production_date=row[4],
            previous_production_date=row[5],
            persons=row[6],
            counts=RegisterCounts(row[7], row[8], row[9], row[10], row[11]),
            warnings=row[12],
            forced=bool(row[13]),
            applied_at=row[14],
        )

    def find(self, file_sha256: str) -> CprImportRecord | None:
        row = self.db.one(
            f"SELECT {self._COLUMNS} FROM cpr_imports WHERE file_sha256 = %s ORDER BY id LIMIT 1",
            (file_sha256,),
        )
        return None if row is None else self._record(row)

    def latest_production_date(self) -> date | None:
        row = self.db.one("SELECT max(production_date) FROM cpr_imports")
        return None if row is None else row[0]

    def list(self) -> list[CprImportRecord]:
        rows = self.db.all(f"SELECT {self._COLUMNS} FROM cpr_imports ORDER BY id")
        return [self._record(row) for row in rows]
