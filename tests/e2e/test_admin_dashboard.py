"""The operator dashboard as `udb serve --admin-port` serves it, on both databases, with
`--workers 2`: its figures are the database's, its latency the instance's histogram."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import stop_server
from tests.e2e.soap import answer, example, with_stid
from tests.e2e.test_admin_metrics import AdminServer, start_admin_server
from tests.support import postgres_schema, require_postgres


@pytest.fixture(params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AdminServer]:
    if request.param == "sqlite":
        srv = start_admin_server(tmp_path, "--workers", "2")
        yield srv
        stop_server(srv.server)
        return
    require_postgres()
    with postgres_schema() as url:
        srv = start_admin_server(tmp_path, "--workers", "2", database_url=url)
        yield srv
        stop_server(srv.server)


def test_the_dashboard_on_the_admin_listener_shows_what_was_answered(
    served: AdminServer,
) -> None:
    for _ in range(3):
        assert answer(served.server.post(with_stid(example("request.xml")))).ok
    for _ in range(2):
        assert answer(served.server.post(with_stid(example("request-14.xml")))).code == 14
    figures = served.get("/dashboard.json").json()
    assert figures["database"] == "up"
    metrics = figures["metrics"]
    assert (metrics["accepted-1h"], metrics["rejected-14-1h"], metrics["accepted-24h"]) == (3, 2, 3)
    latency = figures["instance"]["latency_ms"]
    assert latency is not None and 0 < latency["p50"] <= latency["p99"]
    page = served.get("/dashboard")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    shown = dict(re.findall(r'data-metric="([a-z0-9-]+)"[^>]*>([^<]*)<', page.text))
    assert shown["accepted-1h"] == "3" and shown["rejected-14-1h"] == "2"
