"""The admin listener: metrics and health on an address of their own, never the SOAP port.

``udb serve --admin-port PORT`` runs it in the supervisor process, in a daemon
thread, beside granian's workers (which serve only SOAP). It is a small
threaded WSGI server (the standard library's, as prometheus-client's own
``start_http_server``) with a routing table of path to WSGI application:

* ``GET /metrics`` - Prometheus exposition: every worker's request metrics
  summed (multiprocess mode) and the gauges read from the database;
* ``GET /healthz`` - 200 ``ok`` while the process serves (liveness);
* ``GET /readyz`` - 200 ``ready`` when the database answers and holds the
  current schema, else 503 with the reason in one line (readiness: what a load
  balancer asks).

Another page is mounted with one more entry in :attr:`AdminListener.routes`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.multiprocess import MultiProcessCollector

from udb import __version__
from udb.api.dashboard import Instance, dashboard_app
from udb.api.metrics import DatabaseCheck, ServiceCollector
from udb.domain.clock import utc_now
from udb.storage import open_store

__all__ = ["AdminListener", "WsgiApp", "health_app", "metrics_registry", "readiness_app"]

log = logging.getLogger(__name__)

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]


def _text(start_response: StartResponse, status: str, text: str) -> list[bytes]:
    body = text.encode()
    start_response(
        status,
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
        ],
    )
    return [body]


def health_app(environ: Environ, start_response: StartResponse) -> list[bytes]:
    """Liveness: answering at all is the answer."""
    return _text(start_response, "200 OK", "ok\n")


def readiness_app(check: DatabaseCheck) -> WsgiApp:
    """Readiness: 200 ``ready``, or 503 and why (the database, the schema)."""

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        state = check.readiness()
        if state.ready:
            return _text(start_response, "200 OK", "ready\n")
        return _text(start_response, "503 Service Unavailable", f"not ready: {state.reason}\n")

    return app


def metrics_registry(check: DatabaseCheck, multiprocess_dir: str | None) -> CollectorRegistry:
    """The registry ``/metrics`` shows: the workers' files, then the database's gauges."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir is not None:
        MultiProcessCollector(registry, path=multiprocess_dir)  # type: ignore[no-untyped-call]
    registry.register(ServiceCollector(check))
    return registry


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    #: binds over the TIME_WAIT connections of an instance stopped a moment ago; a port
    #: another process listens on is refused all the same (the start-up checks say so first)
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    """Requests to the log at DEBUG, not one line each on stderr (scrapes, probes)."""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("admin %s", format % args)


class AdminListener:
    """The admin listener on ``host:port``; :meth:`start` serves it in a daemon thread."""

    def __init__(
        self,
        host: str,
        port: int,
        database_url: str,
        *,
        multiprocess_dir: str | None = None,
        extra_routes: Mapping[str, WsgiApp] | None = None,
    ) -> None:
        self.check = DatabaseCheck(database_url)
        self.registry = metrics_registry(self.check, multiprocess_dir)
        #: path -> WSGI application; anything else is 404
        self.routes: dict[str, WsgiApp] = {
            "/metrics": make_wsgi_app(self.registry),
            "/healthz": health_app,
            "/readyz": readiness_app(self.check),
            **dashboard_routes(database_url, self.registry, utc_now()),
            **(extra_routes or {}),
        }
        self._server = make_server(
            host, port, self.route, server_class=_Server, handler_class=_QuietHandler
        )
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def route(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        app = self.routes.get(environ.get("PATH_INFO", ""))
        if app is None:
            paths = ", ".join(sorted(self.routes))
            return _text(start_response, "404 Not Found", f"Not found. Paths: {paths}\n")
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return _text(start_response, "405 Method Not Allowed", "Method not allowed\n")
        return app(environ, start_response)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="udb-admin", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def latency_ms(registry: CollectorRegistry) -> tuple[float, float] | None:
    """This instance's p50 and p99 request duration in ms, from the duration histogram.

    The buckets of every operation and worker are summed; each quantile is read off
    by linear interpolation inside its bucket (as Prometheus's ``histogram_quantile``).
    None before any request.
    """
    buckets: dict[float, float] = {}
    for family in registry.collect():
        if family.name != "udb_request_duration_seconds":
            continue
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
    total = buckets.get(float("inf"), 0.0)
    if total <= 0:
        return None

    def quantile(q: float) -> float:
        rank, lower, below = q * total, 0.0, 0.0
        for bound in sorted(buckets):
            count = buckets[bound]
            if count >= rank:
                if bound == float("inf"):
                    return lower * 1000
                share = 0.0 if count == below else (rank - below) / (count - below)
                return (lower + (bound - lower) * share) * 1000
            lower, below = bound, count
        return lower * 1000  # pragma: no cover - the +Inf bucket holds every request

    return quantile(0.5), quantile(0.99)


def dashboard_routes(
    database_url: str, registry: CollectorRegistry, started_at: datetime
) -> dict[str, WsgiApp]:
    """``/dashboard`` and ``/dashboard.json``, each request with a store of its own.

    The supervisor holds no database connection between requests: granian forks
    its workers from this process, and a forked child must not inherit one.
    """
    instance = Instance(
        version=__version__, started_at=started_at, latency=lambda: latency_ms(registry)
    )

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        store = open_store(database_url)
        try:
            return list(dashboard_app(store, instance)(environ, start_response))
        finally:
            store.close()

    return {"/dashboard": app, "/dashboard.json": app}
