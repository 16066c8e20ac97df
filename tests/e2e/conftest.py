"""End-to-end fixtures: the service started as a real process on a free port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from udb.api.app import ENDPOINT_PATH

UDB = [sys.executable, "-m", "udb"]
SOAP12 = "application/soap+xml; charset=utf-8"
SOAP11 = "text/xml; charset=utf-8"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def udb(*args: str, database_url: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the ``udb`` command line as a separate process."""
    return subprocess.run(
        [*UDB, *args, "--database", database_url],
        capture_output=True,
        text=True,
        check=check,
        timeout=60,
    )


@dataclass
class Server:
    url: str
    database_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def endpoint(self) -> str:
        return self.url + ENDPOINT_PATH

    def post(self, body: bytes, content_type: str = SOAP12, **kwargs: object) -> httpx.Response:
        return httpx.post(
            self.endpoint,
            content=body,
            headers={"content-type": content_type},
            timeout=10,
            **kwargs,  # type: ignore[arg-type]
        )

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def start_server(
    tmp_path: Path, *extra: str, demo: bool = True, env: dict[str, str] | None = None
) -> Server:
    database_url = "sqlite:///" + str(tmp_path / "udb.sqlite3")
    if demo:
        udb("demo", database_url=database_url)
    log_path = tmp_path / "server.log"
    for _attempt in range(3):
        port = free_port()
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    *UDB,
                    "serve",
                    "--port",
                    str(port),
                    "--database",
                    database_url,
                    "--log-level",
                    "debug",
                    *extra,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                start_new_session=True,
            )
        server = Server(f"http://127.0.0.1:{port}", database_url, process, log_path)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and process.poll() is None:
            try:
                httpx.get(server.endpoint, timeout=1)
                return server
            except httpx.TransportError:
                time.sleep(0.1)
        stop_server(server)
    raise RuntimeError("the server did not start:\n" + log_path.read_text())


def stop_server(server: Server) -> None:
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server on the demo data set, shared by the tests of one module."""
    srv = start_server(tmp_path_factory.mktemp("server"))
    yield srv
    stop_server(srv)


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Server]:
    """A server of the test's own, for tests that break or change its database."""
    srv = start_server(tmp_path)
    yield srv
    stop_server(srv)
