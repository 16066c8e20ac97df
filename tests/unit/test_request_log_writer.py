"""The request-log writer: every request's record kept in its own transaction; a database
that refuses does not change the answer and is logged once, not per request."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from tests.unit.fakes import FakeStore
from tests.unit.test_endpoint import CLOCK, RECEIVED, db_path, store  # noqa: F401 (fixtures)
from tests.unit.xmlsamples import SOAP12_CT, request
from udb.api.endpoint import Endpoint
from udb.config import Security
from udb.service.reports import ReportPolicy
from udb.service.requests import RequestLogWriter
from udb.storage import Store
from udb.storage.records import RequestRecord

RECORD = RequestRecord(
    datetime(2026, 12, 1, 9, 0, tzinfo=UTC), "id", "Ping", "up", None, None, 200, "1.2", 1.0
)


def endpoint_for(store: Store, writer: RequestLogWriter) -> Endpoint:  # noqa: F811
    ids: Iterator[str] = (f"00000000-0000-4000-8000-{n:012d}" for n in itertools.count(1))
    return Endpoint(
        store,
        ReportPolicy(),
        security=Security(required=False),
        clock=lambda: CLOCK,
        new_id=lambda: next(ids),
        observers=[writer],
    )


def test_every_request_is_kept_with_its_correlation_id(store: Store) -> None:  # noqa: F811
    endpoint = endpoint_for(store, RequestLogWriter(store))
    accepted = endpoint.post(request(), SOAP12_CT, RECEIVED)
    refused = endpoint.post(b"<not xml", SOAP12_CT, RECEIVED)
    with store.unit_of_work(readonly=True) as uow:
        kept = uow.requests.find(accepted.correlation_id)
        fault = uow.requests.find(refused.correlation_id)
    assert kept is not None and (kept.outcome, kept.http_status) == ("accepted", 200)
    assert fault is not None and (fault.outcome, fault.code) == ("fault", "IPL000002")


def test_a_failing_request_log_does_not_change_the_answer(
    store: Store,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    log_store = FakeStore()
    log_store.fail_next(3, op="requests.add")
    now = [0.0]
    writer = RequestLogWriter(log_store, clock=lambda: now[0])
    writer.RETRY_AFTER_S = 0.0  # every request tries
    with_log = endpoint_for(store, writer)
    caplog.set_level(logging.INFO, logger="udb")
    replies = [
        with_log.post(request(replace={"SystemTransactionID": f"stid-{n}"}), SOAP12_CT, RECEIVED)
        for n in range(3)
    ]
    assert [(r.status, r.outcome) for r in replies] == [(200, "accepted")] * 3
    errors = [r for r in caplog.records if r.name == "udb.service.requests"]
    assert [r.levelname for r in errors] == ["ERROR"]  # once, not per request
    assert replies[0].correlation_id in errors[0].getMessage()
    assert writer.lost == 3
    caplog.clear()
    after = with_log.post(
        request(replace={"SystemTransactionID": "stid-after"}), SOAP12_CT, RECEIVED
    )
    assert after.outcome == "accepted" and writer.lost == 0
    [recovered] = [r for r in caplog.records if r.name == "udb.service.requests"]
    assert recovered.levelname == "WARNING" and "3 record(s) were lost" in recovered.getMessage()
    with log_store.unit_of_work(readonly=True) as uow:
        assert uow.requests.find(after.correlation_id) is not None
        assert uow.requests.find(replies[0].correlation_id) is None


def test_after_a_failure_the_writer_waits_before_it_tries_again() -> None:
    log_store = FakeStore()
    now = [100.0]
    writer = RequestLogWriter(log_store, clock=lambda: now[0])
    log_store.fail_next(1, op="requests.add")
    records = [replace(RECORD, correlation_id=f"id-{n}") for n in range(4)]
    writer(records[0])  # fails: the database is not tried for RETRY_AFTER_S
    log_store.ops.clear()
    now[0] += writer.RETRY_AFTER_S - 0.1
    writer(records[1])
    assert "requests.add" not in log_store.ops and writer.lost == 2
    now[0] += 0.2
    writer(records[2])
    writer(records[3])
    assert writer.lost == 0
    with log_store.unit_of_work(readonly=True) as uow:
        kept = [r.correlation_id for r in uow.requests.list()]
    assert sorted(kept) == ["id-2", "id-3"]
