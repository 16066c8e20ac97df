"""Retention: deleting what the service no longer needs (data minimisation).

The interface description is about young people under 25: a municipality reports
a young person's contact person and wishes so that the youth guidance can reach
them. After that the data has no purpose, and neither has it for a person who no
longer lives in Denmark or has left the register. :func:`purge` deletes, kind by
kind (:data:`~udb.storage.records.RETENTION_KINDS`), in batches of one short
transaction each:

* expired replay-cache entries;
* request records and report-log records older than :attr:`RetentionPolicy.logs`
  (a report still referenced by a person's current block stays; its history rows
  that are no longer current go with it);
* the contact person and the wishes (current and history) of a person who turned 25
  more than :attr:`RetentionPolicy.after_25` ago (born 29 February: 1 March, as
  rule 15 counts), and of a person who has not lived in Denmark or not been in the
  register for :attr:`RetentionPolicy.gone`.

Each purge is recorded (:meth:`~udb.storage.operator.Retention.begin_run`); only one
runs at a time, whichever instance starts it.

>>> turned_25_by(date(2029, 2, 28), timedelta(0))
datetime.date(2004, 2, 28)
>>> turned_25_by(date(2029, 3, 1), timedelta(0))
datetime.date(2004, 3, 1)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from udb.domain.clock import danish_date, utc_now
from udb.domain.rules import anniversary
from udb.storage.base import StorageError, Store
from udb.storage.records import (
    RETENTION_KINDS,
    RetentionCounts,
    RetentionCutoffs,
    RetentionRun,
)

#: rows (or persons) deleted per transaction
BATCH = 500
#: a purge recorded as started this long ago and never finished was interrupted
STALE_AFTER = timedelta(hours=6)
#: the age after which the service keeps no contact person or wishes
AGE_LIMIT = 25


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long data is kept (``UDB_RETENTION_*``, :class:`udb.config.Settings`)."""

    #: after the 25th birthday, the contact person and the wishes
    after_25: timedelta = timedelta(0)
    #: after a person stopped living in Denmark or left the register, the same
    gone: timedelta = timedelta(days=90)
    #: report-log and request records
    logs: timedelta = timedelta(days=400)


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """What one purge did (or, in a dry run, would do)."""

    run_id: int
    dry_run: bool
    counts: RetentionCounts
    duration_ms: float


class PurgeRunning(Exception):
    """Another purge runs now (another instance, or a command): this one did nothing."""


def turned_25_by(today: date, after: timedelta) -> date:
    """The latest birth date of a person who turned 25 at least ``after`` before ``today``."""
    limit = today - after
    try:
        born = limit.replace(year=limit.year - AGE_LIMIT)
    except ValueError:  # 29 February: 25 years before is no leap year
        born = date(limit.year - AGE_LIMIT, 2, 28)
    while anniversary(born + timedelta(days=1), AGE_LIMIT) <= limit:
        born += timedelta(days=1)
    while anniversary(born, AGE_LIMIT) > limit:
        born -= timedelta(days=1)
    return born


def cutoffs(policy: RetentionPolicy, now: datetime) -> RetentionCutoffs:
    """What is old enough to delete at ``now``; ages count on the Danish date."""
    return RetentionCutoffs(
        now=now,
        born_by=turned_25_by(danish_date(now), policy.after_25),
        gone_before=now - policy.gone,
        logs_before=now - policy.logs,
    )


def purge(
    store: Store,
    policy: RetentionPolicy,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    batch: int = BATCH,
) -> PurgeResult:
    """Delete what ``policy`` no longer keeps, or with ``dry_run`` only count it.

    Raises :class:`PurgeRunning` if another purge runs, and
    :class:`~udb.storage.base.StorageError` if the database fails (what was
    deleted until then stays deleted, and the purge is recorded with the error).
    """
    started = time.monotonic()
    now = utc_now() if now is None else now
    limits = cutoffs(policy, now)
    with store.unit_of_work() as uow:
        run_id = uow.retention.begin_run(now, dry_run=dry_run, stale_before=now - STALE_AFTER)
        uow.commit()
    if run_id is None:
        raise PurgeRunning("another purge is running")
    done = dict.fromkeys(RETENTION_KINDS, 0)
    try:
        if dry_run:
            with store.unit_of_work(readonly=True) as uow:
                done.update(uow.retention.count(limits).as_dict())
        else:
            for kind in RETENTION_KINDS:
                done[kind] = _delete_all(store, kind, limits, batch)
    except StorageError as exc:
        _finish(store, run_id, RetentionCounts(**done), started, str(exc).splitlines()[0])
        raise
    counts = RetentionCounts(**done)
    return PurgeResult(run_id, dry_run, counts, _finish(store, run_id, counts, started, None))


def _delete_all(store: Store, kind: str, limits: RetentionCutoffs, batch: int) -> int:
    total = 0
    while True:
        with store.unit_of_work() as uow:
            deleted = uow.retention.delete(kind, limits, batch)
            uow.commit()
        total += deleted
        if deleted < batch:
            return total


def _finish(
    store: Store, run_id: int, counts: RetentionCounts, started: float, error: str | None
) -> float:
    duration_ms = (time.monotonic() - started) * 1000
    with store.unit_of_work() as uow:
        uow.retention.finish_run(run_id, utc_now(), counts, duration_ms, error)
        uow.commit()
    return duration_ms


def history(store: Store, limit: int = 50) -> list[RetentionRun]:
    """The newest ``limit`` purges, newest first."""
    with store.unit_of_work(readonly=True) as uow:
        return uow.retention.runs(limit)
