"""Each check of the verification report over known sequences of kept requests: a
misbehaviour fails exactly its check, with evidence and what to change."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from udb.cli.testenv import FAULT_CODES
from udb.domain.model import ClientCertificate
from udb.service import verification as v
from udb.storage.records import TestEnvRequest

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
PINNED = "ab" * 32
CERTS = [ClientCertificate(PINNED, "CN=Vendor", T0 - timedelta(days=1), T0 + timedelta(days=9), T0)]
_ids = itertools.count(1)
BLOCKS = ("kontakt", "job", "uddannelse")


def req(
    outcome: str = "accepted",
    code: str | None = None,
    *,
    stid: str | None = None,
    cpr: str = "0101084900",
    content: str = "c1",
    at: int = 0,
    cert: str | None = PINNED,
    created: timedelta = timedelta(0),
    sha1: bool = False,
    operation: str = "Indberetning",
    blocks: tuple[str, ...] = BLOCKS,
) -> TestEnvRequest:
    n = next(_ids)
    received = T0 + timedelta(seconds=at)
    return TestEnvRequest(
        "Vendor", received, f"00000000-0000-4000-8000-{n:012d}", operation, outcome, code, None,
        "1.2", cert, sha1, received + created, stid or f"stid-{n}", cpr, content, blocks,
        False, "<body/>",
    )  # fmt: skip


def good_run() -> list[TestEnvRequest]:
    """What the SDK does in the test environment, as kept."""
    return [
        req("accepted", at=1),
        req("rejected", "14", cpr="0101084904", content="c14", at=2),
        req("rejected", "15", cpr="0101900906", content="c15", at=3),
        req("rejected", "86", cpr="0101084907", content="c86", at=4),
        req("rejected", "280", cpr="0101084901", content="c280", at=5),
        req("accepted", cpr="0101084901", content="c280-fixed", at=6),
        req("rejected", "101", stid="s101", cpr="0101084908", content="c101", at=7),
        req("accepted", stid="s101", cpr="0101084908", content="c101", at=8),
    ]


def judge(requests: list[TestEnvRequest]) -> dict[str, v.Check]:
    return {
        c.id: c
        for c in (check(requests, CERTS, FAULT_CODES) for check in v.CHECKS)  # type: ignore[call-arg]
    }


def failed(requests: list[TestEnvRequest]) -> set[str]:
    return {k for k, c in judge(requests).items() if c.status != v.PASSED}


def test_the_good_run_passes_every_check() -> None:
    assert failed(good_run()) == set()


def test_nothing_sent_is_not_tried_everywhere() -> None:
    assert {c.status for c in judge([]).values()} == {v.NOT_TRIED}


def test_another_certificate_fails_signed_only() -> None:
    run = good_run()
    run.append(req("fault", "IPL000004", cert="cd" * 32, at=9, operation="-"))
    checks = judge(run)
    assert checks["signed"].status == v.FAILED and checks["signed"].evidence
    assert failed(run) == {"signed", "faults-fixed"}  # the fault it got is among the last 10


def test_sha1_passes_with_a_warning() -> None:
    run = [*good_run(), req(at=9, sha1=True)]
    signed = judge(run)["signed"]
    assert signed.status == v.PASSED and "SHA-1" in signed.detail


def test_a_clock_off_by_more_than_a_minute_fails_clock_only() -> None:
    run = [*good_run(), req(at=9, created=timedelta(seconds=-75))]
    checks = judge(run)
    assert failed(run) == {"clock"}
    assert "-75 s" in checks["clock"].evidence[0].note and checks["clock"].fix


def test_accepted_reports_without_the_education_wish_fail_accepted_only() -> None:
    run = [
        r if r.outcome != "accepted" else replace(r, blocks=("kontakt", "job")) for r in good_run()
    ]
    checks = judge(run)
    assert failed(run) == {"accepted"} and "uddannelse" in checks["accepted"].detail


def test_a_missing_answer_is_not_tried() -> None:
    run = [r for r in good_run() if r.code != "15"]
    assert judge(run)["answer-15"].status == v.NOT_TRIED


def test_a_101_not_yet_retried_fails() -> None:
    run = good_run()[:-1]
    assert failed(run) == {"retry-101"}


def test_a_280_sent_again_unchanged_fails_correct_280() -> None:
    run = [*good_run(), req("rejected", "280", cpr="0101084901", content="c280", at=9)]
    assert failed(run) == {"correct-280"}


def test_ipl000005_fails_unique_transaction_ids() -> None:
    run = [*good_run(), req("fault", "IPL000005", at=9)]
    for number in range(10, 20):  # ten good requests after it: faults-fixed passes again
        run.append(req(at=number))
    assert failed(run) == {"unique-transaction-ids"}


@pytest.mark.parametrize("code", ["IPL000002", "IPL000003", "IPL000006"])
def test_a_sender_fault_among_the_last_ten_fails_faults_fixed(code: str) -> None:
    run = [*good_run(), req("fault", code, at=9, operation="-")]
    assert failed(run) == {"faults-fixed"}


def test_an_internal_fault_is_not_the_senders() -> None:
    run = [*good_run(), req("fault", "IPL000001", at=9)]
    assert failed(run) == set()
