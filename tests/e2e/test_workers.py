"""Several worker processes; a worker that dies is replaced and the service goes on."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil

from tests.e2e.conftest import start_server, stop_server
from tests.e2e.soap import answer, example, with_stid


def workers(pid: int) -> set[int]:
    """The supervisor's worker processes (not the retention purge it may run as a child)."""
    found = set()
    for child in psutil.Process(pid).children(recursive=True):
        try:
            if "retention" not in child.cmdline():
                found.add(child.pid)
        except psutil.NoSuchProcess:
            continue
    return found


def test_a_killed_worker_is_replaced(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--workers", "2")
    try:
        deadline = time.monotonic() + 10
        while len(before := workers(server.process.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(before) == 2
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            now = workers(server.process.pid)
            if len(now) == 2 and victim not in now:
                break
            time.sleep(0.2)
        assert victim not in now and len(now) == 2, "the dead worker was not replaced"
        for _ in range(10):  # both workers answer
            assert answer(server.post(with_stid(example("request.xml")))).ok
        assert server.process.poll() is None
    finally:
        stop_server(server)
