"""The repositories of the operator's tools: the request log, the dashboard's counts and
retention (:mod:`udb.storage.base` is the unit of work that holds them)."""

from __future__ import annotations

import abc
import builtins
from collections.abc import Sequence
from datetime import datetime

from udb.storage.records import (
    IntervalCount,
    MunicipalityCount,
    RequestRecord,
    RetentionCounts,
    RetentionCutoffs,
    RetentionRun,
)


class RequestLog(abc.ABC):
    """One :class:`RequestRecord` per request, for support and the operator (``request_log``)."""

    #: the most records :meth:`list` answers, whatever it is asked
    MAX_LIST = 10_000

    @abc.abstractmethod
    def add(self, record: RequestRecord) -> None:
        """Keep ``record``; a second record with the same CorrelationID is ignored."""

    @abc.abstractmethod
    def find(self, correlation_id: str) -> RequestRecord | None: ...

    @abc.abstractmethod
    def list(
        self,
        *,
        system_name: str | None = None,
        outcome: str | None = None,
        code: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> builtins.list[RequestRecord]:
        """The records that match every filter given, newest first, at most ``limit``
        (and never more than :attr:`MAX_LIST`); ``since`` is inclusive."""


class Statistics(abc.ABC):
    """Counts over the report log and the request log, for the operator's dashboard.

    Every answer is a count of what was received at or after ``since`` (and
    before the given end); none carries personal data.
    """

    @abc.abstractmethod
    def answers(self, since: datetime) -> dict[int | None, int]:
        """Reports logged by outcome code (None: accepted)."""

    @abc.abstractmethod
    def requests(self, since: datetime) -> dict[tuple[str, str | None], int]:
        """Requests in the request log by (outcome, code): ``("fault", "IPL000003")``."""

    @abc.abstractmethod
    def intervals(self, boundaries: Sequence[datetime]) -> builtins.list[IntervalCount]:
        """Reports logged between each two consecutive ``boundaries`` (ascending)."""

    @abc.abstractmethod
    def municipalities(self, since: datetime) -> builtins.list[MunicipalityCount]:
        """Reports logged per municipality of their institution (those with any)."""


class Retention(abc.ABC):
    """Deleting what the service no longer needs, and the record of each purge.

    Each kind (:data:`~udb.storage.records.RETENTION_KINDS`) is deleted in
    batches, one unit of work each, so that no transaction holds locks long.
    """

    @abc.abstractmethod
    def count(self, cutoffs: RetentionCutoffs) -> RetentionCounts:
        """What :meth:`delete` would delete now, per kind, if run in kind order."""

    @abc.abstractmethod
    def delete(self, kind: str, cutoffs: RetentionCutoffs, limit: int) -> int:
        """Delete up to ``limit`` of ``kind``; how many went (fewer: that kind is done)."""

    @abc.abstractmethod
    def begin_run(
        self, started_at: datetime, *, dry_run: bool, stale_before: datetime
    ) -> int | None:
        """Record a purge that starts; its id, or None if another one runs.

        A purge started before ``stale_before`` and never finished was
        interrupted and no longer counts as running.
        """

    @abc.abstractmethod
    def finish_run(
        self,
        run_id: int,
        finished_at: datetime,
        counts: RetentionCounts,
        duration_ms: float,
        error: str | None = None,
    ) -> None:
        """Record what the purge did; ``error``: why it stopped before it was done."""

    @abc.abstractmethod
    def runs(self, limit: int) -> builtins.list[RetentionRun]:
        """The newest ``limit`` purges, newest first."""
