"""The test environment's use cases over the fake store: slots and their persons,
enrolment, the recorder's attribution of a request to its system, and the scenarios."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from tests.support import NOW
from tests.unit.fakes import FakeStore
from udb.domain.model import (
    ClientCertificate,
    ContactBlock,
    ErrorCode,
    Municipality,
    ReportContent,
    Signature,
    Submission,
)
from udb.service import reports, testenv, testenv_recorder
from udb.service.errors import Replayed
from udb.service.requests import RequestRecord
from udb.storage.records import CprImportRecord, RegisterCounts

CERT_A = ClientCertificate(
    "aa" * 32, "CN=A", NOW - timedelta(days=1), NOW + timedelta(days=30), NOW
)
CERT_B = ClientCertificate(
    "bb" * 32, "CN=B", NOW - timedelta(days=1), NOW + timedelta(days=30), NOW
)


@pytest.fixture
def store() -> FakeStore:
    store = FakeStore()
    with store.unit_of_work() as uow:
        uow.municipalities.upsert_many(
            [Municipality(101, "København"), Municipality(147, "Frederiksberg"),
             Municipality(751, "Aarhus")]
        )  # fmt: skip
        uow.commit()
    return store


def test_init_makes_slots_with_a_kui_and_persons_each_and_is_idempotent(store: FakeStore) -> None:
    slots = testenv.init(store, NOW, slots=2)
    assert [(s.slot, s.institution_number, s.municipality_code) for s in slots] == [
        (1, 101999, 101),
        (2, 147999, 147),
    ]
    assert testenv.init(store, NOW, slots=2) == slots
    with store.unit_of_work(readonly=True) as uow:
        persons = uow.testenv.persons(1)
        assert len(persons) == 10
        assert uow.persons.get("0101084903") is None  # 14-unknown: not in the register
        assert uow.persons.get("0101084907").municipality_code == 147  # type: ignore[union-attr]


def test_init_refuses_a_database_with_a_cpr_import(store: FakeStore) -> None:
    with store.unit_of_work() as uow:
        uow.cpr_imports.add(
            CprImportRecord(
                "x.txt",
                "f" * 64,
                "full",
                "000001",
                NOW.date(),
                None,
                0,
                RegisterCounts(),
                0,
                False,
                NOW,
            )
        )
        uow.commit()
    with pytest.raises(testenv.TestEnvError, match="1 CPR extract"):
        testenv.init(store, NOW)


def test_enrolment_takes_the_next_free_slot_and_makes_one_when_none_is_free(
    store: FakeStore,
) -> None:
    testenv.init(store, NOW, slots=1)
    a = testenv.enroll(store, "A", CERT_A, NOW)
    b = testenv.enroll(store, "B", CERT_B, NOW)
    assert (a.institution, b.institution, a.again) == (101999, 147999, False)
    assert set(a.persons) == set(testenv.SCENARIOS)
    assert testenv.enroll(store, "A", CERT_A, NOW).again is True
    with pytest.raises(testenv.TestEnvError, match="already identifies A"):
        testenv.enroll(store, "C", CERT_A, NOW)
    with pytest.raises(testenv.TestEnvError, match="enrolled with another certificate"):
        testenv.enroll(store, "A", CERT_B.__class__("cc" * 32, "CN", NOW, NOW, NOW), NOW)


def _record(correlation_id: str, system_name: str | None = None) -> RequestRecord:
    return RequestRecord(
        NOW, correlation_id, "-", "fault", "IPL000003", "no signature", 400, "1.2", 1.0,
        system_name,
    )  # fmt: skip


def test_the_recorder_keeps_what_an_enrolled_system_sent_even_when_refused_early(
    store: FakeStore,
) -> None:
    testenv.init(store, NOW, slots=1)
    testenv.enroll(store, "A", CERT_A, NOW)
    recorder = testenv_recorder.Recorder(store)
    named = b"<s:Envelope><v1:SystemName> A </v1:SystemName></s:Envelope>"
    recorder(testenv_recorder.Exchange(named, _record("c-1"), None))  # by SystemName in the body
    recorder(
        testenv_recorder.Exchange(b"<x/>", _record("c-2"), None, CERT_A.fingerprint)
    )  # by certificate
    recorder(testenv_recorder.Exchange(b"<v1:SystemName>Z</v1:SystemName>", _record("c-3"), None))
    with store.unit_of_work(readonly=True) as uow:
        kept = uow.testenv.requests("A")
        assert [r.correlation_id for r in kept] == ["c-1", "c-2"]
        assert kept[0].body.startswith("<s:Envelope>") and kept[0].code == "IPL000003"
        assert uow.testenv.requests("Z") == []


def _report_from_a(cpr: str, txid: str) -> Submission:
    at = NOW - timedelta(minutes=5)
    content = ReportContent("A", cpr, 101999, ContactBlock("Mette", "m@test.example", None, at))
    return Submission(
        "A", txid, content, NOW, f"00000000-0000-4000-8000-{abs(hash(txid)) % 10**12:012d}"
    )


def test_101_first_then_the_normal_answer_and_delayed_first_then_at_once(
    store: FakeStore,
) -> None:
    testenv.init(store, NOW, slots=1)
    persons = testenv.enroll(store, "A", CERT_A, NOW).persons
    slept: list[float] = []
    scenarios = testenv.Scenarios(delay=5.0, sleep=slept.append)
    policy = reports.ReportPolicy()
    first = scenarios(_report_from_a(persons["101"][0], "t-1"), store, policy)
    assert first.error is ErrorCode.INTERNAL
    with store.unit_of_work(readonly=True) as uow:
        assert uow.reports.find(1, "t-1") is None  # stored nothing, as when the database fails
    assert scenarios(_report_from_a(persons["101"][0], "t-1"), store, policy).ok
    assert scenarios(_report_from_a(persons["101"][0], "t-2"), store, policy).error == 101
    assert slept == []
    assert scenarios(_report_from_a(persons["delayed"][0], "t-3"), store, policy).ok
    assert slept == [5.0]
    again = scenarios(_report_from_a(persons["delayed"][0], "t-3"), store, policy)
    assert again.ok and again.repeated and slept == [5.0]
    plain = scenarios(_report_from_a(persons["accepted"][0], "t-4"), store, policy)
    assert plain.ok and slept == [5.0]


def test_a_signed_delayed_first_attempt_is_answered_not_refused_as_its_own_replay(
    store: FakeStore,
) -> None:
    testenv.init(store, NOW, slots=1)
    persons = testenv.enroll(store, "A", CERT_A, NOW).persons
    scenarios = testenv.Scenarios(delay=1.0, sleep=lambda s: None)
    policy = reports.ReportPolicy()
    signed = replace(
        _report_from_a(persons["delayed"][0], "t-5"),
        signature=Signature(CERT_A.fingerprint, "replay-1", NOW + timedelta(minutes=5)),
    )
    assert scenarios(signed, store, policy).ok  # answered late, and accepted
    with pytest.raises(Replayed):  # the very same message again is a replay, as anywhere
        scenarios(signed, store, policy)
    first_101 = replace(
        _report_from_a(persons["101"][0], "t-6"),
        signature=Signature(CERT_A.fingerprint, "replay-2", NOW + timedelta(minutes=5)),
    )
    assert scenarios(first_101, store, policy).error is ErrorCode.INTERNAL
    with pytest.raises(Replayed):  # a 101 answered here remembers its signature too
        scenarios(first_101, store, policy)
