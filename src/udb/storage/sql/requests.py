"""The request log in SQL, written once for every dialect: one row of ``request_log``
per :class:`~udb.storage.records.RequestRecord` (migration 0006)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from udb.storage import operator
from udb.storage.records import RequestRecord
from udb.storage.sql.repositories import SqlRepository

#: the columns of request_log a RequestRecord is written to and read from, in its order
COLUMNS = (
    "received_at, correlation_id, operation, outcome, code, details, http_status,"
    " soap_version, duration_ms, system_name, institution_number, masked_cpr, repeated"
)
_PLACEHOLDERS = ", ".join("?" * len(COLUMNS.split(",")))


class SqlRequestLog(SqlRepository, operator.RequestLog):
    def add(self, record: RequestRecord) -> None:
        self.add_many([record])

    def add_many(self, records: Sequence[RequestRecord]) -> None:
        self.db.many(
            f"INSERT INTO request_log ({COLUMNS}) VALUES ({_PLACEHOLDERS})"
            " ON CONFLICT (correlation_id) DO NOTHING",
            [self._row(record) for record in records],
        )

    def _row(self, r: RequestRecord) -> tuple[Any, ...]:
        return (
            self.d.time(r.received_at),
            r.correlation_id,
            r.operation,
            r.outcome,
            r.code,
            r.details,
            r.http_status,
            r.soap_version,
            r.duration_ms,
            r.system_name,
            r.institution_number,
            r.masked_cpr,
            1 if r.repeated else 0,
        )

    def find(self, correlation_id: str) -> RequestRecord | None:
        row = self.db.one(
            f"SELECT {COLUMNS} FROM request_log WHERE correlation_id = ?", (correlation_id,)
        )
        return None if row is None else self._record(row)

    def list(
        self,
        *,
        system_name: str | None = None,
        outcome: str | None = None,
        code: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> builtins.list[RequestRecord]:
        where: builtins.list[str] = []
        params: builtins.list[Any] = []
        for column, value in (
            ("system_name", system_name),
            ("outcome", outcome),
            ("code", code),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            where.append("received_at >= ?")
            params.append(self.d.time(since))
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        params.append(max(0, min(limit, self.MAX_LIST)))
        rows = self.db.all(
            f"SELECT {COLUMNS} FROM request_log{clause} ORDER BY received_at DESC, id DESC LIMIT ?",
            params,
        )
        return [self._record(row) for row in rows]

    def _record(self, row: Sequence[Any]) -> RequestRecord:
        return RequestRecord(
            received_at=self.d.from_time(row[0]),
            correlation_id=row[1],
            operation=row[2],
            outcome=row[3],
            code=row[4],
            details=row[5],
            http_status=int(row[6]),
            soap_version=row[7],
            duration_ms=float(row[8]),
            system_name=row[9],
            institution_number=None if row[10] is None else int(row[10]),
            masked_cpr=row[11],
            repeated=bool(row[12]),
        )
