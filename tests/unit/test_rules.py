"""The rules behind 14, 86, 15 and 280, alone and in the contract's order."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from udb.domain import rules
from udb.domain.model import (
    ClientSystem,
    ContactBlock,
    EducationWishBlock,
    ErrorCode,
    Institution,
    JobWishBlock,
    Person,
    PersonStatus,
    ReportContent,
)
from udb.domain.rules import Facts, anniversary, check_report, has_turned

RECEIVED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
AARHUS, KOBENHAVN = 751, 101
KUI_AARHUS = Institution(751001, AARHUS, "KUI Aarhus")
KUI_KOBENHAVN = Institution(101001, KOBENHAVN, "KUI København")
SYSTEM = ClientSystem(1, "Vejledningssystem-Aarhus", frozenset({KUI_AARHUS.number}))


def cpr_for(born: date) -> str:
    """A CPR number encoding ``born`` (digit 7: 0 for 1900-1999, 4 for 2000-2036)."""
    digit = "4" if born.year >= 2000 else "0"
    return f"{born:%d%m%y}{digit}123"


def facts(
    born: date = date(2008, 3, 15),
    *,
    status: PersonStatus = PersonStatus.ACTIVE,
    municipality: int | None = AARHUS,
    known: bool = True,
    cpr: str | None = None,
    institution: Institution | None = KUI_AARHUS,
    system: ClientSystem = SYSTEM,
    received_at: datetime = RECEIVED,
    registered: datetime | None = None,
    blocks: tuple[str, ...] = ("kontakt", "job", "uddannelse"),
    tolerance: timedelta = timedelta(0),
) -> Facts:
    number = cpr or cpr_for(born)
    at = received_at if registered is None else registered
    report = ReportContent(
        modtager_system_id=system.name,
        cpr=number,
        institution_number=KUI_AARHUS.number if institution is None else institution.number,
        kontakt=ContactBlock("Anna Vejleder", "anna@aarhus.dk", 12345678, at)
        if "kontakt" in blocks
        else None,
        job=JobWishBlock("Tømrer", at) if "job" in blocks else None,
        uddannelse=EducationWishBlock("EUX", at) if "uddannelse" in blocks else None,
    )
    person = Person(number, born, status, municipality) if known else None
    return Facts(report, person, institution, system, received_at, tolerance)


def test_a_plain_report_is_accepted() -> None:
    assert check_report(facts()) is None


def test_a_person_under_15_is_accepted() -> None:
    assert check_report(facts(date(2014, 1, 1))) is None


# 14 ----------------------------------------------------------------------


def test_unknown_person_gives_14() -> None:
    f = facts(known=False)
    assert rules.unknown_or_not_resident(f) is ErrorCode.UNKNOWN_PERSON
    assert check_report(f) is ErrorCode.UNKNOWN_PERSON


@pytest.mark.parametrize("status", [s for s in PersonStatus if s is not PersonStatus.ACTIVE])
def test_person_not_living_in_denmark_gives_14(status: PersonStatus) -> None:
    f = facts(status=status)
    assert rules.unknown_or_not_resident(f) is ErrorCode.UNKNOWN_PERSON
    assert check_report(f) is ErrorCode.UNKNOWN_PERSON


def test_active_person_without_a_danish_address_gives_14() -> None:
    """No current home municipality is "no Danish residence" (interface.md section 4)."""
    f = facts(municipality=None)
    assert rules.unknown_or_not_resident(f) is ErrorCode.UNKNOWN_PERSON
    assert check_report(f) is ErrorCode.UNKNOWN_PERSON


def test_active_person_passes_14() -> None:
    assert rules.unknown_or_not_resident(facts()) is None


def test_cpr_without_a_date_gives_14_even_with_a_person() -> None:
    f = facts(cpr="3102084123")
    assert f.person is not None
    assert rules.unknown_or_not_resident(f) is ErrorCode.UNKNOWN_PERSON
    assert check_report(f) is ErrorCode.UNKNOWN_PERSON


# 86 ----------------------------------------------------------------------

NOT_AUTHORISED = {
    "institution-of-another-municipality": {"institution": KUI_KOBENHAVN},
    "system-not-authorised": {"system": replace(SYSTEM, institutions=frozenset())},
    "system-authorised-elsewhere": {
        "system": replace(SYSTEM, institutions=frozenset({KUI_KOBENHAVN.number}))
    },
    "unknown-institution": {"institution": None},
    "person-moved-away": {"municipality": KOBENHAVN},
}


@pytest.mark.parametrize("changes", NOT_AUTHORISED.values(), ids=NOT_AUTHORISED.keys())
def test_not_the_home_municipality_kui_gives_86(changes: dict[str, object]) -> None:
    f = facts(**changes)  # type: ignore[arg-type]
    assert rules.not_home_municipality_kui(f) is ErrorCode.NOT_AUTHORISED
    assert check_report(f) is ErrorCode.NOT_AUTHORISED


def test_kui_of_the_home_municipality_passes_86() -> None:
    assert rules.not_home_municipality_kui(facts()) is None


def test_86_wins_over_15() -> None:
    f = facts(date(1990, 1, 1), municipality=KOBENHAVN)
    assert rules.past_age_limit(f) is ErrorCode.AGE_LIMIT
    assert check_report(f) is ErrorCode.NOT_AUTHORISED


# 15 ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("born", "received_at", "expected"),
    [
        pytest.param(date(2001, 11, 20), RECEIVED, ErrorCode.AGE_LIMIT, id="turns-25-today"),
        pytest.param(date(2001, 11, 21), RECEIVED, None, id="turns-25-tomorrow"),
        pytest.param(date(2000, 11, 21), RECEIVED, ErrorCode.AGE_LIMIT, id="is-25"),
        pytest.param(date(1990, 1, 1), RECEIVED, ErrorCode.AGE_LIMIT, id="is-36"),
        # Danish date decides: 23:30 UTC in winter is already the next day
        pytest.param(
            date(2001, 1, 15),
            datetime(2026, 1, 14, 23, 30, tzinfo=UTC),
            ErrorCode.AGE_LIMIT,
            id="winter-23:30Z-is-the-birthday",
        ),
        pytest.param(
            date(2001, 1, 15),
            datetime(2026, 1, 14, 22, 59, tzinfo=UTC),
            None,
            id="winter-22:59Z-is-the-day-before",
        ),
        pytest.param(
            date(2001, 7, 15),
            datetime(2026, 7, 14, 22, 30, tzinfo=UTC),
            ErrorCode.AGE_LIMIT,
            id="summer-22:30Z-is-the-birthday",
        ),
        pytest.param(
            date(2001, 7, 15),
            datetime(2026, 7, 14, 21, 59, tzinfo=UTC),
            None,
            id="summer-21:59Z-is-the-day-before",
        ),
        # born 29 February: 25 on 1 March 2025 (no 29 February in 2025)
        pytest.param(
            date(2000, 2, 29), datetime(2025, 2, 28, 12, 0, tzinfo=UTC), None, id="leap-28-feb"
        ),
        pytest.param(
            date(2000, 2, 29),
            datetime(2025, 3, 1, 12, 0, tzinfo=UTC),
            ErrorCode.AGE_LIMIT,
            id="leap-1-march",
        ),
    ],
)
def test_age_limit(born: date, received_at: datetime, expected: ErrorCode | None) -> None:
    f = facts(born, received_at=received_at)
    assert rules.past_age_limit(f) is expected
    assert check_report(f) is expected


@pytest.mark.parametrize(
    ("born", "years", "expected"),
    [
        (date(2000, 2, 29), 24, date(2024, 2, 29)),
        (date(2000, 2, 29), 25, date(2025, 3, 1)),
        (date(2000, 2, 29), 4, date(2004, 2, 29)),
        (date(2001, 11, 20), 25, date(2026, 11, 20)),
    ],
)
def test_anniversary(born: date, years: int, expected: date) -> None:
    assert anniversary(born, years) == expected


def test_has_turned_counts_the_anniversary_itself() -> None:
    born = date(2001, 11, 20)
    assert has_turned(born, 25, date(2026, 11, 20))
    assert not has_turned(born, 25, date(2026, 11, 19))


# 280 ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("after", "tolerance", "expected"),
    [
        pytest.param(timedelta(0), timedelta(0), None, id="exactly-at-receipt"),
        pytest.param(timedelta(hours=-1), timedelta(0), None, id="before-receipt"),
        pytest.param(
            timedelta(microseconds=1), timedelta(0), ErrorCode.FUTURE_REGISTRATION, id="1us-after"
        ),
        pytest.param(timedelta(seconds=59), timedelta(seconds=60), None, id="59s-tolerance-60"),
        pytest.param(timedelta(seconds=60), timedelta(seconds=60), None, id="60s-tolerance-60"),
        pytest.param(
            timedelta(seconds=61),
            timedelta(seconds=60),
            ErrorCode.FUTURE_REGISTRATION,
            id="61s-tolerance-60",
        ),
    ],
)
def test_registration_time_against_receipt(
    after: timedelta, tolerance: timedelta, expected: ErrorCode | None
) -> None:
    f = facts(registered=RECEIVED + after, tolerance=tolerance)
    assert rules.registered_in_future(f) is expected
    assert check_report(f) is expected


@pytest.mark.parametrize("future", ["kontakt", "job", "uddannelse"])
def test_any_one_block_in_the_future_gives_280(future: str) -> None:
    report = facts().report
    block = getattr(report, future)
    later = replace(block, registreringstid=RECEIVED + timedelta(seconds=1))
    f = replace(facts(), report=replace(report, **{future: later}))
    assert rules.registered_in_future(f) is ErrorCode.FUTURE_REGISTRATION
    assert check_report(f) is ErrorCode.FUTURE_REGISTRATION


def test_a_report_without_blocks_never_gets_280() -> None:
    f = facts(blocks=(), received_at=datetime(1970, 1, 1, tzinfo=UTC), born=date(1960, 1, 1))
    assert rules.registered_in_future(f) is None


# order -------------------------------------------------------------------

FUTURE = RECEIVED + timedelta(days=1)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({"known": False}, ErrorCode.UNKNOWN_PERSON, id="14-before-280"),
        pytest.param(
            {"status": PersonStatus.DEAD, "municipality": KOBENHAVN, "born": date(1990, 1, 1)},
            ErrorCode.UNKNOWN_PERSON,
            id="14-before-86-15-280",
        ),
        pytest.param(
            {"institution": KUI_KOBENHAVN, "born": date(1990, 1, 1)},
            ErrorCode.NOT_AUTHORISED,
            id="86-before-15-280",
        ),
        pytest.param({"born": date(1990, 1, 1)}, ErrorCode.AGE_LIMIT, id="15-before-280"),
        pytest.param({}, ErrorCode.FUTURE_REGISTRATION, id="280-alone"),
    ],
)
def test_first_error_in_contract_order(changes: dict[str, object], expected: ErrorCode) -> None:
    assert check_report(facts(registered=FUTURE, **changes)) is expected  # type: ignore[arg-type]
