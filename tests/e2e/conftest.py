"""End-to-end fixtures: the service started as a real process on a free port."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support import postgres_schema, require_postgres
from udb.contract import ENDPOINT_PATH

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


#: values that are personal data wherever they occur in a request
_PERSONAL = re.compile(rb"<(?:\w+:)?(?:CPRNr|KontaktNavn|KontaktMail|KontaktTelefon)>([^<]+)<")


@dataclass
class Server:
    url: str
    database_url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    #: personal data sent to this server: none of it may appear in its log
    sent: set[str] = field(default_factory=set)

    @property
    def endpoint(self) -> str:
        return self.url + ENDPOINT_PATH

    def post(self, body: bytes, content_type: str = SOAP12, **kwargs: object) -> httpx.Response:
        self.sent.update(
            m.decode("utf-8", "replace").strip() for m in _PERSONAL.findall(body) if m.strip()
        )
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
    tmp_path: Path,
    *extra: str,
    demo: bool = True,
    env: dict[str, str] | None = None,
    secure: bool = False,
    tls: bool = False,
    database_url: str | None = None,
) -> Server:
    """``udb serve`` on a free port; unsigned requests allowed unless ``secure``.

    The database is a new SQLite file in ``tmp_path`` unless ``database_url`` is given.
    """
    database_url = database_url or "sqlite:///" + str(tmp_path / "udb.sqlite3")
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
                    *([] if secure else ["--insecure-dev-mode"]),
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
            if _listening(port) if tls else _answers(server):
                return server
            time.sleep(0.1)
        stop_server(server)
    raise RuntimeError("the server did not start:\n" + log_path.read_text())


def _answers(server: Server) -> bool:
    try:
        httpx.get(server.endpoint, timeout=1)
    except httpx.TransportError:
        return False
    return True


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def stop_server(server: Server) -> None:
    """Stop the server, then check that nothing personal it was sent reached its log.

    Every e2e server logs at DEBUG, so this holds the whole e2e suite to the
    rule: CPR numbers (only their first six digits may appear), names, e-mails
    and phone numbers never appear in a log line.
    """
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=10)
    log = server.log()
    leaked = sorted(value for value in server.sent if value in log)
    assert not leaked, f"personal data in the server log: {len(leaked)} value(s)"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server on the demo data set, shared by the tests of one module, on each database."""
    if request.param == "sqlite":
        srv = start_server(tmp_path_factory.mktemp("server"))
        yield srv
        stop_server(srv)
        return
    require_postgres()
    with postgres_schema() as url:
        srv = start_server(tmp_path_factory.mktemp("server"), database_url=url)
        yield srv
        stop_server(srv)


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Server]:
    """A server of the test's own, for tests that break or change its database."""
    srv = start_server(tmp_path)
    yield srv
    stop_server(srv)
