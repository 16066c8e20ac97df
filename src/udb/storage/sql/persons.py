"""The register's persons in SQL, written once: lookups, the operator's view, applying staged data.

Register data is first staged, outside the write transaction, in a table
``register_staging`` (token, cpr, birth_date, status, municipality_code,
cpr_status, replaced_by): a temporary table of the connection in SQLite, an
UNLOGGED table shared by every connection in PostgreSQL. How the rows get there
is the adapter's (:data:`Stage`); applying them is the same set-wise
statements for both (:meth:`SqlPersons.apply_staged`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from udb.domain.model import (
    Block,
    BlockKind,
    ContactBlock,
    EducationWishBlock,
    JobWishBlock,
    Person,
    PersonStatus,
)
from udb.storage import base
from udb.storage.records import PersonView, RegisterCounts, StagedRegister, StoredBlock
from udb.storage.sql.dialect import Dialect, SqlConnection, row_of
from udb.storage.sql.repositories import SqlRepository

STAGING = "register_staging"
#: the columns of a person besides the CPR number, in persons and register_staging
PERSON_VALUES = ("birth_date", "status", "municipality_code", "cpr_status", "replaced_by")
PERSON_COLUMNS = "cpr, " + ", ".join(PERSON_VALUES)
_TOKEN_PREFIX = "staged-"  # noqa: S105 (a name, not a secret)
_RESIDENT = "{t}.status = 'active' AND {t}.municipality_code IS NOT NULL"
#: a person of table ``{t}`` lives in Denmark (Person.resident), for the other repositories
RESIDENT = _RESIDENT

#: stage(db, persons, token): write ``persons`` to register_staging under ``token``; how many
Stage = Callable[[SqlConnection, Iterable[Person], str], int]


def new_token() -> str:
    return _TOKEN_PREFIX + secrets.token_hex(16)


def person_of(row: Sequence[Any], dialect: Dialect) -> Person:
    """A person from the columns of :data:`PERSON_COLUMNS`."""
    return Person(row[0], dialect.from_day(row[1]), PersonStatus(row[2]), *row[3:6])


def person_values(person: Person, dialect: Dialect) -> tuple[Any, ...]:
    """The values of :data:`PERSON_COLUMNS` for ``person``."""
    p = person
    return (
        p.cpr,
        dialect.day(p.birth_date),
        p.status.value,
        p.municipality_code,
        p.cpr_status,
        p.replaced_by,
    )


def block_of(kind: BlockKind, row: Sequence[Any], dialect: Dialect) -> Block:
    """A block from ``navn, mail, telefon, tekst, registered_at``."""
    navn, mail, telefon, tekst, registered = row
    when = dialect.from_time(registered)
    if kind is BlockKind.KONTAKT:
        return ContactBlock(navn or "", mail or "", telefon, when)
    if kind is BlockKind.JOB:
        return JobWishBlock(tekst or "", when)
    return EducationWishBlock(tekst or "", when)


class SqlPersons(SqlRepository, base.Persons):
    def __init__(self, db: SqlConnection, dialect: Dialect, stage: Stage) -> None:
        super().__init__(db, dialect)
        self._stage = stage

    def get(self, cpr: str) -> Person | None:
        row = self.db.one(f"SELECT {PERSON_COLUMNS} FROM persons WHERE cpr = ?", (cpr,))
        return None if row is None else person_of(row, self.d)

    def apply_register(
        self, persons: Iterable[Person], *, full: bool, now: datetime
    ) -> RegisterCounts:
        token = new_token()
        count = self._stage(self.db, persons, token)
        return self.apply_staged(StagedRegister(token, count), full=full, now=now)

    def apply_staged(self, staged: StagedRegister, *, full: bool, now: datetime) -> RegisterCounts:
        """Count, then apply the staged rows set-wise, then drop them."""
        if not staged.token.startswith(_TOKEN_PREFIX):
            raise ValueError("not staged by this adapter")
        db, d, token, stamp = self.db, self.d, staged.token, self.d.time(now)
        if d.lock_persons:
            db.execute(d.lock_persons)
        same = f"{row_of('p', PERSON_VALUES)} {d.same} {row_of('s', PERSON_VALUES)}"
        row = db.one(
            "SELECT count(*), count(*) FILTER (WHERE p.cpr IS NULL),"
            f" count(*) FILTER (WHERE p.cpr IS NOT NULL AND {same}),"
            f" count(*) FILTER (WHERE p.cpr IS NOT NULL AND {_RESIDENT.format(t='p')}"
            f" AND NOT ({_RESIDENT.format(t='s')}))"
            f" FROM {STAGING} s LEFT JOIN persons p ON p.cpr = s.cpr WHERE s.token = ?",
            (token,),
        )
        total, added, unchanged, made_non_resident = row or (0, 0, 0, 0)
        changed = total - added - unchanged - made_non_resident
        unregistered = 0
        if full:
            missing = (
                "persons.status <> 'unregistered' AND NOT EXISTS"
                f" (SELECT 1 FROM {STAGING} s WHERE s.token = ? AND s.cpr = persons.cpr)"
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
                f"UPDATE persons SET status = 'unregistered', updated_at = ? WHERE {missing}",
                (stamp, token),
            )
        values = ", ".join(PERSON_VALUES)
        updates = ", ".join(f"{c} = excluded.{c}" for c in (*PERSON_VALUES, "updated_at"))
        db.execute(
            f"INSERT INTO persons ({PERSON_COLUMNS}, updated_at)"
            f" SELECT cpr, {values}, ? FROM {STAGING} WHERE token = ?"
            f" ON CONFLICT (cpr) DO UPDATE SET {updates}"
            f" WHERE {row_of('persons', PERSON_VALUES)} {d.differs}"
            f" {row_of('excluded', PERSON_VALUES)}",
            (stamp, token),
        )
        db.execute(f"DELETE FROM {STAGING} WHERE token = ?", (token,))
        return RegisterCounts(added, changed, made_non_resident, unchanged, unregistered)

    def count(self) -> int:
        row = self.db.one("SELECT count(*) FROM persons")
        return 0 if row is None else int(row[0])

    def view(self, cpr: str) -> PersonView | None:
        person = self.get(cpr)
        if person is None:
            return None
        current: dict[BlockKind, StoredBlock] = {}
        for row in self.db.all(
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
                block_of(kind, row[1:6], self.d),
                received_at=self.d.from_time(row[6]),
                system_name=row[7],
                system_transaction_id=row[8],
                correlation_id=row[9],
            )
        counts = self.db.one(
            "SELECT (SELECT count(*) FROM block_history WHERE cpr = ?),"
            " (SELECT count(*) FROM report_log WHERE cpr = ?)",
            (cpr, cpr),
        )
        history, reports = counts or (0, 0)
        return PersonView(person, current, history, reports)
