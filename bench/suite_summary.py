"""What the suite prints at the end: the runs, the memory per worker, the targets.

The targets are those of issue 5 item 7, each ``met`` or ``MISSED`` (a missed
target does not change the exit status).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.data import Setup
from bench.measure import MIB, growth, machine, per_worker, print_facts, table, verdict
from bench.runs import run_rows

#: the targets of issue 5 item 7
TARGET_SIGNED_RATE = 2000.0
TARGET_FIXED_RATE = 1000.0
TARGET_P99_MS = 25.0
TARGET_RSS_MB = 150.0
TARGET_GROWTH_PCT = 5.0


@dataclass
class Results:
    """The suite's runs (load generator summaries) and the signed server's first memory."""

    bare: dict[str, Any]
    unsigned: dict[str, Any]
    signed: dict[str, Any]
    #: the fixed rates tried, the target rate first
    fixed: list[tuple[float, dict[str, Any]]]
    #: whether the target rate (the first of ``fixed``) was sustained
    target_sustained: bool
    #: the first rate sustained, if any
    best: tuple[float, dict[str, Any]] | None
    soak_rate: float
    soaked: dict[str, Any]
    memory_start: dict[str, Any]


def print_results(r: Results, rate: float, title: str, directory: Path, setup: Setup) -> None:
    """The summary table, the memory per worker along the soak, the targets, the machine."""
    bare_rate = r.bare["reports_per_s"]
    runs: list[tuple[str, dict[str, Any]]] = [("(1) signed, saturation", r.signed)]
    runs += [(f"(2) signed, {fixed:g}/s", s) for fixed, s in r.fixed]
    runs += [
        ("(3) unsigned (dev mode), saturation", r.unsigned),
        ("(4) bare parse+validate, saturation", r.bare),
        (
            f"(5) signed soak, {r.soaked['seconds']:g} s at {r.soak_rate:g}/s (p90+ worst chunk)",
            r.soaked,
        ),
    ]
    print(f"\n== suite summary ({title})")
    print(run_rows(runs, bare_rate))
    print_memory(r)
    print("\n== targets")
    print(table(targets(r, rate)))
    print_facts(machine(directory, setup.database_url, setup.durability))
    print(
        "load:      the load generator, the server and the database share this machine's "
        "cores; the bare endpoint is bench/bare.py (udb.soap.envelope.read), not spyne"
    )


def print_memory(r: Results) -> None:
    samples = r.soaked["samples"]
    soak_start, soak_end = samples[0][1], samples[-1][1]
    over_soak = growth(soak_start, soak_end)
    since_start = growth(r.memory_start, soak_end)
    print("\n== server memory per worker (RSS MiB; USS in brackets)")
    rows = [["worker", "at start", "soak start", "soak end", "growth over soak", "since start"]]
    for pid in sorted(soak_end["workers"]):
        end = soak_end["workers"][pid]

        def cell(m: dict[str, Any], pid: int = pid) -> str:
            w = m["workers"].get(pid)
            return f"{w['rss']:.1f} ({w['uss']:.1f})" if w else "-"

        rows.append(
            [
                str(pid),
                cell(r.memory_start),
                cell(soak_start),
                f"{end['rss']:.1f} ({end['uss']:.1f})",
                f"{over_soak[pid]:+.1f}%" if pid in over_soak else "-",
                f"{since_start[pid]:+.1f}%" if pid in since_start else "-",
            ]
        )
    print(table(rows))
    print(
        "RSS per worker along the soak (s: MiB): "
        + "; ".join(f"{t:.0f}: {per_worker(m)}" for t, m in samples)
    )
    print(
        f"soak: {r.soaked['seconds']:g} s of load in {r.soaked['wall_s']:.0f} s wall time "
        "(the load generator signs each chunk before sending it)"
    )


def p99_target(r: Results, rate: float) -> tuple[str, bool]:
    """What the p99 target's row says, and whether it is met."""
    fixed_target = dict(r.fixed).get(rate)
    if r.target_sustained and fixed_target is not None:
        p99 = fixed_target["latency_ms"]["p99"]
        return f"{p99:.1f} ms at {rate:g}/s", p99 <= TARGET_P99_MS and rate >= TARGET_FIXED_RATE
    tail = (
        f"; highest sustained {r.best[0]:g}/s: p99 {r.best[1]['latency_ms']['p99']:.1f} ms"
        if r.best
        else "; no lower rate tried was sustained either"
    )
    got = fixed_target["reports_per_s"] if fixed_target else 0.0
    text = (
        f"{rate:g}/s not sustained ({got:.0f}/s answered, p99 "
        f"{fixed_target['latency_ms']['p99'] if fixed_target else 0:.0f} ms){tail}"
    )
    return text, False


def targets(r: Results, rate: float) -> list[list[str]]:
    """The targets table: goal, measured, met or MISSED."""
    bare_rate = r.bare["reports_per_s"]
    signed_rate, unsigned_rate = r.signed["reports_per_s"], r.unsigned["reports_per_s"]
    samples = r.soaked["samples"]
    soak_end = samples[-1][1]
    over_soak = growth(samples[0][1], soak_end)
    p99_text, p99_ok = p99_target(r, rate)
    rss_max = max(w["rss"] for w in soak_end["workers"].values()) * MIB / 1e6
    growth_max = max(over_soak.values()) if over_soak else float("nan")
    seconds = r.soaked["seconds"]
    short = (
        f" (soak {seconds:g} s; the issue asks 600 s)"
        if seconds < 600
        else f" (soak {seconds:g} s)"
    )
    return [
        ["target (issue 5 item 7)", "goal", "measured", ""],
        [
            "(1) signed, verified, stored reports/s at saturation",
            f">= {TARGET_SIGNED_RATE:,.0f}/s",
            f"{signed_rate:,.0f}/s ({signed_rate / bare_rate:.2f} x bare)",
            verdict(signed_rate >= TARGET_SIGNED_RATE),
        ],
        [
            "(3) unsigned (dev mode), stored vs (4) bare parse+validate",
            ">= 1.00 x bare",
            f"{unsigned_rate / bare_rate:.2f} x ({unsigned_rate:,.0f} vs {bare_rate:,.0f}/s)",
            verdict(unsigned_rate >= bare_rate),
        ],
        [
            f"(2) p99 at {TARGET_FIXED_RATE:,.0f} reports/s (signed)",
            f"<= {TARGET_P99_MS:g} ms",
            p99_text,
            verdict(p99_ok),
        ],
        [
            "(5) RSS per worker after the soak",
            f"<= {TARGET_RSS_MB:g} MB",
            f"max {rss_max:.0f} MB",
            verdict(rss_max <= TARGET_RSS_MB),
        ],
        [
            "(5) RSS growth per worker over the soak" + short,
            f"< {TARGET_GROWTH_PCT:g} %",
            f"max {growth_max:+.1f} %",
            verdict(growth_max < TARGET_GROWTH_PCT),
        ],
    ]
