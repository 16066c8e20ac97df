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
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.multiprocess import MultiProcessCollector

from udb.api.metrics import DatabaseCheck, ServiceCollector

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
