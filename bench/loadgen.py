"""A load generator for the UDB endpoint: keep-alive HTTP/1.1 on raw asyncio streams.

It sends N distinct reports (the wire example ``docs/examples/request.xml`` with
the CPR number and a fresh uuid4 ``SystemTransactionID`` put in) over C
connections to 127.0.0.1, and reports the sustained rate, the latency
percentiles and what came back. Every request is rendered to bytes before the
clock starts, so the client spends its time writing bytes and reading
``Content-Length`` bodies, nothing else.

Two ways to drive the load:

* closed loop (default): each connection sends its next request as soon as the
  previous answer is in; the rate is what the service sustains;
* open loop (``--rate R``): request *i* is due at ``start + i / R`` whatever the
  connections are doing; its latency counts from that due time, so time spent
  waiting for a free connection (queueing) is part of it.

As a script::

    python bench/loadgen.py --port 8080 --cpr 1503084232 --reports 2000 --concurrency 16
    python bench/loadgen.py --port 8080 --cpr-file cprs.txt --rate 500 --duration 10 --json

As a module::

    import loadgen
    requests = loadgen.render_requests(loadgen.read_template(), ["1503084232"], 100, port=8080)
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
import re
import sys
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"  # the only address this tool talks to
ENDPOINT_PATH = "/services/UDB/IndberetningKontaktJobOgUddOensker/v1"
CONTENT_TYPE = "application/soap+xml; charset=utf-8"
DEFAULT_TEMPLATE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "request.xml"
#: The demo data set's young person whose reports are accepted.
DEMO_CPR = "1503084232"

_CPR = re.compile(r"(<(?:[\w.-]+:)?CPRNr>)[^<]*(</)")
_TXID = re.compile(r"(<(?:[\w.-]+:)?SystemTransactionID>)[^<]*(</)")
_OK = re.compile(rb"<(?:[\w.-]+:)?Ok>\s*(true|false)\s*</")
_FEJLKODE = re.compile(rb"<(?:[\w.-]+:)?FejlKode>\s*(\d+)\s*</")
_IPL_CODE = re.compile(rb"<(?:[\w.-]+:)?ErrorCode>\s*(IPL\d+)\s*</")


class ProtocolError(Exception):
    """The server's answer is not HTTP/1.1 as this client reads it."""


# requests ---------------------------------------------------------------------


def read_template(path: Path = DEFAULT_TEMPLATE) -> str:
    """The request body template; it must hold one CPRNr and one SystemTransactionID."""
    text = path.read_text(encoding="utf-8")
    for name, pattern in (("CPRNr", _CPR), ("SystemTransactionID", _TXID)):
        found = len(pattern.findall(text))
        if found != 1:
            raise ValueError(f"{path}: expected one {name} element, found {found}")
    return text


def render_body(template: str, cpr: str, transaction_id: str) -> bytes:
    body = _CPR.sub(lambda m: m.group(1) + cpr + m.group(2), template, count=1)
    body = _TXID.sub(lambda m: m.group(1) + transaction_id + m.group(2), body, count=1)
    return body.encode("utf-8")


def render_requests(template: str, cprs: Sequence[str], count: int, *, port: int) -> list[bytes]:
    """``count`` complete HTTP requests, CPR numbers taken round-robin from ``cprs``.

    Every request gets its own uuid4 SystemTransactionID, so every one is a new
    report (and not an idempotent repetition of an earlier one).
    """
    if not cprs:
        raise ValueError("no CPR numbers given")
    head = (
        f"POST {ENDPOINT_PATH} HTTP/1.1\r\n"
        f"Host: {HOST}:{port}\r\n"
        f"Content-Type: {CONTENT_TYPE}\r\n"
        "Content-Length: {length}\r\n"
        "\r\n"
    )
    requests = []
    for i in range(count):
        body = render_body(template, cprs[i % len(cprs)], str(uuid.uuid4()))
        requests.append(head.format(length=len(body)).encode("ascii") + body)
    return requests


# responses --------------------------------------------------------------------


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool, bytes]:
    """Status, whether the server closes the connection, and the body."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head[:-4].split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise ProtocolError("bad status line")
    status = int(parts[1])
    close = parts[0] == b"HTTP/1.0"
    length: int | None = None
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        value = value.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            close = value == b"close"
        elif name == b"transfer-encoding":
            chunked = value.endswith(b"chunked")
    if chunked:
        return status, close, await _read_chunked(reader)
    if length is None:
        return status, True, await reader.read()
    return status, close, await reader.readexactly(length)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)


def classify(status: int, body: bytes) -> tuple[str, str | None]:
    """``("ok", None)``, ``("rejected", FejlKode)`` or ``("fault", key)``."""
    if status == 200 and b"Fault>" not in body:
        ok = _OK.search(body)
        if ok is not None and ok.group(1) == b"true":
            return "ok", None
        if ok is not None:
            code = _FEJLKODE.search(body)
            return "rejected", code.group(1).decode() if code else "?"
    ipl = _IPL_CODE.search(body)
    return "fault", f"{ipl.group(1).decode()} (HTTP {status})" if ipl else f"HTTP {status}"


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

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile of the latencies (0 if there are none)."""
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        rank = max(1, math.ceil(p / 100 * len(ordered)))
        return ordered[rank - 1]

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
                "p50": round(self.percentile(50), 2),
                "p90": round(self.percentile(90), 2),
                "p99": round(self.percentile(99), 2),
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
    ) -> None:
        self.requests = requests
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
) -> Result:
    """Send ``requests`` to 127.0.0.1:``port``; stop when they are sent or time is up.

    ``rate`` (requests/s) paces the sends open-loop; ``duration`` (s) ends the
    run early; ``max_seconds`` bounds any run; ``timeout`` bounds each request.
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
    )
    return await load.run()


def run(requests: Sequence[bytes], **options: Any) -> Result:
    """:func:`run_load` in a fresh event loop."""
    return asyncio.run(run_load(requests, **options))


# command line -------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    requests = render_requests(read_template(args.template), cprs, count, port=args.port)
    result = run(
        requests,
        port=args.port,
        concurrency=args.concurrency,
        rate=args.rate,
        duration=args.duration,
        timeout=args.timeout,
        max_seconds=args.max_seconds,
    )
    if args.json:
        print(json.dumps(result.summary()))
    else:
        print(result.format())
    return 0 if result.all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
