"""The report use case (udb.service.reports.submit) on the in-memory store."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.unit.fakes import FakeStore
from udb.domain.model import (
    BlockKind,
    ContactBlock,
    EducationWishBlock,
    ErrorCode,
    Institution,
    JobWishBlock,
    Municipality,
    Outcome,
    Person,
    PersonStatus,
    ReportContent,
    Submission,
)
from udb.service.errors import AccessDenied, TransactionIdReused
from udb.service.reports import ReportPolicy, submit
from udb.storage.records import PersonView

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
SYSTEM = "Vejledningssystem-Aarhus"
OTHER_SYSTEM = "Vejledningssystem-Odense"
KUI_AARHUS = 751001
CPR = "1503084232"
PERSON = Person(CPR, date(2008, 3, 15), PersonStatus.ACTIVE, 751)
POLICY = ReportPolicy()
_correlation = itertools.count(1)


@pytest.fixture
def store() -> FakeStore:
    store = FakeStore()
    with store.unit_of_work() as uow:
        uow.municipalities.upsert_many(
            [Municipality(751, "Aarhus"), Municipality(101, "København")]
        )
        uow.institutions.upsert_many(
            [Institution(KUI_AARHUS, 751, "KUI Aarhus"), Institution(101001, 101, "KUI København")]
        )
        uow.systems.add(SYSTEM, [KUI_AARHUS], NOW)
        uow.systems.add(OTHER_SYSTEM, [101001], NOW)
        uow.persons.upsert_many([PERSON], NOW)
        uow.commit()
    return store


def at(minutes: int) -> datetime:
    """A registration time ``minutes`` before receipt."""
    return NOW - timedelta(minutes=minutes)


def kontakt(t: datetime, navn: str = "Anna Vejleder") -> ContactBlock:
    return ContactBlock(navn, "anna@aarhus.dk", 12345678, t)


def submission(
    txid: str = "tx-1",
    *,
    kontakt: ContactBlock | None = None,
    job: JobWishBlock | None = None,
    uddannelse: EducationWishBlock | None = None,
    system: str = SYSTEM,
    modtager: str | None = None,
    cpr: str = CPR,
) -> Submission:
    report = ReportContent(modtager or system, cpr, KUI_AARHUS, kontakt, job, uddannelse)
    correlation = f"00000000-0000-4000-8000-{next(_correlation):012d}"
    return Submission(system, txid, report, NOW, correlation)


def full(txid: str = "tx-1") -> Submission:
    return submission(
        txid,
        kontakt=kontakt(at(30)),
        job=JobWishBlock("Tømrer", at(20)),
        uddannelse=EducationWishBlock("EUX Byggeri", at(10)),
    )


def view(store: FakeStore, cpr: str = CPR) -> PersonView:
    with store.unit_of_work() as uow:
        result = uow.persons.view(cpr)
    assert result is not None
    return result


def test_accepted_report_goes_to_history_and_becomes_current(store: FakeStore) -> None:
    sub = full()
    assert submit(sub, store, POLICY) == Outcome.accepted()
    seen = view(store)
    assert (seen.history_count, seen.report_count) == (3, 1)
    assert {k: s.block for k, s in seen.current.items()} == {
        BlockKind.KONTAKT: sub.report.kontakt,
        BlockKind.JOB: sub.report.job,
        BlockKind.UDDANNELSE: sub.report.uddannelse,
    }
    for stored in seen.current.values():
        assert (stored.system_name, stored.system_transaction_id) == (SYSTEM, "tx-1")
        assert (stored.correlation_id, stored.received_at) == (sub.correlation_id, NOW)
    (record,) = store.committed.reports.values()
    assert record.outcome is None
    assert record.content_sha256 == sub.report.fingerprint()


def test_rejected_report_is_logged_with_its_code_and_writes_no_blocks(store: FakeStore) -> None:
    sub = submission(job=JobWishBlock("Tømrer", NOW + timedelta(seconds=1)))
    assert submit(sub, store, POLICY) == Outcome.rejected(ErrorCode.FUTURE_REGISTRATION)
    seen = view(store)
    assert (seen.history_count, seen.report_count, seen.current) == (0, 1, {})
    (record,) = store.committed.reports.values()
    assert record.outcome is ErrorCode.FUTURE_REGISTRATION


def test_unknown_person_is_rejected_and_logged(store: FakeStore) -> None:
    sub = submission(cpr="1503084233", job=JobWishBlock("Tømrer", at(5)))
    assert submit(sub, store, POLICY) == Outcome.rejected(ErrorCode.UNKNOWN_PERSON)
    (record,) = store.committed.reports.values()
    assert (record.cpr, record.outcome) == ("1503084233", ErrorCode.UNKNOWN_PERSON)
    assert store.committed.history == []


@pytest.mark.parametrize(
    ("first", "expected"),
    [
        pytest.param(full, Outcome.accepted(), id="accepted"),
        pytest.param(
            lambda txid: submission(txid, job=JobWishBlock("Tømrer", NOW + timedelta(hours=1))),
            Outcome.rejected(ErrorCode.FUTURE_REGISTRATION),
            id="rejected",
        ),
    ],
)
def test_retry_gets_the_original_answer_and_changes_nothing(
    store: FakeStore, first: Callable[[str], Submission], expected: Outcome
) -> None:
    sub = first("tx-1")
    assert submit(sub, store, POLICY) == expected
    before = store.committed.copy()
    retry = replace(sub, correlation_id="00000000-0000-4000-8000-999999999999")
    assert submit(retry, store, POLICY) == expected
    assert submit(sub, store, POLICY) == expected
    assert store.committed == before


def test_retry_after_the_register_changed_gets_the_original_answer(store: FakeStore) -> None:
    sub = full()
    assert submit(sub, store, POLICY).ok
    with store.unit_of_work() as uow:
        uow.persons.upsert_many([replace(PERSON, status=PersonStatus.DEAD)], NOW)
        uow.commit()
    before = store.committed.copy()
    assert submit(sub, store, POLICY) == Outcome.accepted()
    assert store.committed == before
    # a new report about the dead person is rejected
    assert submit(full("tx-2"), store, POLICY) == Outcome.rejected(ErrorCode.UNKNOWN_PERSON)


def test_same_key_with_other_content_is_refused(store: FakeStore) -> None:
    assert submit(full(), store, POLICY).ok
    before = store.committed.copy()
    other = submission("tx-1", job=JobWishBlock("Murer", at(5)))
    with pytest.raises(TransactionIdReused):
        submit(other, store, POLICY)
    assert store.committed == before


def test_same_transaction_id_from_another_system_is_another_key(store: FakeStore) -> None:
    assert submit(full(), store, POLICY).ok
    other = submission("tx-1", system=OTHER_SYSTEM, job=JobWishBlock("Murer", at(5)))
    assert submit(other, store, POLICY) == Outcome.rejected(ErrorCode.NOT_AUTHORISED)
    assert len(store.committed.reports) == 2


@pytest.mark.parametrize(
    "sub",
    [
        pytest.param(submission(system="Ukendt-System"), id="unknown-system"),
        pytest.param(submission(modtager=OTHER_SYSTEM), id="modtager-names-another-system"),
        pytest.param(submission(modtager="Ukendt-System"), id="modtager-unknown"),
    ],
)
def test_access_denied(store: FakeStore, sub: Submission) -> None:
    before = store.committed.copy()
    with pytest.raises(AccessDenied):
        submit(sub, store, POLICY)
    assert store.committed == before


def disable(store: FakeStore, name: str, at: datetime | None) -> None:
    with store.unit_of_work() as uow:
        system = uow.systems.get(name)
        assert system is not None
        uow.systems.set_disabled(system.id, at)
        uow.commit()


def test_a_disabled_system_is_refused_and_enabled_again_accepted(store: FakeStore) -> None:
    disable(store, SYSTEM, NOW)
    before = store.committed.copy()
    with pytest.raises(AccessDenied, match="the client system is disabled"):
        submit(full("tx-1"), store, POLICY)
    assert store.committed == before  # nothing logged
    disable(store, SYSTEM, None)
    assert submit(full("tx-1"), store, POLICY) == Outcome.accepted()


def test_older_block_is_accepted_kept_in_history_but_not_current(store: FakeStore) -> None:
    newer = submission("tx-1", job=JobWishBlock("Tømrer", at(10)))
    older = submission("tx-2", job=JobWishBlock("Murer", at(20)))
    assert submit(newer, store, POLICY).ok
    assert submit(older, store, POLICY) == Outcome.accepted()
    seen = view(store)
    assert seen.history_count == 2
    assert seen.current[BlockKind.JOB].block == newer.report.job
    assert [b for _, _, b in store.committed.history] == [newer.report.job, older.report.job]


def test_equal_registration_time_later_arrival_wins(store: FakeStore) -> None:
    first = submission("tx-1", job=JobWishBlock("Tømrer", at(10)))
    second = submission("tx-2", job=JobWishBlock("Murer", at(10)))
    assert submit(first, store, POLICY).ok
    assert submit(second, store, POLICY).ok
    current = view(store).current[BlockKind.JOB]
    assert (current.block, current.system_transaction_id) == (second.report.job, "tx-2")


def test_blocks_are_independent(store: FakeStore) -> None:
    first = submission("tx-1", kontakt=kontakt(at(10)), job=JobWishBlock("Tømrer", at(10)))
    second = submission(
        "tx-2", kontakt=kontakt(at(20), "Bo Vejleder"), job=JobWishBlock("Murer", at(5))
    )
    assert submit(first, store, POLICY).ok
    assert submit(second, store, POLICY).ok
    seen = view(store)
    assert seen.history_count == 4
    assert seen.current[BlockKind.KONTAKT].block == first.report.kontakt
    assert seen.current[BlockKind.JOB].block == second.report.job
    assert BlockKind.UDDANNELSE not in seen.current


def test_policy_tolerance_is_applied(store: FakeStore) -> None:
    job = JobWishBlock("Tømrer", NOW + timedelta(seconds=30))
    assert submit(submission("tx-1", job=job), store, POLICY) == Outcome.rejected(
        ErrorCode.FUTURE_REGISTRATION
    )
    lenient = ReportPolicy(future_tolerance=timedelta(seconds=60))
    assert submit(submission("tx-2", job=job), store, lenient) == Outcome.accepted()


STEPS = [
    ("begin", 0),
    ("systems.get", 0),
    ("reports.find", 0),
    ("persons.get", 0),
    ("institutions.get", 0),
    ("reports.log", 0),
    ("reports.add_block", 0),
    ("reports.add_block", 1),
    ("reports.add_block", 2),
    ("commit", 0),
]


@pytest.mark.parametrize(("op", "skip"), STEPS, ids=[f"{op}-{skip}" for op, skip in STEPS])
def test_storage_failure_answers_101_and_writes_nothing(
    store: FakeStore, op: str, skip: int
) -> None:
    before = store.committed.copy()
    sub = full()
    store.fail_next(op=op, skip=skip)
    assert submit(sub, store, POLICY) == Outcome.rejected(ErrorCode.INTERNAL)
    assert store.committed == before
    assert submit(sub, store, POLICY) == Outcome.accepted()
    assert view(store).history_count == 3


def test_storage_failure_on_a_retry_answers_101(store: FakeStore) -> None:
    sub = full()
    assert submit(sub, store, POLICY).ok
    store.fail_next(op="reports.find")
    assert submit(sub, store, POLICY) == Outcome.rejected(ErrorCode.INTERNAL)
    assert submit(sub, store, POLICY) == Outcome.accepted()
    assert len(store.committed.reports) == 1


@pytest.mark.parametrize("same_content", [True, False])
def test_race_on_the_idempotency_key(store: FakeStore, same_content: bool) -> None:
    """Another instance logs the same key between this one's find() and log()."""
    sub = full()
    rival = sub if same_content else submission("tx-1", job=JobWishBlock("Murer", at(5)))
    rival = replace(rival, correlation_id="00000000-0000-4000-8000-888888888888")
    store.before("reports.log", lambda: submit(rival, store, POLICY))
    if same_content:
        assert submit(sub, store, POLICY) == Outcome.accepted()
    else:
        with pytest.raises(TransactionIdReused):
            submit(sub, store, POLICY)
    (record,) = store.committed.reports.values()
    assert record.correlation_id == rival.correlation_id
    assert len(store.committed.history) == len(rival.report.blocks)


# the fake itself -----------------------------------------------------------


def test_fake_unit_of_work_without_commit_publishes_nothing(store: FakeStore) -> None:
    before = store.committed.copy()
    with store.unit_of_work() as uow:
        uow.persons.upsert_many([replace(PERSON, cpr="0101004232")], NOW)
        assert uow.persons.get("0101004232") is not None
    assert store.committed == before


def test_fake_fail_next_counts_operations(store: FakeStore) -> None:
    store.fail_next(2)
    for _ in range(2):
        assert submit(full(), store, POLICY) == Outcome.rejected(ErrorCode.INTERNAL)
    assert submit(full(), store, POLICY) == Outcome.accepted()
