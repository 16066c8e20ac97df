"""The client SDK against a real ``udb serve`` process with WS-Security (and mutual TLS)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.e2e.conftest import Server, start_server, stop_server, udb
from udb.client import (
    AsyncUdbClient,
    Contact,
    EducationWish,
    ErrorKind,
    JobWish,
    Report,
    RetryPolicy,
    SecurityFault,
    TLSHandshakeError,
    TransactionIdReusedFault,
    TransportError,
    UdbClient,
)
from udb.wssecurity.certs import DevCertificates, make_dev_certificates

pytestmark = pytest.mark.e2e

SYSTEM = "Vejledningssystem-Aarhus"
KUI = 751001
DK = ZoneInfo("Europe/Copenhagen")
#: demo persons (udb demo) and the answer each gets from Aarhus's KUI
ACCEPTED, UNKNOWN, OTHER_MUNICIPALITY, TOO_OLD = (
    "1503084232",
    "2002104230",
    "1010104238",
    "0101014230",
)
EXPECTED: dict[str, int | None] = {ACCEPTED: None, UNKNOWN: 14, OTHER_MUNICIPALITY: 86, TOO_OLD: 15}
FAST = RetryPolicy(attempts=4, initial=0.05, maximum=0.2, budget=20.0)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevCertificates:
    return make_dev_certificates(tmp_path_factory.mktemp("pki"), system_name=SYSTEM)


@pytest.fixture(scope="module")
def secure(pki: DevCertificates, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(
        tmp_path_factory.mktemp("client-sdk"), "--trust-anchors", str(pki.ca_cert), secure=True
    )
    udb(
        "systems", "add", SYSTEM, "--institution", str(KUI), "--cert", str(pki.client_cert),
        database_url=server.database_url,
    )  # fmt: skip
    yield server
    stop_server(server)


def report(server: Server, cpr: str, name: str = "Mette Sørensen", **times: datetime) -> Report:
    """A report; its personal values are noted so the server's log is checked for them."""
    at = datetime.now(UTC).astimezone(DK) - timedelta(hours=1)
    mail = f"{name.split()[0].lower()}@example.dk"
    server.sent.update({cpr, name, mail, "4520304050"})
    return Report(
        cpr,
        KUI,
        contact=Contact(name, mail, times.get("contact", at), phone="4520304050"),
        job=JobWish("Tømrer", times.get("job", at)),
        education=EducationWish("EUD, bygge og anlæg", at),
    )


def connect(server: Server, pki: DevCertificates, **options: Any) -> UdbClient:
    options.setdefault("retry", FAST)
    return UdbClient(
        server.url, system_name=SYSTEM, cert=pki.client_cert, key=pki.client_key, **options
    )


def report_count(server: Server, cpr: str) -> int:
    shown = udb("persons", "show", cpr, "--json", database_url=server.database_url).stdout
    count = json.loads(shown)["report_count"]
    assert isinstance(count, int)
    return count


def test_accepted(secure: Server, pki: DevCertificates) -> None:
    with connect(secure, pki) as client:
        result = client.send(report(secure, ACCEPTED))
    assert result.accepted and (result.code, result.text, result.kind) == (None, None, None)
    assert uuid.UUID(result.correlation_id).version == 4
    assert uuid.UUID(result.system_transaction_id).version == 4
    assert result.attempts == 1


@pytest.mark.parametrize(
    ("cpr", "code", "kind"),
    [
        (UNKNOWN, 14, ErrorKind.HARD),
        (OTHER_MUNICIPALITY, 86, ErrorKind.HARD),
        (TOO_OLD, 15, ErrorKind.HARD),
        (ACCEPTED, 280, ErrorKind.SOFT),
    ],
)
def test_rejected(
    secure: Server, pki: DevCertificates, cpr: str, code: int, kind: ErrorKind
) -> None:
    future = datetime(2099, 1, 1, 9, 20, tzinfo=DK)
    times = {"job": future} if code == 280 else {}
    with connect(secure, pki) as client:
        result = client.send(report(secure, cpr, **times))
    assert (result.accepted, result.code, result.kind, result.attempts) == (False, code, kind, 1)
    assert result.text and result.text == result.code.text  # type: ignore[union-attr]


def test_ping(secure: Server, pki: DevCertificates) -> None:
    with connect(secure, pki) as client:
        assert client.ping() is True


class LosesFirstAnswer(httpx.BaseTransport):
    """The network: the first request reaches the service, its answer is lost on the way back."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.statuses: list[int] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        self.statuses.append(response.status_code)
        if len(self.statuses) == 1:
            response.close()
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


def test_a_lost_answer_is_retried_and_stored_once(secure: Server, pki: DevCertificates) -> None:
    before = report_count(secure, ACCEPTED)
    network = LosesFirstAnswer()
    with connect(secure, pki, transport=network) as client:
        result = client.send(report(secure, ACCEPTED, "Lost Answer"))
    assert result.accepted and result.attempts == 2
    assert network.statuses == [200, 200]  # the retry was answered, not refused as a replay
    assert report_count(secure, ACCEPTED) == before + 1


def test_the_same_transaction_twice_gets_the_same_answer_stored_once(
    secure: Server, pki: DevCertificates
) -> None:
    before = report_count(secure, ACCEPTED)
    same = report(secure, ACCEPTED, "Twice Sent")
    with connect(secure, pki) as client:
        first = client.send(same, transaction_id="client-sdk-twice")
        second = client.send(same, transaction_id="client-sdk-twice")
        old = report(secure, TOO_OLD)
        rejected = [client.send(old, transaction_id="client-sdk-15").code for _ in range(2)]
        with pytest.raises(TransactionIdReusedFault) as caught:
            client.send(
                report(secure, ACCEPTED, "Other Content"), transaction_id="client-sdk-twice"
            )
    assert first.accepted and second.accepted
    assert first.correlation_id != second.correlation_id
    assert report_count(secure, ACCEPTED) == before + 1
    assert rejected == [15, 15]
    assert caught.value.error_code == "IPL000005" and caught.value.attempts == 1


def test_send_many_200_reports(secure: Server, pki: DevCertificates) -> None:
    cprs = list(EXPECTED)
    before = report_count(secure, ACCEPTED)
    inputs = (report(secure, cprs[n % 4], f"Batch {n}") for n in range(200))
    with connect(secure, pki) as client:
        items = list(client.send_many(inputs, concurrency=16))
    assert [item.index for item in items] == list(range(200))
    for item in items:
        assert item.error is None and item.result is not None and item.report is not None
        assert item.result.code == EXPECTED[item.report.cpr]
    assert len({item.system_transaction_id for item in items}) == 200
    assert report_count(secure, ACCEPTED) == before + 50


def test_the_async_client(secure: Server, pki: DevCertificates) -> None:
    async def main() -> None:
        async with AsyncUdbClient(
            secure.url, system_name=SYSTEM, cert=pki.client_cert, key=pki.client_key
        ) as client:
            assert await client.ping()
            assert (await client.send(report(secure, ACCEPTED, "Async One"))).accepted
            reports = [report(secure, cpr, f"Async {cpr}") for cpr in EXPECTED]
            items = [item async for item in client.send_many(reports * 5, 8, ordered=False)]
        assert sorted(item.index for item in items) == list(range(20))
        for item in items:
            assert item.result is not None and item.report is not None
            assert item.result.code == EXPECTED[item.report.cpr]

    asyncio.run(main())


def test_an_unsigned_client_is_refused(secure: Server) -> None:
    unsigned = UdbClient(secure.url, system_name=SYSTEM, sign=False)
    with unsigned as client, pytest.raises(SecurityFault) as caught:
        client.send(report(secure, ACCEPTED))
    assert caught.value.error_code == "IPL000003" and caught.value.http_status == 400


def test_an_insecure_development_server(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        with UdbClient(server.url, system_name=SYSTEM, sign=False) as client:
            assert client.ping()
            assert client.send(report(server, ACCEPTED)).accepted
    finally:
        stop_server(server)


def test_mutual_tls(pki: DevCertificates, tmp_path: Path) -> None:
    server = start_server(
        tmp_path,
        "--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key),
        "--client-ca", str(pki.ca_cert), "--trust-anchors", str(pki.ca_cert),
        secure=True, tls=True,
    )  # fmt: skip
    udb(
        "systems", "add", SYSTEM, "--institution", str(KUI), "--cert", str(pki.client_cert),
        database_url=server.database_url,
    )  # fmt: skip
    url = server.url.replace("http://127.0.0.1", "https://localhost")
    try:
        with UdbClient(
            url,
            system_name=SYSTEM,
            cert=pki.client_cert,
            key=pki.client_key,
            ca=pki.ca_cert,
            client_cert=(pki.client_cert, pki.client_key),
        ) as client:
            assert client.ping()
            assert client.send(report(server, ACCEPTED)).accepted
        with (
            UdbClient(
                url,
                system_name=SYSTEM,
                cert=pki.client_cert,
                key=pki.client_key,
                ca=pki.ca_cert,
                retry=RetryPolicy(attempts=2, initial=0.0, maximum=0.0),
            ) as anonymous,
            pytest.raises(TransportError) as caught,
        ):
            anonymous.send(report(server, ACCEPTED))
        # a handshake refused for a setting is refused again: not retried, nothing stored
        assert isinstance(caught.value, TLSHandshakeError)
        assert caught.value.problem == "client-cert-missing"
        assert caught.value.attempts == 1 and caught.value.may_be_stored is False
    finally:
        stop_server(server)
