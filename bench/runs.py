"""One measured run of the service benchmark, and what it prints.

:func:`measured` runs :mod:`bench.loadgen` in its own process against a
server and adds what the load generator cannot see: the server's CPU time
(user and system, supervisor and workers), PostgreSQL's, and how busy the
whole machine was. :func:`warm_up` sends reports from this process first.
:func:`failures` says what went wrong in a run of distinct valid reports
(every one must be answered ``Ok=true``); :func:`report_problems` prints it
with the exceptions of the servers' logs and gives the exit status.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil

from bench import loadgen, measure, wire
from bench.data import Setup
from bench.servers import Server, bench_env, bench_module, server_errors


def loadgen_process(port: int, cpr_file: Path, *options: str) -> dict[str, Any]:
    """:mod:`bench.loadgen` in its own process; its JSON summary."""
    command = bench_module(
        "loadgen", "--port", str(port), "--cpr-file", str(cpr_file), "--json", *options
    )
    done = subprocess.run(command, capture_output=True, text=True, timeout=1500, env=bench_env())
    if done.stderr:
        sys.stderr.write(done.stderr)
    lines = done.stdout.strip().splitlines()
    if not lines:
        raise RuntimeError(f"the load generator printed nothing (exit status {done.returncode})")
    return dict(json.loads(lines[-1]))


def measured(
    server: Server,
    title: str,
    cpr_file: Path,
    *options: str,
    quiet: bool = False,
) -> dict[str, Any]:
    """One run of ``bench.loadgen OPTIONS`` in its own process, with the server's CPU time.

    The CPU times are read around the whole process, signing included; the
    server (and PostgreSQL) are idle while the load generator signs.
    """
    shown = [o if "/" not in o else Path(o).name for o in options]
    if not quiet:
        print(f"\n== {title}: bench.loadgen {' '.join(shown)}", flush=True)
    user, system = server.cpu_times()
    db_cpu = measure.database_cpu() if server.postgres else {}
    box = psutil.cpu_times()
    summary = loadgen_process(server.port, cpr_file, *options)
    user_after, system_after = server.cpu_times()
    summary["server_cpu_s"] = round(user_after - user + system_after - system, 3)
    summary["server_system_cpu_s"] = round(system_after - system, 3)
    if server.postgres:
        summary["database_cpu_s"] = round(measure.database_cpu_since(db_cpu), 3)
    elapsed = summary["elapsed_s"] + summary.get("signing_s", 0)
    summary["box_busy_cores"] = round(measure.busy_cores(box, psutil.cpu_times(), elapsed), 2)
    summary["title"] = title
    if not quiet:
        print(describe(summary), flush=True)
    return summary


def warm_up(
    server: Server, setup: Setup, count: int, concurrency: int, signer: wire.Signer | None
) -> dict[str, Any]:
    """``count`` reports sent by this process (signed if there is a ``signer``)."""
    template = wire.read_template()
    warm = wire.render_requests(template, setup.cprs, count, port=server.port, signer=signer)
    warmed = loadgen.run(warm, port=server.port, concurrency=min(8, concurrency))
    print(f"warm-up: {warmed.ok}/{len(warm)} Ok=true, {warmed.throughput:.0f} reports/s")
    return warmed.summary()


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
        f"per report, {100 * s.get('server_system_cpu_s', 0) / max(s['server_cpu_s'], 1e-9):.0f}% "
        f"of it in the kernel), load generator CPU {s['client_cpu_s']:.1f} s"
        + (
            f", PostgreSQL CPU {s['database_cpu_s']:.1f} s "
            f"({1000 * s['database_cpu_s'] / answered:.2f} ms per report)"
            if s.get("database_cpu_s")
            else ""
        ),
    ]
    if s.get("signed"):
        lines.append(
            f"  signed {s['signed']} bodies in {s['signing_s']:.1f} s before the run "
            f"({1000 * s['signing_s'] / max(s['signed'], 1):.2f} ms each, in the load generator)"
        )
    else:
        lines.append(
            f"  machine: {s['box_busy_cores']:.2f} of {os.cpu_count()} cores busy, of which "
            f"other processes ~{max(0.0, others(s)):.2f}"
        )
    if s["mode"] == "open":
        lines.append(f"  pacing: latest start {s['max_start_lag_ms']:.1f} ms after its due time")
    if s.get("stopped"):
        lines.append(f"  stopped early: {s['stopped']}")
    return "\n".join(lines)


def others(s: dict[str, Any]) -> float:
    """Cores used by processes other than the server, PostgreSQL and the load generator."""
    ours = (s["server_cpu_s"] + s["client_cpu_s"] + s.get("database_cpu_s", 0.0)) / max(
        s["elapsed_s"], 1e-9
    )
    return float(s["box_busy_cores"]) - ours


def failures(s: dict[str, Any]) -> list[str]:
    """What went wrong in a run of distinct valid reports (empty if nothing did)."""
    found = [f"Ok=false FejlKode {k}: {n}" for k, n in sorted(s["rejected"].items())]
    found += [f"fault {k}: {n}" for k, n in sorted(s["faults"].items())]
    found += [f"transport error {k}: {n}" for k, n in sorted(s["transport_errors"].items())]
    if s["attempted"] < s["planned"] and s["mode"] == "closed":
        found.append(f"only {s['attempted']} of {s['planned']} reports were sent")
    if s.get("stopped"):
        found.append(f"stopped early: {s['stopped']}")
    return found


def run_rows(runs: Sequence[tuple[str, dict[str, Any]]], bare: float | None = None) -> str:
    """The table of runs; with ``bare`` (reports/s) a column of each rate over it."""
    header = ["run", "reports", "reports/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "not ok"]
    header += ["server CPU ms/report", "PostgreSQL CPU ms/report"]
    if bare:
        header.append("x bare")
    rows = [header]
    for name, s in runs:
        lat = s["latency_ms"]
        answered = max(s["answered"], 1)
        row = [
            f"{name} (C={s['concurrency']})",
            str(s["attempted"]),
            f"{s['reports_per_s']:.0f}",
            f"{lat['p50']:.1f}",
            f"{lat['p90']:.1f}",
            f"{lat['p99']:.1f}",
            f"{lat['max']:.1f}",
            str(s["attempted"] - s["ok"]),
            f"{1000 * s['server_cpu_s'] / answered:.2f}",
            f"{1000 * s['database_cpu_s'] / answered:.2f}" if s.get("database_cpu_s") else "-",
        ]
        if bare:
            row.append(f"{s['reports_per_s'] / bare:.2f}" if s["mode"] == "closed" else "")
        rows.append(row)
    return measure.table(rows)


def report_problems(problems: list[str], logs: Sequence[Path], keep: bool) -> int:
    """The exit status: 0 without problems; else 1, with them and the logs' exceptions."""
    if not problems:
        return 0
    print("\nFAILED: distinct valid reports must all be answered Ok=true:")
    for problem in problems:
        print(f"  {problem}")
    for log in logs:
        for line, count in server_errors(log):
            print(f"  {log.name}, {count}x: {line}")
        if keep:
            print(f"  the server's log: {log}")
    return 1
