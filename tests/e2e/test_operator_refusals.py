"""Operator commands that would overwrite or pollute something refuse, in one line.

`udb dev-certs` into a directory that holds certificates, `udb demo` into a
database with data of its own; and the shell completion the README documents.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import UDB, udb
from tests.support import sqlite_url


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The command failed with exactly one line on stderr, and no traceback."""
    assert result.returncode != 0, result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*UDB, *args], capture_output=True, text=True, timeout=60)


def test_dev_certs_twice_refuses_and_writes_nothing_unless_forced(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    assert run("dev-certs", str(pki)).returncode == 0
    before = {p.name: p.read_bytes() for p in pki.iterdir()}
    assert len(before) == 6

    line = one_error_line(run("dev-certs", str(pki)))
    for name in before:
        assert name in line
    assert "nothing was written" in line and "--force" in line
    assert {p.name: p.read_bytes() for p in pki.iterdir()} == before

    (pki / "ca.pem").unlink()  # one file missing: the others are still refused
    assert "ca.pem" not in one_error_line(run("dev-certs", str(pki)))

    forced = run("dev-certs", str(pki), "--force")
    assert forced.returncode == 0, forced.stderr
    after = {p.name: p.read_bytes() for p in pki.iterdir()}
    assert after.keys() == before.keys()
    assert after["client-key.pem"] != before["client-key.pem"]
    assert (pki / "client-key.pem").stat().st_mode & 0o077 == 0


def test_demo_refuses_a_database_with_data_of_its_own(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    institutions = tmp_path / "i.csv"
    institutions.write_text("institution_number,municipality_code,name\n461999,461,KUI Odense\n")
    udb("institutions", "import", str(institutions), database_url=url)
    udb("systems", "add", "Odense-System", "--institution", "461999", database_url=url)

    line = one_error_line(udb("demo", database_url=url, check=False))
    assert "holds data that is not the demo's (1 client system(s), 1 institution(s))" in line
    assert "nothing was loaded" in line and "--force" in line
    listing = udb("systems", "list", database_url=url).stdout
    assert "Vejledningssystem-Aarhus" not in listing
    persons = udb("persons", "show", "1503084232", database_url=url, check=False)
    assert persons.returncode == 1  # no invented person was added

    assert udb("demo", "--force", database_url=url).returncode == 0
    assert "Vejledningssystem-Aarhus" in udb("systems", "list", database_url=url).stdout


def test_demo_again_on_the_demo_in_use_is_allowed(tmp_path: Path) -> None:
    """`make run` loads the demo at every start, after the last run's reports."""
    url = sqlite_url(tmp_path)
    udb("demo", database_url=url)
    client = tmp_path / "pki"
    run("dev-certs", str(client))
    udb(
        "systems", "add", "Vejledningssystem-Aarhus", "--institution", "751001",
        "--cert", str(client / "client.pem"), database_url=url,
    )  # fmt: skip
    udb("systems", "disable", "Vejledningssystem-Koebenhavn", database_url=url)
    again = udb("demo", database_url=url, check=False)
    assert again.returncode == 0, again.stderr
    assert "Loaded the synthetic demo data set" in again.stdout


def test_a_persons_file_makes_the_demo_refuse(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    udb("demo", database_url=url)
    persons = tmp_path / "p.csv"
    persons.write_text("cpr,status,municipality_code\n1104094230,active,751\n")
    udb("persons", "import", str(persons), database_url=url)
    line = one_error_line(udb("demo", database_url=url, check=False))
    assert "(1 person(s))" in line
    assert "1104094230" not in line


def test_shell_completion_scripts_are_produced() -> None:
    """The README's completion lines: the installed `udb` command writes each script."""
    command = Path(sys.executable).parent / "udb"
    for shell, marker in (
        ("bash", "complete -o nosort -F"),
        ("zsh", "compdef"),
        ("fish", "complete"),
    ):
        result = subprocess.run(
            [str(command)],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "_UDB_COMPLETE": f"{shell}_source"},
        )
        assert result.returncode == 0, result.stderr
        assert marker in result.stdout and "_UDB_COMPLETE" in result.stdout, shell
