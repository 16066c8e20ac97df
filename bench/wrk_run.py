"""One wrk run against a server, for :mod:`bench.wrk`: the bodies file, wrk itself (its
figures and its own CPU), the CPU of the server and PostgreSQL from ``/proc`` around it, the
RSS of the workers; and the servers that are not ``udb serve`` (an empty ASGI answer, spyne).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench import measure
from bench.servers import Command, Server, bench_env, free_port
from bench.wire import HOST, ROOT
from udb.contract import ENDPOINT_PATH

SCRIPT = ROOT / "bench" / "wrk_bodies.lua"
#: bodies a server of --compare gets before its measured run (1 s)
WARM_BODIES = 1500
_RATE = re.compile(r"Requests/sec:\s+([\d.]+)")
_LATENCY = re.compile(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_REQUESTS = re.compile(r"(\d+) requests in")
_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class WrkRun:
    requests: int
    rate: float
    latency_ms: dict[int, float]
    non_2xx: int
    socket_errors: int
    server_ms: float
    database_ms: float
    wrk_ms: float
    #: the server's share of system (kernel) time in its CPU
    server_system: float = 0.0
    #: RSS of each worker (MiB) after the warm-up and at the end of the run
    rss_before: tuple[float, ...] = ()
    rss_after: tuple[float, ...] = ()


def run_wrk(url: str, *, seconds: int, connections: int, env: dict[str, str]) -> tuple[str, float]:
    """wrk's output and its own CPU seconds (user + system, as a child of this process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    command = [
        "wrk", "-t", env.get("WRK_THREADS", "1"), "-c", str(connections), "-d", f"{seconds}s",
        "--latency", "-s", str(SCRIPT), url,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return done.stdout, cpu


def measured(server: Server, bodies: Path, *, seconds: int, connections: int) -> WrkRun:
    env = {**os.environ, "BODIES": str(bodies), "ENDPOINT_PATH": ENDPOINT_PATH, "WRK_THREADS": "1"}
    rss_before = _worker_rss(server)
    server_before = server.cpu_times()
    database_before = measure.database_cpu()
    out, wrk_cpu = run_wrk(
        f"http://{HOST}:{server.port}", seconds=seconds, connections=connections, env=env
    )
    server_after = server.cpu_times()
    server_cpu = sum(server_after) - sum(server_before)
    server_system = server_after[1] - server_before[1]
    database_cpu = measure.database_cpu_since(database_before)
    found = _REQUESTS.search(out)
    rate = _RATE.search(out)
    if found is None or rate is None:
        raise RuntimeError("wrk printed no figures:\n" + out)
    requests = int(found.group(1))
    errors = _ERRORS.search(out)
    non_2xx = _NON_2XX.search(out)
    return WrkRun(
        requests=requests,
        rate=float(rate.group(1)),
        latency_ms={int(p): float(v) * _UNITS[u] for p, v, u in _LATENCY.findall(out)},
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(g) for g in errors.groups()) if errors else 0,
        server_ms=server_cpu / max(requests, 1) * 1000,
        database_ms=database_cpu / max(requests, 1) * 1000 if server.postgres else 0.0,
        wrk_ms=wrk_cpu / max(requests, 1) * 1000,
        server_system=server_system / server_cpu if server_cpu else 0.0,
        rss_before=rss_before,
        rss_after=_worker_rss(server),
    )


def _worker_rss(server: Server) -> tuple[float, ...]:
    rss = []
    for worker in sorted(server.workers(), key=lambda w: w.pid):
        with contextlib.suppress(psutil.Error):
            rss.append(worker.memory_info().rss / measure.MIB)
    return tuple(rss)


def write_bodies(path: Path, bodies: list[bytes]) -> None:
    with path.open("wb") as out:
        for body in bodies:
            if b"\0" in body:
                raise ValueError("a body holds a NUL byte")
            out.write(body + b"\0")


def empty_http(directory: Path, workers: int, *, seconds: int, connections: int) -> float:
    """Server CPU ms per request of :mod:`bench.empty_app` under granian, driven by wrk."""

    def command(port: int) -> list[str]:
        return [
            sys.executable, "-m", "granian", "--interface", "asgi", "--workers", str(workers),
            "--host", HOST, "--port", str(port), "--no-ws", "bench.empty_app:app",
        ]  # fmt: skip

    bodies = directory / "empty-bodies"
    write_bodies(bodies, [b"x" * 1500])  # about a report's size
    return foreign(directory, "empty", command, workers, b"x", bodies, seconds, connections)[1]


def spyne(
    directory: Path, workers: int, plain: list[bytes], *, seconds: int, connections: int
) -> WrkRun:
    """spyne doing only parse + schema validation of the same unsigned bodies
    (:mod:`bench.spyne_app`, granian WSGI, its own virtualenv), driven by wrk."""
    from bench.spyne_env import spyne_command

    bodies = directory / "spyne-bodies"
    write_bodies(bodies, plain)

    def command(port: int) -> list[str]:
        return spyne_command(port, workers)

    return foreign(directory, "spyne", command, workers, plain[0], bodies, seconds, connections)[0]


def foreign(
    directory: Path,
    name: str,
    command: Command,
    workers: int,
    probe: bytes,
    bodies: Path,
    seconds: int,
    connections: int,
) -> tuple[WrkRun, float]:
    """A server that is not ``udb serve`` (its ``command``), up when ``probe`` is answered
    200; the wrk run of ``bodies`` and the server's CPU ms per request."""
    port = free_port()
    log = (directory / f"{name}.log").open("wb")
    process = subprocess.Popen(
        command(port), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env=bench_env(),
    )  # fmt: skip
    server = Server(process, port, directory / f"{name}.log")
    try:
        deadline = time.monotonic() + 60
        while not _answers(port, probe) or len(server.workers()) < workers:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"the {name} server did not start: {directory / name}.log")
            time.sleep(0.1)
        run = measured(server, bodies, seconds=seconds, connections=connections)
        return run, run.server_ms
    finally:
        server.stop()
        log.close()


def _answers(port: int, body: bytes = b"x") -> bool:
    try:
        conn = http.client.HTTPConnection(HOST, port, timeout=2)
        try:
            headers = {"Content-Type": "application/soap+xml; charset=utf-8"}
            conn.request("POST", ENDPOINT_PATH, body, headers)
            return conn.getresponse().status == 200
        finally:
            conn.close()
    except (OSError, http.client.HTTPException):
        return False
