"""The read-back use case (udb.service.readback.read) on the in-memory store."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.unit.fakes import FakeStore
from udb.domain.model import (
    ClientCertificate,
    ContactBlock,
    ErrorCode,
    Institution,
    JobWishBlock,
    Municipality,
    Person,
    PersonStatus,
    ReportContent,
    Signature,
    Submission,
)
from udb.domain.readback import Read, ReadAnswer, ReadRequest
from udb.service import readback
from udb.service.errors import AccessDenied, Replayed
from udb.service.readback import BadSideToken, ReadPolicy
from udb.service.reports import ReportPolicy, submit
from udb.synthetic import synthetic_persons

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
SYSTEM = "Vejledningssystem-Aarhus"
KBH_SYSTEM = "Vejledningssystem-Koebenhavn"
KUI = 751001
KBH_KUI = 101001
YOUNG = Person("1503084232", date(2008, 3, 15), PersonStatus.ACTIVE, 751)
OLD = Person("0101014230", date(2001, 1, 1), PersonStatus.ACTIVE, 751)
DEAD = Person("0707074236", date(2007, 7, 7), PersonStatus.DEAD, 751)
KBH = Person("1010104238", date(2010, 10, 10), PersonStatus.ACTIVE, 101)
UNKNOWN = "2002104230"
SINCE = NOW - timedelta(days=30)
_ids = itertools.count(1)


@pytest.fixture
def store() -> FakeStore:
    store = FakeStore()
    with store.unit_of_work() as uow:
        uow.municipalities.upsert_many([Municipality(751, "Aarhus"), Municipality(101, "Kbh")])
        uow.institutions.upsert_many(
            [Institution(KUI, 751, "KUI Aarhus"), Institution(KBH_KUI, 101, "KUI København")]
        )
        uow.systems.add(SYSTEM, [KUI], NOW)
        uow.systems.add(KBH_SYSTEM, [KBH_KUI], NOW)
        uow.persons.upsert_many([YOUNG, OLD, DEAD, KBH], NOW)
        uow.commit()
    return store


def report(store: FakeStore, cpr: str, at: datetime, navn: str = "Anna Vejleder") -> None:
    """An accepted report from Aarhus's system, received at ``at``."""
    content = ReportContent(
        SYSTEM, cpr, KUI, ContactBlock(navn, "a@aarhus.dk", None, at - timedelta(minutes=1))
    )
    n = next(_ids)
    sub = Submission(SYSTEM, f"tx-{n}", content, at, f"00000000-0000-4000-8000-{n:012d}")
    assert submit(sub, store, ReportPolicy()).ok


def read(
    store: FakeStore,
    *cprs: str,
    since: datetime | None = None,
    token: str | None = None,
    system: str = SYSTEM,
    kui: int = KUI,
    at: datetime = NOW,
    page_size: int = 500,
    signature: Signature | None = None,
    settle: timedelta = timedelta(0),
) -> ReadAnswer:
    request = ReadRequest(system, kui, tuple(cprs), since, token)
    asked = Read(system, "tx", request, at, f"corr-{next(_ids)}", signature)
    return readback.read(asked, store, ReadPolicy(page_size=page_size, settle=settle))


def test_a_person_is_read_back_with_the_source_of_each_block(store: FakeStore) -> None:
    report(store, YOUNG.cpr, NOW - timedelta(hours=1))
    (person,) = read(store, YOUNG.cpr).persons
    assert person.cpr == YOUNG.cpr and person.error is None
    (held,) = person.blocks
    assert isinstance(held.block, ContactBlock) and held.block.navn == "Anna Vejleder"
    assert held.system_name == SYSTEM
    assert held.received_at == NOW - timedelta(hours=1)


def test_a_person_without_data_has_no_blocks(store: FakeStore) -> None:
    (person,) = read(store, YOUNG.cpr).persons
    assert person == readback.PersonAnswer(YOUNG.cpr)


def test_each_person_gets_the_report_rules_in_the_order_asked(store: FakeStore) -> None:
    answer = read(store, KBH.cpr, UNKNOWN, OLD.cpr, DEAD.cpr, "3213004230", YOUNG.cpr, KBH.cpr)
    assert [(p.cpr, p.error) for p in answer.persons] == [
        (KBH.cpr, ErrorCode.NOT_AUTHORISED),
        (UNKNOWN, ErrorCode.UNKNOWN_PERSON),
        (OLD.cpr, ErrorCode.AGE_LIMIT),
        (DEAD.cpr, ErrorCode.UNKNOWN_PERSON),
        ("3213004230", ErrorCode.UNKNOWN_PERSON),  # no calendar date
        (YOUNG.cpr, None),
        (KBH.cpr, ErrorCode.NOT_AUTHORISED),  # asked twice: answered twice
    ]
    assert answer.until is None and answer.next_token is None


def test_86_precedes_15_so_another_municipality_learns_no_age(store: FakeStore) -> None:
    (person,) = read(store, OLD.cpr, system=KBH_SYSTEM, kui=KBH_KUI).persons
    assert person.error is ErrorCode.NOT_AUTHORISED


def test_another_municipality_gets_86_and_none_of_the_data(store: FakeStore) -> None:
    report(store, YOUNG.cpr, NOW - timedelta(hours=1))
    (person,) = read(store, YOUNG.cpr, system=KBH_SYSTEM, kui=KBH_KUI).persons
    assert person == readback.PersonAnswer(YOUNG.cpr, ErrorCode.NOT_AUTHORISED)


def test_a_system_not_authorised_for_the_institution_gets_86_for_everyone(
    store: FakeStore,
) -> None:
    report(store, YOUNG.cpr, NOW - timedelta(hours=1))
    answer = read(store, YOUNG.cpr, UNKNOWN, OLD.cpr, system=KBH_SYSTEM, kui=KUI)
    assert {p.error for p in answer.persons} == {ErrorCode.NOT_AUTHORISED}
    assert all(not p.blocks for p in answer.persons)
    ops_before = len(store.ops)
    read(store, YOUNG.cpr, system=KBH_SYSTEM, kui=999999)  # an unknown institution: the same
    assert "readback.persons" not in store.ops[ops_before:]


def test_the_caller_must_be_registered_and_name_itself(store: FakeStore) -> None:
    with pytest.raises(AccessDenied, match="registered"):
        read(store, YOUNG.cpr, system="Ukendt-System")
    request = ReadRequest(KBH_SYSTEM, KUI, (YOUNG.cpr,))
    with pytest.raises(AccessDenied, match="ModtagerSystemID"):
        readback.read(Read(SYSTEM, "tx", request, NOW, "c", None), store, ReadPolicy())


def test_a_replayed_read_is_refused(store: FakeStore) -> None:
    with store.unit_of_work() as uow:
        uow.systems.add_certificate(
            uow.systems.get(SYSTEM).id,  # type: ignore[union-attr]
            ClientCertificate(
                "f" * 64, "CN=x", NOW - timedelta(days=1), NOW + timedelta(days=1), NOW
            ),
        )
        uow.commit()
    signature = Signature("f" * 64, "replay-key", NOW + timedelta(minutes=5))
    assert read(store, YOUNG.cpr, signature=signature).persons
    with pytest.raises(Replayed):
        read(store, YOUNG.cpr, signature=signature)


def test_changes_list_only_the_municipalitys_own_current_young_people(store: FakeStore) -> None:
    report(store, YOUNG.cpr, NOW - timedelta(hours=2))
    report(store, OLD.cpr, NOW - timedelta(days=400))  # accepted then (24); 25 now
    answer = read(store, since=NOW - timedelta(days=500))
    assert [p.cpr for p in answer.persons] == [YOUNG.cpr]
    assert answer.until == NOW and answer.next_token is None
    assert read(store, since=NOW - timedelta(hours=1)).persons == ()
    assert read(store, since=SINCE, system=KBH_SYSTEM, kui=KBH_KUI).persons == ()


def test_a_listing_ends_the_settling_time_before_its_first_read(store: FakeStore) -> None:
    """A report received a moment before the read may still be in processing: it belongs
    to the next listing, which starts where this one ends (AendretTil)."""
    report(store, YOUNG.cpr, NOW - timedelta(seconds=10))
    first = read(store, since=NOW - timedelta(hours=1), settle=timedelta(seconds=30))
    assert first.persons == () and first.until == NOW - timedelta(seconds=30)
    later = NOW + timedelta(minutes=5)
    assert first.until is not None
    chained = read(store, since=first.until, at=later, settle=timedelta(seconds=30))
    assert [p.cpr for p in chained.persons] == [YOUNG.cpr]


def test_changes_for_an_institution_the_system_may_not_read_are_refused(store: FakeStore) -> None:
    with pytest.raises(AccessDenied, match="not authorised for this KommuneInstitutionNummer"):
        read(store, since=SINCE, system=KBH_SYSTEM, kui=KUI)
    with pytest.raises(AccessDenied, match="not authorised"):
        read(store, since=SINCE, kui=999999)


def _aarhus(store: FakeStore, n: int) -> list[str]:
    persons = synthetic_persons(n, municipality_code=751, exclude={YOUNG.cpr})
    with store.unit_of_work() as uow:
        uow.persons.upsert_many(persons, NOW)
        uow.commit()
    return [p.cpr for p in persons]


def test_pages_follow_in_a_stable_order_while_reports_arrive(store: FakeStore) -> None:
    cprs = _aarhus(store, 10)
    for i, cpr in enumerate(cprs):  # two persons per moment: the CPR number breaks ties
        report(store, cpr, NOW - timedelta(hours=10 - i // 2))
    first = read(store, since=SINCE, page_size=3)
    assert [p.cpr for p in first.persons] == cprs[:3]
    assert first.until == NOW and first.next_token
    # meanwhile: a listed person, a person not yet listed and a new one change
    report(store, cprs[0], NOW + timedelta(seconds=1))
    report(store, cprs[5], NOW + timedelta(seconds=2))
    report(store, YOUNG.cpr, NOW + timedelta(seconds=3))
    seen, token, later = list(first.persons), first.next_token, NOW + timedelta(seconds=10)
    while token:
        page = read(store, since=SINCE, token=token, page_size=3, at=later)
        assert page.until == NOW
        seen += page.persons
        token = page.next_token
    listed = [p.cpr for p in seen]
    assert len(listed) == len(set(listed))  # nobody repeated
    assert listed == [c for c in cprs if c != cprs[5]]  # cprs[5] moved past AendretTil
    following = read(store, since=first.until, at=later)
    assert {p.cpr for p in following.persons} == {cprs[0], cprs[5], YOUNG.cpr}


def test_a_token_continues_only_its_own_listing(store: FakeStore) -> None:
    _aarhus(store, 4)
    for cpr in _aarhus(store, 4):
        report(store, cpr, NOW - timedelta(hours=1))
    token = read(store, since=SINCE, page_size=2).next_token
    assert token is not None
    with pytest.raises(BadSideToken, match="another AendretSiden"):
        read(store, since=SINCE - timedelta(seconds=1), token=token, page_size=2)
    with pytest.raises(BadSideToken, match=r"changed|not a token"):
        read(store, since=SINCE, token=token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))
    with pytest.raises(BadSideToken, match="expired"):
        read(store, since=SINCE, token=token, at=NOW + timedelta(hours=25))


def test_the_token_key_is_made_once_and_kept(store: FakeStore) -> None:
    read(store, since=SINCE)
    key = store.committed.readback_key
    assert key is not None
    read(store, since=SINCE)
    assert store.committed.readback_key == key


def test_a_job_wish_comes_after_the_contact(store: FakeStore) -> None:
    n = next(_ids)
    content = ReportContent(
        SYSTEM,
        YOUNG.cpr,
        KUI,
        ContactBlock("Anna", "a@x.dk", 12345678, NOW - timedelta(hours=2)),
        JobWishBlock("Tømrer", NOW - timedelta(hours=2)),
    )
    sub = Submission(SYSTEM, f"tx-{n}", content, NOW - timedelta(hours=1), f"c-{n}")
    assert submit(sub, store, ReportPolicy()).ok
    (person,) = read(store, YOUNG.cpr).persons
    assert [type(b.block) for b in person.blocks] == [ContactBlock, JobWishBlock]
