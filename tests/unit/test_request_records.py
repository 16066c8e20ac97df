"""Every request leaves one RequestRecord, handed to the endpoint's observers: what
happened and who, never personal data."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from tests.unit.test_endpoint import CLOCK, RECEIVED, db_path, store  # noqa: F401 (fixtures)
from tests.unit.xmlsamples import (
    CPR,
    INSTITUTION,
    MAIL,
    NAME,
    PING_XML,
    SOAP12_CT,
    SYSTEM,
    request,
)
from udb.api.endpoint import Endpoint
from udb.config import Security
from udb.service.reports import ReportPolicy
from udb.service.requests import RequestRecord
from udb.storage import Store


@pytest.fixture
def seen() -> list[RequestRecord]:
    return []


@pytest.fixture
def endpoint(store: Store, seen: list[RequestRecord]) -> Endpoint:  # noqa: F811
    ids: Iterator[str] = (f"00000000-0000-4000-8000-{n:012d}" for n in itertools.count(1))
    return Endpoint(
        store,
        ReportPolicy(),
        security=Security(required=False),
        clock=lambda: CLOCK,
        new_id=lambda: next(ids),
        observers=[seen.append],
    )


def test_an_accepted_report_and_its_repeat(endpoint: Endpoint, seen: list[RequestRecord]) -> None:
    body = request()
    endpoint.post(body, SOAP12_CT, RECEIVED)
    endpoint.post(body, SOAP12_CT, RECEIVED)
    first, again = seen
    assert (first.operation, first.outcome, first.code, first.http_status) == (
        "Indberetning",
        "accepted",
        None,
        200,
    )
    assert (first.system_name, first.institution_number) == (SYSTEM, INSTITUTION)
    assert first.masked_cpr == CPR[:6] + "-****"
    assert (first.repeated, again.repeated) == (False, True)
    assert first.received_at == RECEIVED and first.duration_ms >= 0
    assert first.correlation_id != again.correlation_id


def test_a_rejection_a_fault_a_ping_and_a_body_too_large(
    endpoint: Endpoint, seen: list[RequestRecord]
) -> None:
    endpoint.post(request(replace={"CPRNr": "2002104230"}), SOAP12_CT, RECEIVED)
    endpoint.post(request(replace={"CPRNr": "12"}), SOAP12_CT, RECEIVED)
    endpoint.post(PING_XML.encode(), SOAP12_CT, RECEIVED)
    endpoint.too_large(SOAP12_CT, 65536, RECEIVED)
    rejected, invalid, ping, large = seen
    assert (rejected.outcome, rejected.code, rejected.summary) == ("rejected", "14", "rejected 14")
    # the Body named the report: the record says so, although it was refused unread
    assert (invalid.operation, invalid.outcome, invalid.code) == (
        "Indberetning",
        "fault",
        "IPL000002",
    )
    assert invalid.details is not None and "CPRNr" in invalid.details
    assert invalid.system_name is None and invalid.masked_cpr is None
    assert (ping.operation, ping.outcome, ping.code) == ("Ping", "up", None)
    assert (large.outcome, large.code, large.http_status) == ("fault", "IPL000006", 413)


def test_no_personal_data_in_a_record(endpoint: Endpoint, seen: list[RequestRecord]) -> None:
    endpoint.post(request(), SOAP12_CT, RECEIVED)
    endpoint.post(request(replace={"KontaktMail": "x" * 101}), SOAP12_CT, RECEIVED)
    text = " ".join(repr(record) for record in seen)
    assert CPR not in text and NAME not in text and MAIL not in text


def test_a_failing_observer_does_not_change_the_answer(store: Store) -> None:  # noqa: F811
    def broken(record: RequestRecord) -> None:
        raise RuntimeError("observer down")

    endpoint = Endpoint(
        store, ReportPolicy(), security=Security(required=False), observers=[broken]
    )
    assert endpoint.post(request(), SOAP12_CT, RECEIVED).status == 200


def test_the_observers_that_may_wait_run_only_after_the_answer(store: Store) -> None:  # noqa: F811
    inline: list[RequestRecord] = []
    later: list[RequestRecord] = []
    endpoint = Endpoint(
        store,
        ReportPolicy(),
        security=Security(required=False),
        observers=[inline.append],
        afterwards=[later.append],
    )
    reply = endpoint.post(request(), SOAP12_CT, RECEIVED)
    assert [r.correlation_id for r in inline] == [reply.correlation_id] and later == []
    endpoint.after(reply)
    assert later == inline
