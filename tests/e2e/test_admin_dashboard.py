"""The operator dashboard as `udb serve --admin-port` serves it, on both databases, with
`--workers 2`: its figures are the database's, its latency the instance's histogram."""

from __future__ import annotations

import re

from tests.e2e.soap import answer, example, with_stid
from tests.e2e.test_admin_metrics import AdminServer, two_workers  # noqa: F401 (fixture)


def test_the_dashboard_on_the_admin_listener_shows_what_was_answered(
    two_workers: AdminServer,  # noqa: F811 (the fixture imported above)
) -> None:
    served = two_workers
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
