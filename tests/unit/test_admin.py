"""The admin listener's routing table: health, readiness, metrics; nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from udb.api.admin import AdminListener
from udb.storage import open_store


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    url = "sqlite:///" + str(tmp_path / "udb.sqlite3")
    open_store(url).close()
    return url


@pytest.fixture
def listener(database_url: str) -> Iterator[AdminListener]:
    admin = AdminListener("127.0.0.1", 0, database_url)
    admin.check.ready_ttl = 0  # every probe looks again
    admin.start()
    yield admin
    admin.stop()


def get(admin: AdminListener, path: str) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{admin.port}{path}", timeout=5)


def test_healthz_answers_while_the_database_is_not_ready(listener: AdminListener) -> None:
    response = get(listener, "/healthz")
    assert (response.status_code, response.text) == (200, "ok\n")


def test_readyz_says_why_not_and_turns_ready_by_itself(
    listener: AdminListener, database_url: str
) -> None:
    response = get(listener, "/readyz")
    assert response.status_code == 503
    assert response.text.startswith("not ready: the database schema is at version 0")
    assert response.headers["cache-control"] == "no-store"
    store = open_store(database_url)
    store.migrate()
    store.close()
    response = get(listener, "/readyz")
    assert (response.status_code, response.text) == (200, "ready\n")


def test_metrics_is_prometheus_text(listener: AdminListener) -> None:
    response = get(listener, "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "udb_database_up 0.0" in response.text
    assert 'udb_build_info{version="1.0.0.dev0"} 1.0' in response.text


def test_another_path_is_404_and_only_get_is_served(listener: AdminListener) -> None:
    response = get(listener, "/nowhere")
    assert response.status_code == 404
    assert response.text == (
        "Not found. Paths: /dashboard, /dashboard.json, /healthz, /metrics, /readyz\n"
    )
    url = f"http://127.0.0.1:{listener.port}/healthz"
    assert httpx.post(url, timeout=5).status_code == 405


def test_a_page_is_mounted_with_one_entry(database_url: str) -> None:
    def page(environ: object, start_response: object) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/html")])  # type: ignore[operator]
        return [b"<p>page</p>"]

    admin = AdminListener("127.0.0.1", 0, database_url, extra_routes={"/page": page})
    admin.start()
    try:
        assert get(admin, "/page").text == "<p>page</p>"
    finally:
        admin.stop()
