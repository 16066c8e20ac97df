"""send_many: order, bounded look-ahead, per-item errors and transaction ids, sync and async."""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.support import AARHUS_KUI, EXAMPLES, SYSTEM
from tests.unit.clientsupport import (
    BASE,
    FAST,
    fault_reply,
    keys,
    report_reply,
    stid_of,
)
from udb.client import (
    AsyncUdbClient,
    BatchItem,
    JobWish,
    Report,
    ReportError,
    SchemaFault,
    UdbClient,
)
from udb.domain.clock import utc_now
from udb.soap import faults

_STID = re.compile(rb"<v1:SystemTransactionID>([^<]*)<")
_CPR = re.compile(rb"<udb:CPRNr>([0-9]{10})<")
_OLD = b"7d1c5e2a-4b3f-4c8d-9e6a-1f2b3c4d5e01"


def _template(code: int | None) -> bytes:
    example = httpx.Request("POST", BASE, content=(EXAMPLES / "request.xml").read_bytes())
    return report_reply(example, code).content


#: the answer for a CPR number ending in these digits: accepted, 14, 86 (fast to make)
_ANSWERS = {b"0": _template(None), b"4": _template(14), b"6": _template(86)}


def cpr(n: int) -> str:
    """A distinct CPR number for input ``n``; its last digit chooses the answer."""
    return f"{n % 1_000_000:06d}{n % 1000:03d}{'046'[n % 3]}"


def code_for(n: int) -> int | None:
    return {0: None, 1: 14, 2: 86}[n % 3]


def report(n: int) -> Report:
    return Report(cpr(n), AARHUS_KUI, job=JobWish(f"job {n}", utc_now()))


def answer(request: httpx.Request) -> httpx.Response:
    """A fast stand-in for the service: the answer chosen by the CPR number's last digit."""
    found_stid, found_cpr = _STID.search(request.content), _CPR.search(request.content)
    assert found_stid is not None and found_cpr is not None
    return httpx.Response(200, content=_ANSWERS[found_cpr[1][-1:]].replace(_OLD, found_stid[1]))


class Shuffled:
    """``answer``, after a random short pause, counting requests under way at once."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.now = self.most = self.total = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.now += 1
            self.total += 1
            self.most = max(self.most, self.now)
            pause = self.rng.random() * 0.004
        time.sleep(pause)
        with self.lock:
            self.now -= 1
        return answer(request)


def unsigned(handler: Any, **options: Any) -> UdbClient:
    return UdbClient(
        BASE, system_name=SYSTEM, sign=False, transport=httpx.MockTransport(handler), **options
    )


def check(item: BatchItem) -> None:
    """The item's result is the answer to its own input."""
    assert item.error is None and item.result is not None and item.report is not None
    assert item.report.cpr == cpr(item.index)
    assert item.result.code == code_for(item.index)
    assert item.result.system_transaction_id == item.system_transaction_id


def test_ordered_results_come_in_input_order() -> None:
    shuffled = Shuffled()
    with unsigned(shuffled) as c:
        items = list(c.send_many((report(n) for n in range(300)), concurrency=8))
    assert [i.index for i in items] == list(range(300))
    for item in items:
        check(item)
    assert shuffled.most <= 8 and shuffled.total == 300
    assert len({i.system_transaction_id for i in items}) == 300


def test_unordered_results_come_as_completed() -> None:
    shuffled = Shuffled()
    with unsigned(shuffled) as c:
        items = list(c.send_many((report(n) for n in range(300)), concurrency=8, ordered=False))
    indexes = [i.index for i in items]
    assert sorted(indexes) == list(range(300)) and indexes != list(range(300))
    for item in items:
        check(item)
    assert shuffled.most <= 8


class Counted:
    """A generator of reports that records how far it ran ahead of the consumer."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.produced = self.consumed = self.ahead = 0

    def reports(self) -> Iterator[Report]:
        for n in range(self.count):
            self.produced += 1
            self.ahead = max(self.ahead, self.produced - self.consumed)
            yield report(n)

    def check_window(self, concurrency: int) -> None:
        assert self.ahead <= 2 * concurrency + 1
        assert self.produced <= self.consumed + 2 * concurrency


@pytest.mark.parametrize("ordered", [True, False])
def test_the_input_is_never_read_far_ahead(ordered: bool) -> None:
    """100,000 reports from a generator: it never runs more than 2 * concurrency ahead."""
    concurrency, source = 4, Counted(100_000)
    with unsigned(answer) as c:
        stream = c.send_many(source.reports(), concurrency, ordered=ordered)
        for item in stream:
            source.consumed += 1
            if item.index % 3 == 0:
                assert item.accepted
            if source.consumed == 2_000:
                break
        stream.close()
    source.check_window(concurrency)
    assert not [t for t in threading.enumerate() if t.name.startswith("udb-client")]


def test_leaving_early_stops_sending() -> None:
    shuffled = Shuffled()
    with unsigned(shuffled) as c:
        for item in c.send_many((report(n) for n in range(10_000)), concurrency=4):
            if item.index == 9:
                break
    assert 10 <= shuffled.total <= 10 + 2 * 4


def test_pairs_reuse_their_transaction_ids_and_bad_inputs_are_items() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return answer(request)

    inputs: list[Any] = [
        (report(0), "resume-0"),
        report(1),
        "not a report",
        (report(3), 42),
        (report(4), "x" * 101),
        (report(6), "resume-6"),
    ]
    with unsigned(handler) as c:
        items = list(c.send_many(inputs, concurrency=2))
    assert [i.index for i in items] == [0, 1, 2, 3, 4, 5]
    assert items[0].system_transaction_id == "resume-0" and items[0].accepted
    assert items[5].system_transaction_id == "resume-6"
    assert items[1].result is not None and items[1].result.code == 14
    for bad, field in ((items[2], "send_many item"), (items[3], "send_many item")):
        assert isinstance(bad.error, ReportError) and bad.error.field == field
        assert bad.result is None and bad.system_transaction_id is None
    assert isinstance(items[4].error, ReportError)
    assert items[4].error.field == "send.transaction_id"
    assert sorted(stid_of(r) for r in requests)[-2:] == ["resume-0", "resume-6"]
    assert len(requests) == 3
    with pytest.raises(ReportError):
        items[2].unwrap()
    assert items[0].unwrap().accepted


def test_one_report_failing_does_not_stop_the_batch() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if cpr(2).encode() in request.content:
            return fault_reply(faults.SCHEMA)
        return answer(request)

    with unsigned(handler, retry=FAST) as c:
        items = list(c.send_many(report(n) for n in range(5)))
    assert isinstance(items[2].error, SchemaFault)
    assert items[2].error.system_transaction_id == items[2].system_transaction_id
    assert [i.error is None for i in items] == [True, True, False, True, True]


def test_a_signed_batch() -> None:
    cert, key = keys()

    def handler(request: httpx.Request) -> httpx.Response:
        assert b"SignatureValue>" in request.content
        return answer(request)

    with UdbClient(
        BASE, system_name=SYSTEM, cert=cert, key=key, transport=httpx.MockTransport(handler)
    ) as c:
        items = list(c.send_many([report(n) for n in range(20)], concurrency=4))
    for item in items:
        check(item)


@pytest.mark.parametrize("concurrency", [0, -1, 1.5, True])
def test_concurrency_is_checked_at_once(concurrency: Any) -> None:
    with unsigned(answer) as c, pytest.raises(ValueError, match="concurrency"):
        c.send_many([], concurrency)


# Async ------------------------------------------------------------------------------------


def aunsigned(handler: Any) -> AsyncUdbClient:
    return AsyncUdbClient(
        BASE, system_name=SYSTEM, sign=False, transport=httpx.MockTransport(handler)
    )


class AsyncShuffled:
    def __init__(self) -> None:
        self.rng = random.Random(11)
        self.now = self.most = self.total = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.now += 1
        self.total += 1
        self.most = max(self.most, self.now)
        await asyncio.sleep(self.rng.random() * 0.004)
        self.now -= 1
        return answer(request)


@pytest.mark.parametrize("ordered", [True, False])
def test_async_send_many(ordered: bool) -> None:
    shuffled = AsyncShuffled()

    async def source() -> AsyncIterator[Report]:
        for n in range(200):
            yield report(n)

    async def main() -> list[BatchItem]:
        async with aunsigned(shuffled) as c:
            return [item async for item in c.send_many(source(), 8, ordered=ordered)]

    items = asyncio.run(main())
    indexes = [i.index for i in items]
    assert sorted(indexes) == list(range(200))
    assert (indexes == list(range(200))) is ordered
    for item in items:
        check(item)
    assert shuffled.most <= 8


@pytest.mark.parametrize("ordered", [True, False])
def test_async_input_is_never_read_far_ahead(ordered: bool) -> None:
    concurrency, source = 4, Counted(100_000)

    async def main() -> None:
        async with aunsigned(AsyncShuffled()) as c:
            stream = c.send_many(source.reports(), concurrency, ordered=ordered)
            async with contextlib.aclosing(stream) as items:
                async for _item in items:
                    source.consumed += 1
                    if source.consumed == 1_000:
                        break
            assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    asyncio.run(main())
    source.check_window(concurrency)
