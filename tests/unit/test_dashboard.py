"""The dashboard's use case and WSGI application, over the in-memory store."""

from __future__ import annotations

import io
import json
import re
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from tests import dashboard_data
from tests.support import AARHUS_KUI, NOW, SYSTEM
from tests.unit.fakes import FakeStore
from udb.api.dashboard import FAULT_CODES, Instance, dashboard_app
from udb.domain.model import Institution, Municipality, Person, PersonStatus
from udb.service.dashboard import figures
from udb.service.requests import RequestRecord

STARTED = NOW - timedelta(hours=2, minutes=5)


def fake_requests(store: Any, outcome: str, code: str | None, n: int, at: datetime) -> None:
    for i in range(n):
        cid = f"{outcome}-{code}-{at.isoformat()}-{i}"
        store.committed.requests[cid] = RequestRecord(
            at,
            cid,
            "Indberetning",
            outcome,
            code,
            None,
            400,
            "1.2",
            3.0,
            SYSTEM,
            AARHUS_KUI,
            "150308-****",
        )


@pytest.fixture
def store() -> FakeStore:
    store = FakeStore()
    with store.unit_of_work() as uow:
        uow.municipalities.upsert_many(
            [Municipality(751, "Aarhus"), Municipality(101, "København")]
        )
        uow.institutions.upsert_many(
            [Institution(AARHUS_KUI, 751, "KUI Aarhus"), Institution(101001, 101, "KUI København")]
        )
        uow.systems.add(SYSTEM, [AARHUS_KUI], NOW)
        uow.persons.upsert_many(
            [Person("1503084232", date(2008, 3, 15), PersonStatus.ACTIVE, 751)], NOW
        )
        uow.commit()
    dashboard_data.load(store, requests=fake_requests)
    return store


def call(app: Any, path: str, method: str = "GET") -> tuple[str, dict[str, str], bytes]:
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc: Any = None) -> Any:
        answer["status"], answer["headers"] = status, dict(headers)

    environ = {"PATH_INFO": path, "REQUEST_METHOD": method, "wsgi.input": io.BytesIO()}
    body = b"".join(app(environ, start_response))
    return answer["status"], answer["headers"], body


def app_for(store: FakeStore, latency: Any = None) -> Any:
    instance = Instance("1.2.3", STARTED, latency or (lambda: (4.25, 38.0)))
    return dashboard_app(store, instance, clock=lambda: NOW)


def test_the_use_case_counts_the_known_set(store: FakeStore) -> None:
    metrics = figures(store, NOW, FAULT_CODES).metrics()
    assert {k: metrics[k] for k in dashboard_data.EXPECTED} == dashboard_data.EXPECTED


def test_the_json_has_the_figures_and_the_instance(store: FakeStore) -> None:
    status, headers, body = call(app_for(store), "/dashboard.json")
    assert status == "200 OK" and headers["Content-Type"] == "application/json"
    assert headers["Cache-Control"] == "no-store"
    data = json.loads(body)
    assert {k: data["metrics"][k] for k in dashboard_data.EXPECTED} == dashboard_data.EXPECTED
    assert data["database"] == "up"
    assert data["instance"] == {
        "version": "1.2.3",
        "started_at": STARTED.isoformat(),
        "uptime_seconds": 7500,
        "latency_ms": {"p50": 4.2, "p99": 38.0},
    }
    assert len(data["per_minute"]) == 60
    assert data["most_reports"][0] == {
        "code": 751,
        "name": "Aarhus (751)",
        "reports": 14,
        "rejected": 5,
    }
    assert data["most_rejections"][-1]["name"] == "unknown institution"


def test_the_page_shows_each_figure_in_its_data_metric_element(store: FakeStore) -> None:
    status, headers, body = call(app_for(store), "/dashboard")
    assert status == "200 OK" and headers["Content-Type"] == "text/html; charset=utf-8"
    page = body.decode()
    shown = dict(re.findall(r'data-metric="([^"]+)">([^<]*)<', page))
    assert {k: int(shown[k]) for k in dashboard_data.EXPECTED} == dashboard_data.EXPECTED
    assert "1503084232" not in page and "150308" not in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page  # no CDN: everything is inline


def test_the_page_admits_only_its_own_script(store: FakeStore) -> None:
    _, headers, body = call(app_for(store), "/dashboard")
    policy = headers["Content-Security-Policy"]
    nonce = re.search(r"script-src 'nonce-([^']+)'", policy)
    assert nonce is not None and "default-src 'none'" in policy
    assert body.decode().count(f'nonce="{nonce[1]}"') == 2  # the style and the script
    _, second, _ = call(app_for(store), "/dashboard")
    assert second["Content-Security-Policy"] != policy  # a fresh nonce each time


def test_unknown_latency_is_null(store: FakeStore) -> None:
    _, _, body = call(app_for(store, latency=lambda: None), "/dashboard.json")
    assert json.loads(body)["instance"]["latency_ms"] is None


def test_a_database_failure_shows_down_not_an_error(store: FakeStore) -> None:
    store.fail_next(op="begin")
    _, _, body = call(app_for(store), "/dashboard.json")
    data = json.loads(body)
    assert data["database"] == "down" and data["metrics"] == {}
    assert data["instance"]["version"] == "1.2.3"
    _, _, body = call(app_for(store), "/dashboard.json")
    assert json.loads(body)["database"] == "up"  # back by itself


def test_other_paths_and_methods_are_refused(store: FakeStore) -> None:
    assert call(app_for(store), "/metrics")[0] == "404 Not Found"
    status, headers, _ = call(app_for(store), "/dashboard", "POST")
    assert status == "405 Method Not Allowed" and headers["Allow"] == "GET, HEAD"
    status, headers, body = call(app_for(store), "/dashboard.json", "HEAD")
    assert status == "200 OK" and body == b"" and int(headers["Content-Length"]) > 0


def test_a_test_environment_says_so_on_the_page_and_in_the_json(store: FakeStore) -> None:
    _, _, plain = call(app_for(store), "/dashboard")
    assert b'data-metric="test-environment"' not in plain
    assert json.loads(call(app_for(store), "/dashboard.json")[2])["test_environment"] is False
    with store.unit_of_work() as uow:
        uow.testenv.mark(NOW)
        uow.commit()
    _, _, marked = call(app_for(store), "/dashboard")
    shown = dict(re.findall(r'data-metric="([^"]+)">([^<]*)<', marked.decode()))
    assert shown["test-environment"] == "TEST ENVIRONMENT: synthetic data, scenarios apply"
    assert json.loads(call(app_for(store), "/dashboard.json")[2])["test_environment"] is True
