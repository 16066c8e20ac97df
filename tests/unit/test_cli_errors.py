"""The ``udb`` command never shows a traceback (udb.cli.Commands), unless UDB_DEBUG=1."""

from __future__ import annotations

import os
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from udb.cli import Commands, main
from udb.storage import StorageError

HINT = " (run again with UDB_DEBUG=1 to see the traceback, and report it)"


def _group(error: BaseException) -> click.Group:
    @click.group(cls=Commands)
    def group() -> None:
        """A group like ``udb``."""

    @group.command()
    def fail() -> None:
        raise error

    return group


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (
            RuntimeError("no person 1503084232\nsecond line"),
            "Error: unexpected RuntimeError: no person 150308-****" + HINT,
        ),
        (KeyError(), "Error: unexpected KeyError" + HINT),
        (
            PermissionError(13, "Permission denied"),
            "Error: unexpected PermissionError: [Errno 13] Permission denied" + HINT,
        ),
        (
            StorageError("SQLite failed: SQLITE_FULL"),
            "Error: the database failed: SQLite failed: SQLITE_FULL",
        ),
    ],
)
def test_an_unexpected_exception_is_one_line(
    error: BaseException, line: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("UDB_DEBUG", raising=False)
    result = CliRunner().invoke(_group(error), ["fail"])
    assert result.exit_code == 1
    assert result.output == line + "\n"


def test_udb_debug_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UDB_DEBUG", "1")
    error = RuntimeError("boom")
    result = CliRunner().invoke(_group(error), ["fail"])
    assert result.exception is error


def test_clicks_own_errors_are_left_to_click(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UDB_DEBUG", raising=False)
    usage = CliRunner().invoke(_group(click.UsageError("--a and --b go together")), ["fail"])
    assert usage.exit_code == 2 and "Error: --a and --b go together" in usage.output
    plain = CliRunner().invoke(_group(click.ClickException("what to fix")), ["fail"])
    assert plain.exit_code == 1 and plain.output == "Error: what to fix\n"


def test_the_udb_command_is_such_a_group() -> None:
    assert isinstance(main, Commands)


def test_the_real_command_prints_one_line_on_stderr() -> None:
    """``python -m udb`` in a process of its own, with a command that fails unexpectedly."""
    script = (
        "import sys, click\n"
        "from udb.cli import main\n"
        "@main.command()\n"
        "def fail():\n"
        "    raise ValueError('no such thing 1503084232')\n"
        "main(['fail'])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "UDB_DEBUG"}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "Error: unexpected ValueError: no such thing 150308-****" + HINT + "\n"
    )
