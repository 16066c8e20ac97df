"""The benchmark in one command: ``python bench/run.py`` (or ``make bench``).

1. a temporary directory with a SQLite database holding the demo data set
   (``udb demo``) and ``--persons`` synthetic young people of Aarhus (751);
2. ``udb serve --workers W`` on a free port of 127.0.0.1, waited for with a Ping;
3. a warm-up (in this process, :mod:`loadgen` as a module);
4. the saturation run: ``--reports`` distinct reports over ``--concurrency``
   connections, as fast as the service answers (:mod:`loadgen` in its own process);
5. the fixed-rate run: ``--rate`` reports/s for ``--rate-seconds`` seconds;
6. the server's memory before and after, its CPU time per report, and the
   machine's facts.

Every report sent is distinct and valid, so every one must be answered
``Ok=true``. The exit status is 1 if any was not, or if any request failed at
the transport level (the breakdown is printed: that is a bug to report).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import loadgen
import psutil

from udb import demo
from udb.domain import cpr as cprnr
from udb.domain.clock import utc_now
from udb.domain.model import Person, PersonStatus
from udb.storage import open_store

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
UDB = [sys.executable, "-m", "udb"]
MIB = 1024 * 1024
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Fault): ")
#: What granian logs when a worker process dies (it then starts a new one).
WORKER_DIED = re.compile(r"Unexpected exit from worker|Respawning worker|crash loop|double free")


# data ---------------------------------------------------------------------------


def synthetic_cprs(count: int) -> list[str]:
    """``count`` distinct CPR numbers of people born 2005-2010 (digit 7 is 4: 20YY).

    ``DDMMYY`` walks the days of 2005-2010, the last four digits are ``4nnn``
    with ``nnn`` counting up each time the days wrap; the demo's own numbers
    are skipped so that their answers stay as the demo documents them.
    """
    first, last = date(2005, 1, 1), date(2010, 12, 31)
    days = (last - first).days + 1
    if not 0 < count <= days * 1000:
        raise ValueError(f"between 1 and {days * 1000} synthetic people")
    taken = {p.cpr for p in demo.PERSONS} | {demo.UNKNOWN_CPR}
    found: list[str] = []
    i = 0
    while len(found) < count:
        born = first + timedelta(days=i % days)
        number = f"{born:%d%m%y}4{i // days:03d}"
        i += 1
        if number in taken:
            continue
        if cprnr.birth_date(number) != born:  # the CPR rule must read back the same date
            raise AssertionError(f"synthetic CPR number {number} does not encode {born}")
        found.append(number)
    return found


def add_people(database_url: str, cprs: Sequence[str]) -> None:
    """Register ``cprs`` as active young people of Aarhus, through the storage API."""
    now = utc_now()
    people = [
        Person(c, cprnr.birth_date(c) or date.min, PersonStatus.ACTIVE, demo.AARHUS) for c in cprs
    ]
    store = open_store(database_url)
    try:
        store.migrate()
        with store.unit_of_work() as uow:
            uow.persons.upsert_many(people, now)
            uow.commit()
    finally:
        store.close()


# the server ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((loadgen.HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @classmethod
    def start(
        cls, directory: Path, database_url: str, workers: int, threads: int | None, log_level: str
    ) -> Server:
        """``udb serve`` on a free port; returns when it answers a Ping with ``up``."""
        log_path = directory / "server.log"
        for _attempt in range(3):
            port = free_port()
            with log_path.open("ab") as log:
                process = subprocess.Popen(
                    [
                        *UDB,
                        "serve",
                        "--insecure-dev-mode",  # unsigned reports (signed: see bench/README.md)
                        "--port",
                        str(port),
                        "--workers",
                        str(workers),
                        "--log-level",
                        log_level,
                        *(["--threads", str(threads)] if threads else []),
                        "--database",
                        database_url,
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            server = cls(process, port, log_path)
            if server.wait_until_up(timeout=30, workers=workers):
                return server
            server.stop()
        tail = log_path.read_text(errors="replace").splitlines()[-20:]
        raise RuntimeError("the server did not start; its log ends:\n" + "\n".join(tail))

    def wait_until_up(self, *, timeout: float, workers: int) -> bool:
        ping = (ROOT / "docs" / "examples" / "ping.xml").read_bytes()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            with contextlib.suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection(loadgen.HOST, self.port, timeout=2)
                try:
                    conn.request(
                        "POST",
                        loadgen.ENDPOINT_PATH,
                        ping,
                        {"Content-Type": loadgen.CONTENT_TYPE},
                    )
                    answer = conn.getresponse()
                    up = answer.status == 200 and b">up<" in answer.read()
                    if up and len(self.workers()) >= workers:
                        return True
                finally:
                    conn.close()
            time.sleep(0.1)
        return False

    def workers(self) -> list[psutil.Process]:
        """The granian worker processes: the children of the server process."""
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def memory(self) -> dict[str, Any]:
        """RSS and USS in MiB: the supervisor, each worker, and their sum."""

        def mem(proc: psutil.Process) -> dict[str, float]:
            info = proc.memory_full_info()
            return {"rss": info.rss / MIB, "uss": info.uss / MIB}

        main = mem(psutil.Process(self.process.pid))
        workers = {}
        for proc in self.workers():
            with contextlib.suppress(psutil.NoSuchProcess):
                workers[proc.pid] = mem(proc)
        return {
            "main": main,
            "workers": workers,
            "rss_sum": main["rss"] + sum(w["rss"] for w in workers.values()),
            "uss_sum": main["uss"] + sum(w["uss"] for w in workers.values()),
        }

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the supervisor and the workers."""
        total = 0.0
        for proc in [psutil.Process(self.process.pid), *self.workers()]:
            with contextlib.suppress(psutil.NoSuchProcess):
                times = proc.cpu_times()
                total += times.user + times.system
        return total

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


# the runs -----------------------------------------------------------------------


def loadgen_process(port: int, cpr_file: Path, *options: str) -> dict[str, Any]:
    """bench/loadgen.py in its own process; its JSON summary."""
    command = [
        sys.executable,
        str(BENCH / "loadgen.py"),
        "--port",
        str(port),
        "--cpr-file",
        str(cpr_file),
        "--json",
        *options,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if done.stderr:
        sys.stderr.write(done.stderr)
    lines = done.stdout.strip().splitlines()
    if not lines:
        raise RuntimeError(f"the load generator printed nothing (exit status {done.returncode})")
    return dict(json.loads(lines[-1]))


def measured(
    server: Server, title: str, port: int, cpr_file: Path, *options: str
) -> dict[str, Any]:
    print(f"\n== {title}: loadgen.py {' '.join(options)}", flush=True)
    cpu = server.cpu_seconds()
    box = psutil.cpu_times()
    summary = loadgen_process(port, cpr_file, *options)
    summary["server_cpu_s"] = round(server.cpu_seconds() - cpu, 3)
    summary["box_busy_cores"] = round(busy_cores(box, psutil.cpu_times(), summary["elapsed_s"]), 2)
    print(describe(summary), flush=True)
    return summary


def busy_cores(before: Any, after: Any, elapsed: float) -> float:
    """Cores the whole machine kept busy between two ``psutil.cpu_times()`` readings."""
    idle = (after.idle + getattr(after, "iowait", 0.0)) - (
        before.idle + getattr(before, "iowait", 0.0)
    )
    total = sum(after) - sum(before)
    return (total - idle) / max(elapsed, 1e-9)


def describe(s: dict[str, Any]) -> str:
    lat = s["latency_ms"]
    answered = max(s["answered"], 1)
    lines = [
        f"  {s['attempted']} reports in {s['elapsed_s']:.2f} s over {s['concurrency']} "
        f"connections: {s['reports_per_s']:.1f} reports/s",
        f"  latency ms: p50 {lat['p50']:.1f}  p90 {lat['p90']:.1f}  p99 {lat['p99']:.1f}  "
        f"max {lat['max']:.1f}",
        f"  Ok=true {s['ok']}  Ok=false {sum(s['rejected'].values())}  "
        f"faults {sum(s['faults'].values())}  "
        f"transport errors {sum(s['transport_errors'].values())}",
        f"  server CPU {s['server_cpu_s']:.1f} s ({1000 * s['server_cpu_s'] / answered:.2f} ms "
        f"per report), load generator CPU {s['client_cpu_s']:.1f} s",
        f"  machine: {s['box_busy_cores']:.2f} of {os.cpu_count()} cores busy, of which "
        f"other processes ~{max(0.0, others(s)):.2f}",
    ]
    if s["mode"] == "open":
        lines.append(f"  pacing: latest start {s['max_start_lag_ms']:.1f} ms after its due time")
    return "\n".join(lines)


def others(s: dict[str, Any]) -> float:
    """Cores used by processes other than the server and the load generator."""
    ours = (s["server_cpu_s"] + s["client_cpu_s"]) / max(s["elapsed_s"], 1e-9)
    return float(s["box_busy_cores"]) - ours


def failures(s: dict[str, Any]) -> list[str]:
    """What went wrong in a run of distinct valid reports (empty if nothing did)."""
    found = [f"Ok=false FejlKode {k}: {n}" for k, n in sorted(s["rejected"].items())]
    found += [f"fault {k}: {n}" for k, n in sorted(s["faults"].items())]
    found += [f"transport error {k}: {n}" for k, n in sorted(s["transport_errors"].items())]
    if s["attempted"] < s["planned"] and s["mode"] == "closed":
        found.append(f"only {s['attempted']} of {s['planned']} reports were sent")
    return found


# reporting ----------------------------------------------------------------------


def server_errors(log_path: Path, limit: int = 5) -> list[tuple[str, int]]:
    """The exceptions in the server's log (``sqlite3.OperationalError: ...``), counted."""
    found: Counter[str] = Counter()
    for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines():
        if EXCEPTION_LINE.match(line):
            found[line.strip()] += 1
        elif WORKER_DIED.search(line):
            found[line.split("] ", 1)[-1].strip()] += 1
    return found.most_common(limit)


def format_memory(title: str, m: dict[str, Any]) -> str:
    workers = "  ".join(
        f"{pid}: {w['rss']:.1f} (USS {w['uss']:.1f})" for pid, w in sorted(m["workers"].items())
    )
    return (
        f"  {title:<7} sum RSS {m['rss_sum']:.1f} MiB (USS {m['uss_sum']:.1f}); "
        f"supervisor {m['main']['rss']:.1f}; workers {workers}"
    )


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


def machine(directory: Path) -> list[tuple[str, str]]:
    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "?"

    mem = psutil.virtual_memory()
    return [
        ("code", code_version()),
        ("cores", f"{os.cpu_count()} logical, {psutil.cpu_count(logical=False)} physical"),
        ("memory", f"{mem.total / MIB / 1024:.1f} GiB"),
        ("system", platform.platform()),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        (
            "packages",
            f"granian {version('granian')}, lxml {version('lxml')}, SQLite "
            f"{sqlite3.sqlite_version}",
        ),
        ("database", f"on {filesystem(directory)}"),
    ]


def table(rows: Sequence[Sequence[str]]) -> str:
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


def print_summary(
    title: str,
    runs: Sequence[tuple[str, dict[str, Any]]],
    memory_before: dict[str, Any],
    memory_after: dict[str, Any],
    directory: Path,
) -> None:
    print("\n== server memory, MiB")
    print(format_memory("before", memory_before))
    print(format_memory("after", memory_after))
    header = ["run", "reports", "reports/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "not ok"]
    rows = [[*header, "server CPU ms/report"]]
    for name, s in runs:
        lat = s["latency_ms"]
        rows.append(
            [
                f"{name} (C={s['concurrency']})",
                str(s["attempted"]),
                f"{s['reports_per_s']:.0f}",
                f"{lat['p50']:.1f}",
                f"{lat['p90']:.1f}",
                f"{lat['p99']:.1f}",
                f"{lat['max']:.1f}",
                str(s["attempted"] - s["ok"]),
                f"{1000 * s['server_cpu_s'] / max(s['answered'], 1):.2f}",
            ]
        )
    print(f"\n== summary ({title})")
    print(table(rows))

    def per_worker(m: dict[str, Any]) -> str:
        return ", ".join(f"{w['rss']:.0f}" for _, w in sorted(m["workers"].items()))

    print(
        f"server RSS MiB: per worker {per_worker(memory_before)} before, "
        f"{per_worker(memory_after)} after; all processes {memory_before['rss_sum']:.0f} "
        f"before, {memory_after['rss_sum']:.0f} after"
    )
    for key, value in machine(directory):
        print(f"{key + ':':<10} {value}")


# main ---------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=20000, help="saturation run (20000)")
    parser.add_argument("--concurrency", type=int, default=32, help="connections (32)")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes (2)")
    parser.add_argument("--rate", type=float, default=500, help="fixed-rate run, reports/s (500)")
    parser.add_argument("--rate-seconds", type=float, default=10, help="fixed-rate run length (10)")
    parser.add_argument(
        "--threads", type=int, default=None, help="threads per worker (the service's default)"
    )
    parser.add_argument("--persons", type=int, default=20000, help="synthetic people (20000)")
    parser.add_argument("--warmup", type=int, default=1000, help="warm-up reports (1000)")
    parser.add_argument(
        "--log-level",
        default="info",
        choices=("debug", "info", "warning", "error"),
        help="the server's log level (info, as in production: one line per request)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    return parser


@contextlib.contextmanager
def workspace(keep: bool) -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="udb-bench-"))
    try:
        yield directory
    finally:
        if keep:
            print(f"\nkept {directory} (database, server.log, cprs.txt)")
        else:
            shutil.rmtree(directory, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.reports < 1 or args.concurrency < 1 or args.rate <= 0 or args.rate_seconds <= 0:
        raise SystemExit("--reports, --concurrency, --rate and --rate-seconds must be positive")
    command = " ".join(["python bench/run.py", *(argv if argv is not None else sys.argv[1:])])
    started = utc_now()
    with workspace(args.keep) as directory:
        database_url = "sqlite:///" + str(directory / "udb.sqlite3")
        print(f"workspace {directory}", flush=True)
        subprocess.run(
            [*UDB, "demo", "--database", database_url],
            check=True,
            capture_output=True,
            timeout=120,
        )
        cprs = synthetic_cprs(args.persons)
        add_people(database_url, cprs)
        cpr_file = directory / "cprs.txt"
        cpr_file.write_text("\n".join(cprs) + "\n")
        print(f"database: demo data set + {len(cprs)} synthetic young people of Aarhus (751)")

        server = Server.start(directory, database_url, args.workers, args.threads, args.log_level)
        try:
            print(
                f"server: udb serve --workers {args.workers} on 127.0.0.1:{server.port} "
                f"(pid {server.process.pid}, workers {[p.pid for p in server.workers()]})",
                flush=True,
            )
            memory_before = server.memory()
            first_workers = {p.pid for p in server.workers()}
            template = loadgen.read_template()
            warm = loadgen.render_requests(template, cprs, args.warmup, port=server.port)
            warmed = loadgen.run(warm, port=server.port, concurrency=min(8, args.concurrency))
            print(f"warm-up: {warmed.ok}/{len(warm)} Ok=true, {warmed.throughput:.0f} reports/s")
            saturation = measured(
                server,
                "saturation",
                server.port,
                cpr_file,
                "--reports",
                str(args.reports),
                "--concurrency",
                str(args.concurrency),
            )
            fixed = measured(
                server,
                f"fixed rate {args.rate:g}/s",
                server.port,
                cpr_file,
                "--rate",
                f"{args.rate:g}",
                "--duration",
                f"{args.rate_seconds:g}",
                "--concurrency",
                str(args.concurrency),
            )
            memory_after = server.memory()
            restarted = len(first_workers - {p.pid for p in server.workers()})
        finally:
            server.stop()

        print_summary(
            f"{started:%Y-%m-%d %H:%M} UTC; {command}",
            [("saturation", saturation), (f"{args.rate:g}/s", fixed)],
            memory_before,
            memory_after,
            directory,
        )

        problems = [f"warm-up: {p}" for p in failures(warmed.summary())]
        problems += [f"saturation: {p}" for p in failures(saturation)]
        problems += [f"fixed rate: {p}" for p in failures(fixed)]
        if restarted:
            problems.append(f"{restarted} worker process(es) died and were restarted")
        if problems:
            print("\nFAILED: distinct valid reports must all be answered Ok=true:")
            for problem in problems:
                print(f"  {problem}")
            for line, count in server_errors(server.log_path):
                print(f"  server log, {count}x: {line}")
            if args.keep:
                print(f"  the server's log: {server.log_path}")
            return 1
        return 0


if __name__ == "__main__":
    sys.exit(main())
