"""The client SDK's benchmark in one command: ``python bench/client.py``.

How fast one process sends signed reports with the SDK (``udb.client``) to a
local ``udb serve --workers 2``, and how that compares with zeep::

    .venv/bin/python bench/client.py                     # 10000 reports, zeep 2000, SQLite
    .venv/bin/python bench/client.py --reports 2000 --zeep-reports 500 --no-stub   # a quick one
    .venv/bin/python bench/client.py --database postgresql
    .venv/bin/python bench/client.py --profile           # py-spy on the SDK's process
    .venv/bin/python bench/client.py --profile-gil       # the same, the GIL holder only

1. A temporary directory and a database (``--database sqlite``, the default, or
   ``postgresql``: a fresh schema, dropped at the end; ``bench/run.py``'s set-up)
   with the demo data set and one synthetic young person of Aarhus per report
   sent, so that every report is about another person and must be accepted.
2. Development certificates; the client certificate pinned to
   Vejledningssystem-Aarhus; ``udb serve --workers 2`` without
   ``--insecure-dev-mode`` (every request must be signed), waited for with a
   signed Ping; a warm-up of ``--warmup`` signed reports (``bench/loadgen.py``).
3. Each run in a process of its own (``bench/client_load.py``), so that the
   client's CPU time is measured apart from this driver and from the server:

   * ``SDK UdbClient``: ``--reports`` reports with ``UdbClient.send_many(reports,
     concurrency=--concurrency)``, every one signed by the SDK as it is sent;
   * ``zeep``: ``--zeep-reports`` reports of the same kind with zeep 4, its own
     ``BinarySignature`` after a ``Timestamp`` plugin (SHA-256), from the served WSDL,
     from a thread pool of the same ``--concurrency``, one zeep client per thread
     (right after the SDK, so that the two rates compared are measured close together);
   * ``SDK AsyncUdbClient``: the same as the first with ``AsyncUdbClient.send_many``
     (``--no-async`` leaves it out).

   The same concurrency is the fair comparison: both clients then have the
   same number of requests under way, and the server the same load. (A
   sequential zeep client would be slower still, but it would measure the
   missing concurrency, not zeep.) zeep is slow, so it sends fewer reports by
   default (2000); reports/s are compared, not times.
4. With ``--stub`` (the default) the SDK and zeep again, against
   ``bench/client_stub.py``: an endpoint that answers ``Ok=true`` at once and
   does none of the service's work. On a 2-core machine the server and the
   client share the cores; against the stub the client has them nearly to
   itself, so these rates are what the clients can do on their own.

For every run: reports/s (all reports over the time from the first send to
the last answer), latency p50/p99 of a report (``send``: writing, signing, the
exchange and reading the answer), the client's CPU ms/report (every thread of
its process), the server's (supervisor and workers; PostgreSQL's too on
PostgreSQL), and the machine's busy cores. Then the CPU cost of each stage of
a report on its own, the two targets (>= 1,000 reports/s; >= 5x zeep) met or
MISSED, and the machine's facts.

Every report is distinct and valid, so every one must be answered
``Ok=true``; the exit status is 1 if one was not (or a worker died). A missed
target does not change the exit status.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import loadgen
import run

from udb.domain.clock import utc_now

BENCH = Path(__file__).resolve().parent
#: the issue's targets
TARGET_RATE = 1000.0
TARGET_ZEEP_RATIO = 5.0


@dataclass
class Measured:
    """One run of ``bench/client_load.py``: its JSON summary and what the driver adds."""

    name: str
    data: dict[str, Any]

    @property
    def rate(self) -> float:
        return float(self.data["reports_per_s"])

    @property
    def reports(self) -> int:
        return int(self.data["reports"])

    def ms(self, seconds: float) -> float:
        return 1000 * seconds / max(self.reports, 1)

    @property
    def client_ms(self) -> float:
        return self.ms(self.data["client_user_s"] + self.data["client_system_s"])

    @property
    def server_ms(self) -> float:
        return self.ms(self.data["server_user_s"] + self.data["server_system_s"])

    @property
    def database_ms(self) -> float | None:
        cpu = self.data.get("database_cpu_s")
        return None if cpu is None else self.ms(cpu)

    @property
    def client_cores(self) -> float:
        """Cores the client process kept busy while it sent."""
        d = self.data
        return float(d["client_user_s"] + d["client_system_s"]) / max(float(d["elapsed_s"]), 1e-9)

    @property
    def other_cores(self) -> float:
        """Cores used by processes other than the client, the server (and PostgreSQL)."""
        ours = (self.client_ms + self.server_ms + (self.database_ms or 0.0)) * self.rate / 1000
        return float(self.data["box_busy_cores"]) - ours

    @property
    def not_ok(self) -> int:
        return self.reports - int(self.data["ok"])

    def problems(self) -> list[str]:
        found = [f"Ok=false FejlKode {k}: {n}" for k, n in sorted(self.data["rejected"].items())]
        found += [f"error {k}: {n}" for k, n in sorted(self.data["errors"].items())]
        if self.data.get("exit_status"):
            found.append(f"client_load.py exited with {self.data['exit_status']}")
        return [f"{self.name}: {p}" for p in found]


def client_run(
    name: str,
    kind: str,
    *,
    url: str,
    setup: run.Setup,
    offset: int,
    reports: int,
    concurrency: int,
    server_pid: int,
    wsdl: str | None = None,
    profile: Path | None = None,
    profile_gil: bool = False,
    postgres: bool = False,
    stages: int = 300,
) -> Measured:
    """``bench/client_load.py KIND`` in its own process; its figures."""
    if setup.certs is None:
        raise RuntimeError("the set-up has no certificates")
    command = [
        sys.executable,
        str(BENCH / "client_load.py"),
        kind,
        "--url",
        url,
        "--cert",
        str(setup.certs.client_cert),
        "--key",
        str(setup.certs.client_key),
        "--cpr-file",
        str(setup.cpr_file),
        "--offset",
        str(offset),
        "--reports",
        str(reports),
        "--concurrency",
        str(concurrency),
        "--server-pid",
        str(server_pid),
        "--stages",
        str(stages),
        *(["--wsdl", wsdl] if wsdl else []),
        *(["--profile", str(profile)] if profile else []),
        *(["--profile-gil"] if profile and profile_gil else []),
    ]
    print(f"\n== {name}: {reports} reports, concurrency {concurrency}", flush=True)
    db_before = run.database_cpu() if postgres else {}
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    if done.stderr:
        sys.stderr.write(done.stderr[-4000:])
    lines = done.stdout.strip().splitlines()
    if not lines:
        raise RuntimeError(f"client_load.py printed nothing (exit status {done.returncode})")
    data = dict(json.loads(lines[-1]))
    data["exit_status"] = done.returncode
    if postgres:
        after = run.database_cpu()
        data["database_cpu_s"] = sum(t - db_before.get(pid, 0.0) for pid, t in after.items())
    measured = Measured(name, data)
    print(describe(measured), flush=True)
    return measured


def describe(m: Measured) -> str:
    d = m.data
    lat = d["latency_ms"]
    cores = m.client_cores
    lines = [
        f"  {m.reports} reports in {d['elapsed_s']:.2f} s: {m.rate:.1f} reports/s; "
        f"latency ms p50 {lat['p50']:.1f} p90 {lat['p90']:.1f} p99 {lat['p99']:.1f} "
        f"max {lat['max']:.1f}",
        f"  Ok=true {d['ok']}  Ok=false {sum(d['rejected'].values())}  errors "
        f"{sum(d['errors'].values())}  retried {d.get('retried', 0)}",
        f"  client CPU {m.client_ms:.2f} ms/report ({cores:.2f} cores, "
        f"{100 * d['client_system_s'] / max(d['client_user_s'] + d['client_system_s'], 1e-9):.0f}%"
        f" kernel); server CPU {m.server_ms:.2f} ms/report"
        + (f"; PostgreSQL CPU {m.database_ms:.2f} ms/report" if m.database_ms is not None else "")
        + f"; machine {d['box_busy_cores']:.2f} of {os.cpu_count()} cores busy (other "
        f"processes ~{max(0.0, m.other_cores):.2f})",
    ]
    for problem in m.problems():
        lines.append(f"  ! {problem}")
    return "\n".join(lines)


# the stub ---------------------------------------------------------------------------


class Stub:
    """``bench/client_stub.py`` on a free port of 127.0.0.1."""

    def __init__(self, directory: Path) -> None:
        self.log_path = directory / "stub.log"
        self.process = subprocess.Popen(
            [sys.executable, str(BENCH / "client_stub.py"), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=self.log_path.open("wb"),
            text=True,
            start_new_session=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().split()
        if len(line) != 2 or line[0] != "ready":
            self.stop()
            raise RuntimeError(f"the stub did not start: {self.log_path.read_text()[-2000:]}")
        self.port = int(line[1])

    @property
    def url(self) -> str:
        return f"http://{loadgen.HOST}:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


# reporting ----------------------------------------------------------------------------


def summary_rows(runs: Sequence[Measured], postgres: bool) -> str:
    header = ["run", "reports", "reports/s", "p50 ms", "p99 ms", "not ok"]
    header += ["client CPU ms/report", "server CPU ms/report"]
    if postgres:
        header.append("PostgreSQL CPU ms/report")
    header += ["client cores", "machine busy cores", "of which others"]
    rows = [header]
    for m in runs:
        d = m.data
        row = [
            f"{m.name} (C={d['concurrency']})",
            str(m.reports),
            f"{m.rate:.0f}",
            f"{d['latency_ms']['p50']:.1f}",
            f"{d['latency_ms']['p99']:.1f}",
            str(m.not_ok),
            f"{m.client_ms:.2f}",
            f"{m.server_ms:.2f}",
        ]
        if postgres:
            row.append(f"{m.database_ms:.2f}" if m.database_ms is not None else "-")
        row += [
            f"{m.client_cores:.2f}",
            f"{d['box_busy_cores']:.2f}",
            f"{max(0.0, m.other_cores):.2f}",
        ]
        rows.append(row)
    return run.table(rows)


def stage_rows(runs: Sequence[Measured]) -> str:
    rows = [["client", "stage (one thread, no I/O)", "CPU ms/report"]]
    asides: dict[str, float] = {}
    for m in runs:
        stages = m.data.get("stages_ms") or {}
        total = 0.0
        for name, ms in stages.items():
            rows.append([m.name, name, f"{ms:.3f}"])
            total += ms
        if stages:
            rows.append(
                [
                    m.name,
                    "the rest, in the batch: HTTP client, threads or event loop, GC",
                    f"{m.client_ms - total:.3f}",
                ]
            )
        asides.update(m.data.get("asides_ms") or {})
    for name, ms in asides.items():
        rows.append(["(aside)", name, f"{ms:.3f}"])
    return run.table(rows)


def hot_spots(path: Path, top: int = 25, *, gil: bool = False) -> str:
    """Own and inclusive shares of py-spy's samples (all threads, idle ones left out).

    Without ``gil`` a thread that is runnable but waits for a core, or holds a
    lock another thread waits for, counts as active too; with ``gil`` only the
    thread holding the GIL is sampled.
    """
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = [run._frame(f) for f in stack.split(";") if " (" in f]
        if not frames:
            continue
        count = int(count_text)
        total += count
        own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
    if not total:
        return "py-spy recorded no samples"
    what = "the thread holding the GIL" if gil else "active threads (idle ones left out)"
    lines = [f"{total} samples of {what}", "own time:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top)]
    lines.append("inclusive (thread start-up frames left out):")
    roots = ("(threading.py)", "(concurrent/futures/thread.py)", "(asyncio/runners.py)")
    shown = [(k, n) for k, n in inclusive.most_common() if not k.endswith(roots)][:top]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in shown]
    return "\n".join(lines)


def where_time_goes(sdk: Measured, stub: Measured | None, postgres: bool) -> list[str]:
    """Who limits the SDK's rate against the server: the client's CPU, the server's, or neither."""
    cores = os.cpu_count() or 1
    db = sdk.database_ms or 0.0
    per_report = sdk.client_ms + sdk.server_ms + db
    client_cores = sdk.client_ms * sdk.rate / 1000
    server_cores = (sdk.server_ms + db) * sdk.rate / 1000
    lines = [
        f"CPU per report with the SDK against the server: client {sdk.client_ms:.2f} ms + "
        f"server {sdk.server_ms:.2f} ms"
        + (f" + PostgreSQL {db:.2f} ms" if postgres else "")
        + f" = {per_report:.2f} ms; on {cores} cores that allows at most "
        f"{1000 * cores / per_report:,.0f} reports/s, measured {sdk.rate:,.0f}/s "
        f"(machine {sdk.data['box_busy_cores']:.2f} of {cores} cores busy: the client "
        f"{client_cores:.2f}, the server{' and PostgreSQL' if postgres else ''} "
        f"{server_cores:.2f}).",
        f"The server alone (the client on another machine) could not exceed "
        f"{1000 * cores / (sdk.server_ms + db):,.0f} reports/s on {cores} cores at "
        f"{sdk.server_ms + db:.2f} ms per report; 1,000/s needs "
        f"{sdk.server_ms + db:.2f} cores for the server{' and PostgreSQL' if postgres else ''} "
        f"plus {sdk.client_ms:.2f} for the client.",
    ]
    if stub is not None:
        stub_cores = stub.client_ms * stub.rate / 1000
        lines.append(
            f"The SDK alone (against the stub): {stub.rate:,.0f} reports/s at "
            f"{stub.client_ms:.2f} ms CPU per report, using {stub_cores:.2f} cores "
            f"(the stub {stub.server_ms:.2f} ms per report). "
            + (
                "The SDK by itself reaches 1,000 reports/s on this machine."
                if stub.rate >= TARGET_RATE
                else "The SDK by itself does not reach 1,000 reports/s on this machine: "
                "its own CPU per report is a limit (see the stages and --profile)."
            )
        )
        if stub.data["box_busy_cores"] < cores - 0.25:
            lines.append(
                f"Against the stub the machine was not saturated ({stub.data['box_busy_cores']:.2f}"
                f" of {cores} cores busy): the client's Python code runs under one GIL (xmlsec "
                f"signs outside it), so one client process used {stub.client_cores:.2f} cores, "
                "not all of them."
            )
    return lines


def async_imports(m: Measured) -> str | None:
    """What the failed module searches of an AsyncUdbClient run cost, if it made any."""
    searched = m.data.get("imports_searched") or {}
    total = sum(searched.values())
    if not total:
        return None
    each = (m.data.get("asides_ms") or {}).get(
        "one failed import (httpcore's `import sniffio` when sniffio is missing)"
    )
    names = ", ".join(f"{k} {v}x" for k, v in sorted(searched.items(), key=lambda kv: -kv[1])[:4])
    cost = ""
    if each:
        cost = f", ~{each * total / m.reports:.2f} ms CPU per report at {1000 * each:.0f} us each"
    return (
        f"{m.name}: {total / m.reports:.1f} module searches per report during the sending "
        f"({names}): imports that fail every time{cost}."
    )


def machine_rows(directory: Path, setup: run.Setup) -> list[tuple[str, str]]:
    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "?"

    rows = run.machine(directory, setup)
    rows.append(
        (
            "clients",
            f"httpx {version('httpx')}, httpcore {version('httpcore')}, zeep {version('zeep')}, "
            f"requests {version('requests')}, urllib3 {version('urllib3')}, cryptography "
            f"{version('cryptography')}",
        )
    )
    return rows


# main ---------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=10000, help="SDK reports per run (10000)")
    parser.add_argument(
        "--zeep-reports", type=int, default=2000, help="zeep reports per run (2000; rates compared)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=16, help="requests under way, SDK and zeep (16)"
    )
    parser.add_argument("--workers", type=int, default=2, help="server worker processes (2)")
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="sqlite (a file in the temporary directory; the default) or postgresql (a fresh "
        "schema in the database test at 127.0.0.1:5432, dropped at the end)",
    )
    parser.add_argument("--warmup", type=int, default=500, help="warm-up reports (500)")
    parser.add_argument(
        "--async",
        dest="run_async",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also AsyncUdbClient.send_many (default: yes)",
    )
    parser.add_argument(
        "--stub",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also the SDK and zeep against bench/client_stub.py (default: yes)",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=("debug", "info", "warning", "error"),
        help="the server's log level (info, as in production)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="record the SDK's process with py-spy (UdbClient runs); print the hot spots",
    )
    parser.add_argument(
        "--profile-gil",
        action="store_true",
        help="as --profile, py-spy --gil: only the thread holding the GIL (Python CPU time)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    args.profile = args.profile or args.profile_gil
    if min(args.reports, args.zeep_reports, args.concurrency, args.workers) < 1:
        raise SystemExit("--reports, --zeep-reports, --concurrency and --workers must be positive")
    if args.warmup < 0:
        raise SystemExit("--warmup must not be negative")
    command = " ".join(["python bench/client.py", *(argv if argv is not None else sys.argv[1:])])
    title = f"{utc_now():%Y-%m-%d %H:%M} UTC; {command}"
    postgres = args.database == "postgresql"
    sdk_offset = args.warmup
    async_offset = sdk_offset + args.reports
    zeep_offset = async_offset + (args.reports if args.run_async else 0)
    persons = zeep_offset + args.zeep_reports
    problems: list[str] = []
    runs: list[Measured] = []
    stub_runs: list[Measured] = []
    with run.workspace(args.keep) as directory:
        print(f"workspace {directory}", flush=True)
        with run.database(args.database, directory, keep=args.keep) as database_url:
            setup = run.prepare(directory, database_url, persons, signed=True)
            signer = setup.signer()
            serve = run.udb_serve(database_url, args.workers, None, args.log_level, signed=True)
            server = run.Server.start(
                directory, serve, args.workers, run.ping_body(signer), postgres=postgres
            )
            try:
                first_workers = {p.pid for p in server.workers()}
                url = f"http://{loadgen.HOST}:{server.port}"
                wsdl = url + loadgen.ENDPOINT_PATH + "?wsdl"
                print(
                    f"server: udb serve --workers {args.workers} (signatures required) on "
                    f"{url} (pid {server.process.pid}, workers {sorted(first_workers)})",
                    flush=True,
                )
                if args.warmup:
                    warmed = run.warm_up(server, setup, args.warmup, args.concurrency, signer)
                    problems += [f"warm-up: {p}" for p in run.failures(warmed)]
                common = {
                    "setup": setup,
                    "concurrency": args.concurrency,
                    "postgres": postgres,
                }
                runs.append(
                    client_run(
                        "SDK UdbClient.send_many",
                        "sdk",
                        url=url,
                        offset=sdk_offset,
                        reports=args.reports,
                        server_pid=server.process.pid,
                        profile=directory / "py-spy-sdk.txt" if args.profile else None,
                        profile_gil=args.profile_gil,
                        **common,
                    )
                )
                runs.append(
                    client_run(
                        "zeep, thread pool",
                        "zeep",
                        url=url,
                        wsdl=wsdl,
                        offset=zeep_offset,
                        reports=args.zeep_reports,
                        server_pid=server.process.pid,
                        **common,
                    )
                )
                if args.run_async:
                    runs.append(
                        client_run(
                            "SDK AsyncUdbClient.send_many",
                            "async",
                            url=url,
                            offset=async_offset,
                            reports=args.reports,
                            server_pid=server.process.pid,
                            **common,
                        )
                    )
                if args.stub:
                    stub = Stub(directory)
                    try:
                        print(f"\nstub: bench/client_stub.py on {stub.url}", flush=True)
                        stub_common = {**common, "postgres": False, "stages": 0}
                        stub_runs.append(
                            client_run(
                                "stub: SDK UdbClient.send_many",
                                "sdk",
                                url=stub.url,
                                offset=sdk_offset,
                                reports=args.reports,
                                server_pid=stub.process.pid,
                                profile=directory / "py-spy-sdk-stub.txt" if args.profile else None,
                                profile_gil=args.profile_gil,
                                **stub_common,
                            )
                        )
                        stub_runs.append(
                            client_run(
                                "stub: zeep, thread pool",
                                "zeep",
                                url=stub.url,
                                wsdl=wsdl,
                                offset=zeep_offset,
                                reports=args.zeep_reports,
                                server_pid=stub.process.pid,
                                **stub_common,
                            )
                        )
                    finally:
                        stub.stop()
                restarted = len(first_workers - {p.pid for p in server.workers()})
                if restarted:
                    problems.append(f"{restarted} worker process(es) died and were restarted")
            finally:
                server.stop()
            for m in (*runs, *stub_runs):
                problems += m.problems()

            print_summary(args, title, directory, setup, runs, stub_runs)
            if problems:
                print("\nFAILED: distinct valid reports must all be answered Ok=true:")
                for problem in problems:
                    print(f"  {problem}")
                for line, count in run.server_errors(server.log_path):
                    print(f"  server log, {count}x: {line}")
                return 1
            return 0


def print_summary(
    args: argparse.Namespace,
    title: str,
    directory: Path,
    setup: run.Setup,
    runs: Sequence[Measured],
    stub_runs: Sequence[Measured],
) -> None:
    postgres = args.database == "postgresql"
    print(f"\n== summary ({title})")
    print(
        f"server: udb serve --workers {args.workers}, signatures required, {args.database}; "
        f"client and server on this machine's {os.cpu_count()} cores"
    )
    print(summary_rows([*runs, *stub_runs], postgres))
    print("\n== CPU per report by stage (measured after each run, one thread)")
    print(stage_rows(runs))

    sdk = runs[0]
    zeep = next(m for m in runs if m.data["kind"] == "zeep")
    stub_sdk = next((m for m in stub_runs if m.data["kind"] == "sdk"), None)
    stub_zeep = next((m for m in stub_runs if m.data["kind"] == "zeep"), None)
    print("\n== where the time goes")
    for line in where_time_goes(sdk, stub_sdk, postgres):
        print(f"  {line}")
    for m in runs:
        searches = async_imports(m)
        if searches:
            print(f"  {searches}")
    print(
        f"  zeep's client CPU is {zeep.client_ms:.2f} ms per report, "
        f"{zeep.client_ms / max(sdk.client_ms, 1e-9):.1f}x the SDK's ({sdk.client_ms:.2f} ms)"
        + (
            f"; against the stub zeep does {stub_zeep.rate:,.0f} reports/s, the SDK "
            f"{stub_sdk.rate / max(stub_zeep.rate, 1e-9):.1f}x that"
            if stub_zeep and stub_sdk
            else ""
        )
        + "."
    )

    ratio = sdk.rate / max(zeep.rate, 1e-9)
    targets = [
        ["target", "goal", "measured", ""],
        [
            "signed reports/s, one SDK process (UdbClient.send_many), server with "
            f"{args.workers} workers",
            f">= {TARGET_RATE:,.0f}/s",
            f"{sdk.rate:,.0f}/s",
            run.verdict(sdk.rate >= TARGET_RATE),
        ],
        [
            "the same, SDK rate / zeep rate (same server, same concurrency)",
            f">= {TARGET_ZEEP_RATIO:g}x",
            f"{ratio:.2f}x ({sdk.rate:,.0f} vs {zeep.rate:,.0f}/s)",
            run.verdict(ratio >= TARGET_ZEEP_RATIO),
        ],
    ]
    async_run = next((m for m in runs if m.data["kind"] == "async"), None)
    if async_run is not None:
        targets.append(
            [
                "(for comparison) AsyncUdbClient.send_many",
                f">= {TARGET_RATE:,.0f}/s",
                f"{async_run.rate:,.0f}/s, {async_run.rate / max(zeep.rate, 1e-9):.2f}x zeep",
                run.verdict(async_run.rate >= TARGET_RATE),
            ]
        )
    print("\n== targets")
    print(run.table(targets))
    for key, value in machine_rows(directory, setup):
        print(f"{key + ':':<10} {value}")
    print(
        "load:      this driver, the client process, the server (and PostgreSQL) share the "
        "machine's cores; the driver is idle while a client runs"
    )
    for m in (*runs, *stub_runs):
        profile = m.data.get("profile")
        if profile and Path(profile).exists():
            print(f"\n== py-spy: where the time of the client process went ({m.name})")
            print(hot_spots(Path(profile), gil=bool(m.data.get("profile_gil"))))


if __name__ == "__main__":
    sys.exit(main())
