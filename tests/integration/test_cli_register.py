"""Register commands: validate every row, then apply all or nothing; twice changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from udb.cli import main
from udb.storage import open_store


@pytest.fixture
def run(store, database_url: str):  # type: ignore[no-untyped-def]
    """Invoke `udb` on the seeded test database (store fixture)."""
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True):  # type: ignore[no-untyped-def]
        result = runner.invoke(main, [*args, "--database", database_url])
        assert (result.exit_code == 0) is ok, result.output
        return result

    return invoke


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_institutions_import_is_all_or_nothing_and_idempotent(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = write(
        tmp_path,
        "bad.csv",
        "institution_number,municipality_code,name\n"
        "990001,990,KUI Prøvekommune\n"
        "x,990,bad number\n"
        "990002,9999,bad code\n"
        "990001,990,duplicate\n"
        "990003,990\n"
        "990004,990,\n",
    )
    result = run("institutions", "import", bad, ok=False)
    for line in ("line 3", "line 4", "line 5", "line 6", "line 7"):
        assert line in result.output
    # row problems and problems against the database come in one run
    assert "line 2: municipality_code 990 is not a known municipality" in result.output
    assert "line 5: institution_number 990001 also on line 2" in result.output
    assert "nothing was imported" in result.output

    good = write(
        tmp_path, "good.csv", "institution_number,municipality_code,name\n751002,751,KUI 2\n"
    )
    assert "1 added, 0 changed, 0 unchanged" in run("institutions", "import", good).output
    assert "0 added, 0 changed, 1 unchanged" in run("institutions", "import", good).output


def test_an_institution_needs_a_known_municipality(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, "i.csv", "institution_number,municipality_code,name\n990001,990,KUI\n")
    result = run("institutions", "import", path, ok=False)
    assert "line 2: municipality_code 990 is not a known municipality" in result.output
    munis = write(tmp_path, "m.csv", "municipality_code,name\n990,Prøvekommune\n")
    run("municipalities", "import", munis)
    assert "1 added" in run("institutions", "import", path).output


def test_a_wrong_header_is_refused(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, "p.csv", "cpr,municipality_code,status\n1503084232,751,active\n")
    assert (
        "header must be exactly cpr,status,municipality_code"
        in run("persons", "import", path, ok=False).output
    )


def test_persons_import_checks_every_row_without_printing_cpr_numbers(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write(
        tmp_path,
        "p.csv",
        "cpr,status,municipality_code\n"
        "1010104238,active,751\n"
        "3102104238,active,751\n"
        "12345,active,751\n"
        "0101104230,asleep,751\n"
        "0202104230,active,\n"
        "0303104230,dead,\n",
    )
    result = run("persons", "import", path, ok=False)
    assert "line 3: cpr 310210-**** does not start with a valid birth date" in result.output
    assert "line 4: cpr must be exactly 10 digits" in result.output
    assert "line 5: status must be one of active, dead, emigrated, disappeared" in result.output
    assert "line 6: municipality_code is required for an active person" in result.output
    for number in ("3102104238", "0101104230", "0202104230"):
        assert number not in result.output
    ok = write(
        tmp_path,
        "ok.csv",
        "cpr,status,municipality_code\n1010104238,active,751\n0303104230,dead,\n",
    )
    assert "2 added, 0 changed, 0 unchanged" in run("persons", "import", ok).output
    assert "0 added, 0 changed, 2 unchanged" in run("persons", "import", ok).output


def test_systems_add_and_list(run) -> None:  # type: ignore[no-untyped-def]
    result = run(
        "systems", "add", "Nyt-System", "--institution", "751001", "--institution", "101001"
    )
    assert "Nyt-System: may report for institution(s) 101001, 751001" in result.output
    assert (
        "unknown institution number(s): 5"
        in run("systems", "add", "X", "--institution", "5", ok=False).output
    )
    listing = run("systems", "list").output
    assert "Nyt-System\tinstitutions: 101001, 751001" in listing
    assert "X\t" not in listing


def test_persons_show_json_has_the_documented_keys(run) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(run("persons", "show", "1503084232", "--json").output)
    assert data == {
        "cpr": "1503084232",
        "birth_date": "2008-03-15",
        "status": "active",
        "municipality_code": 751,
        "cpr_status": None,
        "replaced_by": None,
        "kontakt": None,
        "job": None,
        "uddannelse": None,
        "history_count": 0,
        "report_count": 0,
    }
    assert "no person" in run("persons", "show", "0101010101", ok=False).output


def test_persons_in_an_unknown_municipality_are_imported_with_a_warning(
    run, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """The CPR register is the authority on where people live; the table may lag behind."""
    path = write(
        tmp_path,
        "p.csv",
        "cpr,status,municipality_code\n"
        "1010104238,active,751\n"
        "0404104230,active,990\n"
        "0505104230,active,990\n"
        "0606104230,active,991\n"
        "0707104230,dead,992\n",
    )
    result = run("persons", "import", path)
    assert "persons: 5 added, 0 changed, 0 unchanged" in result.output
    assert (
        "warning: 3 person(s) live in municipality codes not in the municipality table:"
        " 990 (2), 991 (1);" in result.output
    )
    assert "992" not in result.output  # the dead person lives nowhere: no warning
    assert "reports about them get 86" in result.output
    for number in ("0404104230", "0505104230", "0606104230"):
        assert number not in result.output


def test_demo_into_a_database_with_data_of_its_own_is_refused(run) -> None:  # type: ignore[no-untyped-def]
    result = run("demo", ok=False)
    assert result.output.count("\n") == 1
    assert "Error: the database holds data that is not the demo's (2 institution(s))" in (
        result.output
    )
    assert "or --force to add the demo anyway" in result.output
    assert "Vejledningssystem-Koebenhavn" not in run("systems", "list").output
    assert "Loaded the synthetic demo data set" in run("demo", "--force").output


def test_demo_loads_everything_and_twice_changes_nothing(database_url: str) -> None:
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(main, [*args, "--database", database_url])
        assert result.exit_code == 0, result.output
        return result.output

    first = run("demo")
    assert "98 municipalities" in first and "curl" in first
    run("demo")
    listing = run("systems", "list")
    assert "Vejledningssystem-Aarhus\tinstitutions: 751001" in listing
    assert "Vejledningssystem-Koebenhavn\tinstitutions: 101001" in listing


def test_a_file_that_is_not_utf8_names_the_line(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "m.csv"
    path.write_bytes("municipality_code,name\n461,Odense\n751,\xc5rhus\n".encode("latin-1"))
    assert (
        "line 3: the file is not UTF-8 text"
        in run("municipalities", "import", str(path), ok=False).output
    )


def test_an_empty_file_is_refused(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, "empty.csv", "")
    assert "line 1: the file is empty" in run("institutions", "import", path, ok=False).output


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_fresh_database_knows_the_98_municipalities(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Institutions import into a new database at once; municipalities import still changes."""
    url = (
        str(request.getfixturevalue("postgres_url"))
        if backend == "postgresql"
        else "sqlite:///" + str(tmp_path / "fresh.sqlite3")
    )
    runner = CliRunner()

    def invoke(*args: str) -> str:
        result = runner.invoke(main, [*args, "--database", url])
        assert result.exit_code == 0, result.output
        return result.output

    kuis = write(tmp_path, "i.csv", "institution_number,municipality_code,name\n461001,461,KUI\n")
    assert "institutions: 1 added" in invoke("institutions", "import", kuis)
    store = open_store(url)
    try:
        with store.unit_of_work(readonly=True) as uow:
            known = {m.code: m.name for m in uow.municipalities.list()}
    finally:
        store.close()
    assert len(known) == 98 and known[101] == "København" and known[860] == "Hjørring"
    renamed = write(tmp_path, "m.csv", "municipality_code,name\n461,Odense Kommune\n")
    first, again = (invoke("municipalities", "import", renamed) for _ in range(2))
    assert "municipalities: 0 added, 1 changed, 0 unchanged" in first
    assert "municipalities: 0 added, 0 changed, 1 unchanged" in again
