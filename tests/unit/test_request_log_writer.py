"""The request-log writer: every request's record queued and written by the writer's own
thread, many a transaction; a database that refuses does not change the answer and is
logged once, not per request."""

from __future__ import annotations

import itertools
import logging
import threading
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
    writer = RequestLogWriter(store)
    endpoint = endpoint_for(store, writer)
    accepted = endpoint.post(request(), SOAP12_CT, RECEIVED)
    refused = endpoint.post(b"<not xml", SOAP12_CT, RECEIVED)
    writer.flush()
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
    replies = []
    for n in range(3):
        stid = f"stid-{n}"
        replies.append(
            with_log.post(request(replace={"SystemTransactionID": stid}), SOAP12_CT, RECEIVED)
        )
        writer.flush()  # each record its own transaction, as on an idle server
    assert [(r.status, r.outcome) for r in replies] == [(200, "accepted")] * 3
    errors = [r for r in caplog.records if r.name == "udb.service.requests"]
    assert [r.levelname for r in errors] == ["ERROR"]  # once, not per request
    assert replies[0].correlation_id in errors[0].getMessage()
    assert writer.lost == 3
    caplog.clear()
    after = with_log.post(
        request(replace={"SystemTransactionID": "stid-after"}), SOAP12_CT, RECEIVED
    )
    writer.flush()
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
    writer.flush()
    log_store.ops.clear()
    now[0] += writer.RETRY_AFTER_S - 0.1
    writer(records[1])
    writer.flush()
    assert "requests.add" not in log_store.ops and writer.lost == 2
    now[0] += 0.2
    writer(records[2])
    writer(records[3])
    writer.flush()
    assert writer.lost == 0
    with log_store.unit_of_work(readonly=True) as uow:
        kept = [r.correlation_id for r in uow.requests.list()]
    assert sorted(kept) == ["id-2", "id-3"]


class CountingStore(FakeStore):
    """A store that counts its units of work (one per transaction)."""

    def __init__(self) -> None:
        super().__init__()
        self.units = 0

    def unit_of_work(self, *, readonly: bool = False):  # type: ignore[no-untyped-def]
        if not readonly:
            self.units += 1
        return super().unit_of_work(readonly=readonly)


def test_records_queued_while_a_write_is_under_way_go_in_one_transaction() -> None:
    log_store = CountingStore()
    writer = RequestLogWriter(log_store)
    held, entered = threading.Event(), threading.Event()

    def hold() -> None:
        entered.set()
        assert held.wait(10)

    log_store.before("requests.add", hold)
    writer(replace(RECORD, correlation_id="id-first"))
    assert entered.wait(10)  # the first record's write is under way, the next ones queue
    for n in range(50):
        writer(replace(RECORD, correlation_id=f"id-{n}"))
    held.set()
    writer.flush()
    with log_store.unit_of_work(readonly=True) as uow:
        kept = {r.correlation_id for r in uow.requests.list(limit=100)}
    assert kept == {"id-first", *(f"id-{n}" for n in range(50))}
    assert log_store.units == 2 and writer.lost == 0


def test_close_writes_what_is_queued_and_records_after_it_are_written_at_once() -> None:
    log_store = CountingStore()
    writer = RequestLogWriter(log_store)
    released = threading.Event()
    log_store.before("requests.add", lambda: released.wait(10))
    for n in range(5):
        writer(replace(RECORD, correlation_id=f"id-{n}"))
    released.set()
    writer.close()
    writer(replace(RECORD, correlation_id="id-late"))
    with log_store.unit_of_work(readonly=True) as uow:
        kept = sorted(r.correlation_id for r in uow.requests.list())
    assert kept == ["id-0", "id-1", "id-2", "id-3", "id-4", "id-late"]


def test_a_full_queue_counts_records_as_lost_and_says_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log_store = FakeStore()
    writer = RequestLogWriter(log_store, max_queued=3)
    held, entered = threading.Event(), threading.Event()
    log_store.before("requests.add", lambda: (entered.set(), held.wait(10)))
    caplog.set_level(logging.INFO, logger="udb")
    writer(replace(RECORD, correlation_id="id-writing"))
    assert entered.wait(10)
    for n in range(6):  # three wait, three find the queue full
        writer(replace(RECORD, correlation_id=f"id-{n}"))
    assert writer.lost == 3
    held.set()
    writer.flush()
    messages = [
        (r.levelname, r.getMessage()) for r in caplog.records if r.name == "udb.service.requests"
    ]
    assert [level for level, _ in messages] == ["ERROR", "WARNING"]
    assert "queue is full" in messages[0][1] and "id-3" in messages[0][1]
    assert "3 record(s) were lost" in messages[1][1] and writer.lost == 0
