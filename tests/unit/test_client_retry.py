"""Safe retries: what is retried, under which transaction id, how long, and what is left."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.unit.clientsupport import (
    BASE,
    FAST,
    Script,
    ServiceTransport,
    client,
    keys,
    sample_report,
    signature_of,
    stid_of,
)
from udb import wssecurity
from udb.client import (
    AsyncUdbClient,
    ConnectError,
    ErrorKind,
    NetworkError,
    RetryPolicy,
    SenderFault,
    ServerFault,
    TimeoutException,
    UdbClient,
    UnexpectedResponse,
)
from udb.client._retry import Schedule
from udb.soap import envelope, faults
from udb.soap.version import SoapVersion
from udb.wssecurity import SecurityPolicy

SYSTEM = "Vejledningssystem-Aarhus"
BAD_GATEWAY = httpx.Response(502, text="<html>Bad gateway</html>")

RETRIED = [
    pytest.param(httpx.ConnectError("refused"), id="connect-error"),
    pytest.param(httpx.ConnectTimeout("slow"), id="connect-timeout"),
    pytest.param(httpx.ReadTimeout("lost answer"), id="read-timeout"),
    pytest.param(httpx.ReadError("reset"), id="read-error"),
    pytest.param(httpx.RemoteProtocolError("disconnected"), id="protocol-error"),
    pytest.param(BAD_GATEWAY, id="http-502"),
    pytest.param(httpx.Response(503, text="busy"), id="http-503"),
    pytest.param(faults.INTERNAL, id="IPL000001"),
    pytest.param(101, id="101"),
]


@pytest.mark.parametrize("failure", RETRIED)
def test_retried_with_the_same_transaction_id_and_a_fresh_signature(failure: object) -> None:
    script = Script(failure, failure, None)
    with client(script) as c:
        result = c.send(sample_report())
    assert result.accepted and result.attempts == 3
    ids = {stid_of(r) for r in script.requests}
    assert ids == {result.system_transaction_id}
    signatures = [signature_of(r) for r in script.requests]
    assert len(set(signatures)) == 3  # signed afresh: the service refuses a replayed signature
    for request in script.requests:  # and each one verifies, with its own fresh Timestamp
        verified = wssecurity.verify(
            envelope.parse(request.content, SoapVersion.SOAP12),
            policy=SecurityPolicy(),
            now=datetime.now(UTC),
        )
        assert isinstance(verified, wssecurity.VerifiedMessage)
        assert verified.created <= datetime.now(UTC)


def test_a_given_transaction_id_is_kept_for_every_retry() -> None:
    script = Script(101, httpx.ConnectError("x"), None)
    with client(script) as c:
        result = c.send(sample_report(), transaction_id="batch-7/42")
    assert [stid_of(r) for r in script.requests] == ["batch-7/42"] * 3
    assert result.system_transaction_id == "batch-7/42"


@pytest.mark.parametrize("code", [14, 15, 86, 280])
def test_rejections_are_never_retried(code: int) -> None:
    script = Script(code, None)
    with client(script) as c:
        result = c.send(sample_report())
    assert (result.accepted, result.code, result.attempts) == (False, code, 1)
    assert result.kind is (ErrorKind.SOFT if code == 280 else ErrorKind.HARD)
    assert len(script.requests) == 1


NOT_RETRIED = [
    *(pytest.param(spec, id=spec.error_code) for spec in faults.ALL if spec is not faults.INTERNAL),
    pytest.param(httpx.Response(404, text="Not found"), id="http-404"),
    pytest.param(httpx.Response(200, content=b"<not-soap/>"), id="not-soap"),
]


@pytest.mark.parametrize("outcome", NOT_RETRIED)
def test_sender_faults_and_client_errors_are_never_retried(outcome: object) -> None:
    script = Script(outcome, None)
    with client(script) as c, pytest.raises((SenderFault, UnexpectedResponse)) as caught:
        c.send(sample_report())
    assert caught.value.attempts == 1 and not caught.value.retryable
    assert len(script.requests) == 1


def test_after_the_last_attempt_a_101_is_returned() -> None:
    script = Script(101)
    with client(script) as c:
        result = c.send(sample_report())
    assert (result.accepted, result.code, result.attempts, result.retryable) == (
        False,
        101,
        5,
        True,
    )
    assert len(script.requests) == 5
    assert len({stid_of(r) for r in script.requests}) == 1


@pytest.mark.parametrize(
    ("failure", "raised"),
    [
        (httpx.ConnectError("refused"), ConnectError),
        (httpx.ReadTimeout("slow"), TimeoutException),
        (httpx.RemoteProtocolError("broken"), NetworkError),
        (faults.INTERNAL, ServerFault),
        (BAD_GATEWAY, UnexpectedResponse),
    ],
)
def test_after_the_last_attempt_the_last_exception_is_raised(
    failure: object, raised: type[Exception]
) -> None:
    script = Script(failure)
    with client(script) as c, pytest.raises(raised) as caught:
        c.send(sample_report(), transaction_id="tx-last")
    error = caught.value
    assert error.attempts == 5 and error.system_transaction_id == "tx-last"  # type: ignore[attr-defined]
    assert error.retryable  # type: ignore[attr-defined]
    assert len(script.requests) == 5


def test_the_last_outcome_is_whatever_came_last() -> None:
    script = Script(101, 101, 101, 101, httpx.ConnectError("x"))
    with client(script) as c, pytest.raises(ConnectError) as caught:
        c.send(sample_report())
    assert caught.value.attempts == 5
    with client(Script(httpx.ConnectError("x"), 101)) as c:
        result = c.send(sample_report())
    assert (result.code, result.attempts) == (101, 5)


def test_no_retry_policy_means_one_attempt() -> None:
    script = Script(httpx.ConnectError("refused"))
    with client(script, retry=None) as c, pytest.raises(ConnectError) as caught:
        c.send(sample_report())
    assert caught.value.attempts == 1 and len(script.requests) == 1


def test_backoff_is_exponential_with_full_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr("udb.client._sync.time.sleep", slept.append)
    policy = RetryPolicy(attempts=8, initial=0.2, maximum=1.0, budget=1000.0)
    refused = httpx.MockTransport(Script(httpx.ConnectError("x")))
    unsigned = UdbClient(BASE, system_name=SYSTEM, sign=False, retry=policy, transport=refused)
    with unsigned as c:
        for _ in range(60):
            with pytest.raises(ConnectError):
                c.send(sample_report())
    assert len(slept) == 60 * 7
    rounds = [slept[i : i + 7] for i in range(0, len(slept), 7)]
    ceilings = [0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0]
    for waits in rounds:
        assert all(0 <= w <= c for w, c in zip(waits, ceilings, strict=True))
    for n, ceiling in enumerate(ceilings):  # spread over the whole interval, not fixed steps
        column = [r[n] for r in rounds]
        assert min(column) < ceiling * 0.3 and max(column) > ceiling * 0.7


def test_the_budget_stops_retrying_in_time() -> None:
    policy = RetryPolicy(attempts=1000, initial=0.02, maximum=0.02, budget=0.3)
    script = Script(httpx.ConnectError("refused"))
    started = time.monotonic()
    with client(script, retry=policy) as c, pytest.raises(ConnectError) as caught:
        c.send(sample_report())
    assert time.monotonic() - started < 0.3 + 0.5
    assert 2 <= caught.value.attempts < 1000


def test_a_schedule_gives_up_when_the_next_wait_would_pass_the_budget() -> None:
    now = [0.0]
    schedule = Schedule(
        RetryPolicy(attempts=10, initial=1.0, maximum=8.0, budget=10.0),
        clock=lambda: now[0],
        random=lambda: 1.0,
    )
    delays = []
    while True:
        schedule.start_attempt()
        delay = schedule.next_delay()
        if delay is None:
            break
        delays.append(delay)
        now[0] += delay
    assert delays == [1.0, 2.0, 4.0]  # 7 s spent; waiting 8 more would end past 10 s
    assert schedule.attempts == 4


@pytest.mark.parametrize(
    "options",
    [
        {"attempts": 0},
        {"attempts": 1.5},
        {"initial": -1},
        {"maximum": float("inf")},
        {"budget": float("nan")},
        {"initial": 2.0, "maximum": 1.0},
    ],
)
def test_retry_policy_is_checked(options: dict[str, float]) -> None:
    with pytest.raises((ValueError, TypeError)):
        RetryPolicy(**options)  # type: ignore[arg-type]


# Against the real endpoint ---------------------------------------------------------------


def test_a_lost_answer_is_answered_as_the_original_and_stored_once(tmp_path: Path) -> None:
    service = ServiceTransport(tmp_path, lose=1)
    cert, key = keys()
    before = service.report_count()
    try:
        with UdbClient(BASE, system_name=SYSTEM, cert=cert, key=key, transport=service) as c:
            result = c.send(sample_report(name="Lost Answer"), transaction_id="lost-1")
        assert result.accepted and result.attempts == 2
        assert [status for status, _ in service.replies] == [200, 200]
        assert service.report_count() == before + 1
        first, second = (body for _, body in service.replies)
        assert b"<udb:Ok>true</udb:Ok>" in first and b"<udb:Ok>true</udb:Ok>" in second
    finally:
        service.close()


def test_a_101_from_the_service_is_retried_until_stored(tmp_path: Path) -> None:
    service = ServiceTransport(tmp_path, fail=2)
    cert, key = keys()
    before = service.report_count()
    try:
        with UdbClient(
            BASE, system_name=SYSTEM, cert=cert, key=key, transport=service, retry=FAST
        ) as c:
            result = c.send(sample_report(name="After Outage"))
        assert result.accepted and result.attempts == 3
        assert [b"<udb:FejlKode>101</udb:FejlKode>" in body for _, body in service.replies] == [
            True,
            True,
            False,
        ]
        assert service.report_count() == before + 1
    finally:
        service.close()


def test_the_async_client_retries_alike() -> None:
    cert, key = keys()
    mixed = Script(httpx.ConnectError("x"), faults.INTERNAL, 101, 14)
    failing = Script(httpx.ConnectError("x"))

    def connect(script: Script) -> AsyncUdbClient:
        transport = httpx.MockTransport(script)
        return AsyncUdbClient(
            BASE, system_name=SYSTEM, cert=cert, key=key, retry=FAST, transport=transport
        )

    async def main() -> None:
        async with connect(mixed) as c:
            result = await c.send(sample_report())
            assert (result.code, result.attempts) == (14, 4)
        async with connect(failing) as c:
            with pytest.raises(ConnectError) as caught:
                await c.send(sample_report(), transaction_id="tx-a")
            assert (caught.value.attempts, caught.value.system_transaction_id) == (5, "tx-a")

    asyncio.run(main())
    assert len({stid_of(r) for r in mixed.requests}) == 1 and len(mixed.requests) == 4
    assert [stid_of(r) for r in failing.requests] == ["tx-a"] * 5
