"""Danish time: reading registration times and the Danish date of receipt."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from udb.domain.clock import danish_date, to_instant, utc_now


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def offset(hours: int) -> timezone:
    return timezone(timedelta(hours=hours))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(datetime(2026, 1, 15, 12, 0, tzinfo=UTC), utc(2026, 1, 15, 12, 0), id="Z"),
        pytest.param(
            datetime(2026, 1, 15, 12, 0, tzinfo=offset(1)), utc(2026, 1, 15, 11), id="+01"
        ),
        pytest.param(
            datetime(2026, 7, 15, 12, 0, tzinfo=offset(-5)), utc(2026, 7, 15, 17), id="-05"
        ),
        pytest.param(
            datetime(2026, 1, 15, 23, 30, tzinfo=offset(-5)), utc(2026, 1, 16, 4, 30), id="next-day"
        ),
    ],
)
def test_value_with_offset_keeps_its_instant(value: datetime, expected: datetime) -> None:
    result = to_instant(value)
    assert result == expected
    assert result.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        pytest.param(datetime(2026, 1, 15, 12, 0), utc(2026, 1, 15, 11, 0), id="winter+01"),
        pytest.param(datetime(2026, 7, 15, 12, 0), utc(2026, 7, 15, 10, 0), id="summer+02"),
        # summer time starts on Sunday 29 March 2026 at 02:00 (-> 03:00)
        pytest.param(datetime(2026, 3, 28, 12, 0), utc(2026, 3, 28, 11, 0), id="28-march"),
        pytest.param(datetime(2026, 3, 29, 1, 30), utc(2026, 3, 29, 0, 30), id="29-march-01:30"),
        pytest.param(datetime(2026, 3, 29, 2, 30), utc(2026, 3, 29, 1, 30), id="29-march-gap"),
        pytest.param(datetime(2026, 3, 29, 3, 30), utc(2026, 3, 29, 1, 30), id="29-march-03:30"),
        pytest.param(datetime(2026, 3, 30, 12, 0), utc(2026, 3, 30, 10, 0), id="30-march"),
        # summer time ends on Sunday 25 October 2026 at 03:00 (-> 02:00)
        pytest.param(datetime(2026, 10, 24, 12, 0), utc(2026, 10, 24, 10, 0), id="24-october"),
        pytest.param(datetime(2026, 10, 25, 1, 30), utc(2026, 10, 24, 23, 30), id="25-oct-01:30"),
        pytest.param(datetime(2026, 10, 25, 2, 30), utc(2026, 10, 25, 0, 30), id="25-oct-twice"),
        pytest.param(
            datetime(2026, 10, 25, 2, 30, fold=1), utc(2026, 10, 25, 0, 30), id="25-oct-fold-1"
        ),
        pytest.param(datetime(2026, 10, 25, 3, 30), utc(2026, 10, 25, 2, 30), id="25-oct-03:30"),
        pytest.param(datetime(2026, 10, 26, 12, 0), utc(2026, 10, 26, 11, 0), id="26-october"),
    ],
)
def test_value_without_offset_is_danish_local_time(local: datetime, expected: datetime) -> None:
    result = to_instant(local)
    assert result == expected
    assert result.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        pytest.param(utc(2026, 1, 14, 22, 59), date(2026, 1, 14), id="winter-before"),
        pytest.param(utc(2026, 1, 14, 23, 0), date(2026, 1, 15), id="winter-midnight"),
        pytest.param(utc(2026, 1, 14, 23, 30), date(2026, 1, 15), id="winter-23:30Z"),
        pytest.param(utc(2026, 7, 14, 21, 59), date(2026, 7, 14), id="summer-before"),
        pytest.param(utc(2026, 7, 14, 22, 30), date(2026, 7, 15), id="summer-22:30Z"),
        pytest.param(utc(2026, 12, 31, 23, 30), date(2027, 1, 1), id="new-year"),
        pytest.param(
            datetime(2026, 1, 14, 18, 30, tzinfo=offset(-5)), date(2026, 1, 15), id="other-offset"
        ),
    ],
)
def test_danish_date(instant: datetime, expected: date) -> None:
    assert danish_date(instant) == expected


def test_danish_date_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="aware"):
        danish_date(datetime(2026, 1, 14, 23, 30))


def test_utc_now_is_aware_utc() -> None:
    assert utc_now().utcoffset() == timedelta(0)
