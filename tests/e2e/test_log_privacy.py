"""The e2e suite's own guard: a server's log is checked for the personal data it was sent."""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Server, stop_server
from tests.e2e.soap import example


def stopped_server(tmp_path: Path, log_text: str) -> Server:
    log = tmp_path / "server.log"
    log.write_text(log_text, encoding="utf-8")
    process = subprocess.Popen(["true"])
    process.wait()
    return Server("http://127.0.0.1:9", "sqlite:///unused", process, log)


def test_the_guard_catches_a_leak(tmp_path: Path) -> None:
    server = stopped_server(tmp_path, "INFO report for 1503084232 from Mette Sørensen\n")
    server.sent.update({"1503084232", "Mette Sørensen"})
    with pytest.raises(AssertionError, match="personal data in the server log: 2 value"):
        stop_server(server)


def test_masked_numbers_pass_the_guard(tmp_path: Path) -> None:
    server = stopped_server(tmp_path, "INFO report accepted cpr=150308-****\n")
    server.sent.add("1503084232")
    stop_server(server)


def test_post_records_what_it_sends() -> None:
    server = Server("http://127.0.0.1:9", "sqlite:///unused", None, Path("/nonexistent"))  # type: ignore[arg-type]
    body = example("request.xml")
    with contextlib.suppress(httpx.TransportError):  # nothing listens: only the recording counts
        server.post(body)
    assert {
        "1503084232",
        "Mette Sørensen",
        "mette.sorensen@example.dk",
        "4520304050",
    } <= server.sent
