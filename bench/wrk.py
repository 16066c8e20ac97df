"""``python -m bench.wrk``: ``udb serve`` driven by wrk, with the CPU per report of each
process group and the floor of each stage, measured in one run.

wrk (C, Debian package ``wrk``: ``apt-get install wrk``) sends distinct, pre-rendered
and (unless ``--unsigned``) pre-signed bodies through :file:`bench/wrk_bodies.lua`, over
keep-alive connections; it reports requests per second and the latency distribution.
Around the run the CPU time of each process group is read from ``/proc`` (psutil): the
server (supervisor and workers), PostgreSQL (every ``postgres`` process of the machine)
and wrk itself (its rusage as a child of this process). In the same run each stage is
measured in isolation (:mod:`bench.floors`), and the budget is printed: where each
millisecond of a report's server CPU goes, against the floors.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import sys
import uuid
from datetime import timedelta
from pathlib import Path

from bench import data, floors, measure, profile
from bench.servers import Command, Server, ping_body, udb_serve
from bench.wire import Signer, read_template, render_body
from bench.wrk_run import WARM_BODIES, WrkRun, empty_http, measured, spyne, write_bodies


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.wrk", description=__doc__)
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--unsigned", action="store_true", help="dev mode: unsigned reports")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="udb serve --threads")
    parser.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="info",
        help="udb serve --log-level (info, its default: one line a request, to a file)",
    )
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--bodies", type=int, default=30000, help="distinct bodies rendered")
    parser.add_argument(
        "--warmup", type=int, default=2000, help="bodies sent before the measured run (3 s)"
    )
    parser.add_argument("--persons", type=int, default=20000)
    parser.add_argument("--keep", action="store_true", help="keep the workspace")
    parser.add_argument(
        "--compare",
        type=Path,
        metavar="SRC",
        help="another tree's src directory: its server and this tree's run alternately on the"
        " same database and bodies (--rounds each), no floors",
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds of --compare")
    parser.add_argument(
        "--no-autoanalyze",
        action="store_true",
        help="where PostgreSQL's autovacuum is off, do not ANALYZE the growing tables every"
        " 20 s during the run (as autovacuum would)",
    )
    parser.add_argument(
        "--no-floors",
        action="store_true",
        help="only the run, not the floors (for comparing two trees, run after run)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="record the workers with py-spy --gil during the run and print the hot spots",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install wrk (Debian's package)")
    signed = not args.unsigned
    with (
        data.workspace(args.keep) as work,
        data.database(args.database, work, keep=args.keep) as url,
    ):
        setup = data.prepare(work, url, args.persons, signed=signed)
        template = read_template()
        plain = [
            render_body(template, setup.cprs[i % len(setup.cprs)], str(uuid.uuid4()))
            for i in range(args.bodies + args.warmup)
        ]
        signer = setup.signer() if signed else None
        bodies = plain
        if signer is not None:
            # valid until the last body is sent: signing takes a while, a soak 10 minutes
            # (the service accepts Timestamps of up to an hour)
            signer.lifetime = timedelta(minutes=min(60, 15 + 2 * args.seconds // 60))
            with signer.batch():
                bodies = [signer.sign(body) for body in plain]
            print(f"signed {len(bodies)} bodies: {signer.seconds / len(bodies) * 1000:.2f} ms each")
        warmup_file, body_file = work / "warmup-bodies", work / "bodies"
        write_bodies(warmup_file, bodies[: args.warmup])
        bodies, plain = bodies[args.warmup :], plain[args.warmup :]
        write_bodies(body_file, bodies)
        command = udb_serve(url, args.workers, args.threads, args.log_level, signed=signed)
        if args.compare is not None:
            compare(args, work, setup, command, signer, warmup_file, bodies)
            return
        server = Server.start(
            work, command, args.workers, ping_body(signer), postgres=setup.postgres
        )
        profiler = profile.Profiler(work) if args.profile else None
        try:
            if args.warmup:  # the pool's connections, the caches, the prepared statements
                measured(server, warmup_file, seconds=3, connections=args.connections)
            if profiler is not None:
                profiler.start([worker.pid for worker in server.workers()])
            with analyzing(args, url, setup) as analyzed:
                run = measured(
                    server, body_file, seconds=args.seconds, connections=args.connections
                )
            if analyzed:
                print(
                    "autovacuum is off: the growing tables were analysed every 20 s during the"
                    " run, as autovacuum would (--no-autoanalyze: not)"
                )
            recorded = profiler.stop() if profiler is not None else []
        finally:
            server.stop()
        report(args, run, work, setup, bodies, plain, signed)
        if profiler is not None:
            print()
            print(profile.worker_hot_spots(recorded, profiler.possible, top=30))


def analyzing(
    args: argparse.Namespace, url: str, setup: data.Setup
) -> contextlib.AbstractContextManager[bool]:
    """:func:`bench.data.autoanalyze` on PostgreSQL unless ``--no-autoanalyze``."""
    if not setup.postgres or args.no_autoanalyze:
        return contextlib.nullcontext(False)
    return data.autoanalyze(url)


def compare(
    args: argparse.Namespace,
    work: Path,
    setup: data.Setup,
    command: Command,
    signer: Signer | None,
    warmup_file: Path,
    bodies: list[bytes],
) -> None:
    """This tree and ``args.compare`` alternately, each round on fresh bodies: the
    same database, the same load, minutes apart at most."""
    trees: list[tuple[str, Path | None]] = [("other", args.compare), ("this", None)]
    share = len(bodies) // (2 * args.rounds)
    if share < 2 * WARM_BODIES:
        raise SystemExit("too few bodies for the rounds: raise --bodies")
    results: dict[str, list[WrkRun]] = {name: [] for name, _ in trees}
    chunk = 0
    for round_ in range(1, args.rounds + 1):
        for name, source in trees:
            mine = bodies[chunk * share : (chunk + 1) * share]
            chunk += 1
            warm, part = work / f"warm-{chunk}", work / f"bodies-{chunk}"
            write_bodies(warm, mine[:WARM_BODIES])
            write_bodies(part, mine[WARM_BODIES:])
            server = Server.start(
                work, command, args.workers, ping_body(signer), postgres=setup.postgres,
                source=source,
            )  # fmt: skip
            try:
                # each server warm: its connections, caches and prepared statements
                measured(server, warm, seconds=1, connections=args.connections)
                with analyzing(args, setup.database_url, setup):
                    run = measured(server, part, seconds=args.seconds, connections=args.connections)
            finally:
                server.stop()
            results[name].append(run)
            print(
                f"round {round_} {name:5}: {run.rate:7,.0f} reports/s, p99 "
                f"{run.latency_ms.get(99, 0):6.1f} ms; server {run.server_ms:.2f} ms, "
                f"PostgreSQL {run.database_ms:.2f} ms, wrk {run.wrk_ms:.3f} ms a report; "
                f"non-2xx {run.non_2xx}"
            )
    for name, source in trees:
        runs = results[name]
        rate = statistics.median(r.rate for r in runs)
        server_ms = statistics.median(r.server_ms for r in runs)
        database_ms = statistics.median(r.database_ms for r in runs)
        print(
            f"{name} ({source or 'this tree'}): median {rate:,.0f} reports/s, "
            f"server {server_ms:.2f} ms, PostgreSQL {database_ms:.2f} ms a report"
        )


def report(
    args: argparse.Namespace,
    run: WrkRun,
    work: Path,
    setup: data.Setup,
    bodies: list[bytes],
    plain: list[bytes],
    signed: bool,
) -> None:
    kind = "signed, verified, stored" if signed else "unsigned (dev mode), stored"
    print()
    print(f"wrk: {kind}; {args.database}; {args.workers} workers; {args.connections} connections")
    print(
        f"  {run.rate:,.0f} reports/s ({run.requests} in {args.seconds} s); p50 "
        f"{run.latency_ms.get(50, 0):.1f} ms, p99 {run.latency_ms.get(99, 0):.1f} ms; "
        f"non-2xx {run.non_2xx}, socket errors {run.socket_errors}"
    )
    growth = [
        100 * (after - before) / before
        for before, after in zip(run.rss_before, run.rss_after, strict=False)
    ]
    print(
        "  RSS per worker: "
        + ", ".join(f"{after:.1f} MiB" for after in run.rss_after)
        + " at the end; growth over the run "
        + ", ".join(f"{g:+.1f} %" for g in growth)
    )
    print(
        f"  CPU per report: server {run.server_ms:.2f} ms, PostgreSQL {run.database_ms:.2f} ms, "
        f"wrk {run.wrk_ms:.3f} ms (server: {100 * run.server_system:.0f} % in the kernel)"
    )
    if args.no_floors:
        return
    sample = 2000
    http = empty_http(work, args.workers, seconds=5, connections=args.connections)
    xmlsec_ms = verify_ms = 0.0
    if signed and setup.certs is not None:
        cert = setup.certs.client_cert.read_bytes()
        xmlsec_ms = floors.xmlsec_floor(bodies[:sample], cert)
        verify_ms = floors.verify_ms(bodies[:sample])
    parse_ms = floors.parse_validate_ms(plain[:sample])
    stored_own, stored_db = floors.stored_ms(setup.database_url, setup.cprs, 1000)
    unsent = bodies[run.requests + 100 :][:1050]  # never sent: no replay
    path_own, path_db = (
        floors.endpoint_ms(setup.database_url, unsent, signed=signed)
        if len(unsent) > 100
        else (0.0, 0.0)
    )
    rows = [["stage (in isolation)", "CPU ms a report"]]
    if signed:
        rows.append(["lxml parse + xmlsec verify (the floor)", f"{xmlsec_ms:.3f}"])
        rows.append(["udb.wssecurity.verify (ours, every check)", f"{verify_ms:.3f}"])
    rows += [
        ["parse + schema validation", f"{parse_ms:.3f}"],
        ["one stored report in-process (this process)", f"{stored_own:.3f}"],
        ["one stored report in-process (PostgreSQL)", f"{stored_db:.3f}"],
        ["empty HTTP answer under granian (server)", f"{http:.3f}"],
        ["the request path in one thread, no HTTP, no request log", f"{path_own:.3f}"],
        ["the same: PostgreSQL", f"{path_db:.3f}"],
    ]
    print(measure.table(rows))
    ours = max(verify_ms - xmlsec_ms, 0.0) if signed else 0.0
    stages = (xmlsec_ms if signed else 0.0) + ours + parse_ms + stored_own
    in_path = path_own - stages
    under_load = run.server_ms - path_own - http
    print("budget of the server's CPU a report (ms):")
    lines = [
        ("an empty HTTP answer under granian", http),
        *([("lxml parse + xmlsec verify", xmlsec_ms), ("our verification over xmlsec", ours)]
          if signed else []),
        ("parse + schema validation", parse_ms),
        ("storing: the use case and psycopg", stored_own),
        ("the rest of the request path, in one thread", in_path),
        ("under load: request log, event loop, hand-offs, GIL", under_load),
    ]  # fmt: skip
    for label, value in lines:
        print(f"  {label:<56} {value:6.2f}")
    print(f"  {'= measured under load':<56} {run.server_ms:6.2f}")
    print(
        f"PostgreSQL: {run.database_ms:.2f} ms a report under load; in isolation "
        f"{stored_db:.2f} (a report's statements, unsigned) and {path_db:.2f} (the request path"
        " in one thread, signed when the run is)"
    )
    floors_total = http + stages + stored_db + run.wrk_ms
    total = run.server_ms + run.database_ms + run.wrk_ms
    cores = os.cpu_count() or 1
    print(
        f"a report's CPU, all groups: {total:.2f} ms (at most {1000 * cores / total:,.0f} "
        f"reports/s on {cores} cores); the floors alone: {floors_total:.2f} ms (at most "
        f"{1000 * cores / floors_total:,.0f}/s)"
    )
    if not signed:
        other = spyne(work, args.workers, plain, seconds=args.seconds, connections=args.connections)
        print(
            f"spyne 2.14, parse + schema validation only ({args.workers} workers, granian WSGI):"
            f" {other.rate:,.0f} requests/s, server {other.server_ms:.2f} ms CPU a request;"
            f" non-2xx {other.non_2xx}"
        )
        print(
            f"  udb serve (unsigned, stored) / spyne: {run.rate / other.rate:.2f} x"
            " (issue 15's target: >= 0.6 x)"
        )


if __name__ == "__main__":
    main()
