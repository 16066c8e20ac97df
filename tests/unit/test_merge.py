"""The merge rule: which registration time becomes current (interface.md section 5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from udb.domain.merge import supersedes

T = datetime(2026, 11, 20, 8, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("incoming", "current", "expected"),
    [
        pytest.param(T + timedelta(microseconds=1), T, True, id="newer"),
        pytest.param(T + timedelta(days=1), T, True, id="newer-by-a-day"),
        pytest.param(T - timedelta(microseconds=1), T, False, id="older"),
        pytest.param(T - timedelta(days=365), T, False, id="older-by-a-year"),
        pytest.param(T, T, True, id="equal-later-arrival-wins"),
        pytest.param(T, None, True, id="no-current"),
    ],
)
def test_supersedes(incoming: datetime, current: datetime | None, expected: bool) -> None:
    assert supersedes(incoming, current) is expected


def test_same_instant_in_another_offset_counts_as_equal() -> None:
    other = T.astimezone(timezone(timedelta(hours=1)))
    assert supersedes(other, T)
    assert supersedes(T, other)
