"""The repositories of the operator's tools: the request log, the dashboard's counts,
retention and the vendors' test environment (:mod:`udb.storage.base` is the unit of
work that holds them)."""

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
    TestEnvPerson,
    TestEnvRequest,
    TestEnvSlot,
)


class RequestLog(abc.ABC):
    """One :class:`RequestRecord` per request, for support and the operator (``request_log``)."""

    #: the most records :meth:`list` answers, whatever it is asked
    MAX_LIST = 10_000

    @abc.abstractmethod
    def add(self, record: RequestRecord) -> None:
        """Keep ``record``; a second record with the same CorrelationID is ignored."""

    def add_many(self, records: Sequence[RequestRecord]) -> None:
        """Keep each of ``records``, as :meth:`add` does (one statement where the
        database can)."""
        for record in records:
            self.add(record)

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


class TestEnvironment(abc.ABC):
    """The vendors' test environment (migration 0008): the marker, the slots and their
    scenario persons, first attempts, and every request of each enrolled system."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    @abc.abstractmethod
    def is_marked(self) -> bool:
        """True if this database is a test environment (``udb testenv init``)."""

    @abc.abstractmethod
    def mark(self, now: datetime) -> None: ...

    @abc.abstractmethod
    def add_slot(self, slot: int, institution_number: int) -> None: ...

    @abc.abstractmethod
    def slots(self) -> builtins.list[TestEnvSlot]:
        """Every slot, by number, with the system that enrolled it."""

    @abc.abstractmethod
    def add_persons(self, persons: Sequence[TestEnvPerson]) -> None: ...

    @abc.abstractmethod
    def persons(self, slot: int | None = None) -> builtins.list[TestEnvPerson]:
        """The scenario persons of ``slot`` (None: of every slot), by slot and scenario."""

    @abc.abstractmethod
    def scenario(self, cpr: str) -> str | None:
        """The scenario the person of ``cpr`` triggers (None: not a scenario person)."""

    @abc.abstractmethod
    def enroll(self, slot: int, system_id: int, now: datetime) -> None: ...

    @abc.abstractmethod
    def first_attempt(self, system_name: str, system_transaction_id: str, now: datetime) -> bool:
        """Remember the transaction; True the first time it is seen."""

    @abc.abstractmethod
    def record(self, request: TestEnvRequest) -> None:
        """Keep ``request``; a second one with the same CorrelationID is ignored."""

    @abc.abstractmethod
    def requests(self, system_name: str) -> builtins.list[TestEnvRequest]:
        """Every request kept of ``system_name``, oldest first."""

    @abc.abstractmethod
    def forget(self, system_name: str) -> int:
        """Delete the requests and first attempts kept of ``system_name``; answer how
        many requests were deleted."""
