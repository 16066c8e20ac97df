"""The request metrics count each RequestRecord into bounded series; the database gauges."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from udb.api.metrics import (
    DURATION_BUCKETS,
    FAULT_CODES,
    RESULTS,
    DatabaseCheck,
    DatabaseState,
    RequestMetrics,
    ServiceCollector,
)
from udb.service.requests import UNREAD, RequestRecord
from udb.storage import open_store

AT = datetime(2026, 11, 20, 8, 15, tzinfo=UTC)


def record(operation: str, outcome: str, code: str | None = None, **kw: object) -> RequestRecord:
    values: dict[str, object] = {
        "received_at": AT,
        "correlation_id": "00000000-0000-4000-8000-000000000001",
        "operation": operation,
        "outcome": outcome,
        "code": code,
        "details": None,
        "http_status": 200,
        "soap_version": "1.2",
        "duration_ms": 12.0,
        **kw,
    }
    return RequestRecord(**values)  # type: ignore[arg-type]


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def test_every_series_starts_at_zero(registry: CollectorRegistry) -> None:
    RequestMetrics(registry)
    assert RESULTS == ("accepted", "14", "15", "86", "101", "280")
    assert tuple(f"IPL00000{n}" for n in range(1, 7)) == FAULT_CODES
    for result in RESULTS:
        assert registry.get_sample_value("udb_reports_total", {"result": result}) == 0
    for code in FAULT_CODES:
        assert registry.get_sample_value("udb_faults_total", {"code": code}) == 0
    assert registry.get_sample_value("udb_reports_repeated_total") == 0
    for operation in ("report", "ping"):
        labels = {"operation": operation}
        assert registry.get_sample_value("udb_request_duration_seconds_count", labels) == 0


def test_each_record_is_counted_once_where_it_belongs(registry: CollectorRegistry) -> None:
    observe = RequestMetrics(registry)
    observe(record("Indberetning", "accepted"))
    observe(record("Indberetning", "accepted", repeated=True))
    observe(record("Indberetning", "rejected", "86"))
    observe(record("Indberetning", "rejected", "101", duration_ms=4000.0))
    observe(record("Indberetning", "fault", "IPL000005", http_status=400))
    observe(record(UNREAD, "fault", "IPL000002", http_status=400, duration_ms=0.5))
    observe(record("Ping", "up", duration_ms=0.8))
    observe(record("Ping", "down"))

    def get(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert get("udb_reports_total", result="accepted") == 2
    assert get("udb_reports_total", result="86") == 1
    assert get("udb_reports_total", result="101") == 1
    assert get("udb_reports_total", result="14") == 0
    assert get("udb_reports_repeated_total") == 1
    assert get("udb_faults_total", code="IPL000005") == 1
    assert get("udb_faults_total", code="IPL000002") == 1
    # a request whose operation was never read has no operation to time
    assert get("udb_request_duration_seconds_count", operation="report") == 5
    assert get("udb_request_duration_seconds_count", operation="ping") == 2
    assert get("udb_request_duration_seconds_bucket", operation="ping", le="0.001") == 1
    assert get("udb_request_duration_seconds_bucket", operation="report", le="2.5") == 4
    assert get("udb_request_duration_seconds_sum", operation="report") == pytest.approx(4.048)


def test_no_label_takes_a_value_from_the_request(registry: CollectorRegistry) -> None:
    observe = RequestMetrics(registry)
    observe(
        record("Indberetning", "rejected", "999", system_name="KommuneX", masked_cpr="150308-****")
    )
    observe(record("Bogus", "fault", "IPL999999"))
    labels = {
        value
        for family in registry.collect()
        for sample in family.samples
        for value in sample.labels.values()
    }
    allowed = {*RESULTS, *FAULT_CODES, "answered", "report", "ping", "fetch"} | {
        str(b) for b in DURATION_BUCKETS
    }
    assert labels <= allowed | {"+Inf"}


def test_buckets_run_from_a_millisecond_to_ten_seconds() -> None:
    assert DURATION_BUCKETS[0] == 0.001 and DURATION_BUCKETS[-1] == 10.0
    assert list(DURATION_BUCKETS) == sorted(DURATION_BUCKETS)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def migrated(tmp_path: Path) -> str:
    url = "sqlite:///" + str(tmp_path / "udb.sqlite3")
    store = open_store(url)
    store.migrate()
    store.close()
    return url


def test_the_database_gauges_from_a_migrated_store(tmp_path: Path) -> None:
    check = DatabaseCheck(migrated(tmp_path))
    registry = CollectorRegistry()
    registry.register(ServiceCollector(check))
    assert registry.get_sample_value("udb_database_up") == 1
    assert registry.get_sample_value("udb_build_info", {"version": "1.0.0.dev0"}) == 1
    assert registry.get_sample_value("udb_register_persons") == 0
    assert registry.get_sample_value("udb_client_systems", {"state": "enabled"}) == 0
    expected = registry.get_sample_value("udb_schema_version_expected")
    assert expected is not None and expected >= 6
    assert registry.get_sample_value("udb_schema_version") == expected
    assert registry.get_sample_value("udb_cpr_import_age_seconds") is None  # never imported


def test_an_unmigrated_database_is_not_ready_and_says_why(tmp_path: Path) -> None:
    url = "sqlite:///" + str(tmp_path / "empty.sqlite3")
    open_store(url).close()
    state = DatabaseCheck(url).readiness()
    assert not state.ready
    assert state.reason.startswith("the database schema is at version 0, this release needs ")
    assert state.reason.endswith(": run udb db migrate")


def test_a_missing_directory_is_not_ready(tmp_path: Path) -> None:
    check = DatabaseCheck("sqlite:///" + str(tmp_path / "gone" / "udb.sqlite3"))
    registry = CollectorRegistry()
    registry.register(ServiceCollector(check))
    assert registry.get_sample_value("udb_database_up") == 0
    assert registry.get_sample_value("udb_register_persons") is None
    assert "does not exist" in check.readiness().reason


def test_looks_are_cached_then_taken_again(tmp_path: Path) -> None:
    url = "sqlite:///" + str(tmp_path / "later.sqlite3")
    clock = Clock()
    check = DatabaseCheck(url, ready_ttl=1.0, stats_ttl=10.0, monotonic=clock)
    open_store(url).close()
    assert not check.readiness().ready
    store = open_store(url)
    store.migrate()
    store.close()
    clock.now += 0.5
    assert not check.readiness().ready  # still the cached look
    clock.now += 0.6
    assert check.readiness().ready  # a new look finds the database ready
    first = check.stats()
    clock.now += 5
    assert check.stats() is first
    clock.now += 5
    assert check.stats() is not first


class Imported(DatabaseCheck):
    """The check as it is after a CPR file was applied at ``AT``."""

    def stats(self) -> DatabaseState:
        return replace(super().stats(), cpr_imported_at=AT)


def test_the_cpr_import_age_is_from_the_newest_applied_file(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    later = AT + timedelta(hours=2)
    registry.register(ServiceCollector(Imported(migrated(tmp_path)), clock=lambda: later))
    assert registry.get_sample_value("udb_cpr_import_age_seconds") == 7200


def test_the_replay_cache_gauge_counts_the_signatures_still_kept(tmp_path: Path) -> None:
    url = migrated(tmp_path)
    store = open_store(url)
    now = datetime.now(UTC)
    with store.unit_of_work() as uow:
        uow.replay.remember("kept-1", now + timedelta(minutes=5), now)
        uow.replay.remember("kept-2", now + timedelta(minutes=5), now)
        uow.replay.remember("expired", now - timedelta(minutes=1), now - timedelta(minutes=10))
        uow.commit()
    store.close()
    registry = CollectorRegistry()
    registry.register(ServiceCollector(DatabaseCheck(url)))
    assert registry.get_sample_value("udb_replay_cache_entries") == 2


def test_reads_are_counted_and_timed_as_fetch(registry: CollectorRegistry) -> None:
    observe = RequestMetrics(registry)
    observe(record("Hent", "answered", duration_ms=2.0, masked_cpr="150308-****"))
    observe(record("Hent", "answered"))
    observe(record("Hent", "fault", "IPL000004", http_status=400))

    def get(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert get("udb_reads_total", result="answered") == 2
    assert get("udb_reads_total", result="IPL000004") == 1
    assert get("udb_reads_total", result="IPL000002") == 0
    assert get("udb_faults_total", code="IPL000004") == 1
    assert get("udb_reports_total", result="accepted") == 0
    assert get("udb_request_duration_seconds_count", operation="fetch") == 3
