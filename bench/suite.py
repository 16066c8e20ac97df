"""The suite: issue 5 item 7 in one command (``python -m bench.service --suite``).

On one database (PostgreSQL by default), 2 workers each time:

1. (4) the bare endpoint (:mod:`bench.bare`) at saturation;
2. (3) ``udb serve --insecure-dev-mode`` (unsigned, stored) at saturation;
3. (1) ``udb serve`` with signatures required at saturation, then (2) at the
   fixed rate (1,000/s) and lower rates until one is sustained
   (:func:`fixed_rates`), then (5) a soak at the rate sustained (:func:`soak`),
   reading the workers' memory along it.

:mod:`bench.suite_summary` prints the runs, the memory per worker and the
targets, each ``met`` or ``MISSED``.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.data import Setup
from bench.measure import per_worker
from bench.runs import failures, measured, report_problems, warm_up
from bench.servers import ROOT, Command, Server, bare_serve, ping_body, udb_serve
from bench.suite_summary import Results, print_results

#: the bare endpoint's saturation run sends at least this many reports
BARE_REPORTS = 50000
#: a fixed rate is sustained if this share of it is answered ...
SUSTAINED_SHARE = 0.97
#: ... and no request starts later than this after its due time (never all connections busy)
SUSTAINED_LAG_MS = 250.0


@dataclass
class Served:
    """A server of the suite, with what is checked when it stops."""

    name: str
    server: Server
    first_workers: set[int]
    memory_start: dict[str, Any]


@contextlib.contextmanager
def serving(
    name: str,
    directory: Path,
    command: Command,
    workers: int,
    ping: Callable[[], bytes],
    problems: list[str],
    logs: list[Path],
    *,
    postgres: bool,
) -> Iterator[Served]:
    server = Server.start(
        directory, command, workers, ping, log_name=f"server-{name}.log", postgres=postgres
    )
    logs.append(server.log_path)
    served = Served(name, server, server.worker_pids(), server.memory())
    shown = [
        "python" if c == sys.executable else Path(c).name if c.startswith(str(ROOT)) else c
        for c in command(server.port)
    ]
    print(
        f"\n#### {name}: {' '.join(shown)}"
        f"\n     pid {server.process.pid}, workers {sorted(served.first_workers)}, RSS per "
        f"worker {per_worker(served.memory_start)} MiB",
        flush=True,
    )
    try:
        yield served
    finally:
        restarted = server.restarted(served.first_workers)
        server.stop()
        if restarted:
            problems.append(f"{name}: {restarted} worker process(es) died and were restarted")


def sustained(s: dict[str, Any], rate: float) -> bool:
    return (
        s["reports_per_s"] >= SUSTAINED_SHARE * rate
        and s["max_start_lag_ms"] <= SUSTAINED_LAG_MS
        and s["ok"] == s["attempted"]
    )


def fixed_rates(
    served: Served, setup: Setup, args: argparse.Namespace, saturated: float
) -> list[tuple[float, dict[str, Any]]]:
    """The target rate; if it is not sustained, lower rates until one is (at most 5 more)."""

    def at(rate: float) -> dict[str, Any]:
        return measured(
            served.server,
            f"(2) signed, fixed rate {rate:g}/s",
            setup.cpr_file,
            "--rate",
            f"{rate:g}",
            "--duration",
            f"{args.rate_seconds:g}",
            "--concurrency",
            str(args.concurrency),
            *setup.sign_options(True),
        )

    tried = [(args.rate, at(args.rate))]
    if sustained(tried[0][1], args.rate):
        return tried
    print(f"  {args.rate:g}/s is not sustained; lower rates:")
    base = min(args.rate, saturated)
    for share in (0.9, 0.8, 0.7, 0.6, 0.5):
        rate = max(10.0, math.floor(base * share / 10) * 10)
        if rate >= tried[-1][0]:
            continue
        tried.append((rate, at(rate)))
        if sustained(tried[-1][1], rate):
            break
    return tried


def soak(
    served: Served, setup: Setup, args: argparse.Namespace, rate: float, sign_s: float
) -> dict[str, Any]:
    """Signed reports at ``rate`` for ``--soak-seconds`` of load, with the workers' RSS.

    Every body must be signed before it is sent and a signature is valid for 5
    minutes, so the soak runs in chunks: the load generator signs a chunk
    (the server idles meanwhile), then sends it at ``rate``. The soak's seconds
    count the time under load; the wall time is longer by the signing.
    """
    seconds = float(args.soak_seconds)
    # a chunk's signing (rate x length x sign_s) stays under 150 s, well inside the window
    chunk = max(5.0, min(60.0, 150.0 / max(rate * sign_s, 1e-6)))
    start_memory = served.server.memory()
    samples: list[tuple[float, dict[str, Any]]] = [(0.0, start_memory)]
    chunks: list[dict[str, Any]] = []
    done = 0.0
    wall = time.monotonic()
    print(
        f"\n== (5) soak: signed reports at {rate:g}/s for {seconds:g} s of load, in chunks of "
        f"up to {chunk:.0f} s (each signed first); RSS per worker {per_worker(start_memory)} MiB",
        flush=True,
    )
    while done < seconds - 1e-6:
        length = min(chunk, seconds - done)
        s = measured(
            served.server,
            "soak",
            setup.cpr_file,
            "--rate",
            f"{rate:g}",
            "--duration",
            f"{length:g}",
            "--reports",
            str(math.ceil(rate * length)),
            "--concurrency",
            str(args.concurrency),
            *setup.sign_options(True),
            quiet=True,
        )
        done += length
        memory = served.server.memory()
        samples.append((done, memory))
        chunks.append(s)
        lat = s["latency_ms"]
        print(
            f"  {done:5.0f}/{seconds:g} s: {s['reports_per_s']:.0f}/s, p50 {lat['p50']:.1f} "
            f"p99 {lat['p99']:.1f} max {lat['max']:.1f} ms, not ok {s['attempted'] - s['ok']}; "
            f"RSS per worker {per_worker(memory)} MiB",
            flush=True,
        )
    return {
        **combined(chunks, args.concurrency),
        "seconds": done,
        "wall_s": time.monotonic() - wall,
        "samples": samples,
    }


def combined(chunks: list[dict[str, Any]], concurrency: int) -> dict[str, Any]:
    """The soak's chunks as one run: sums, the median p50, the worst p90/p99/max."""
    answered = sum(c["answered"] for c in chunks)
    elapsed = sum(c["elapsed_s"] for c in chunks)

    def counts(key: str) -> dict[str, int]:
        return dict(sum((Counter(c[key]) for c in chunks), Counter()))

    return {
        "planned": sum(c["planned"] for c in chunks),
        "attempted": sum(c["attempted"] for c in chunks),
        "answered": answered,
        "ok": sum(c["ok"] for c in chunks),
        "concurrency": concurrency,
        "mode": "open",
        "reports_per_s": answered / max(elapsed, 1e-9),
        "latency_ms": {
            "p50": sorted(c["latency_ms"]["p50"] for c in chunks)[len(chunks) // 2],
            "p90": max(c["latency_ms"]["p90"] for c in chunks),
            "p99": max(c["latency_ms"]["p99"] for c in chunks),
            "max": max(c["latency_ms"]["max"] for c in chunks),
        },
        "server_cpu_s": sum(c["server_cpu_s"] for c in chunks),
        "database_cpu_s": sum(c.get("database_cpu_s", 0.0) for c in chunks),
        "rejected": counts("rejected"),
        "faults": counts("faults"),
        "transport_errors": counts("transport_errors"),
        "stopped": "; ".join(c["stopped"] for c in chunks if c.get("stopped")) or None,
    }


def run_suite(args: argparse.Namespace, directory: Path, setup: Setup, title: str) -> int:
    """(4) bare, (3) unsigned, then (1) signed, (2) fixed rate and (5) the soak."""
    problems: list[str] = []
    logs: list[Path] = []
    workers, threads = args.workers, args.threads
    saturation_options = ["--reports", str(args.reports), "--concurrency", str(args.concurrency)]
    pg = setup.postgres

    with serving(
        "bare",
        directory,
        bare_serve(workers),
        workers,
        ping_body(None),
        problems,
        logs,
        postgres=False,
    ) as served:
        warmed = warm_up(served.server, setup, args.warmup, args.concurrency, None)
        problems += [f"bare warm-up: {p}" for p in failures(warmed)]
        bare = measured(
            served.server,
            "(4) bare endpoint (parse + schema validation only), saturation",
            setup.cpr_file,
            # at least BARE_REPORTS: at several thousand a second, 20000 last only a few seconds
            "--reports",
            str(max(args.reports, BARE_REPORTS)),
            "--concurrency",
            str(args.concurrency),
        )
    problems += [f"(4) bare: {p}" for p in failures(bare)]

    command = udb_serve(setup.database_url, workers, threads, args.log_level, signed=False)
    with serving(
        "unsigned", directory, command, workers, ping_body(None), problems, logs, postgres=pg
    ) as served:
        warmed = warm_up(served.server, setup, args.warmup, args.concurrency, None)
        problems += [f"unsigned warm-up: {p}" for p in failures(warmed)]
        unsigned = measured(
            served.server,
            "(3) unsigned (--insecure-dev-mode), stored, saturation",
            setup.cpr_file,
            *saturation_options,
        )
    problems += [f"(3) unsigned: {p}" for p in failures(unsigned)]

    signer = setup.signer()
    command = udb_serve(setup.database_url, workers, threads, args.log_level, signed=True)
    with serving(
        "signed", directory, command, workers, ping_body(signer), problems, logs, postgres=pg
    ) as served:
        warmed = warm_up(served.server, setup, args.warmup, args.concurrency, signer)
        problems += [f"signed warm-up: {p}" for p in failures(warmed)]
        signed = measured(
            served.server,
            "(1) signed, verified, stored, saturation",
            setup.cpr_file,
            *saturation_options,
            *setup.sign_options(True),
        )
        problems += [f"(1) signed: {p}" for p in failures(signed)]
        fixed = fixed_rates(served, setup, args, signed["reports_per_s"])
        for rate, s in fixed:
            problems += [f"(2) {rate:g}/s: {p}" for p in failures(s)]
        best = next(((r, s) for r, s in fixed if sustained(s, r)), None)
        soak_rate = best[0] if best else fixed[-1][0]
        sign_s = signed["signing_s"] / max(signed["signed"], 1)
        soaked = soak(served, setup, args, soak_rate, sign_s)
        problems += [f"(5) soak: {p}" for p in failures(soaked)]

    target = dict(fixed).get(args.rate)
    results = Results(
        bare=bare,
        unsigned=unsigned,
        signed=signed,
        fixed=fixed,
        target_sustained=target is not None and sustained(target, args.rate),
        best=best,
        soak_rate=soak_rate,
        soaked=soaked,
        memory_start=served.memory_start,
    )
    print_results(results, args.rate, title, directory, setup)
    return report_problems(problems, logs, args.keep)
