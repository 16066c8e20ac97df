"""The sending side of ``bench.client``: one batch of signed reports, in a process of its own.

``python -m bench.client`` starts this once per run, so that the client's CPU
time is its own and not the driver's::

    python -m bench.client_load sdk   --url http://127.0.0.1:8080 --cert client.pem \\
        --key client-key.pem --cpr-file cprs.txt --offset 0 --reports 10000 --concurrency 16
    python -m bench.client_load async ...        # AsyncUdbClient.send_many
    python -m bench.client_load zeep  ... --wsdl http://127.0.0.1:8080/services/...?wsdl

Each run:

* makes the reports before the clock starts (:mod:`bench.client_batch`): report
  ``i`` is about the young person on line ``offset + i`` of ``--cpr-file``,
  with a contact person, a job wish and an education wish registered a minute
  ago, texts numbered ``i``;
* ``sdk`` (:mod:`bench.client_sdk`): :meth:`udb.client.UdbClient.send_many`
  (``concurrency`` threads, one ``httpx.Client`` with keep-alive, every
  request signed by the SDK as it is sent, the SDK's default retry policy);
  ``async``: the same with :class:`udb.client.AsyncUdbClient` on one event
  loop; ``zeep`` (:mod:`bench.client_zeep`): zeep 4 with its own
  ``BinarySignature`` (RSA-SHA256/SHA-256) after a ``Timestamp`` plugin,
  answers not verified (the service does not sign them), exactly as
  ``tests/e2e/test_zeep_wssecurity.py`` does, from the served WSDL, called
  from a thread pool of ``concurrency`` threads, each thread with its own zeep
  client (its own ``requests`` session: a session is not thread-safe);
* measures, around the sending only: the wall time, this process's CPU time
  (every thread, user and system), the CPU time of ``--server-pid`` and its
  children (the server, or the stub), the whole machine's busy time, and each
  report's latency (the call of ``send``, or of zeep's operation: building,
  signing, the HTTP exchange and reading the answer);
* then, single-threaded and after the clock, the CPU cost of each stage of a
  report on its own (``--stages N`` reports): for the SDK making the
  ``Report``, writing the envelope, signing it, reading the answer; for zeep
  serialising the envelope and signing it;
* prints one JSON object (the last line of its output).

The exit status is 0 if every report was answered ``Ok=true``.
``--profile FILE`` records this process with py-spy (``--format raw``, all
threads, idle threads left out) while it sends; with ``--profile-gil`` only the
thread holding the GIL (the Python CPU time; C code that releases the GIL, such
as xmlsec's signing, is then not in it).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.client_batch import Clock, specs
from bench.client_sdk import run_sdk, sdk_stages
from bench.client_zeep import run_zeep, zeep_stages
from bench.measure import percentile


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.client_load", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("kind", choices=("sdk", "async", "zeep"))
    parser.add_argument("--url", required=True, help="the service's base URL (or the stub's)")
    parser.add_argument("--wsdl", help="zeep: the WSDL's URL (the server's ?wsdl)")
    parser.add_argument("--cert", required=True, help="the client certificate (PEM)")
    parser.add_argument("--key", required=True, help="its private key (PEM)")
    parser.add_argument("--cpr-file", type=Path, required=True)
    parser.add_argument("--offset", type=int, default=0, help="first line of --cpr-file to use")
    parser.add_argument("--reports", type=int, default=10000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--server-pid", type=int, help="the server (or stub) whose CPU is read")
    parser.add_argument("--stages", type=int, default=300, help="reports timed per stage (300)")
    parser.add_argument("--profile", type=Path, help="py-spy raw output file")
    parser.add_argument(
        "--profile-gil", action="store_true", help="py-spy --gil: the GIL holder only"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.reports < 1 or args.concurrency < 1:
        raise SystemExit("--reports and --concurrency must be positive")
    if args.kind == "zeep" and not args.wsdl:
        raise SystemExit("zeep needs --wsdl")
    items = specs(args.cpr_file, args.offset, args.reports)
    clock = Clock(args.server_pid)
    run = run_zeep if args.kind == "zeep" else run_sdk
    tally = run(args, items, clock)
    stages: dict[str, float] = {}
    asides: dict[str, float] = {}
    if args.stages > 0:
        sample = items[: args.stages]
        timing = zeep_stages if args.kind == "zeep" else sdk_stages
        stages, asides = timing(args, sample)
    ordered = sorted(tally.latencies_ms)
    values = clock.values
    answered = tally.ok + sum(tally.rejected.values())
    summary = {
        "kind": args.kind,
        "reports": args.reports,
        "concurrency": args.concurrency,
        "ok": tally.ok,
        "rejected": dict(tally.rejected),
        "errors": dict(tally.errors),
        "retried": tally.retried,
        "answered": answered,
        "reports_per_s": args.reports / max(values["elapsed_s"], 1e-9),
        "latency_ms": {
            "p50": percentile(ordered, 50),
            "p90": percentile(ordered, 90),
            "p99": percentile(ordered, 99),
            "max": ordered[-1] if ordered else 0.0,
        },
        "stages_ms": stages,
        "asides_ms": asides,
        "imports_searched": tally.imports_searched,
        "profile": str(args.profile) if args.profile else None,
        "profile_gil": bool(args.profile_gil),
        **values,
    }
    print(json.dumps(summary), flush=True)
    return 0 if tally.ok == args.reports else 1


if __name__ == "__main__":
    sys.exit(main())
