"""Danish time.

The service answers in terms of the Danish calendar: a young person's age is
counted on the *Danish* date of receipt, and a registration time written
without a zone offset is Danish local time (Europe/Copenhagen, with summer
time).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

DANISH_TZ = ZoneInfo("Europe/Copenhagen")


def to_instant(value: datetime) -> datetime:
    """Return ``value`` as an aware instant in UTC.

    A naive value is Danish local time. Wall-clock times that occur twice when
    summer time ends (02:00-03:00 on the last Sunday of October) are read as the
    first occurrence (summer time, ``fold=0``); wall-clock times that do not
    exist when summer time starts (02:00-03:00 on the last Sunday of March) are
    read with the offset in force before the change (+01:00), which is how
    :mod:`zoneinfo` resolves them.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=DANISH_TZ, fold=0)
    return value.astimezone(UTC)


def danish_date(instant: datetime) -> date:
    """The calendar date in Denmark at ``instant`` (an aware datetime)."""
    if instant.tzinfo is None:
        raise ValueError("danish_date needs an aware datetime")
    return instant.astimezone(DANISH_TZ).date()


def utc_now() -> datetime:
    """The current instant, aware, in UTC."""
    return datetime.now(UTC)


ZERO = timedelta(0)
