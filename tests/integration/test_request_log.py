"""The request log on every database: kept once per CorrelationID, found by it, listed
newest first with filters, bounded."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from udb.storage import Store
from udb.storage.operator import RequestLog
from udb.storage.records import RequestRecord

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

BASE = RequestRecord(
    received_at=T0,
    correlation_id="id-0",
    operation="Indberetning",
    outcome="accepted",
    code=None,
    details=None,
    http_status=200,
    soap_version="1.2",
    duration_ms=3.25,
    system_name="Vejledningssystem-Aarhus",
    institution_number=751001,
    masked_cpr="150308-****",
)


def records() -> list[RequestRecord]:
    return [
        BASE,
        replace(BASE, correlation_id="id-1", received_at=T0 + timedelta(minutes=1), repeated=True),
        replace(
            BASE,
            correlation_id="id-2",
            received_at=T0 + timedelta(minutes=2),
            outcome="rejected",
            code="14",
        ),
        replace(
            BASE,
            correlation_id="id-3",
            received_at=T0 + timedelta(minutes=3),
            operation="-",
            outcome="fault",
            code="IPL000002",
            details="line 1, column 1: not well-formed",
            http_status=400,
            soap_version="1.1",
            system_name=None,
            institution_number=None,
            masked_cpr=None,
        ),
        replace(
            BASE,
            correlation_id="id-4",
            received_at=T0 + timedelta(minutes=4),
            system_name="Other",
            outcome="rejected",
            code="86",
        ),
    ]


def add_all(store: Store) -> None:
    with store.unit_of_work() as uow:
        for record in records():
            uow.requests.add(record)
        uow.commit()


def test_a_record_is_found_as_it_was_kept(store: Store) -> None:
    add_all(store)
    with store.unit_of_work(readonly=True) as uow:
        for record in records():
            assert uow.requests.find(record.correlation_id) == record
        assert uow.requests.find("id-unknown") is None


def test_a_second_record_with_the_same_id_is_ignored(store: Store) -> None:
    add_all(store)
    with store.unit_of_work() as uow:
        uow.requests.add(replace(BASE, outcome="fault", code="IPL000001"))
        uow.commit()
    with store.unit_of_work(readonly=True) as uow:
        assert uow.requests.find("id-0") == BASE


def test_list_is_newest_first_and_filters(store: Store) -> None:
    add_all(store)
    with store.unit_of_work(readonly=True) as uow:
        log = uow.requests

        def ids(**filters: object) -> list[str]:
            return [r.correlation_id for r in log.list(**filters)]  # type: ignore[arg-type]

        assert ids() == ["id-4", "id-3", "id-2", "id-1", "id-0"]
        assert ids(system_name="Vejledningssystem-Aarhus") == ["id-2", "id-1", "id-0"]
        assert ids(outcome="rejected") == ["id-4", "id-2"]
        assert ids(outcome="rejected", code="14") == ["id-2"]
        assert ids(code="IPL000002") == ["id-3"]
        assert ids(since=T0 + timedelta(minutes=2)) == ["id-4", "id-3", "id-2"]
        assert ids(since=T0 + timedelta(minutes=2), system_name="Other") == ["id-4"]
        assert ids(limit=2) == ["id-4", "id-3"]
        assert ids(system_name="Nobody") == []


def test_list_is_bounded(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    add_all(store)
    monkeypatch.setattr(RequestLog, "MAX_LIST", 3)
    with store.unit_of_work(readonly=True) as uow:
        assert [r.correlation_id for r in uow.requests.list(limit=100)] == ["id-4", "id-3", "id-2"]
        assert uow.requests.list(limit=0) == []
