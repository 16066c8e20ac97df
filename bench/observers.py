"""``python -m bench.observers``: what the request metrics and the request log cost each request.

In one process, as a granian worker runs under ``udb serve --admin-port``
(prometheus-client's multiprocess mode, its values in memory-mapped files of
a fresh directory):

* the observer alone: :class:`udb.api.metrics.RequestMetrics` called with a
  report's :class:`~udb.service.requests.RequestRecord`, many times;
* ``Endpoint.post`` of unsigned demo reports (SQLite, a new
  SystemTransactionID each) without observers, with the metrics observer, and
  with both observers of ``udb serve`` (the metrics and the request-log writer,
  one short write per request), interleaved in rounds so the machine's drift
  falls on all alike.

It prints microseconds per request; no figure is a target.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.observers", description=__doc__)
    parser.add_argument("--calls", type=int, default=200_000, help="observer calls (alone)")
    parser.add_argument("--reports", type=int, default=2_000, help="reports per round and kind")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="udb-bench-observers-") as work:
        # before prometheus_client is imported: the mode a worker of udb serve runs in
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(Path(work) / "metrics")
        os.mkdir(os.environ["PROMETHEUS_MULTIPROC_DIR"])
        run(Path(work), args.calls, args.reports, args.rounds)


def run(work: Path, calls: int, reports: int, rounds: int) -> None:
    from udb import contract, demo
    from udb.api.endpoint import Endpoint
    from udb.api.metrics import RequestMetrics
    from udb.config import Security
    from udb.service.reports import ReportPolicy
    from udb.service.requests import RequestLogWriter, RequestRecord
    from udb.storage import open_store

    metrics = RequestMetrics()
    record = RequestRecord(
        received_at=datetime.now(UTC),
        correlation_id=str(uuid.uuid4()),
        operation="Indberetning",
        outcome="rejected",
        code="14",
        details=None,
        http_status=200,
        soap_version="1.2",
        duration_ms=3.0,
        system_name="DemoKommuneSystem",
        institution_number=1,
        masked_cpr="150308-****",
    )
    started = time.perf_counter()
    for _ in range(calls):
        metrics(record)
    alone = (time.perf_counter() - started) / calls * 1e6

    contract.prepare()
    store = open_store("sqlite:///" + str(work / "udb.sqlite3"))
    store.migrate()
    demo.load(store, datetime.now(UTC))
    template = (Path(__file__).resolve().parent.parent / "docs/examples/request.xml").read_bytes()
    marker = b"<v1:SystemTransactionID>"
    head, rest = template.split(marker, 1)
    tail = rest.split(b"<", 1)[1]
    security = Security(required=False)
    endpoints = {
        "without": Endpoint(store, ReportPolicy(), security=security),
        "with metrics": Endpoint(store, ReportPolicy(), security=security, observers=[metrics]),
        "with both": Endpoint(
            store, ReportPolicy(), security=security, observers=[metrics, RequestLogWriter(store)]
        ),
    }
    import logging

    logging.getLogger("udb").setLevel(logging.ERROR)  # the log line costs both alike
    per_request: dict[str, list[float]] = {name: [] for name in endpoints}
    for _round in range(rounds):
        for name, endpoint in endpoints.items():
            bodies = [
                head + marker + str(uuid.uuid4()).encode() + b"<" + tail for _ in range(reports)
            ]
            started = time.perf_counter()
            for body in bodies:
                endpoint.post(body, "application/soap+xml", datetime.now(UTC))
            per_request[name].append((time.perf_counter() - started) / reports * 1e6)
    store.close()
    print(f"RequestMetrics alone (multiprocess mode): {alone:.1f} µs a call ({calls} calls)")
    for name, figures in per_request.items():
        print(
            f"Endpoint.post {name:>12}: median {statistics.median(figures):.0f} µs a report "
            f"(rounds: {', '.join(f'{f:.0f}' for f in figures)})"
        )
    without = statistics.median(per_request["without"])
    for name in ("with metrics", "with both"):
        difference = statistics.median(per_request[name]) - without
        print(f"{name}: {difference:+.0f} µs a report against without (noise included)")


if __name__ == "__main__":
    main()
