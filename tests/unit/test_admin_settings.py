"""The admin listener's settings: off unless a port is given, loopback by default."""

from __future__ import annotations

import pytest

from udb.config import ConfigError, Settings


def test_off_and_on_loopback_by_default() -> None:
    settings = Settings.from_env({})
    assert (settings.admin_port, settings.admin_host) == (None, "127.0.0.1")


def test_from_the_environment_and_back() -> None:
    settings = Settings.from_env({"UDB_ADMIN_PORT": "9180", "UDB_ADMIN_HOST": "10.0.5.12"})
    assert (settings.admin_port, settings.admin_host) == (9180, "10.0.5.12")
    assert Settings.from_env(settings.to_env()) == settings
    assert Settings.from_env(Settings().to_env()).admin_port is None


def test_a_flag_wins_over_the_environment() -> None:
    assert Settings.from_env({"UDB_ADMIN_PORT": "9180"}, admin_port=9181).admin_port == 9181


@pytest.mark.parametrize("value", ["0", "65536"])
def test_a_port_out_of_range_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="the admin port must be between 1 and 65535"):
        Settings.from_env({"UDB_ADMIN_PORT": value})


def test_a_port_that_is_no_number_is_refused() -> None:
    with pytest.raises(ConfigError, match="UDB_ADMIN_PORT must be a whole number"):
        Settings.from_env({"UDB_ADMIN_PORT": "ninety"})
