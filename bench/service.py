"""The service benchmark in one command: ``python -m bench.service`` (or ``make bench``).

One run (the default, ``make bench``):

1. a temporary directory and a database (``--database sqlite``, the default: a
   file in that directory; ``--database postgresql``: a fresh schema in the
   database ``test`` at 127.0.0.1:5432, dropped at the end) holding the demo
   data set (``udb demo``) and ``--persons`` synthetic young people of Aarhus
   (751) (:mod:`bench.data`);
2. ``udb serve --workers W`` on a free port of 127.0.0.1, waited for with a Ping
   (:mod:`bench.servers`); with ``--signed`` without ``--insecure-dev-mode``:
   development certificates are made, the client certificate is pinned to
   Vejledningssystem-Aarhus and the load generator signs every body
   (WS-Security, SHA-256) before its run;
3. a warm-up (in this process, :mod:`bench.loadgen` as a module);
4. the saturation run: ``--reports`` distinct reports over ``--concurrency``
   connections, as fast as the service answers (:mod:`bench.loadgen` in its
   own process, :mod:`bench.runs`);
5. the fixed-rate run: ``--rate`` reports/s for ``--rate-seconds`` seconds;
6. the server's memory before and after, its CPU time per report, and the
   machine's facts (:mod:`bench.measure`).

``--suite`` measures what issue 5 item 7 asks, on PostgreSQL, in one go
(:mod:`bench.suite`): the bare endpoint (:mod:`bench.bare`: parse + schema
validation only), the service unsigned (development mode), the service signed
(saturation, 1,000 reports/s, a soak of ``--soak-seconds``), and prints the
figures against the targets.

Every report sent is distinct and valid, so every one must be answered
``Ok=true``. The exit status is 1 if any was not, or if any request failed at
the transport level (the breakdown is printed: that is a bug to report). A
target that is missed is printed as MISSED; it does not change the exit status.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import measure
from bench.data import Setup, database, prepare, workspace
from bench.profile import Profiler, py_spy, worker_hot_spots
from bench.runs import failures, measured, report_problems, run_rows, warm_up
from bench.servers import Server, ping_body, udb_serve
from bench.suite import run_suite
from bench.suite_summary import TARGET_FIXED_RATE
from udb.domain.clock import utc_now


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.service", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--reports", type=int, default=20000, help="saturation run (20000)")
    parser.add_argument("--concurrency", type=int, default=32, help="connections (32)")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes (2)")
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="fixed-rate run, reports/s (500; with --suite 1000)",
    )
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
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgresql"),
        default=None,
        help="sqlite (a file in the temporary directory; the default) or postgresql (a fresh "
        "schema in the database test at 127.0.0.1:5432, dropped at the end; --suite's default)",
    )
    parser.add_argument(
        "--signed",
        action="store_true",
        help="WS-Security: the server without --insecure-dev-mode, every body signed (SHA-256)",
    )
    parser.add_argument(
        "--suite",
        action="store_true",
        help="issue 5 item 7 in one go: bare, unsigned, signed, fixed rate, soak; the targets",
    )
    parser.add_argument(
        "--soak-seconds",
        type=float,
        default=600,
        help="--suite: seconds of signed load in the soak (600, as the issue asks)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="record the workers with py-spy during the saturation run; print the hot spots",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    return parser


def run_single(args: argparse.Namespace, directory: Path, setup: Setup, title: str) -> int:
    """One server: warm-up, saturation, fixed rate (the ``make bench`` run)."""
    signer = setup.signer() if args.signed else None
    command = udb_serve(
        setup.database_url, args.workers, args.threads, args.log_level, signed=args.signed
    )
    server = Server.start(
        directory, command, args.workers, ping_body(signer), postgres=setup.postgres
    )
    profile_text = ""
    try:
        first_workers = server.worker_pids()
        print(
            f"server: udb serve --workers {args.workers}"
            f"{'' if args.signed else ' --insecure-dev-mode'} on 127.0.0.1:{server.port} "
            f"(pid {server.process.pid}, workers {sorted(first_workers)})",
            flush=True,
        )
        memory_before = server.memory()
        warmed = warm_up(server, setup, args.warmup, args.concurrency, signer)
        profiler = Profiler(directory) if args.profile else None
        if profiler is not None:
            profiler.start(sorted(first_workers))
        try:
            saturation = measured(
                server,
                "saturation" + (" (py-spy recording the workers)" if profiler else ""),
                setup.cpr_file,
                "--reports",
                str(args.reports),
                "--concurrency",
                str(args.concurrency),
                *setup.sign_options(args.signed),
            )
        finally:
            if profiler is not None:
                profile_text = worker_hot_spots(profiler.stop(), profiler.possible)
        fixed = measured(
            server,
            f"fixed rate {args.rate:g}/s",
            setup.cpr_file,
            "--rate",
            f"{args.rate:g}",
            "--duration",
            f"{args.rate_seconds:g}",
            "--concurrency",
            str(args.concurrency),
            *setup.sign_options(args.signed),
        )
        memory_after = server.memory()
        restarted = server.restarted(first_workers)
    finally:
        server.stop()

    print_summary(
        title,
        [("saturation", saturation), (f"{args.rate:g}/s", fixed)],
        memory_before,
        memory_after,
        directory,
        setup,
    )
    if profile_text:
        print("\n== py-spy --gil: where the workers' Python time went in the saturation run")
        print(profile_text)

    problems = [f"warm-up: {p}" for p in failures(warmed)]
    problems += [f"saturation: {p}" for p in failures(saturation)]
    problems += [f"fixed rate: {p}" for p in failures(fixed)]
    if restarted:
        problems.append(f"{restarted} worker process(es) died and were restarted")
    return report_problems(problems, [server.log_path], args.keep)


def print_summary(
    title: str,
    runs: Sequence[tuple[str, dict[str, Any]]],
    memory_before: dict[str, Any],
    memory_after: dict[str, Any],
    directory: Path,
    setup: Setup,
) -> None:
    print("\n== server memory, MiB")
    print(measure.format_memory("before", memory_before))
    print(measure.format_memory("after", memory_after))
    print(f"\n== summary ({title})")
    print(run_rows(runs))
    print(
        f"server RSS MiB: per worker {measure.per_worker(memory_before)} before, "
        f"{measure.per_worker(memory_after)} after; all processes "
        f"{memory_before['rss_sum']:.0f} before, {memory_after['rss_sum']:.0f} after"
    )
    measure.print_facts(measure.machine(directory, setup.database_url, setup.durability))


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.rate is None:
        args.rate = TARGET_FIXED_RATE if args.suite else 500.0
    if args.database is None:
        args.database = "postgresql" if args.suite else "sqlite"
    if args.reports < 1 or args.concurrency < 1 or args.rate <= 0 or args.rate_seconds <= 0:
        raise SystemExit("--reports, --concurrency, --rate and --rate-seconds must be positive")
    if args.suite and args.soak_seconds <= 0:
        raise SystemExit("--soak-seconds must be positive")
    if args.suite and args.profile:
        raise SystemExit("--profile goes with a single run (it would disturb the suite's figures)")
    if args.persons < 1 or args.warmup < 0:
        raise SystemExit("--persons must be positive and --warmup not negative")
    if args.profile:
        py_spy()  # installed, or a one-line error before the set-up
    command = " ".join(["python -m bench.service", *(argv if argv is not None else sys.argv[1:])])
    title = f"{utc_now():%Y-%m-%d %H:%M} UTC; {command}"
    with workspace(args.keep) as directory:
        print(f"workspace {directory}", flush=True)
        with database(args.database, directory, keep=args.keep) as database_url:
            setup = prepare(directory, database_url, args.persons, signed=args.signed or args.suite)
            if args.suite:
                return run_suite(args, directory, setup, title)
            return run_single(args, directory, setup, title)


if __name__ == "__main__":
    sys.exit(main())
