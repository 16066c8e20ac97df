"""The fake store's :class:`~udb.storage.operator.Retention` (bound in :mod:`tests.unit.fakes`).

It deletes from the fake's data what the SQL adapter deletes, by the same rules
(:mod:`udb.storage.sql.retention`); the fake keeps no request records, so
``requests`` is always 0.
"""

from __future__ import annotations

import builtins
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from udb.storage import operator
from udb.storage.records import RETENTION_KINDS, RetentionCounts, RetentionCutoffs, RetentionRun

if TYPE_CHECKING:
    from tests.unit.fakes import Data, FakeUnitOfWork


def _targets(data: Data, kind: str, c: RetentionCutoffs, *, counting: bool = False) -> list[object]:
    current = set(data.current.values())
    with_data = {cpr for _, cpr, _ in data.history}
    old = {rid for rid, r in data.reports.items() if r.received_at < c.logs_before}
    if kind == "replay_entries":
        return [k for k, until in data.replay.items() if until <= c.now]
    if kind == "report_blocks":
        return [i for i, (rid, _, _) in enumerate(data.history) if rid in old and i not in current]
    if kind == "reports":
        # counting: the report_blocks step has deleted the non-current rows by then
        kept = {data.history[i][0] for i in current} if counting else {h[0] for h in data.history}
        return [rid for rid in sorted(old) if rid not in kept]
    if kind == "persons_over_25":
        return [p for p, v in data.persons.items() if v.birth_date <= c.born_by and p in with_data]
    if kind == "persons_gone":
        return [
            p
            for p, v in data.persons.items()
            if v.birth_date > c.born_by
            and not v.resident
            and data.updated.get(p, datetime.max.replace(tzinfo=c.now.tzinfo)) < c.gone_before
            and p in with_data
        ]
    return []  # requests: the fake keeps no request records


def _drop_history(data: Data, drop: set[int]) -> None:
    """Delete history rows, renumbering the current blocks' references to the others."""
    kept = [i for i in range(len(data.history)) if i not in drop]
    new_index = {old: new for new, old in enumerate(kept)}
    data.history = [data.history[i] for i in kept]
    data.current = {key: new_index[i] for key, i in data.current.items() if i in new_index}


class FakeRetention(operator.Retention):
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow

    def count(self, cutoffs: RetentionCutoffs) -> RetentionCounts:
        data = self.uow.data("retention.count")
        return RetentionCounts(
            **{k: len(_targets(data, k, cutoffs, counting=True)) for k in RETENTION_KINDS}
        )

    def delete(self, kind: str, cutoffs: RetentionCutoffs, limit: int) -> int:
        data = self.uow.data(f"retention.delete.{kind}", write=True)
        chosen = _targets(data, kind, cutoffs)[:limit]
        if kind == "replay_entries":
            for key in chosen:
                del data.replay[str(key)]
        elif kind == "report_blocks":
            _drop_history(data, {int(str(i)) for i in chosen})
        elif kind == "reports":
            for rid in chosen:
                del data.reports[int(str(rid))]
        elif kind.startswith("persons_"):
            cprs = set(chosen)
            _drop_history(data, {i for i, (_, cpr, _) in enumerate(data.history) if cpr in cprs})
        return len(chosen)

    def begin_run(
        self, started_at: datetime, *, dry_run: bool, stale_before: datetime
    ) -> int | None:
        data = self.uow.data("retention.begin_run", write=True)
        if any(r.finished_at is None and r.started_at >= stale_before for r in data.runs):
            return None
        run_id = self.uow.store.next_id()
        data.runs.append(RetentionRun(run_id, started_at, None, dry_run, RetentionCounts(), None))
        return run_id

    def finish_run(
        self,
        run_id: int,
        finished_at: datetime,
        counts: RetentionCounts,
        duration_ms: float,
        error: str | None = None,
    ) -> None:
        data = self.uow.data("retention.finish_run", write=True)
        data.runs = [
            replace(r, finished_at=finished_at, counts=counts, duration_ms=duration_ms, error=error)
            if r.id == run_id
            else r
            for r in data.runs
        ]

    def runs(self, limit: int) -> builtins.list[RetentionRun]:
        data = self.uow.data("retention.runs")
        return sorted(data.runs, key=lambda r: (r.started_at, r.id), reverse=True)[:limit]
