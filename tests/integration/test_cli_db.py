"""`udb db migrate` and `udb db check`."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from udb.cli import main
from udb.storage.migrations import latest_version


def test_check_then_migrate_then_check(tmp_path: Path) -> None:
    url = "sqlite:///" + str(tmp_path / "new.sqlite3")
    runner = CliRunner()
    before = runner.invoke(main, ["db", "check", "--database", url])
    assert before.exit_code == 1 and "schema version 0" in before.output
    assert "udb db migrate" in before.output
    migrated = runner.invoke(main, ["db", "migrate", "--database", url])
    assert migrated.exit_code == 0 and f"schema version {latest_version()}" in migrated.output
    again = runner.invoke(main, ["db", "migrate", "--database", url])
    assert "up to date" in again.output
    after = runner.invoke(main, ["db", "check", "--database", url])
    assert after.exit_code == 0 and "database reachable (sqlite)" in after.output


def test_an_unreachable_database_fails_the_check(tmp_path: Path) -> None:
    url = "sqlite:///" + str(tmp_path / "no-such-dir" / "udb.sqlite3")
    result = CliRunner().invoke(main, ["db", "check", "--database", url])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: cannot open the database {url}: the directory {tmp_path / 'no-such-dir'} "
        "does not exist: create it, or correct the database URL\n"
    )
