"""The client SDK's benchmark in one command: ``python -m bench.client``.

How fast one process sends signed reports with the SDK (``udb.client``) to a
local ``udb serve --workers 2``, and how that compares with zeep::

    .venv/bin/python -m bench.client                     # 10000 reports, zeep 2000, SQLite
    .venv/bin/python -m bench.client --reports 2000 --zeep-reports 500 --no-stub   # a quick one
    .venv/bin/python -m bench.client --database postgresql
    .venv/bin/python -m bench.client --profile           # py-spy on the SDK's process
    .venv/bin/python -m bench.client --profile-gil       # the same, the GIL holder only

1. A temporary directory and a database (``--database sqlite``, the default, or
   ``postgresql``: a fresh schema, dropped at the end; :mod:`bench.data`)
   with the demo data set and one synthetic young person of Aarhus per report
   sent, so that every report is about another person and must be accepted.
2. Development certificates; the client certificate pinned to
   Vejledningssystem-Aarhus; ``udb serve --workers 2`` without
   ``--insecure-dev-mode`` (every request must be signed), waited for with a
   signed Ping; a warm-up of ``--warmup`` signed reports (:mod:`bench.loadgen`).
3. Each run in a process of its own (:mod:`bench.client_load`), so that the
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
   :mod:`bench.client_stub`: an endpoint that answers ``Ok=true`` at once and
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
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench import measure
from bench.client_summary import Measured, describe, print_summary
from bench.data import Setup, database, prepare, workspace
from bench.profile import py_spy
from bench.runs import failures, warm_up
from bench.servers import Server, Stub, bench_env, bench_module, ping_body, server_errors, udb_serve
from bench.wire import ENDPOINT_PATH, HOST
from udb.domain.clock import utc_now


def client_run(
    name: str,
    kind: str,
    *,
    url: str,
    setup: Setup,
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
    """``bench.client_load KIND`` in its own process; its figures."""
    if setup.certs is None:
        raise RuntimeError("the set-up has no certificates")
    command = bench_module(
        "client_load",
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
    )
    print(f"\n== {name}: {reports} reports, concurrency {concurrency}", flush=True)
    db_before = measure.database_cpu() if postgres else {}
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600, env=bench_env())
    if done.stderr:
        sys.stderr.write(done.stderr[-4000:])
    lines = done.stdout.strip().splitlines()
    if not lines:
        raise RuntimeError(f"bench.client_load printed nothing (exit status {done.returncode})")
    data = dict(json.loads(lines[-1]))
    data["exit_status"] = done.returncode
    if postgres:
        data["database_cpu_s"] = measure.database_cpu_since(db_before)
    measured = Measured(name, data)
    print(describe(measured), flush=True)
    return measured


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.client", description=__doc__.split("\n\n")[0]
    )
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
        help="also the SDK and zeep against bench.client_stub (default: yes)",
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


@dataclass(frozen=True)
class Offsets:
    """Where each run's people start in the CPR file: every report is about another person."""

    sdk: int
    run_async: int
    zeep: int
    persons: int

    @classmethod
    def of(cls, args: argparse.Namespace) -> Offsets:
        sdk = args.warmup
        run_async = sdk + args.reports
        zeep = run_async + (args.reports if args.run_async else 0)
        return cls(sdk, run_async, zeep, zeep + args.zeep_reports)


def send_all(
    args: argparse.Namespace, directory: Path, setup: Setup, server: Server
) -> tuple[list[Measured], list[Measured], list[str]]:
    """The warm-up, the runs against the server, then against the stub; what went wrong."""
    at = Offsets.of(args)
    problems: list[str] = []
    runs: list[Measured] = []
    stub_runs: list[Measured] = []
    first_workers = server.worker_pids()
    url = f"http://{HOST}:{server.port}"
    wsdl = url + ENDPOINT_PATH + "?wsdl"
    print(
        f"server: udb serve --workers {args.workers} (signatures required) on "
        f"{url} (pid {server.process.pid}, workers {sorted(first_workers)})",
        flush=True,
    )
    if args.warmup:
        warmed = warm_up(server, setup, args.warmup, args.concurrency, setup.signer())
        problems += [f"warm-up: {p}" for p in failures(warmed)]
    common = {"setup": setup, "concurrency": args.concurrency, "postgres": setup.postgres}
    runs.append(
        client_run(
            "SDK UdbClient.send_many",
            "sdk",
            url=url,
            offset=at.sdk,
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
            offset=at.zeep,
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
                offset=at.run_async,
                reports=args.reports,
                server_pid=server.process.pid,
                **common,
            )
        )
    if args.stub:
        stub = Stub(directory)
        try:
            print(f"\nstub: bench.client_stub on {stub.url}", flush=True)
            stub_common = {**common, "postgres": False, "stages": 0}
            stub_runs.append(
                client_run(
                    "stub: SDK UdbClient.send_many",
                    "sdk",
                    url=stub.url,
                    offset=at.sdk,
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
                    offset=at.zeep,
                    reports=args.zeep_reports,
                    server_pid=stub.process.pid,
                    **stub_common,
                )
            )
        finally:
            stub.stop()
    restarted = server.restarted(first_workers)
    if restarted:
        problems.append(f"{restarted} worker process(es) died and were restarted")
    return runs, stub_runs, problems


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    args.profile = args.profile or args.profile_gil
    if min(args.reports, args.zeep_reports, args.concurrency, args.workers) < 1:
        raise SystemExit("--reports, --zeep-reports, --concurrency and --workers must be positive")
    if args.warmup < 0:
        raise SystemExit("--warmup must not be negative")
    if args.profile:
        py_spy()  # installed, or a one-line error before the set-up
    command = " ".join(["python -m bench.client", *(argv if argv is not None else sys.argv[1:])])
    title = f"{utc_now():%Y-%m-%d %H:%M} UTC; {command}"
    with workspace(args.keep) as directory:
        print(f"workspace {directory}", flush=True)
        with database(args.database, directory, keep=args.keep) as database_url:
            setup = prepare(directory, database_url, Offsets.of(args).persons, signed=True)
            serve = udb_serve(database_url, args.workers, None, args.log_level, signed=True)
            server = Server.start(
                directory, serve, args.workers, ping_body(setup.signer()), postgres=setup.postgres
            )
            try:
                runs, stub_runs, problems = send_all(args, directory, setup, server)
            finally:
                server.stop()
            for m in (*runs, *stub_runs):
                problems += m.problems()

            print_summary(args, title, directory, setup, runs, stub_runs)
            if problems:
                print("\nFAILED: distinct valid reports must all be answered Ok=true:")
                for problem in problems:
                    print(f"  {problem}")
                for line, count in server_errors(server.log_path):
                    print(f"  server log, {count}x: {line}")
                return 1
            return 0


if __name__ == "__main__":
    sys.exit(main())
