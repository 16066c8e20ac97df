"""The load generator: distinct UDB reports over keep-alive HTTP/1.1 on raw asyncio streams.

It sends N distinct reports (:mod:`bench.wire`: the wire example
``docs/examples/request.xml`` with the CPR number and a fresh uuid4
``SystemTransactionID`` put in) over C connections to 127.0.0.1, and reports
the sustained rate, the latency percentiles and what came back. Every request
is rendered to bytes before the clock starts, so the client spends its time
writing bytes and reading ``Content-Length`` bodies, nothing else.

Two ways to drive the load:

* closed loop (default): each connection sends its next request as soon as the
  previous answer is in; the rate is what the service sustains;
* open loop (``--rate R``): request *i* is due at ``start + i / R`` whatever the
  connections are doing; its latency counts from that due time, so time spent
  waiting for a free connection (queueing) is part of it.

With ``--sign-key``/``--sign-cert`` every body is signed (WS-Security,
RSA-SHA256/SHA-256, by ``udb.wssecurity.sign``) before the clock starts. A
signature's Timestamp is valid 5 minutes and the service refuses replays, so
each request has its own signature and only as many are made as can be sent
within that window: signing stops after ``--sign-budget`` seconds, and the run
starts no request whose signature is older than the window less 15 s.

As a command, from the repository root::

    python -m bench.loadgen --port 8080 --cpr 1503084232 --reports 2000 --concurrency 16
    python -m bench.loadgen --port 8080 --cpr-file cprs.txt --rate 500 --duration 10 --json
    python -m bench.loadgen --port 8080 --reports 5000 --sign-key client-key.pem \\
        --sign-cert client.pem

As a module::

    from bench import loadgen, wire
    requests = wire.render_requests(wire.read_template(), ["1503084232"], 100, port=8080)
    result = loadgen.run(requests, port=8080, concurrency=8)
    print(result.format())

A request counts once, as exactly one of: ``Ok=true``; ``Ok=false`` (by FejlKode);
a SOAP fault (by IPL error code, else by HTTP status); a transport error (by
exception; the connection is then reopened and the request is not retried).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.measure import percentile
from bench.wire import (
    DEFAULT_TEMPLATE,
    DEMO_CPR,
    HOST,
    SIGNATURE_LIFETIME_S,
    SIGNATURE_MARGIN_S,
    ProtocolError,
    Signer,
    classify,
    read_response,
    read_template,
    render_requests,
)

# the load -----------------------------------------------------------------------


@dataclass
class Result:
    """What one run measured; latencies in milliseconds."""

    planned: int
    concurrency: int
    rate: float | None
    elapsed_s: float
    latencies_ms: list[float] = field(default_factory=list)
    ok: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)
    connections_opened: int = 0
    max_start_lag_ms: float = 0.0
    client_cpu_s: float = 0.0
    #: bodies signed before the run, and the seconds that took (not part of ``elapsed_s``)
    signed: int = 0
    signing_s: float = 0.0
    #: why the run ended before its requests or its duration did, if it did
    stopped: str | None = None

    @property
    def answered(self) -> int:
        return self.ok + sum(self.rejected.values()) + sum(self.faults.values())

    @property
    def attempted(self) -> int:
        return self.answered + sum(self.transport_errors.values())

    @property
    def throughput(self) -> float:
        """Answered requests per second over the whole run."""
        return self.answered / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def all_ok(self) -> bool:
        """Every request sent got Ok=true (a duration may have ended the run early)."""
        return self.attempted > 0 and self.ok == self.attempted

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies_ms)
        return {
            "planned": self.planned,
            "attempted": self.attempted,
            "answered": self.answered,
            "concurrency": self.concurrency,
            "mode": "open" if self.rate else "closed",
            "target_rate": self.rate,
            "elapsed_s": round(self.elapsed_s, 3),
            "reports_per_s": round(self.throughput, 1),
            "latency_ms": {
                "p50": round(percentile(ordered, 50), 2),
                "p90": round(percentile(ordered, 90), 2),
                "p99": round(percentile(ordered, 99), 2),
                "max": round(ordered[-1], 2) if ordered else 0.0,
                "mean": round(sum(ordered) / len(ordered), 2) if ordered else 0.0,
            },
            "ok": self.ok,
            "rejected": dict(self.rejected),
            "faults": dict(self.faults),
            "transport_errors": dict(self.transport_errors),
            "connections_opened": self.connections_opened,
            "max_start_lag_ms": round(self.max_start_lag_ms, 2),
            "client_cpu_s": round(self.client_cpu_s, 3),
            "signed": self.signed,
            "signing_s": round(self.signing_s, 3),
            "stopped": self.stopped,
        }

    def format(self) -> str:
        s = self.summary()
        lat = s["latency_ms"]
        mode = f"open loop at {self.rate:g}/s" if self.rate else "closed loop"
        lines = [
            f"requests    {s['attempted']} of {s['planned']} sent over {self.concurrency} "
            f"connections ({mode}) in {s['elapsed_s']:.2f} s",
            f"throughput  {s['reports_per_s']:.1f} reports/s",
            f"latency ms  p50 {lat['p50']:.1f}  p90 {lat['p90']:.1f}  p99 {lat['p99']:.1f}  "
            f"max {lat['max']:.1f}",
            f"answers     Ok=true {self.ok}  Ok=false {sum(self.rejected.values())}  "
            f"faults {sum(self.faults.values())}  "
            f"transport errors {sum(self.transport_errors.values())}",
            f"client      {s['client_cpu_s']:.2f} s CPU "
            f"({100 * self.client_cpu_s / max(self.elapsed_s, 1e-9):.0f}% of one core), "
            f"{self.connections_opened} connection(s) opened",
        ]
        if self.rate:
            lines.append(f"pacing      latest start {s['max_start_lag_ms']:.1f} ms after due time")
        if self.signed:
            lines.append(
                f"signed      {self.signed} bodies in {self.signing_s:.1f} s before the run "
                f"({1000 * self.signing_s / self.signed:.2f} ms each)"
            )
        if self.stopped:
            lines.append(f"stopped     early: {self.stopped}")
        for title, counts in (
            ("Ok=false", self.rejected),
            ("faults", self.faults),
            ("transport", self.transport_errors),
        ):
            for key, n in sorted(counts.items()):
                lines.append(f"  {title:<10} {key}: {n}")
        return "\n".join(lines)


class _Load:
    def __init__(
        self,
        requests: Sequence[bytes],
        *,
        port: int,
        concurrency: int,
        rate: float | None,
        duration: float | None,
        timeout: float,
        max_seconds: float,
        valid_until: Sequence[float] | None = None,
    ) -> None:
        self.requests = requests
        self.valid_until = valid_until
        self.port = port
        self.concurrency = concurrency
        self.rate = rate
        self.timeout = timeout
        limit = max_seconds if duration is None else min(duration, max_seconds)
        self.limit = limit
        self.next = 0
        self.start = 0.0
        self.result = Result(planned=len(requests), concurrency=concurrency, rate=rate, elapsed_s=0)

    async def run(self) -> Result:
        cpu = time.process_time()
        self.start = time.perf_counter()
        await asyncio.gather(*(self._connection() for _ in range(self.concurrency)))
        self.result.elapsed_s = time.perf_counter() - self.start
        self.result.client_cpu_s = time.process_time() - cpu
        return self.result

    def _take(self) -> tuple[int, float] | None:
        """The next request's index and due time, or ``None`` when the run is over."""
        i = self.next
        if i >= len(self.requests):
            return None
        due = self.start + i / self.rate if self.rate else time.perf_counter()
        if due - self.start >= self.limit:
            return None
        if self.valid_until is not None and max(due, time.perf_counter()) >= self.valid_until[i]:
            self.result.stopped = "the signatures left would be too old (Timestamp window)"
            self.next = len(self.requests)
            return None
        self.next = i + 1
        return i, due

    async def _connection(self) -> None:
        result = self.result
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        try:
            while (taken := self._take()) is not None:
                i, due = taken
                if self.rate:
                    wait = due - time.perf_counter()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    result.max_start_lag_ms = max(
                        result.max_start_lag_ms, (time.perf_counter() - due) * 1000
                    )
                try:
                    async with asyncio.timeout(self.timeout):
                        if writer is None or reader is None:
                            reader, writer = await asyncio.open_connection(HOST, self.port)
                            result.connections_opened += 1
                        writer.write(self.requests[i])
                        status, close, body = await read_response(reader)
                except (
                    OSError,
                    EOFError,
                    TimeoutError,
                    asyncio.LimitOverrunError,
                    ProtocolError,
                    ValueError,
                ) as exc:
                    name = type(exc).__name__
                    result.transport_errors[name] += 1
                    _close(writer)
                    reader = writer = None
                    continue
                result.latencies_ms.append((time.perf_counter() - due) * 1000)
                kind, key = classify(status, body)
                if kind == "ok":
                    result.ok += 1
                elif kind == "rejected":
                    result.rejected[key or "?"] += 1
                else:
                    result.faults[key or "?"] += 1
                if close:
                    _close(writer)
                    reader = writer = None
        finally:
            _close(writer)


def _close(writer: asyncio.StreamWriter | None) -> None:
    if writer is not None:
        writer.close()


async def run_load(
    requests: Sequence[bytes],
    *,
    port: int,
    concurrency: int = 32,
    rate: float | None = None,
    duration: float | None = None,
    timeout: float = 30.0,
    max_seconds: float = 600.0,
    valid_until: Sequence[float] | None = None,
) -> Result:
    """Send ``requests`` to 127.0.0.1:``port``; stop when they are sent or time is up.

    ``rate`` (requests/s) paces the sends open-loop; ``duration`` (s) ends the
    run early; ``max_seconds`` bounds any run; ``timeout`` bounds each request.
    ``valid_until[i]`` (``time.perf_counter()``): request *i* and those after it
    are not started from then on (a signature about to expire).
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    if rate is not None and rate <= 0:
        raise ValueError("rate must be positive")
    load = _Load(
        requests,
        port=port,
        concurrency=concurrency,
        rate=rate,
        duration=duration,
        timeout=timeout,
        max_seconds=max_seconds,
        valid_until=valid_until,
    )
    return await load.run()


def run(requests: Sequence[bytes], **options: Any) -> Result:
    """:func:`run_load` in a fresh event loop."""
    return asyncio.run(run_load(requests, **options))


# command line -------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.loadgen",
        description="Send distinct UDB reports to 127.0.0.1 and measure rate and latency.",
    )
    parser.add_argument("--port", type=int, required=True, help="port on 127.0.0.1")
    parser.add_argument(
        "--cpr", action="append", default=[], help="CPR number to report on (repeatable)"
    )
    parser.add_argument("--cpr-file", type=Path, help="file of CPR numbers, one a line")
    parser.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE)
    parser.add_argument(
        "--reports",
        type=int,
        default=None,
        help="reports to render and send (default: rate x duration if both are given, else 10000)",
    )
    parser.add_argument("--concurrency", type=int, default=32, help="connections (default 32)")
    parser.add_argument("--rate", type=float, default=None, help="open-loop requests/s")
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        help="stop after this many seconds (or when the reports run out, if sooner)",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    parser.add_argument("--max-seconds", type=float, default=600.0, help="bound on the run")
    parser.add_argument("--sign-key", type=Path, help="sign every body with this PEM RSA key")
    parser.add_argument("--sign-cert", type=Path, help="... and this PEM certificate")
    parser.add_argument(
        "--sign-budget",
        type=float,
        default=240.0,
        help="stop signing (send fewer reports) after this many seconds (240)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Exit status 0 if every report was answered Ok=true, 1 otherwise."""
    args = _parser().parse_args(argv)
    cprs = list(args.cpr)
    if args.cpr_file:
        cprs += [line.strip() for line in args.cpr_file.read_text().splitlines() if line.strip()]
    cprs = cprs or [DEMO_CPR]
    count = args.reports
    if count is None:
        count = math.ceil(args.rate * args.duration) if args.rate and args.duration else 10000
    if count < 1 or count > 1_000_000:
        raise SystemExit("--reports must be between 1 and 1000000")
    if bool(args.sign_key) != bool(args.sign_cert):
        raise SystemExit("--sign-key and --sign-cert go together")
    if not 0 < args.sign_budget < SIGNATURE_LIFETIME_S - SIGNATURE_MARGIN_S:
        raise SystemExit("--sign-budget must be between 0 and 285 seconds")
    signer = Signer.from_files(args.sign_key, args.sign_cert) if args.sign_key else None
    requests = render_requests(
        read_template(args.template),
        cprs,
        count,
        port=args.port,
        signer=signer,
        budget_s=args.sign_budget,
    )
    result = run(
        requests,
        port=args.port,
        concurrency=args.concurrency,
        rate=args.rate,
        duration=args.duration,
        timeout=args.timeout,
        max_seconds=args.max_seconds,
        valid_until=signer.deadlines() if signer else None,
    )
    if signer is not None:
        result.signed = len(signer.signed_at)
        result.signing_s = signer.seconds
        if len(requests) < count:
            result.planned = count
            short = (
                f"only {len(requests)} of {count} bodies could be signed in "
                f"--sign-budget {args.sign_budget:g} s"
            )
            result.stopped = "; ".join(filter(None, [short, result.stopped]))
    if args.json:
        print(json.dumps(result.summary()))
    else:
        print(result.format())
    return 0 if result.all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
