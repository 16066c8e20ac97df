"""The register's inputs agree with each other, and their messages speak the operator's language.

Semicolon- and tab-separated CSV files (what Danish Excel writes) for every
import, unknown municipalities treated alike by `persons import` and
`cpr import`, every documented status value, a CPR file asked as the other kind.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tests.e2e.conftest import Server, start_server, stop_server, udb
from tests.e2e.soap import answer, example, with_stid
from tests.e2e.test_operator_refusals import one_error_line
from tests.support import sqlite_url
from udb.synthetic import SyntheticPerson, write_extract

SEPARATORS = {"comma": ",", "semicolon": ";", "tab": "\t"}


def csv(path: Path, separator: str, *rows: str) -> str:
    """Rows written with commas, separated by ``separator`` instead."""
    path.write_text("".join(row.replace(",", separator) + "\n" for row in rows), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("separator", SEPARATORS.values(), ids=SEPARATORS.keys())
def test_every_import_reads_commas_semicolons_and_tabs(tmp_path: Path, separator: str) -> None:
    url = sqlite_url(tmp_path)
    m = csv(tmp_path / "m.csv", separator, "municipality_code,name", "461,Odense Kommune")
    i = csv(
        tmp_path / "i.csv", separator, "institution_number,municipality_code,name",
        "461999,461,KUI Odense; Ungeenheden",
    )  # fmt: skip
    p = csv(tmp_path / "p.csv", separator, "cpr,status,municipality_code", "1104094230,active,461")
    if separator == ";":  # a value with a comma is no field boundary in a semicolon file
        i = csv(
            tmp_path / "i.csv", separator, "institution_number,municipality_code,name",
            '461999,461,"KUI Odense, Ungeenheden"',
        )  # fmt: skip
    assert "1 changed" in udb("municipalities", "import", m, database_url=url).stdout
    assert "1 added" in udb("institutions", "import", i, database_url=url).stdout
    assert "persons: 1 added" in udb("persons", "import", p, database_url=url).stdout
    listed = udb("institutions", "list", "--json", database_url=url).stdout
    assert "KUI Odense" in listed and "Odense Kommune" in listed


def test_a_wrong_header_names_the_separators_it_accepts(tmp_path: Path) -> None:
    path = csv(tmp_path / "p.csv", ";", "cpr,kommune,status", "1104094230,461,active")
    result = udb("persons", "import", path, database_url=sqlite_url(tmp_path), check=False)
    assert result.returncode == 1
    assert (
        "line 1: the header must be exactly cpr,status,municipality_code"
        " (separated by commas, semicolons or tabs)" in result.stderr
    )


@pytest.fixture
def server(tmp_path: Path) -> Server:
    srv = start_server(tmp_path)
    yield srv  # type: ignore[misc]
    stop_server(srv)


def report(server: Server, cpr: str) -> int | None:
    body = with_stid(example("request.xml").replace(b"1503084232", cpr.encode()))
    return answer(server.post(body)).code


def test_unknown_municipalities_are_imported_with_a_warning_by_both_imports(
    server: Server, tmp_path: Path
) -> None:
    persons = csv(
        tmp_path / "p.csv", ";", "cpr,status,municipality_code",
        "1104094230,active,998", "1205084238,active,998", "1306074236,dead,",
    )  # fmt: skip
    result = udb("persons", "import", persons, database_url=server.database_url)
    assert "persons: 3 added" in result.stdout
    warning = result.stderr.strip()
    assert warning.startswith(
        "warning: 2 person(s) live in municipality codes not in the municipality table: 998 (2);"
    )
    assert "reports about them get 86" in warning and "\n" not in warning

    extract = tmp_path / "extract.txt"
    write_extract(
        extract,
        [SyntheticPerson("1401094232", municipality_code=997), SyntheticPerson("1501094230")],
        production_date=date(2026, 11, 1),
    )
    imported = udb("cpr", "import", str(extract), "--incremental", database_url=server.database_url)
    assert "warning: 1 person(s) live in municipality codes not in the municipality table:" in (
        imported.stderr
    )
    assert "997 (1)" in imported.stderr
    assert "warnings 1" in imported.stdout
    for cpr in ("1104094230", "1401094232"):
        assert report(server, cpr) == 86  # no KUI of that municipality
        assert cpr not in result.stderr + imported.stderr
    assert report(server, "1501094230") is None  # lives in Aarhus: accepted


def test_every_documented_status_is_read_and_a_wrong_one_lists_them(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    statuses = (
        "dead", "emigrated", "disappeared", "greenland", "no_residence",
        "cancelled", "replaced", "unregistered",
    )  # fmt: skip
    cprs = ("0101054231", "0202054230", "0303054239", "0404054238", "0505054237",
            "0606054236", "0707054235", "0808054234")  # fmt: skip
    rows = [f"{cpr},{status}," for cpr, status in zip(cprs, statuses, strict=True)]
    path = csv(
        tmp_path / "p.csv", ",", "cpr,status,municipality_code", *rows, "1104094230,active,751"
    )
    assert "persons: 9 added" in udb("persons", "import", path, database_url=url).stdout
    shown = udb("persons", "show", "0404054238", "--json", database_url=url).stdout
    assert '"status": "greenland"' in shown

    bad = csv(tmp_path / "b.csv", ",", "cpr,status,municipality_code", "1104094230,asleep,751")
    result = udb("persons", "import", bad, database_url=url, check=False)
    assert result.returncode == 1
    assert (
        "line 2: status must be one of active, dead, emigrated, disappeared, greenland,"
        " no_residence, cancelled, replaced, unregistered" in result.stderr
    )


def test_a_cpr_file_applied_as_incremental_is_not_silently_taken_as_full(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    udb("db", "migrate", database_url=url)
    extract = tmp_path / "extract.txt"
    write_extract(extract, [SyntheticPerson("1104094230")], production_date=date(2026, 11, 1))
    udb("cpr", "import", str(extract), "--incremental", database_url=url)

    same = udb("cpr", "import", str(extract), "--incremental", database_url=url)
    assert "was applied before" in same.stdout and "nothing changed" in same.stdout

    line = one_error_line(
        udb("cpr", "import", str(extract), "--full", database_url=url, check=False)
    )
    assert "extract.txt was applied before on " in line
    assert "as --incremental, so it was not applied as --full" in line
    assert "nothing changed" in line
    history = udb("cpr", "history", database_url=url).stdout
    assert "full" not in history  # recorded once, as incremental

    both = udb(
        "cpr", "import", str(extract), "--full", "--incremental", database_url=url, check=False
    )
    assert both.returncode == 2
    assert "say whether the file is --full or --incremental (one of them, not both)" in both.stderr


def test_number_options_say_which_values_they_take(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    result = udb("systems", "add", "X", "--institution", "75x", database_url=url, check=False)
    assert result.returncode == 2
    assert (
        "Invalid value for '--institution': 75x is not an institution number"
        " (a whole number from 1 to 2147483647)" in result.stderr
    )
    assert "<=x<=" not in result.stderr and "integer" not in result.stderr
    days = udb("systems", "rotate", "X", "--cert", __file__, "--overlap-days", "400",
               database_url=url, check=False)  # fmt: skip
    assert "400 is not a number of days (a whole number from 0 to 365)" in days.stderr
    unknown = udb("systems", "disable", "Ukendt", database_url=url, check=False)
    assert one_error_line(unknown) == (
        "Error: no client system is named Ukendt (`udb systems list` shows the registered ones)"
    )
