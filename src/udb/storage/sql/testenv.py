"""The vendors' test environment in SQL, written once for every dialect (migration 0008)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from udb.storage import operator
from udb.storage.records import TestEnvPerson, TestEnvRequest, TestEnvSlot
from udb.storage.sql.repositories import SqlRepository

#: the columns of testenv_requests a TestEnvRequest is written to and read from, in its order
COLUMNS = (
    "system_name, received_at, correlation_id, operation, outcome, code, details,"
    " soap_version, certificate_fingerprint, uses_sha1, timestamp_created,"
    " system_transaction_id, cpr, content_sha256, blocks, repeated, body"
)
_PLACEHOLDERS = ", ".join("?" * len(COLUMNS.split(",")))


class SqlTestEnvironment(SqlRepository, operator.TestEnvironment):
    def is_marked(self) -> bool:
        row = self.db.one("SELECT count(*) FROM test_environment")
        return bool(row and row[0])

    def mark(self, now: datetime) -> None:
        self.db.execute(
            "INSERT INTO test_environment (id, created_at) VALUES (1, ?)"
            " ON CONFLICT (id) DO NOTHING",
            (self.d.time(now),),
        )

    def add_slot(self, slot: int, institution_number: int) -> None:
        self.db.execute(
            "INSERT INTO testenv_slots (slot, institution_number) VALUES (?, ?)"
            " ON CONFLICT (slot) DO NOTHING",
            (slot, institution_number),
        )

    def slots(self) -> builtins.list[TestEnvSlot]:
        rows = self.db.all(
            "SELECT s.slot, s.institution_number, i.municipality_code, c.name, s.enrolled_at"
            " FROM testenv_slots s JOIN institutions i ON i.number = s.institution_number"
            " LEFT JOIN client_systems c ON c.id = s.system_id ORDER BY s.slot"
        )
        return [TestEnvSlot(r[0], r[1], r[2], r[3], self.d.from_optional_time(r[4])) for r in rows]

    def add_persons(self, persons: Sequence[TestEnvPerson]) -> None:
        self.db.many(
            "INSERT INTO testenv_persons (cpr, slot, scenario) VALUES (?, ?, ?)"
            " ON CONFLICT (cpr) DO NOTHING",
            [(p.cpr, p.slot, p.scenario) for p in persons],
        )

    def persons(self, slot: int | None = None) -> builtins.list[TestEnvPerson]:
        where, params = ("", ()) if slot is None else (" WHERE slot = ?", (slot,))
        rows = self.db.all(
            f"SELECT cpr, slot, scenario FROM testenv_persons{where} ORDER BY slot, scenario, cpr",
            params,
        )
        return [TestEnvPerson(r[0], r[1], r[2]) for r in rows]

    def scenario(self, cpr: str) -> str | None:
        row = self.db.one("SELECT scenario FROM testenv_persons WHERE cpr = ?", (cpr,))
        return None if row is None else str(row[0])

    def enroll(self, slot: int, system_id: int, now: datetime) -> None:
        self.db.execute(
            "UPDATE testenv_slots SET system_id = ?, enrolled_at = ? WHERE slot = ?",
            (system_id, self.d.time(now), slot),
        )

    def first_attempt(self, system_name: str, system_transaction_id: str, now: datetime) -> bool:
        row = self.db.one(
            "INSERT INTO testenv_attempts (system_name, system_transaction_id, first_at)"
            " VALUES (?, ?, ?) ON CONFLICT DO NOTHING RETURNING 1",
            (system_name, system_transaction_id, self.d.time(now)),
        )
        return row is not None

    def record(self, request: TestEnvRequest) -> None:
        r = request
        self.db.execute(
            f"INSERT INTO testenv_requests ({COLUMNS}) VALUES ({_PLACEHOLDERS})"
            " ON CONFLICT (correlation_id) DO NOTHING",
            (
                r.system_name,
                self.d.time(r.received_at),
                r.correlation_id,
                r.operation,
                r.outcome,
                r.code,
                r.details,
                r.soap_version,
                r.certificate_fingerprint,
                1 if r.uses_sha1 else 0,
                self.d.optional_time(r.timestamp_created),
                r.system_transaction_id,
                r.cpr,
                r.content_sha256,
                ",".join(r.blocks),
                1 if r.repeated else 0,
                r.body,
            ),
        )

    def requests(self, system_name: str) -> builtins.list[TestEnvRequest]:
        rows = self.db.all(
            f"SELECT {COLUMNS} FROM testenv_requests WHERE system_name = ?"
            " ORDER BY received_at, id",
            (system_name,),
        )
        return [self._request(row) for row in rows]

    def _request(self, r: Sequence[Any]) -> TestEnvRequest:
        return TestEnvRequest(
            system_name=r[0],
            received_at=self.d.from_time(r[1]),
            correlation_id=r[2],
            operation=r[3],
            outcome=r[4],
            code=r[5],
            details=r[6],
            soap_version=r[7],
            certificate_fingerprint=r[8],
            uses_sha1=bool(r[9]),
            timestamp_created=self.d.from_optional_time(r[10]),
            system_transaction_id=r[11],
            cpr=r[12],
            content_sha256=r[13],
            blocks=tuple(b for b in (r[14] or "").split(",") if b),
            repeated=bool(r[15]),
            body=r[16],
        )

    def forget(self, system_name: str) -> int:
        row = self.db.one(
            "SELECT count(*) FROM testenv_requests WHERE system_name = ?", (system_name,)
        )
        self.db.execute("DELETE FROM testenv_requests WHERE system_name = ?", (system_name,))
        self.db.execute("DELETE FROM testenv_attempts WHERE system_name = ?", (system_name,))
        return int(row[0]) if row else 0
