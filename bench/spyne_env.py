"""The virtualenv of the spyne comparison server (:mod:`bench.spyne_app`) and its command.

spyne is not a dependency of the project: it lives in a virtualenv of its own,
``bench/.venv-spyne``, installed from :file:`bench/spyne-requirements.lock` (pinned, with
hashes) the first time it is needed and again whenever the lock file is newer than it.
The server is granian's WSGI interface with the same options as ``udb serve``'s; run its
command with the repository root on ``PYTHONPATH`` (``bench.servers.bench_env()``), so
that granian finds ``bench.spyne_app``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.wire import HOST, ROOT

VENV = ROOT / "bench" / ".venv-spyne"
LOCK = ROOT / "bench" / "spyne-requirements.lock"
APP = "bench.spyne_app:application"
#: what the lock builds spyne's sdist with (without build isolation), installed first
BUILD_REQUIREMENTS = ("setuptools",)


def spyne_python() -> Path:
    """The python of ``bench/.venv-spyne``, made (or remade) from the lock file if needed."""
    python = VENV / "bin" / "python"
    stamp = VENV / ".installed"
    if stamp.exists() and stamp.stat().st_mtime >= LOCK.stat().st_mtime:
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    build = VENV / "build-requirements.txt"
    build.write_text(_entries(LOCK.read_text(encoding="utf-8"), BUILD_REQUIREMENTS))
    subprocess.run([*pip, "--require-hashes", "--no-deps", "-r", str(build)], check=True)
    # spyne 2.14.0's setup.py needs setuptools < 72: built against the one just installed
    subprocess.run([*pip, "--require-hashes", "--no-build-isolation", "-r", str(LOCK)], check=True)
    stamp.touch()
    return python


def spyne_command(port: int, workers: int) -> list[str]:
    """granian serving :mod:`bench.spyne_app` (WSGI) with ``workers`` workers on ``port``."""
    return [
        str(spyne_python()), "-m", "granian", "--interface", "wsgi",
        "--workers", str(workers), "--host", HOST, "--port", str(port), "--no-ws", APP,
    ]  # fmt: skip


def _entries(lock: str, names: tuple[str, ...]) -> str:
    """The lines of a hashed lock file that pin ``names`` (each with its hashes)."""
    out: list[str] = []
    keep = False
    for line in lock.splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            keep = line.split("==", 1)[0].strip().lower() in names
        if keep and not line.lstrip().startswith("#"):
            out.append(line)
    return "\n".join(out) + "\n"
