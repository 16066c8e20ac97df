"""Settings from the environment, checked on construction."""

from __future__ import annotations

from datetime import timedelta

import pytest

from udb.config import ConfigError, Settings


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite:///./udb.sqlite3"
    assert settings.max_body_bytes == 65536
    assert settings.future_tolerance == timedelta(0)
    assert settings.public_url is None


def test_environment_then_overrides() -> None:
    env = {
        "UDB_DATABASE_URL": "sqlite:////var/lib/udb/udb.sqlite3",
        "UDB_MAX_BODY_BYTES": "131072",
        "UDB_FUTURE_TOLERANCE_S": "30",
        "UDB_THREADS": "4",
        "UDB_PUBLIC_URL": "https://udb.example.dk",
    }
    settings = Settings.from_env(env, threads=16, max_body_bytes=None)
    assert settings.max_body_bytes == 131072
    assert settings.future_tolerance == timedelta(seconds=30)
    assert settings.threads == 16
    assert Settings.from_env(settings.to_env()) == settings


@pytest.mark.parametrize(
    "env",
    [
        {"UDB_MAX_BODY_BYTES": "lots"},
        {"UDB_MAX_BODY_BYTES": "100"},
        {"UDB_FUTURE_TOLERANCE_S": "-1"},
        {"UDB_THREADS": "0"},
        {"UDB_PUBLIC_URL": "udb.example.dk"},
        {"UDB_PUBLIC_URL": "ftp://udb.example.dk"},
        {"UDB_PUBLIC_URL": "https://udb.example.dk/?x=1"},
    ],
)
def test_bad_values_are_refused_with_a_message(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        Settings.from_env(env)


def test_the_read_back_page_size() -> None:
    assert Settings().fetch_page_size == 500
    settings = Settings.from_env({"UDB_FETCH_PAGE_SIZE": "3"})
    assert settings.fetch_page_size == 3
    assert settings.to_env()["UDB_FETCH_PAGE_SIZE"] == "3"
    for bad in ("0", "5001", "many"):
        with pytest.raises(ConfigError, match="UDB_FETCH_PAGE_SIZE"):
            Settings.from_env({"UDB_FETCH_PAGE_SIZE": bad})
