"""The dashboard in a real browser: headless Chromium reads the figures a person would see.

The WSGI application is served with ``wsgiref`` on a free loopback port over a
database (SQLite, PostgreSQL) holding a known set of reports and requests; the
browser loads ``/dashboard``, reads each ``data-metric`` element, sees the chart
drawn, and sees the figures change after new reports arrive. A screenshot of each
run is kept in ``tests/artifacts/`` (ignored by git).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest

from tests import dashboard_data
from tests.e2e.conftest import free_port
from tests.support import (
    AARHUS_KUI,
    NOW,
    REPO,
    postgres_schema,
    require_postgres,
    seeded_store,
    sqlite_url,
)
from udb.api.dashboard import REFRESH_SECONDS, Instance, dashboard_app
from udb.storage import Store

playwright = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = REPO / "tests" / "artifacts"


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(params=["sqlite", "postgresql"])
def loaded_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "postgresql":
        require_postgres()
        with postgres_schema() as url:
            store = seeded_store(url)
            dashboard_data.load(store)
            yield store
            store.close()
    else:
        store = seeded_store(sqlite_url(tmp_path))
        dashboard_data.load(store)
        yield store
        store.close()


@pytest.fixture
def base_url(loaded_store: Store) -> Iterator[str]:
    instance = Instance("1.2.3", NOW - timedelta(hours=26, minutes=3), lambda: (4.2, 38.5))
    app = dashboard_app(loaded_store, instance, clock=lambda: NOW)
    port = free_port()
    server = make_server("127.0.0.1", port, app, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def page(base_url: str) -> Iterator[object]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        yield page
        browser.close()


def shown(page: object) -> dict[str, str]:
    """Every figure the page shows, by its ``data-metric`` name."""
    return dict(
        page.eval_on_selector_all(  # type: ignore[attr-defined]
            "[data-metric]", "els => els.map(e => [e.dataset.metric, e.textContent.trim()])"
        )
    )


def test_the_dashboard_shows_the_known_figures_and_refreshes(
    page: object, base_url: str, loaded_store: Store, request: pytest.FixtureRequest
) -> None:
    asked: list[str] = []
    problems: list[str] = []
    page.on("request", lambda r: asked.append(r.url))  # type: ignore[attr-defined]
    page.on("pageerror", lambda e: problems.append(str(e)))  # type: ignore[attr-defined]
    page.on(  # type: ignore[attr-defined]
        "console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None
    )
    page.goto(base_url + "/dashboard")  # type: ignore[attr-defined]

    figures = shown(page)
    expected = {name: str(n) for name, n in dashboard_data.EXPECTED.items()}
    assert {name: figures[name] for name in expected} == expected
    assert figures["database"] == "up"
    assert figures["version"] == "1.2.3"
    assert figures["uptime"] == "1 d 2 h 3 min"
    assert (figures["latency-p50-ms"], figures["latency-p99-ms"]) == ("4.2", "38.5")

    bars = page.locator("#chart g[data-minute]")  # type: ignore[attr-defined]
    assert bars.count() == 60
    heights = page.eval_on_selector_all(  # type: ignore[attr-defined]
        "#chart rect", "els => els.map(e => e.getBBox().height)"
    )
    assert sum(1 for h in heights if h > 0) == 8  # 3 minutes with accepted, 5 with rejected
    top = page.locator("#most-reports tr").all_inner_texts()  # type: ignore[attr-defined]
    assert top[0].split("\t") == ["Aarhus (751)", "14", "5"]
    assert [r.split("\t")[0] for r in top] == [
        "Aarhus (751)",
        "København (101)",
        "unknown institution",
    ]

    dashboard_data.log_reports(loaded_store, AARHUS_KUI, None, 4, NOW)
    dashboard_data.log_requests(loaded_store, "fault", "IPL000006", 1, NOW)
    page.wait_for_function(  # type: ignore[attr-defined]
        "() => document.querySelector('[data-metric=\"accepted-1h\"]').textContent === '11'",
        timeout=(REFRESH_SECONDS + 10) * 1000,
    )
    again = shown(page)
    assert again["accepted-1h"] == "11" and again["accepted-24h"] == "15"
    assert again["faults-1h"] == "4" and again["faults-IPL000006-1h"] == "1"
    assert again["rejected-14-1h"] == "2"  # unchanged

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"dashboard-{request.node.callspec.id}.png"
    page.screenshot(path=str(shot), full_page=True)  # type: ignore[attr-defined]
    print(f"screenshot: {shot}")
    assert shot.stat().st_size > 10_000

    assert problems == []  # no script error, no refused style or script (CSP)
    assert {u.split("/", 3)[2] for u in asked} == {base_url.split("/", 3)[2]}  # no CDN
