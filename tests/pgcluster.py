"""A private, throw-away PostgreSQL cluster for tests that stop or crash their database.

The machine's main cluster (127.0.0.1:5432) is shared by the other tests, which
run concurrently: a test that takes PostgreSQL down gets a cluster of its own
instead, in a temporary directory, on a free port, with trust authentication::

    with private_postgres() as pg:
        url = pg.url                 # postgresql://postgres@127.0.0.1:PORT/postgres
        pg.stop()                    # pg_ctl stop -m immediate: an outage / a crash
        pg.start()                   # back on the same port (crash recovery first)

Start-up is kept fast (``initdb --no-sync``: the files initdb writes need not
survive a power cut of the test machine), but the running server keeps
``fsync=on``, so a commit it has acknowledged is on disk as in production.
Everything is stopped and removed when the block ends.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

BIN = Path(os.environ.get("UDB_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
OS_USER = "postgres"


def _problem() -> str | None:
    """Why a private cluster cannot be made here, or None if it can."""
    for tool in ("initdb", "pg_ctl", "postgres"):
        if not (BIN / tool).is_file():
            return f"PostgreSQL binaries not found: no {BIN / tool}"
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            return "runuser not found (initdb refuses to run as root)"
        try:
            import pwd

            pwd.getpwnam(OS_USER)
        except KeyError:
            return f"no OS user {OS_USER!r} to run a private PostgreSQL cluster as"
    return None


def require_private_postgres() -> None:
    """Skip without the means to run a private cluster, with the reason; in CI fail instead."""
    import pytest

    problem = _problem()
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(problem + " (PostgreSQL tests are mandatory in CI)")
    pytest.skip(problem)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgCluster:
    """One private cluster: ``url``, ``start()``, ``stop()``, ``running``."""

    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.data = root / "data"
        self.sockets = root / "sockets"
        self.logfile = root / "postgres.log"
        self.port = port
        self.running = False

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        command = [str(BIN / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", OS_USER, "--", *command]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{args[0]} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}\n"
                + self.log()
            )
        return result

    def init(self) -> None:
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        )

    def start(self) -> None:
        """Start (again) on the same port; returns once the server accepts connections."""
        options = " ".join(
            [
                f"-p {self.port}",
                f"-k {self.sockets}",
                "-c listen_addresses=127.0.0.1",
                "-c fsync=on",
                "-c synchronous_commit=on",
                "-c max_connections=60",
                "-c shared_buffers=16MB",
            ]
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.logfile), "-o", options, "-w", "start"
        )
        self.running = True

    def stop(self, mode: str = "immediate") -> None:
        """Stop; ``immediate`` (the default) kills the server as a crash or an outage would."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")
        self.running = False

    def log(self) -> str:
        try:
            return self.logfile.read_text(encoding="utf-8", errors="replace")[-4000:]
        except OSError:
            return ""


def _shut_down(cluster: PgCluster) -> None:
    """Stop the cluster if it runs; kill its postmaster if ``pg_ctl`` cannot."""
    pid_file = cluster.data / "postmaster.pid"
    if not pid_file.exists():
        return
    try:
        cluster.stop()
    except (RuntimeError, subprocess.TimeoutExpired):
        with suppress(OSError, ValueError, IndexError):
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)


@contextmanager
def private_postgres() -> Iterator[PgCluster]:
    """A running private cluster; stopped and removed at the end. Skips if impossible."""
    require_private_postgres()
    root = Path(tempfile.mkdtemp(prefix="udb-pg-"))
    try:
        os.chmod(root, 0o700)
        (root / "sockets").mkdir()
        if os.geteuid() == 0:
            for path in (root, root / "sockets"):
                shutil.chown(path, OS_USER, OS_USER)
        cluster = PgCluster(root, _free_port())
        cluster.init()
        for attempt in range(3):  # the free port may be taken before the server binds it
            try:
                cluster.start()
                break
            except RuntimeError:
                if attempt == 2:
                    raise
                cluster.port = _free_port()
        try:
            yield cluster
        finally:
            _shut_down(cluster)
    finally:
        shutil.rmtree(root, ignore_errors=True)
