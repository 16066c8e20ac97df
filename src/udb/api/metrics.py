"""Prometheus metrics of the service, with ``prometheus-client``.

Two sources, both read by the admin listener (:mod:`udb.api.admin`):

* :class:`RequestMetrics`, a request observer of the endpoint: each worker
  process counts its requests from their :class:`~udb.service.requests.RequestRecord`.
  Under ``udb serve`` the workers run in prometheus-client's multiprocess mode
  (``PROMETHEUS_MULTIPROC_DIR``, set by the supervisor before any worker starts),
  so the admin listener's ``MultiProcessCollector`` sums every worker, also
  those granian has replaced (a counter never goes back);
* :class:`ServiceCollector`, asked at scrape time: the database's state and
  size, from :class:`DatabaseCheck` (a short cache, so a scrape storm asks the
  database once).

Every label has a fixed, small set of values and none carries personal data.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from udb import __version__
from udb.contract import faults
from udb.domain.clock import utc_now
from udb.domain.model import ErrorCode
from udb.service.requests import RequestRecord
from udb.storage import open_store
from udb.storage.base import StorageError
from udb.storage.diagnose import probe
from udb.storage.migrations import latest_version

__all__ = [
    "DURATION_BUCKETS",
    "FAULT_CODES",
    "READ_RESULTS",
    "RESULTS",
    "DatabaseCheck",
    "DatabaseState",
    "RequestMetrics",
    "ServiceCollector",
]

#: ``result`` of ``udb_reports_total``: accepted, or the FejlKode of the rejection
RESULTS = ("accepted", *(str(int(code)) for code in ErrorCode))
#: ``code`` of ``udb_faults_total``
FAULT_CODES = tuple(spec.error_code for spec in faults.ALL)
#: ``result`` of ``udb_reads_total``: answered, or the ErrorCode of the fault that refused it
READ_RESULTS = ("answered", *FAULT_CODES)
#: RequestRecord.operation -> ``operation`` of ``udb_request_duration_seconds``
OPERATIONS = {"Indberetning": "report", "Ping": "ping", "Hent": "fetch"}
#: from a cached answer (~1 ms) to the longest a request may take during an outage
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class RequestMetrics:
    """A request observer counting answers, repeats, faults and durations.

    >>> from prometheus_client import CollectorRegistry
    >>> registry = CollectorRegistry()
    >>> metrics = RequestMetrics(registry)
    >>> registry.get_sample_value("udb_reports_total", {"result": "14"})
    0.0
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.reports = Counter(
            "udb_reports",
            "Business answers given (Ok=true, or the FejlKode), repeated answers included.",
            ["result"],
            registry=registry,
        )
        self.repeated = Counter(
            "udb_reports_repeated",
            "Answers given again for a repeated transaction (same SystemTransactionID).",
            registry=registry,
        )
        self.faults = Counter(
            "udb_faults", "SOAP faults answered, by IPL ErrorCode.", ["code"], registry=registry
        )
        self.reads = Counter(
            "udb_reads",
            "Read-back requests (HentKontaktJobOgUddOensker): answered, or the fault's ErrorCode.",
            ["result"],
            registry=registry,
        )
        self.duration = Histogram(
            "udb_request_duration_seconds",
            "Time from the body read to the answer made, by operation.",
            ["operation"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        # every series exists from the start, at 0, so rates and alerts see it
        for result in RESULTS:
            self.reports.labels(result)
        for code in FAULT_CODES:
            self.faults.labels(code)
        for result in READ_RESULTS:
            self.reads.labels(result)
        for operation in OPERATIONS.values():
            self.duration.labels(operation)

    def __call__(self, record: RequestRecord) -> None:
        if record.outcome == "accepted":
            self.reports.labels("accepted").inc()
        elif record.outcome == "rejected" and record.code in RESULTS:
            self.reports.labels(record.code).inc()
        elif record.outcome == "fault" and record.code in FAULT_CODES:
            self.faults.labels(record.code).inc()
        if record.repeated:
            self.repeated.inc()
        if record.operation == "Hent":
            result = "answered" if record.outcome == "answered" else record.code
            if result in READ_RESULTS:
                self.reads.labels(result).inc()
        operation = OPERATIONS.get(record.operation)
        if operation is not None:
            self.duration.labels(operation).observe(record.duration_ms / 1000)


@dataclass(frozen=True, slots=True)
class DatabaseState:
    """What one look at the database found."""

    checked_at: float
    #: the database answers and holds the schema this release needs
    ready: bool
    #: why not (one line, no password), or "" when ready
    reason: str = ""
    schema_version: int | None = None
    persons: int | None = None
    replay_entries: int | None = None
    systems_enabled: int | None = None
    systems_disabled: int | None = None
    #: when the newest CPR extract was applied (None: never)
    cpr_imported_at: datetime | None = None


@dataclass
class DatabaseCheck:
    """The database as the admin listener sees it: bounded, cached, never pooled for long.

    Each look opens the store, asks (the ping has the store's short timeout),
    and closes it again: an outage cannot exhaust a pool, and the next look
    after the database returns finds it. Readiness is cached for
    ``ready_ttl`` seconds, the counts for ``stats_ttl``; callers at the same
    moment wait for one look instead of each making their own.
    """

    database_url: str
    ready_ttl: float = 1.0
    stats_ttl: float = 10.0
    monotonic: Callable[[], float] = time.monotonic
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _ready: DatabaseState | None = field(default=None, repr=False)
    _stats: DatabaseState | None = field(default=None, repr=False)

    def readiness(self) -> DatabaseState:
        with self._lock:
            state = self._ready
            if state is None or self.monotonic() - state.checked_at >= self.ready_ttl:
                state = self._ready = self._look(counts=False)
            return state

    def stats(self) -> DatabaseState:
        with self._lock:
            state = self._stats
            if state is None or self.monotonic() - state.checked_at >= self.stats_ttl:
                state = self._stats = self._look(counts=True)
                self._ready = state
            return state

    def _look(self, *, counts: bool) -> DatabaseState:
        now = self.monotonic()
        try:
            store = open_store(self.database_url)
        except ValueError as exc:
            return DatabaseState(now, False, f"the database URL is unusable: {exc}")
        try:
            if not store.ping():
                return DatabaseState(now, False, self._why_not_ready())
            if not counts:
                return DatabaseState(now, True, schema_version=latest_version())
            with store.unit_of_work(readonly=True) as uow:
                systems = uow.systems.list()
                imports = uow.cpr_imports.list()
                persons = uow.persons.count()
                replay = uow.replay.count(utc_now())
            return DatabaseState(
                now,
                True,
                schema_version=latest_version(),
                persons=persons,
                replay_entries=replay,
                systems_enabled=sum(not s.disabled for s in systems),
                systems_disabled=sum(s.disabled for s in systems),
                cpr_imported_at=max((i.applied_at for i in imports), default=None),
            )
        except StorageError as exc:
            return DatabaseState(now, False, f"the database failed: {type(exc).__name__}")
        finally:
            store.close()

    def _why_not_ready(self) -> str:
        """The cause, once the short ping has failed: unreachable, or an old schema."""
        try:
            probe(self.database_url)
        except (StorageError, ValueError) as exc:
            return str(exc)
        store = open_store(self.database_url)
        try:
            version = store.schema_version()
        except StorageError:
            return "the database does not answer in time"
        finally:
            store.close()
        return (
            f"the database schema is at version {version}, this release needs "
            f"{latest_version()}: run udb db migrate"
        )


class ServiceCollector(Collector):
    """The gauges read at scrape time: database up, build, schema, register, systems."""

    def __init__(self, check: DatabaseCheck, clock: Callable[[], datetime] = utc_now) -> None:
        self.check = check
        self.clock = clock
        self.started = time.time()

    def collect(self) -> Iterator[Metric]:
        state = self.check.stats()
        yield _gauge(
            "udb_database_up",
            "1 when the database answers with the current schema.",
            1.0 if state.ready else 0.0,
        )
        info = GaugeMetricFamily("udb_build_info", "The running release.", labels=["version"])
        info.add_metric([__version__], 1.0)
        yield info
        yield _gauge(
            "udb_start_time_seconds", "When this instance started (Unix time).", self.started
        )
        yield _gauge(
            "udb_schema_version_expected",
            "The schema version this release needs.",
            float(latest_version()),
        )
        if state.schema_version is not None:
            yield _gauge(
                "udb_schema_version",
                "The schema version the database holds.",
                float(state.schema_version),
            )
        if state.persons is not None:
            yield _gauge(
                "udb_register_persons",
                "Persons in the register (any status).",
                float(state.persons),
            )
        if state.replay_entries is not None:
            yield _gauge(
                "udb_replay_cache_entries",
                "Signatures kept in the replay cache (until their Timestamp expires).",
                float(state.replay_entries),
            )
        if state.systems_enabled is not None and state.systems_disabled is not None:
            systems = GaugeMetricFamily(
                "udb_client_systems", "Registered client systems.", labels=["state"]
            )
            systems.add_metric(["enabled"], float(state.systems_enabled))
            systems.add_metric(["disabled"], float(state.systems_disabled))
            yield systems
        if state.cpr_imported_at is not None:
            age = (self.clock() - state.cpr_imported_at).total_seconds()
            yield _gauge(
                "udb_cpr_import_age_seconds",
                "Seconds since the newest CPR extract was applied.",
                max(age, 0.0),
            )


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
