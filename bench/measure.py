"""What the benchmarks read from the machine, and how they print it.

CPU time of a process tree, of PostgreSQL's processes and of the whole machine
(psutil, which reads ``/proc``); the memory of a server's processes (RSS and
USS); nearest-rank percentiles; plain-text tables; and the facts of the machine
and the code measured, printed under every summary.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import sqlite3
import subprocess
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024


# numbers ------------------------------------------------------------------------


def percentile(ordered: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of values sorted ascending (0 if there are none)."""
    if not ordered:
        return 0.0
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def growth(before: dict[str, Any], after: dict[str, Any]) -> dict[int, float]:
    """RSS growth in % per worker present in both readings of :func:`memory`."""
    return {
        pid: 100 * (after["workers"][pid]["rss"] - w["rss"]) / w["rss"]
        for pid, w in before["workers"].items()
        if pid in after["workers"] and w["rss"] > 0
    }


# CPU ----------------------------------------------------------------------------


def tree_cpu(pid: int | None) -> tuple[float, float]:
    """User and system CPU seconds of process ``pid`` and its descendants (0 without one)."""
    if pid is None:
        return 0.0, 0.0
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0, 0.0
    user = system = 0.0
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = proc.cpu_times()
            user += times.user
            system += times.system
    return user, system


def database_cpu() -> dict[int, float]:
    """CPU time (user + system) used so far by each PostgreSQL process of this machine.

    A backend that exits between two readings takes its CPU time with it; the
    service's pooled connections live as long as the server.
    """
    found: dict[int, float] = {}
    for proc in psutil.process_iter(["name", "cpu_times"]):
        times = proc.info["cpu_times"]
        if proc.info["name"] in ("postgres", "postmaster") and times is not None:
            found[proc.pid] = times.user + times.system
    return found


def database_cpu_since(before: dict[int, float]) -> float:
    """PostgreSQL's CPU seconds since the reading ``before`` of :func:`database_cpu`."""
    return sum(t - before.get(pid, 0.0) for pid, t in database_cpu().items())


def busy_cores(before: Any, after: Any, elapsed: float) -> float:
    """Cores the whole machine kept busy between two ``psutil.cpu_times()`` readings."""
    idle = (after.idle + getattr(after, "iowait", 0.0)) - (
        before.idle + getattr(before, "iowait", 0.0)
    )
    total = sum(after) - sum(before)
    return (total - idle) / max(elapsed, 1e-9)


# memory -------------------------------------------------------------------------


def memory(pid: int) -> dict[str, Any]:
    """RSS and USS in MiB of process ``pid`` (a supervisor), each child (worker), their sum."""

    def mem(proc: psutil.Process) -> dict[str, float]:
        info = proc.memory_full_info()
        return {"rss": info.rss / MIB, "uss": info.uss / MIB}

    supervisor = psutil.Process(pid)
    main = mem(supervisor)
    workers = {}
    with contextlib.suppress(psutil.NoSuchProcess):
        for proc in supervisor.children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                workers[proc.pid] = mem(proc)
    return {
        "main": main,
        "workers": workers,
        "rss_sum": main["rss"] + sum(w["rss"] for w in workers.values()),
        "uss_sum": main["uss"] + sum(w["uss"] for w in workers.values()),
    }


def format_memory(title: str, m: dict[str, Any]) -> str:
    workers = "  ".join(
        f"{pid}: {w['rss']:.1f} (USS {w['uss']:.1f})" for pid, w in sorted(m["workers"].items())
    )
    return (
        f"  {title:<7} sum RSS {m['rss_sum']:.1f} MiB (USS {m['uss_sum']:.1f}); "
        f"supervisor {m['main']['rss']:.1f}; workers {workers}"
    )


def per_worker(m: dict[str, Any]) -> str:
    return ", ".join(f"{w['rss']:.0f}" for _, w in sorted(m["workers"].items()))


# tables -------------------------------------------------------------------------


def table(rows: Sequence[Sequence[str]]) -> str:
    """Rows as aligned columns: the first left-aligned, the others right; a rule under row 0."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out = []
    for n, row in enumerate(rows):
        out.append(
            "  ".join(
                cell.rjust(w) if i else cell.ljust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


# the machine --------------------------------------------------------------------


def version(name: str) -> str:
    """The installed version of package ``name`` (``?`` if it is not installed)."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "?"


def filesystem(path: Path) -> str:
    best = ""
    fstype = "?"
    for part in psutil.disk_partitions(all=True):
        mount = part.mountpoint
        if str(path).startswith(mount) and len(mount) > len(best):
            best, fstype = mount, part.fstype
    return f"{fstype} ({best})" if best else fstype


def code_version() -> str:
    """The commit measured, and whether ``src`` had uncommitted changes (read-only git)."""
    git = ["git", "--no-optional-locks", "-C", str(ROOT)]
    try:
        head = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10
        )
        dirty = subprocess.run([*git, "diff", "--quiet", "HEAD", "--", "src"], timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "?"
    if head.returncode != 0:
        return "? (not a git checkout)"
    return head.stdout.strip() + (" + uncommitted changes in src" if dirty.returncode else "")


def machine(directory: Path, database_url: str, commits: str) -> list[tuple[str, str]]:
    """The facts printed under a summary: code, cores, memory, versions, database, commits."""
    mem = psutil.virtual_memory()
    where = (
        f"file on {filesystem(directory)}"
        if database_url.startswith("sqlite:")
        else f"PostgreSQL at 127.0.0.1:5432, data on {filesystem(Path('/var/lib/postgresql'))}"
    )
    return [
        ("code", code_version()),
        ("cores", f"{os.cpu_count()} logical, {psutil.cpu_count(logical=False)} physical"),
        ("memory", f"{mem.total / MIB / 1024:.1f} GiB"),
        ("system", platform.platform()),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        (
            "packages",
            f"granian {version('granian')}, lxml {version('lxml')}, xmlsec "
            f"{version('xmlsec')}, psycopg {version('psycopg')}, SQLite {sqlite3.sqlite_version}",
        ),
        ("database", where),
        ("commits", commits),
    ]


def print_facts(rows: Sequence[tuple[str, str]]) -> None:
    for key, value in rows:
        print(f"{key + ':':<10} {value}")
