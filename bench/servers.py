"""The servers the benchmarks measure, each started on a free port of 127.0.0.1.

* ``udb serve`` (:func:`udb_serve`): signed requests only, or with
  ``--insecure-dev-mode``;
* the bare endpoint (:func:`bare_serve`, :mod:`bench.bare`): parse and schema
  validation only;
* the stub (:class:`Stub`, :mod:`bench.client_stub`): answers every report at once.

:meth:`Server.start` returns once a Ping (signed, if the server wants it)
answers ``up`` and every worker is there; :meth:`Server.stop` ends the whole
process group. :func:`server_errors` reads the exceptions and dead workers out
of a server's log.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from bench import measure
from bench.wire import CONTENT_TYPE, ENDPOINT_PATH, HOST, PING, Signer

ROOT = Path(__file__).resolve().parent.parent
UDB = [sys.executable, "-m", "udb"]
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Fault): ")
#: What granian logs when a worker process dies (it then starts a new one).
WORKER_DIED = re.compile(r"Unexpected exit from worker|Respawning worker|crash loop|double free")

Command = Callable[[int], list[str]]


def bench_module(name: str, *options: str) -> list[str]:
    """The command that runs module ``bench.NAME`` (see :func:`bench_env`)."""
    return [sys.executable, "-m", f"bench.{name}", *options]


def bench_env() -> dict[str, str]:
    """This process's environment with the repository root on ``PYTHONPATH``.

    So that ``python -m bench.NAME`` finds the package from any directory.
    """
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def udb_serve(
    database_url: str, workers: int, threads: int | None, log_level: str, *, signed: bool
) -> Command:
    """The ``udb serve`` command for a port: signed requests only unless not ``signed``."""

    def command(port: int) -> list[str]:
        return [
            *UDB,
            "serve",
            *([] if signed else ["--insecure-dev-mode"]),  # dev mode: unsigned reports
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            log_level,
            *(["--threads", str(threads)] if threads else []),
            "--database",
            database_url,
        ]

    return command


def bare_serve(workers: int) -> Command:
    """The bare endpoint (:mod:`bench.bare`: parse + schema validation only) for a port."""
    return lambda port: bench_module("bare", "--port", str(port), "--workers", str(workers))


def ping_body(signer: Signer | None) -> Callable[[], bytes]:
    """A Ping body, freshly signed for each call if there is a ``signer`` (no replays)."""
    ping = PING.read_bytes()
    if signer is None:
        return lambda: ping

    def signed() -> bytes:
        with signer.batch():
            return signer.sign(ping)

    return signed


@dataclass
class Server:
    """A server process (granian: a supervisor and its workers) and its log."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    #: whether its database is the PostgreSQL of this machine (whose CPU time is read too)
    postgres: bool = False

    @classmethod
    def start(
        cls,
        directory: Path,
        command: Command,
        workers: int,
        ping: Callable[[], bytes],
        *,
        log_name: str = "server.log",
        postgres: bool = False,
        source: Path | None = None,
    ) -> Server:
        """``command`` on a free port; returns when it answers a Ping with ``up``.

        ``source``: another tree's ``src`` directory, whose ``udb`` the server then runs
        (``python -m bench.wrk --compare``).
        """
        log_path = directory / log_name
        env = bench_env()
        if source is not None:
            env["PYTHONPATH"] = os.pathsep.join((str(source), env["PYTHONPATH"]))
        for _attempt in range(3):
            port = free_port()
            with log_path.open("ab") as log:
                process = subprocess.Popen(
                    command(port),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    env=env,
                )
            server = cls(process, port, log_path, postgres)
            if server.wait_until_up(timeout=30, workers=workers, ping=ping):
                return server
            server.stop()
        tail = log_path.read_text(errors="replace").splitlines()[-20:]
        raise RuntimeError("the server did not start; its log ends:\n" + "\n".join(tail))

    def wait_until_up(self, *, timeout: float, workers: int, ping: Callable[[], bytes]) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            with contextlib.suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
                try:
                    conn.request("POST", ENDPOINT_PATH, ping(), {"Content-Type": CONTENT_TYPE})
                    answer = conn.getresponse()
                    up = answer.status == 200 and b">up<" in answer.read()
                    if up and len(self.workers()) >= workers:
                        return True
                finally:
                    conn.close()
            time.sleep(0.1)
        return False

    def workers(self) -> list[psutil.Process]:
        """The granian worker processes: the children of the server process, but for
        ``udb retention schedule`` (the purges, started by ``udb serve``)."""
        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        workers = []
        for child in children:
            with contextlib.suppress(psutil.Error):
                if "retention" not in child.cmdline():
                    workers.append(child)
        return workers

    def worker_pids(self) -> set[int]:
        return {p.pid for p in self.workers()}

    def restarted(self, first: set[int]) -> int:
        """How many of the workers ``first`` are gone (died; granian starts new ones)."""
        return len(first - self.worker_pids())

    def memory(self) -> dict[str, Any]:
        """RSS and USS in MiB: the supervisor, each worker, and their sum."""
        return measure.memory(self.process.pid)

    def cpu_times(self) -> tuple[float, float]:
        """User and system CPU time used so far by the supervisor and the workers."""
        return measure.tree_cpu(self.process.pid)

    def stop(self) -> None:
        """SIGTERM to the server's process group (it was started in its own session)."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


class Stub:
    """:mod:`bench.client_stub` on a free port of 127.0.0.1 (it prints ``ready PORT``)."""

    def __init__(self, directory: Path) -> None:
        self.log_path = directory / "stub.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                bench_module("client_stub", "--port", "0"),
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                start_new_session=True,
                env=bench_env(),
            )
        if self.process.stdout is None:
            raise RuntimeError("the stub's output is not a pipe")
        line = self.process.stdout.readline().split()
        if len(line) != 2 or line[0] != "ready":
            self.stop()
            raise RuntimeError(f"the stub did not start: {self.log_path.read_text()[-2000:]}")
        self.port = int(line[1])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def server_errors(log_path: Path, limit: int = 5) -> list[tuple[str, int]]:
    """The exceptions in the server's log (``sqlite3.OperationalError: ...``), counted."""
    found: Counter[str] = Counter()
    for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines():
        if EXCEPTION_LINE.match(line):
            found[line.strip()] += 1
        elif WORKER_DIED.search(line):
            found[line.split("] ", 1)[-1].strip()] += 1
    return found.most_common(limit)
