"""The ASGI application.

Two paths, one per service of the contract: ``/services/UDB/IndberetningKontaktJobOgUddOensker/v1``
(the reports) and ``/services/UDB/HentKontaktJobOgUddOensker/v1`` (the read-back). On each:

* ``POST`` - a SOAP 1.2 (``application/soap+xml``) or 1.1 (``text/xml``) request, to
  that service's endpoint (:class:`~udb.api.endpoint.Endpoint`,
  :class:`~udb.api.readback.ReadbackEndpoint`);
* ``GET ?wsdl`` - the service's WSDL, its ``soap:address`` taken from the request's host;
* ``GET ?xsd=NAME`` - one of the schemas the WSDL imports.

The body is read in chunks and reading stops as soon as it passes the limit
(IPL000006): an oversized body is never held in memory. Parsing, the rules and
the database run in a thread pool so the event loop keeps accepting requests.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs

from udb import contract
from udb.api.endpoint import Endpoint, Reply
from udb.api.metrics import RequestMetrics
from udb.api.readback import ReadbackEndpoint
from udb.config import Settings
from udb.contract import ENDPOINT_PATH, READBACK, REPORT, ServiceContract
from udb.domain.clock import utc_now
from udb.service import reports, testenv, testenv_recorder
from udb.service.readback import ReadPolicy
from udb.service.reports import ReportPolicy
from udb.service.requests import RequestLogWriter
from udb.storage import Store, open_store

log = logging.getLogger(__name__)


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


class _TooLarge(Exception):
    pass


class _Disconnected(Exception):
    pass


class UdbApp:
    """ASGI 3 application for the UDB endpoint."""

    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self._store = store
        self._owns_store = store is None
        self._endpoint: Endpoint | None = None
        self._readback: ReadbackEndpoint | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._request_log: RequestLogWriter | None = None
        #: True when the database is a test environment (``udb testenv init``)
        self.test_environment = False

    # lifecycle ---------------------------------------------------------

    def startup(self) -> None:
        if self._endpoint is not None:
            return
        contract.prepare()  # compiled here, before any request thread exists
        security = self.settings.security()
        store = self._store or open_store(self.settings.database_url)
        self._store = store
        self.test_environment = testenv.is_test_environment(store)
        if self.test_environment:
            log.warning(
                "TEST ENVIRONMENT: the test persons' scenarios apply and every request of an "
                "enrolled system is kept in full; never send real personal data here"
            )
        metrics, request_log = RequestMetrics(), RequestLogWriter(store)
        self._request_log = request_log
        self._readback = ReadbackEndpoint(
            store,
            ReadPolicy(page_size=self.settings.fetch_page_size, settle=self.settings.fetch_settle),
            security=security,
            observers=[metrics],
            afterwards=[request_log],
        )
        self._endpoint = Endpoint(
            store,
            ReportPolicy(future_tolerance=self.settings.future_tolerance),
            security=security,
            observers=[metrics],
            afterwards=[request_log],
            submit=testenv.Scenarios(delay=self.settings.testenv_delay.total_seconds())
            if self.test_environment
            else reports.submit,
            exchanges=[testenv_recorder.Recorder(store)] if self.test_environment else (),
        )
        self._pool = ThreadPoolExecutor(self.settings.threads, thread_name_prefix="udb")

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._request_log is not None:
            self._request_log.close()  # what is queued is written before the store closes
            self._request_log = None
        if self._store is not None and self._owns_store:
            self._store.close()
        self._endpoint = None
        self._readback = None

    @property
    def endpoint(self) -> Endpoint:
        """The endpoint; started on first use if the server sent no lifespan events."""
        if self._endpoint is None:
            self.startup()
        endpoint = self._endpoint
        if endpoint is None:  # pragma: no cover - startup() sets it or raises
            raise RuntimeError("the application did not start")
        return endpoint

    @property
    def readback(self) -> ReadbackEndpoint:
        """The read-back service's endpoint (started like :attr:`endpoint`)."""
        if self._readback is None:
            self.startup()
        endpoint = self._readback
        if endpoint is None:  # pragma: no cover - startup() sets it or raises
            raise RuntimeError("the application did not start")
        return endpoint

    # ASGI ----------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.startup()
                except Exception as exc:
                    log.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "").rstrip("/")
        service = _SERVICES.get(path)
        if service is None:
            await _plain(send, 404, "Not found. The service is at " + ENDPOINT_PATH + "\n")
            return
        method = scope.get("method", "GET")
        if method == "POST":
            await self._post(scope, receive, send, service)
        elif method in ("GET", "HEAD"):
            await self._get(scope, send, service, head=method == "HEAD")
        else:
            await _plain(send, 405, "Method not allowed\n", [(b"allow", b"GET, HEAD, POST")])

    async def _post(
        self, scope: Scope, receive: Receive, send: Send, service: ServiceContract
    ) -> None:
        endpoint = self.endpoint if service is REPORT else self.readback
        received_at = utc_now()
        headers = _headers(scope)
        content_type = headers.get("content-type")
        limit = self.settings.max_body_bytes
        loop = asyncio.get_running_loop()
        try:
            body = await _read_body(receive, headers.get("content-length"), limit)
        except _TooLarge:
            reply = endpoint.too_large(content_type, limit, received_at)
            await _reply(send, reply, close=True)
            await self._after(endpoint, reply)
            return
        except _Disconnected:
            return
        reply = await loop.run_in_executor(
            self._pool, endpoint.post, body, content_type, received_at
        )
        await _reply(send, reply)
        await self._after(endpoint, reply)

    async def _after(self, endpoint: Endpoint, reply: Reply) -> None:
        """The observers that run once the answer is out (:meth:`Endpoint.after`).

        The request log only queues the record, so that runs here; a request kept in
        full (the test environment) is written to the database, in the thread pool.
        """
        if reply.exchange is None:
            endpoint.after(reply)
        else:
            await asyncio.get_running_loop().run_in_executor(self._pool, endpoint.after, reply)

    async def _get(self, scope: Scope, send: Send, service: ServiceContract, *, head: bool) -> None:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        url = self._endpoint_url(scope, service)
        self.startup()  # knows whether this is a test environment (done once)
        if "wsdl" in query or "WSDL" in query:
            document = contract.wsdl_document(
                url, test_environment=self.test_environment, service=service
            )
        elif "xsd" in query:
            schema = contract.xsd_document(query["xsd"][0], url, service)
            if schema is None:
                await _plain(send, 404, "Unknown schema\n")
                return
            document = schema
        else:
            text = f"UDB {service.name} v1. WSDL: {url}?wsdl\n"
            await _plain(send, 200, text)
            return
        headers = [
            (b"content-type", b"text/xml; charset=utf-8"),
            (b"content-length", str(len(document)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if head else document})

    def _endpoint_url(self, scope: Scope, service: ServiceContract = REPORT) -> str:
        """The service's URL: the configured public URL, else as the caller addressed it."""
        if self.settings.public_url:
            return self.settings.public_url.rstrip("/") + service.path
        scheme = "https" if scope.get("scheme") == "https" else "http"
        host = _headers(scope).get("host", "")
        if not _HOST.match(host):
            server = scope.get("server") or ("localhost", 8080)
            host = f"{server[0]}:{server[1]}"
        return f"{scheme}://{host}{service.path}"


#: the services by their path
_SERVICES: dict[str, ServiceContract] = {REPORT.path: REPORT, READBACK.path: READBACK}


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


async def _read_body(receive: Receive, content_length: str | None, limit: int) -> bytes:
    """The request body, or :class:`_TooLarge` as soon as it passes ``limit``."""
    if content_length is not None:
        try:
            declared = int(content_length)
        except ValueError:
            declared = 0
        if declared > limit:
            raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _reply(send: Send, reply: Reply, *, close: bool = False) -> None:
    headers = [
        (b"content-type", reply.content_type.encode()),
        (b"content-length", str(len(reply.body)).encode()),
        (b"x-correlation-id", reply.correlation_id.encode()),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body})


async def _plain(
    send: Send, status: int, text: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = text.encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def create_app(settings: Settings | None = None, store: Store | None = None) -> UdbApp:
    """The application for ``settings`` (default: from the ``UDB_*`` environment)."""
    return UdbApp(settings or Settings.from_env(), store)
