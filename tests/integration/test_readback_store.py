"""The read-back's statements (storage/sql/readback.py) and use case on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta

from tests.support import AARHUS_KUI, NOW, SYSTEM
from udb.domain.model import (
    BlockKind,
    ContactBlock,
    ErrorCode,
    JobWishBlock,
    Person,
    PersonStatus,
    ReportContent,
    Submission,
)
from udb.domain.readback import Read, ReadAnswer, ReadRequest
from udb.service import readback
from udb.service.readback import ReadPolicy
from udb.service.reports import ReportPolicy, submit
from udb.storage import Store, open_store
from udb.synthetic import synthetic_persons

CPR = "1503084232"  # the seeded young person of Aarhus
KBH_SYSTEM = "Vejledningssystem-Koebenhavn"
SINCE = NOW - timedelta(days=30)
_ids = itertools.count(1)


def report(store: Store, cpr: str, received: datetime, *, job: bool = False) -> None:
    content = ReportContent(
        SYSTEM,
        cpr,
        AARHUS_KUI,
        ContactBlock("Anna Vejleder", "anna@aarhus.dk", 4520304050, received - timedelta(hours=1)),
        JobWishBlock("Tømrer", received - timedelta(hours=1)) if job else None,
    )
    n = next(_ids)
    sub = Submission(SYSTEM, f"tx-{n}", content, received, f"00000000-0000-4000-8000-{n:012d}")
    assert submit(sub, store, ReportPolicy()).ok


def read(
    store: Store,
    *cprs: str,
    system: str = SYSTEM,
    since: datetime | None = None,
    token: str | None = None,
    at: datetime = NOW,
    page_size: int = 500,
) -> ReadAnswer:
    request = ReadRequest(system, AARHUS_KUI, tuple(cprs), since, token)
    asked = Read(system, "tx", request, at, f"r-{next(_ids)}", None)
    return readback.read(asked, store, ReadPolicy(page_size=page_size))


def add_people(store: Store, n: int) -> list[str]:
    persons = synthetic_persons(n, municipality_code=751, exclude={CPR})
    with store.unit_of_work() as uow:
        uow.persons.upsert_many(
            [*persons, Person("0101994230", date(1999, 1, 1), PersonStatus.ACTIVE, 751)], NOW
        )
        uow.systems.add(KBH_SYSTEM, [101001], NOW)
        uow.commit()
    return [p.cpr for p in persons]


def test_current_blocks_come_back_with_their_source(store: Store) -> None:
    report(store, CPR, NOW - timedelta(hours=2), job=True)
    with store.unit_of_work(readonly=True) as uow:
        current = uow.readback.current([CPR, CPR, "2002104230"])
        persons = uow.readback.persons([CPR, "2002104230"])
    assert set(current) == {CPR} and set(persons) == {CPR}
    kontakt = current[CPR][BlockKind.KONTAKT]
    assert kontakt.block == ContactBlock(
        "Anna Vejleder", "anna@aarhus.dk", 4520304050, NOW - timedelta(hours=3)
    )
    assert kontakt.system_name == SYSTEM
    assert kontakt.received_at == NOW - timedelta(hours=2)
    assert current[CPR][BlockKind.JOB].block == JobWishBlock("Tømrer", NOW - timedelta(hours=3))


def test_a_read_applies_the_rules_per_person(store: Store) -> None:
    add_people(store, 1)
    report(store, CPR, NOW - timedelta(hours=2))
    answer = read(store, CPR, "2002104230", "0101994230", CPR)
    assert [(p.cpr, p.error, len(p.blocks)) for p in answer.persons] == [
        (CPR, None, 1),
        ("2002104230", ErrorCode.UNKNOWN_PERSON, 0),
        ("0101994230", ErrorCode.AGE_LIMIT, 0),
        (CPR, None, 1),
    ]
    other = read(store, CPR, system=KBH_SYSTEM)  # not authorised for Aarhus's KUI
    assert [(p.error, p.blocks) for p in other.persons] == [(ErrorCode.NOT_AUTHORISED, ())]


def test_the_changes_listing_pages_in_a_stable_order(store: Store) -> None:
    cprs = add_people(store, 8)
    for i, cpr in enumerate(cprs):  # pairs at the same moment: the CPR number breaks the tie
        report(store, cpr, NOW - timedelta(hours=8 - i // 2))
    first = read(store, since=SINCE, page_size=3)
    assert [p.cpr for p in first.persons] == cprs[:3] and first.until == NOW
    report(store, cprs[1], NOW + timedelta(seconds=1))  # listed already
    report(store, cprs[6], NOW + timedelta(seconds=1))  # not listed yet: moves past AendretTil
    listed, token = [p.cpr for p in first.persons], first.next_token
    while token:
        page = read(store, since=SINCE, token=token, page_size=3, at=NOW + timedelta(minutes=1))
        listed += [p.cpr for p in page.persons]
        token = page.next_token
    assert listed == [c for c in cprs if c != cprs[6]]
    following = read(store, since=NOW, at=NOW + timedelta(minutes=1))
    assert [p.cpr for p in following.persons] == sorted([cprs[1], cprs[6]])


def test_every_instance_of_a_database_accepts_the_others_tokens(
    store: Store, database_url: str
) -> None:
    for i, cpr in enumerate(add_people(store, 4)):
        report(store, cpr, NOW - timedelta(hours=i + 1))
    token = read(store, since=SINCE, page_size=2).next_token
    assert token is not None
    other = open_store(database_url)
    try:
        page = read(other, since=SINCE, token=token, page_size=2)
    finally:
        other.close()
    assert len(page.persons) == 2
    with store.unit_of_work() as uow:
        key = uow.readback.token_key()
    assert len(key) == 32
