"""A report's intake and record: what each adapter does in one go (PostgreSQL: one statement).

Every answer is compared with the interface's default, which asks the
repositories one by one, so an adapter's shortcut cannot drift from them.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest

from tests.support import AARHUS_KUI, NOW, SYSTEM
from udb.domain.model import (
    ClientCertificate,
    ContactBlock,
    EducationWishBlock,
    ErrorCode,
    Institution,
    JobWishBlock,
    Person,
    PersonStatus,
)
from udb.storage import IntegrityError, Store
from udb.storage.base import SignatureSeen, UnitOfWork
from udb.storage.records import Arrival, Intake, ReportRecord
from udb.storage.sql.repositories import SqlReplayCache

CPR = "1503084232"
FINGERPRINT = "ab" * 32
CERT = ClientCertificate(
    FINGERPRINT,
    "CN=Vejledningssystem-Aarhus",
    NOW - timedelta(days=1),
    NOW + timedelta(days=365),
    NOW,
)
UNSIGNED = Arrival(
    certificate_fingerprint=None,
    system_name=SYSTEM,
    system_transaction_id="t-1",
    cpr=CPR,
    institution_number=AARHUS_KUI,
    received_at=NOW,
)
SIGNED = replace(
    UNSIGNED,
    certificate_fingerprint=FINGERPRINT,
    replay_key="cd" * 32,
    keep_until=NOW + timedelta(minutes=10),
)


def record(stid: str = "t-1", corr: str = "c-1", outcome: ErrorCode | None = None) -> ReportRecord:
    return ReportRecord(
        correlation_id=corr,
        system_id=1,
        system_transaction_id=stid,
        content_sha256="0" * 64,
        cpr=CPR,
        institution_number=AARHUS_KUI,
        received_at=NOW,
        outcome=outcome,
    )


def both_ways(uow: UnitOfWork, arrival: Arrival) -> Intake:
    """The adapter's intake, checked against the default's reading of the same rows."""
    intake = uow.receive(arrival)
    # The default again, without the replay cache (the adapter has just written the key).
    expected = UnitOfWork.receive(uow, replace(arrival, replay_key=None, keep_until=None))
    assert replace(intake, first_seen=True) == expected
    return intake


@pytest.fixture
def pinned(store: Store) -> Store:
    with store.unit_of_work() as uow:
        system = uow.systems.get(SYSTEM)
        assert system is not None
        uow.systems.add_certificate(system.id, CERT)
        uow.commit()
    return store


def test_an_unsigned_arrival_finds_system_person_and_institution(store: Store) -> None:
    with store.unit_of_work() as uow:
        intake = both_ways(uow, UNSIGNED)
    assert intake.first_seen
    assert intake.system is not None and intake.system.name == SYSTEM
    assert intake.system.institutions == frozenset({AARHUS_KUI})
    assert intake.person == Person(CPR, date(2008, 3, 15), PersonStatus.ACTIVE, 751)
    assert intake.institution == Institution(AARHUS_KUI, 751, "KUI Aarhus")
    assert intake.earlier is None


def test_unknown_things_are_none(store: Store) -> None:
    arrival = replace(UNSIGNED, system_name="Ukendt", cpr="0101010000", institution_number=999999)
    with store.unit_of_work() as uow:
        intake = both_ways(uow, arrival)
    assert intake == Intake(True, None, None, None, None)


def test_a_signed_arrival_is_identified_by_its_pinned_certificate(pinned: Store) -> None:
    with pinned.unit_of_work() as uow:
        intake = both_ways(uow, replace(SIGNED, system_name="ignored when signed"))
        uow.commit()
    assert intake.first_seen
    assert intake.system is not None and intake.system.name == SYSTEM


def test_an_unpinned_or_retired_certificate_identifies_nobody(pinned: Store) -> None:
    with pinned.unit_of_work() as uow:
        assert both_ways(uow, replace(SIGNED, certificate_fingerprint="ef" * 32)).system is None
        system = uow.systems.get(SYSTEM)
        assert system is not None
        uow.systems.retire_certificates(system.id, NOW)
        assert both_ways(uow, replace(SIGNED, replay_key="01" * 32)).system is None


def test_a_signature_is_first_seen_once_until_it_expires(pinned: Store) -> None:
    with pinned.unit_of_work() as uow:
        assert uow.receive(SIGNED).first_seen
        uow.commit()
    with pinned.unit_of_work() as uow:
        assert not uow.receive(SIGNED).first_seen
    later = replace(SIGNED, received_at=SIGNED.keep_until, keep_until=NOW + timedelta(hours=1))
    with pinned.unit_of_work() as uow:
        assert uow.receive(later).first_seen


def test_the_report_logged_under_the_key_is_found(store: Store) -> None:
    with store.unit_of_work() as uow:
        assert uow.record(record(outcome=ErrorCode.AGE_LIMIT), ()) is not None
        intake = both_ways(uow, UNSIGNED)
        other = both_ways(uow, replace(UNSIGNED, system_transaction_id="t-2"))
    assert intake.earlier == record(outcome=ErrorCode.AGE_LIMIT)
    assert other.earlier is None


def test_record_keeps_every_block_and_applies_the_merge_rule(store: Store) -> None:
    t = NOW - timedelta(days=3)
    kontakt = ContactBlock("A", "a@example.dk", 12345678, t)
    with store.unit_of_work() as uow:
        assert uow.record(record("t-1", "c-1"), (JobWishBlock("newer", t),)) is not None
        three = (
            kontakt,
            JobWishBlock("older", t - timedelta(seconds=1)),
            EducationWishBlock("EUD", t),
        )
        assert uow.record(record("t-2", "c-2"), three) is not None
        uow.commit()
    with store.unit_of_work(readonly=True) as uow:
        view = uow.persons.view(CPR)
    assert view is not None
    current = {kind.value: stored.block for kind, stored in view.current.items()}
    assert current == {
        "job": JobWishBlock("newer", t),
        "kontakt": kontakt,
        "uddannelse": EducationWishBlock("EUD", t),
    }
    assert view.history_count == 4
    assert view.report_count == 2


def test_record_of_a_used_key_writes_nothing(store: Store) -> None:
    with store.unit_of_work() as uow:
        assert uow.record(record("t-1", "c-1"), ()) is not None
        job = JobWishBlock("x", NOW - timedelta(days=1))
        assert uow.record(record("t-1", "c-2"), (job,)) is None
        uow.commit()
    with store.unit_of_work(readonly=True) as uow:
        view = uow.persons.view(CPR)
    assert view is not None and view.history_count == 0 and view.report_count == 1


def test_record_with_a_used_correlation_id_is_an_integrity_error(store: Store) -> None:
    with store.unit_of_work() as uow:
        assert uow.record(record("t-1", "c-1"), ()) is not None
        with pytest.raises(IntegrityError):
            uow.record(record("t-2", "c-1"), ())


# record_and_commit: the report's last step (PostgreSQL: one statement, committed at once)

BLOCKS = (JobWishBlock("tømrer", NOW - timedelta(days=1)),)


def counts(store: Store, stid: str = "t-1") -> tuple[int, int]:
    """(reports logged under ``stid``, blocks in the history) of CPR."""
    with store.unit_of_work(readonly=True) as uow:
        view = uow.persons.view(CPR)
        logged = uow.reports.find(1, stid)
    assert view is not None
    return (0 if logged is None else 1), view.history_count


def only_postgresql(store: Store, why: str) -> None:
    if store.dialect != "postgresql":
        pytest.skip(why)


@pytest.mark.parametrize(
    "purge_every",
    [10**9, 1],  # 1: the intake purged the replay cache, which began a transaction
    ids=["alone", "in-the-transaction-a-purge-began"],
)
def test_record_and_commit_keeps_the_report_and_remembers_the_signature(
    pinned: Store, monkeypatch: pytest.MonkeyPatch, purge_every: int
) -> None:
    monkeypatch.setattr(SqlReplayCache, "PURGE_EVERY", purge_every)
    with pinned.unit_of_work() as uow:
        assert uow.receive(SIGNED).first_seen
        assert uow.record_and_commit(record(), BLOCKS) is not None
    assert counts(pinned) == (1, 1)
    with pinned.unit_of_work() as uow:
        assert not uow.receive(SIGNED).first_seen


def test_a_unit_of_work_rolled_back_after_its_intake_remembers_nothing(pinned: Store) -> None:
    with pinned.unit_of_work() as uow:
        assert uow.receive(SIGNED).first_seen
    with pinned.unit_of_work() as uow:
        assert uow.receive(SIGNED).first_seen


def test_a_signature_remembered_meanwhile_writes_nothing(pinned: Store) -> None:
    only_postgresql(pinned, "SQLite has one writer at a time: a replay cannot race its original")
    with pinned.unit_of_work() as first:
        assert first.receive(SIGNED).first_seen
        with pinned.unit_of_work() as racing:
            assert racing.receive(SIGNED).first_seen
            assert racing.record_and_commit(record("t-9", "c-9"), ()) is not None
        with pytest.raises(SignatureSeen):
            first.record_and_commit(record(), BLOCKS)
    assert counts(pinned) == (0, 0)


def test_a_repeat_racing_its_replay_is_seen_at_commit(pinned: Store) -> None:
    only_postgresql(pinned, "SQLite has one writer at a time: a replay cannot race its original")
    with pinned.unit_of_work() as first:
        assert first.receive(SIGNED).first_seen
        with pinned.unit_of_work() as racing:
            assert racing.receive(SIGNED).first_seen
            racing.commit()
        with pytest.raises(SignatureSeen):
            first.commit()


def test_a_report_is_two_statements_without_begin_or_commit(
    pinned: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    only_postgresql(pinned, "the two statements are PostgreSQL's (SQLite asks the repositories)")
    from udb.storage.postgresql.session import Session

    sent: list[str] = []
    alone, command = Session.alone, Session._command

    def alone_counted(self: Session, sql: str, *args: Any, **kwargs: Any) -> Any:
        sent.append("statement")
        return alone(self, sql, *args, **kwargs)

    def command_counted(self: Session, sql: str) -> str:
        sent.append(sql.split()[0])
        return command(self, sql)

    monkeypatch.setattr(Session, "alone", alone_counted)
    monkeypatch.setattr(Session, "_command", command_counted)
    monkeypatch.setattr(SqlReplayCache, "PURGE_EVERY", 10**9)  # no purge this time
    with pinned.unit_of_work() as uow:
        assert uow.receive(SIGNED).first_seen
        assert uow.record_and_commit(record(), BLOCKS) is not None
    assert sent == ["statement", "statement"]
    assert counts(pinned) == (1, 1)
