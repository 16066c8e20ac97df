"""What the client benchmark prints: each run, the summary, the stages, the targets.

:class:`Measured` is one run of :mod:`bench.client_load` (its JSON summary)
with the figures derived from it (CPU ms per report of the client, the server
and PostgreSQL; busy cores); :func:`print_summary` prints the tables, where
the time goes, the issue's targets (>= 1,000 reports/s; >= 5x zeep), each
``met`` or ``MISSED``, the machine's facts and the py-spy hot spots.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.data import Setup
from bench.measure import machine, print_facts, table, verdict, version
from bench.profile import process_hot_spots

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
            found.append(f"bench.client_load exited with {self.data['exit_status']}")
        return [f"{self.name}: {p}" for p in found]


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
    return table(rows)


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
    return table(rows)


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


def machine_rows(directory: Path, setup: Setup) -> list[tuple[str, str]]:
    rows = machine(directory, setup.database_url, setup.durability)
    rows.append(
        (
            "clients",
            f"httpx {version('httpx')}, httpcore {version('httpcore')}, zeep {version('zeep')}, "
            f"requests {version('requests')}, urllib3 {version('urllib3')}, cryptography "
            f"{version('cryptography')}",
        )
    )
    return rows


def print_summary(
    args: argparse.Namespace,
    title: str,
    directory: Path,
    setup: Setup,
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
            verdict(sdk.rate >= TARGET_RATE),
        ],
        [
            "the same, SDK rate / zeep rate (same server, same concurrency)",
            f">= {TARGET_ZEEP_RATIO:g}x",
            f"{ratio:.2f}x ({sdk.rate:,.0f} vs {zeep.rate:,.0f}/s)",
            verdict(ratio >= TARGET_ZEEP_RATIO),
        ],
    ]
    async_run = next((m for m in runs if m.data["kind"] == "async"), None)
    if async_run is not None:
        targets.append(
            [
                "(for comparison) AsyncUdbClient.send_many",
                f">= {TARGET_RATE:,.0f}/s",
                f"{async_run.rate:,.0f}/s, {async_run.rate / max(zeep.rate, 1e-9):.2f}x zeep",
                verdict(async_run.rate >= TARGET_RATE),
            ]
        )
    print("\n== targets")
    print(table(targets))
    print_facts(machine_rows(directory, setup))
    print(
        "load:      this driver, the client process, the server (and PostgreSQL) share the "
        "machine's cores; the driver is idle while a client runs"
    )
    for m in (*runs, *stub_runs):
        profile = m.data.get("profile")
        if profile and Path(profile).exists():
            print(f"\n== py-spy: where the time of the client process went ({m.name})")
            print(process_hot_spots(Path(profile), gil=bool(m.data.get("profile_gil"))))
