"""Retention in SQL (:class:`udb.storage.operator.Retention`), written once for every dialect.

Each kind is a condition over its table, used twice: counted (a dry run) and
deleted in batches (``LIMIT``, and on PostgreSQL ``FOR UPDATE SKIP LOCKED``, so
that two purges, or a purge and a report, never wait for each other)::

    DELETE FROM request_log WHERE id IN
        (SELECT id FROM request_log WHERE received_at < ? LIMIT ? FOR UPDATE SKIP LOCKED)

The report log is referenced by the block history: a report row goes only when
none of its history rows is left, and a history row only when it is no longer a
person's current block.
"""

from __future__ import annotations

import builtins
from datetime import datetime

from udb.storage import base, operator
from udb.storage.records import (
    RETENTION_KINDS,
    RetentionCounts,
    RetentionCutoffs,
    RetentionRun,
)
from udb.storage.sql.dialect import Dialect, Params
from udb.storage.sql.repositories import SqlRepository

#: first key of the advisory lock taken while a purge is recorded as started
RETENTION_LOCK = 0x0DB0_0003

_HAS_DATA = "EXISTS (SELECT 1 FROM block_history h WHERE h.cpr = p.cpr)"
_GONE = "(p.status <> 'active' OR p.municipality_code IS NULL)"
_OLD_REPORT = "h.report_id IN (SELECT r.id FROM report_log r WHERE r.received_at < ?)"
_NOT_CURRENT = "NOT EXISTS (SELECT 1 FROM current_blocks c WHERE c.history_id = h.id)"

#: per kind: the table, its key, and the condition on its rows (alias in the FROM)
_WHERE: dict[str, tuple[str, str, str]] = {
    "replay_entries": ("replay_cache x", "x.signature_sha256", "x.keep_until <= ?"),
    "requests": ("request_log x", "x.id", "x.received_at < ?"),
    "report_blocks": ("block_history h", "h.id", f"{_OLD_REPORT} AND {_NOT_CURRENT}"),
    "reports": (
        "report_log r",
        "r.id",
        "r.received_at < ? AND NOT EXISTS (SELECT 1 FROM block_history h WHERE h.report_id = r.id)",
    ),
    "persons_over_25": ("persons p", "p.cpr", f"p.birth_date <= ? AND {_HAS_DATA}"),
    "persons_gone": (
        "persons p",
        "p.cpr",
        f"p.birth_date > ? AND {_GONE} AND p.updated_at < ? AND {_HAS_DATA}",
    ),
}

#: a report counts (dry run) if none of its history rows is current: the
#: report_blocks step deletes the others first
_REPORTS_TO_COUNT = (
    "SELECT count(*) FROM report_log r WHERE r.received_at < ? AND NOT EXISTS"
    " (SELECT 1 FROM block_history h JOIN current_blocks c ON c.history_id = h.id"
    " WHERE h.report_id = r.id)"
)

_RUN_COLUMNS = ", ".join(
    ("id", "started_at", "finished_at", "dry_run", *RETENTION_KINDS, "duration_ms", "error")
)


def _params(kind: str, cutoffs: RetentionCutoffs, d: Dialect) -> Params:
    if kind == "replay_entries":
        return (d.time(cutoffs.now),)
    if kind in ("requests", "report_blocks", "reports"):
        return (d.time(cutoffs.logs_before),)
    if kind == "persons_over_25":
        return (d.day(cutoffs.born_by),)
    return (d.day(cutoffs.born_by), d.time(cutoffs.gone_before))


class SqlRetention(SqlRepository, operator.Retention):
    def count(self, cutoffs: RetentionCutoffs) -> RetentionCounts:
        counts: dict[str, int] = {}
        for kind in RETENTION_KINDS:
            table, _key, where = _WHERE[kind]
            sql = f"SELECT count(*) FROM {table} WHERE {where}"
            if kind == "reports":
                sql = _REPORTS_TO_COUNT
            row = self.db.one(sql, _params(kind, cutoffs, self.d))
            counts[kind] = int(row[0]) if row else 0
        return RetentionCounts(**counts)

    def delete(self, kind: str, cutoffs: RetentionCutoffs, limit: int) -> int:
        table, key, where = _WHERE[kind]
        chosen = f"SELECT {key} FROM {table} WHERE {where} LIMIT ?{self.d.skip_locked}"
        params = (*_params(kind, cutoffs, self.d), limit)
        if kind.startswith("persons_"):
            cprs = [row[0] for row in self.db.all(chosen, params)]
            if cprs:
                marks = ", ".join("?" * len(cprs))
                self.db.execute(f"DELETE FROM current_blocks WHERE cpr IN ({marks})", cprs)
                self.db.execute(f"DELETE FROM block_history WHERE cpr IN ({marks})", cprs)
            return len(cprs)
        name = table.split()[0]
        column = key.split(".", 1)[1]
        cursor = self.db.execute(f"DELETE FROM {name} WHERE {column} IN ({chosen})", params)
        return max(cursor.rowcount, 0)

    def begin_run(
        self, started_at: datetime, *, dry_run: bool, stale_before: datetime
    ) -> int | None:
        if self.d.try_lock_retention is not None:
            locked = self.db.one(self.d.try_lock_retention, (RETENTION_LOCK,))
            if locked is None or not locked[0]:
                return None
        running = self.db.one(
            "SELECT count(*) FROM retention_runs WHERE finished_at IS NULL AND started_at >= ?",
            (self.d.time(stale_before),),
        )
        if running is not None and running[0]:
            return None
        row = self.db.one(
            "INSERT INTO retention_runs (started_at, dry_run) VALUES (?, ?) RETURNING id",
            (self.d.time(started_at), 1 if dry_run else 0),
        )
        if row is None:
            raise base.StorageError("the database did not answer the new purge's id")
        return int(row[0])

    def finish_run(
        self,
        run_id: int,
        finished_at: datetime,
        counts: RetentionCounts,
        duration_ms: float,
        error: str | None = None,
    ) -> None:
        values = counts.as_dict()
        assignments = ", ".join(f"{kind} = ?" for kind in values)
        self.db.execute(
            f"UPDATE retention_runs SET finished_at = ?, {assignments}, duration_ms = ?,"
            " error = ? WHERE id = ?",
            (self.d.time(finished_at), *values.values(), duration_ms, error, run_id),
        )

    def runs(self, limit: int) -> builtins.list[RetentionRun]:
        rows = self.db.all(
            f"SELECT {_RUN_COLUMNS} FROM retention_runs ORDER BY started_at DESC, id DESC LIMIT ?",
            (limit,),
        )
        n = len(RETENTION_KINDS)
        return [
            RetentionRun(
                id=int(row[0]),
                started_at=self.d.from_time(row[1]),
                finished_at=self.d.from_optional_time(row[2]),
                dry_run=bool(row[3]),
                counts=RetentionCounts(*(int(v) for v in row[4 : 4 + n])),
                duration_ms=None if row[4 + n] is None else float(row[4 + n]),
                error=row[5 + n],
            )
            for row in rows
        ]
