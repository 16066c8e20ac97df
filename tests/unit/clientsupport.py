"""Helpers for the client SDK's unit tests (imported by the other ``test_client_*`` modules).

Answers are made by the service's own builders (:func:`udb.soap.messages.report_response`,
:func:`udb.soap.faults.build`), or by the real endpoint in-process
(:class:`ServiceTransport`: :class:`udb.api.endpoint.Endpoint` on a SQLite store
with WS-Security required), behind :class:`httpx.MockTransport`::

    client = UdbClient(BASE, system_name=SYSTEM, cert=CERT, key=KEY,
                       transport=httpx.MockTransport(answering(code=14)))
"""

from __future__ import annotations

import functools
import itertools
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from tests.support import AARHUS_KUI, SYSTEM, seeded_store
from udb import ns, safexml
from udb.api.endpoint import Endpoint
from udb.client import Contact, EducationWish, JobWish, Report, RetryPolicy, UdbClient
from udb.config import Security
from udb.domain.clock import DANISH_TZ, utc_now
from udb.domain.model import ErrorCode, Outcome
from udb.service.reports import ReportPolicy
from udb.soap import faults, messages
from udb.soap.version import SoapVersion
from udb.storage import Store
from udb.storage.base import StorageError
from udb.wssecurity.certs import pinned

BASE = "http://udb.test"
CPR = "1503084232"  # the person of tests.support.seeded_store (born 2008)
#: no waiting between retries in the unit tests
FAST = RetryPolicy(attempts=5, initial=0.0, maximum=0.0, budget=60.0)


@functools.cache
def keys(common_name: str = SYSTEM) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) of a throw-away self-signed signing certificate."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def when(hours_ago: float = 1.0) -> datetime:
    return (utc_now() - timedelta(hours=hours_ago)).astimezone(DANISH_TZ)


def sample_report(cpr: str = CPR, *, name: str = "Mette Sørensen") -> Report:
    at = datetime(2026, 11, 20, 9, 15, tzinfo=DANISH_TZ)
    return Report(
        cpr,
        AARHUS_KUI,
        contact=Contact(name, "mette.sorensen@example.dk", at, phone="4520304050"),
        job=JobWish("Tømrer eller anden byggebranche", at + timedelta(minutes=5)),
        education=EducationWish("Erhvervsuddannelse (EUD), bygge og anlæg", at),
    )


def client(handler: Callable[[httpx.Request], httpx.Response], **options: Any) -> UdbClient:
    cert, key = keys()
    options.setdefault("retry", FAST)
    return UdbClient(
        BASE,
        system_name=SYSTEM,
        cert=cert,
        key=key,
        transport=httpx.MockTransport(handler),
        **options,
    )


# Reading requests -----------------------------------------------------------------------


def envelope_of(request: httpx.Request) -> etree._Element:
    return safexml.parse(request.content)


def stid_of(request: httpx.Request) -> str:
    text = envelope_of(request).findtext(f".//{{{ns.IPL}}}SystemTransactionID")
    assert text is not None
    return text


def signature_of(request: httpx.Request) -> str:
    text = envelope_of(request).findtext(f".//{{{ns.DS}}}SignatureValue")
    assert text is not None
    return text


def is_ping(request: httpx.Request) -> bool:
    return envelope_of(request).find(f".//{{{ns.IPL}}}Ping") is not None


# Answers --------------------------------------------------------------------------------

CORRELATION = "c0ffee00-0000-4000-8000-000000000001"
SOAP12 = SoapVersion.SOAP12


def report_reply(request: httpx.Request, code: int | None = None) -> httpx.Response:
    """The service's answer to ``request``: accepted, or FejlKode ``code``."""
    identifier = messages.Identifier(SYSTEM, stid_of(request))
    outcome = Outcome(None if code is None else ErrorCode(code))
    body = messages.report_response(SOAP12, identifier, CORRELATION, outcome)
    return httpx.Response(
        200,
        content=body,
        headers={"content-type": SOAP12.content_type, "x-correlation-id": CORRELATION},
    )


def fault_reply(
    spec: faults.FaultSpec,
    details: str | None = "what was wrong",
    version: SoapVersion = SOAP12,
) -> httpx.Response:
    body = faults.build(version, spec, correlation_id=CORRELATION, now=utc_now(), details=details)
    return httpx.Response(
        faults.http_status(spec, version),
        content=body,
        headers={"content-type": version.content_type, "x-correlation-id": CORRELATION},
    )


def ping_reply(up: bool = True) -> httpx.Response:
    return httpx.Response(
        200,
        content=messages.ping_response(SOAP12, up),
        headers={"content-type": SOAP12.content_type},
    )


class Script:
    """A handler that answers the n-th request with the n-th step, recording every request.

    A step is an ``int``/``None`` (FejlKode / accepted), a :class:`~udb.soap.faults.FaultSpec`,
    an :class:`httpx.Response`, or an exception to raise (e.g. ``httpx.ConnectError``).
    The last step repeats.
    """

    def __init__(self, *steps: object) -> None:
        self.steps = steps
        self.requests: list[httpx.Request] = []
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append(request)
            step = self.steps[min(len(self.requests), len(self.steps)) - 1]
        if isinstance(step, BaseException):
            raise step
        if isinstance(step, httpx.Response):
            return step
        if isinstance(step, faults.FaultSpec):
            return fault_reply(step)
        assert step is None or isinstance(step, int)
        return report_reply(request, step)


# The real endpoint in-process -----------------------------------------------------------


class ServiceTransport(httpx.MockTransport):
    """The service's :class:`Endpoint` on a seeded SQLite store, WS-Security required.

    The client's certificate :func:`keys` is pinned to :data:`SYSTEM`. ``lose``
    answers (the service stores and answers, the answer is then lost: a read
    timeout) for the first N requests; ``fail`` makes the database fail for the
    first N reports (the service answers 101 and stores nothing).
    """

    def __init__(
        self, tmp_path: Path, *, required: bool = True, lose: int = 0, fail: int = 0
    ) -> None:
        tmp_path.mkdir(parents=True, exist_ok=True)
        self.store: Store = seeded_store("sqlite:///" + str(tmp_path / "client.sqlite3"))
        cert, _ = keys()
        with self.store.unit_of_work() as uow:
            system = uow.systems.get(SYSTEM)
            assert system is not None
            uow.systems.add_certificate(
                system.id, pinned(x509.load_pem_x509_certificate(cert), utc_now())
            )
            uow.commit()
        ids = (f"00000000-0000-4000-8000-{n:012d}" for n in itertools.count(1))
        self.endpoint = Endpoint(
            _Failing(self.store, fail),  # type: ignore[arg-type]
            ReportPolicy(),
            security=Security(required=required),
            new_id=lambda: next(ids),
        )
        self.lose = lose
        self.replies: list[tuple[int, bytes]] = []
        super().__init__(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        reply = self.endpoint.post(request.content, request.headers.get("content-type"), utc_now())
        self.replies.append((reply.status, reply.body))
        if self.lose > 0:
            self.lose -= 1
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return httpx.Response(
            reply.status,
            content=reply.body,
            headers={"content-type": reply.content_type, "x-correlation-id": reply.correlation_id},
        )

    def report_count(self, cpr: str = CPR) -> int:
        with self.store.unit_of_work(readonly=True) as uow:
            view = uow.persons.view(cpr)
            assert view is not None
            return int(view.report_count)

    def close(self) -> None:
        self.store.close()


class _Failing:
    """``store``, whose first ``n`` units of work fail as a database outage would."""

    def __init__(self, store: Store, n: int) -> None:
        self.store, self.n = store, n

    def unit_of_work(self, **options: Any) -> Any:
        if self.n > 0:
            self.n -= 1
            raise StorageError("injected outage")
        return self.store.unit_of_work(**options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def counting(n: int) -> Iterator[int]:
    """0..n-1 (a generator, for inputs that must never be materialised)."""
    yield from range(n)
