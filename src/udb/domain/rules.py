"""The business rules behind the error codes, in the order they are checked.

interface.md section 4::

    14  the young person is unknown to UDB or does not live in Denmark
        (dead, emigrated, disappeared, no Danish address)
    86  the institution is not the KUI of the person's current home municipality,
        or the calling system may not report for that institution
    15  the young person has turned 25 on the Danish date of receipt
    280 a registration time lies after the moment of receipt

86 precedes 15 so that a municipality that may not see a person learns nothing
about that person's age. Each rule is a small function answering the error
code it stands for, or ``None``; :func:`check_report` runs them in order and
answers the first error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from udb.domain import cpr as cprnr
from udb.domain.clock import danish_date
from udb.domain.model import Block, ClientSystem, ErrorCode, Institution, Person, ReportContent

AGE_LIMIT_YEARS = 25


@dataclass(frozen=True, slots=True)
class Facts:
    """What the rules look at: the report and what UDB holds about its parties."""

    report: ReportContent
    person: Person | None
    institution: Institution | None
    system: ClientSystem
    received_at: datetime
    future_tolerance: timedelta = timedelta(0)


def anniversary(born: date, years: int) -> date:
    """The day a person born on ``born`` turns ``years`` old.

    Someone born on 29 February turns a year older on 1 March in years
    without 29 February.
    """
    year = born.year + years
    try:
        return born.replace(year=year)
    except ValueError:  # 29 February in a year that has none
        return date(year, 3, 1)


def has_turned(born: date, years: int, on: date) -> bool:
    """True if a person born on ``born`` is at least ``years`` old on ``on``."""
    return on >= anniversary(born, years)


def no_birth_date(report: ReportContent) -> ErrorCode | None:
    """14 before any lookup: a CPR number whose first six digits are no calendar date.

    No register can hold such a number, so it is unknown whoever asks.
    """
    if cprnr.birth_date(report.cpr) is None:
        return ErrorCode.UNKNOWN_PERSON
    return None


def unknown_or_not_resident(facts: Facts) -> ErrorCode | None:
    """14: the CPR number is not in the register, or the person does not live in Denmark.

    Not living in Denmark: dead, emigrated, disappeared, or without a current
    Danish address (no home municipality). A number whose first six digits are
    no calendar date cannot be in the register and is answered the same way.
    """
    person = facts.person
    if no_birth_date(facts.report) is not None or person is None:
        return ErrorCode.UNKNOWN_PERSON
    if not person.resident:
        return ErrorCode.UNKNOWN_PERSON
    return None


def not_home_municipality_kui(facts: Facts) -> ErrorCode | None:
    """86: only the KUI of the person's current home municipality may report.

    The institution number must belong to the person's municipality *and* the
    calling system must be authorised for that institution number.
    """
    person, institution = facts.person, facts.institution
    if institution is None or person is None:
        return ErrorCode.NOT_AUTHORISED
    if institution.municipality_code != person.municipality_code:
        return ErrorCode.NOT_AUTHORISED
    if institution.number not in facts.system.institutions:
        return ErrorCode.NOT_AUTHORISED
    return None


def past_age_limit(facts: Facts) -> ErrorCode | None:
    """15: the young person has turned 25 on the Danish date of receipt."""
    person = facts.person
    if person is None:  # rule 14 has answered already; kept total for direct callers
        return ErrorCode.UNKNOWN_PERSON
    if has_turned(person.birth_date, AGE_LIMIT_YEARS, danish_date(facts.received_at)):
        return ErrorCode.AGE_LIMIT
    return None


def registered_in_future(facts: Facts) -> ErrorCode | None:
    """280: a registration time lies after the moment of receipt (plus tolerance).

    A registration time exactly at the moment of receipt is allowed.
    """
    if blocks_in_future(facts.report, facts.received_at, facts.future_tolerance):
        return ErrorCode.FUTURE_REGISTRATION
    return None


def blocks_in_future(
    report: ReportContent, received_at: datetime, tolerance: timedelta = timedelta(0)
) -> tuple[Block, ...]:
    """The blocks whose registration time lies after ``received_at`` plus ``tolerance``."""
    latest = received_at + tolerance
    return tuple(block for block in report.blocks if block.registreringstid > latest)


RULES: tuple[Callable[[Facts], ErrorCode | None], ...] = (
    unknown_or_not_resident,
    not_home_municipality_kui,
    past_age_limit,
    registered_in_future,
)


#: the rules that decide whether a person may be read (HentKontaktJobOgUddOensker): the
#: report rules about the person, in the same order (280 is about a report's blocks)
READ_RULES: tuple[Callable[[Facts], ErrorCode | None], ...] = (
    unknown_or_not_resident,
    not_home_municipality_kui,
    past_age_limit,
)


def check_read(facts: Facts) -> ErrorCode | None:
    """14, 86 or 15 for a person the caller may not read (in that order), or ``None``.

    ``facts.report`` names the person and the institution (it carries no blocks).
    """
    for rule in READ_RULES:
        code = rule(facts)
        if code is not None:
            return code
    return None


def latest_birth_date_past_limit(on: date) -> date:
    """The latest birth date of a person who has turned 25 on ``on`` (rule 15).

    Everyone born after it is under 25 on ``on``.

    >>> latest_birth_date_past_limit(date(2028, 2, 29))
    datetime.date(2003, 2, 28)
    """
    try:
        candidate = on.replace(year=on.year - AGE_LIMIT_YEARS)
    except ValueError:  # 29 February, in a year that has none
        candidate = date(on.year - AGE_LIMIT_YEARS, 2, 28)
    return candidate


def check_report(facts: Facts) -> ErrorCode | None:
    """The first error code the report earns, in the contract's order, or ``None``."""
    for rule in RULES:
        code = rule(facts)
        if code is not None:
            return code
    return None
