"""The retention settings and the age limit's arithmetic (udb.config, udb.service.retention)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from udb.cli.retention import policy_of
from udb.config import ConfigError, Settings
from udb.domain.rules import has_turned
from udb.service.retention import RetentionPolicy, cutoffs, turned_25_by


def test_the_defaults_keep_nothing_past_25_ninety_days_after_leaving_and_logs_400_days() -> None:
    settings = Settings.from_env({})
    assert settings.retention is True
    assert settings.retention_interval == timedelta(days=1)
    assert policy_of(settings) == RetentionPolicy(
        after_25=timedelta(0), gone=timedelta(days=90), logs=timedelta(days=400)
    )


def test_the_settings_come_from_the_environment_and_reach_the_workers() -> None:
    env = {
        "UDB_RETENTION": "off",
        "UDB_RETENTION_INTERVAL_S": "3600",
        "UDB_RETENTION_AFTER_25_DAYS": "30",
        "UDB_RETENTION_GONE_DAYS": "180",
        "UDB_RETENTION_LOG_DAYS": "730",
    }
    settings = Settings.from_env(env)
    assert settings.retention is False
    assert settings.retention_interval == timedelta(hours=1)
    assert policy_of(settings) == RetentionPolicy(
        timedelta(days=30), timedelta(days=180), timedelta(days=730)
    )
    assert Settings.from_env(settings.to_env()) == settings
    assert Settings.from_env(env, retention=True).retention is True


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"UDB_RETENTION": "sometimes"}, "UDB_RETENTION must be true or false"),
        ({"UDB_RETENTION_INTERVAL_S": "0"}, "the retention interval must be between 1"),
        ({"UDB_RETENTION_GONE_DAYS": "-1"}, "UDB_RETENTION_GONE_DAYS must be a whole number of"),
        ({"UDB_RETENTION_LOG_DAYS": "36501"}, "UDB_RETENTION_LOG_DAYS must be a whole number of"),
        ({"UDB_RETENTION_LOG_DAYS": "9" * 30}, "UDB_RETENTION_LOG_DAYS must be a whole number of"),
        ({"UDB_RETENTION_INTERVAL_S": "9" * 30}, "the retention interval must be between 1"),
        ({"UDB_RETENTION_AFTER_25_DAYS": "x"}, "UDB_RETENTION_AFTER_25_DAYS must be a whole"),
    ],
)
def test_an_unusable_setting_says_which_and_what_is_allowed(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


@pytest.mark.parametrize(
    "today",
    [date(2026, 11, 26), date(2028, 2, 29), date(2029, 2, 28), date(2029, 3, 1), date(2025, 1, 1)],
)
def test_turned_25_by_is_the_last_birth_date_rule_15_counts_as_25(today: date) -> None:
    for after in (timedelta(0), timedelta(days=30)):
        born = turned_25_by(today, after)
        limit = today - after
        assert has_turned(born, 25, limit)
        assert not has_turned(born + timedelta(days=1), 25, limit)


def test_ages_count_on_the_danish_date() -> None:
    # 23:30 UTC on 25 November is already 26 November in Denmark
    now = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)
    limits = cutoffs(RetentionPolicy(), now)
    assert limits.born_by == date(2001, 11, 26)
    assert limits.gone_before == now - timedelta(days=90)
    assert limits.logs_before == now - timedelta(days=400)
