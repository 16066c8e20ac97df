"""`udb cpr import`: check, stage, apply; history; refusals. Uses the shared sample."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.support import NOW, SHARED
from udb.cli import main
from udb.domain.model import PersonStatus
from udb.formats.cpr_extract import ExtractReader
from udb.service.cpr_import import ImportOutcome, import_extract
from udb.storage import Store
from udb.synthetic import SyntheticPerson, write_extract

SAMPLE = SHARED / "data" / "cpr" / "fake-status-extract-80-persons.txt"
SAMPLE_UNSEPARATED = SHARED / "data" / "cpr" / "fake-status-extract-80-persons.unseparated.txt"


def statuses(store: Store, path: Path) -> Counter[str]:
    """The stored CPR status codes of the persons of the extract at ``path``."""
    numbers = [p.cpr for p in ExtractReader(path).persons()]
    with store.unit_of_work(readonly=True) as uow:
        stored = [uow.persons.get(cpr) for cpr in numbers]
    return Counter(p.cpr_status for p in stored if p is not None and p.cpr_status)


def extract(tmp_path: Path, name: str, persons: list[SyntheticPerson], day: int) -> Path:
    path = tmp_path / name
    write_extract(path, persons, production_date=date(2026, 11, day))
    return path


def test_the_sample_fills_the_register(store: Store) -> None:
    result = import_extract(store, SAMPLE, full=False, now=NOW)
    assert result.outcome is ImportOutcome.APPLIED
    assert result.record is not None and result.record.persons == 80
    assert result.record.counts.added == 80
    assert len(result.warnings) == 1 and "1098" in result.warnings[0]
    assert statuses(store, SAMPLE) == Counter(
        {"01": 69, "50": 1, "60": 3, "70": 1, "80": 3, "90": 3}
    )


def test_the_same_file_twice_changes_nothing(store: Store) -> None:
    assert import_extract(store, SAMPLE, full=True, now=NOW).outcome is ImportOutcome.APPLIED
    again = import_extract(store, SAMPLE, full=True, now=NOW)
    assert again.outcome is ImportOutcome.ALREADY_APPLIED
    with store.unit_of_work(readonly=True) as uow:
        assert len(uow.cpr_imports.list()) == 1


def test_both_forms_of_a_file_give_the_same_register(store: Store) -> None:
    import_extract(store, SAMPLE, full=True, now=NOW)
    result = import_extract(store, SAMPLE_UNSEPARATED, full=True, now=NOW)
    assert result.outcome is ImportOutcome.APPLIED and result.record is not None
    assert result.record.counts.unchanged == 80
    assert result.record.counts.added == result.record.counts.changed == 0


def test_a_full_file_unregisters_everyone_missing(store: Store, tmp_path: Path) -> None:
    a, b = "0101104230", "0202104230"
    import_extract(
        store,
        extract(tmp_path, "1.txt", [SyntheticPerson(a), SyntheticPerson(b)], 1),
        full=True,
        now=NOW,
    )
    result = import_extract(
        store, extract(tmp_path, "2.txt", [SyntheticPerson(a)], 2), full=True, now=NOW
    )
    assert result.record is not None
    # the first full file already unregistered the person of the test seed; now b goes
    assert result.record.counts.unregistered == 1
    assert result.record.counts.made_non_resident == 1
    with store.unit_of_work(readonly=True) as uow:
        gone = uow.persons.get(b)
        assert gone is not None and gone.status is PersonStatus.UNREGISTERED


def test_incremental_moves_deaths_and_changed_numbers(store: Store, tmp_path: Path) -> None:
    a, b, c = "0101104230", "0202104230", "0303104230"
    first = [SyntheticPerson(a), SyntheticPerson(b), SyntheticPerson(c)]
    import_extract(store, extract(tmp_path, "1.txt", first, 1), full=False, now=NOW)
    changes = [
        SyntheticPerson(a, municipality_code=101),
        SyntheticPerson(b, status="90", municipality_code=None),
        SyntheticPerson(c, status="60", municipality_code=None, current_cpr="0303104248"),
        SyntheticPerson("0303104248"),
    ]
    result = import_extract(store, extract(tmp_path, "2.txt", changes, 2), full=False, now=NOW)
    assert result.record is not None
    counts = result.record.counts
    assert (counts.added, counts.changed, counts.made_non_resident) == (1, 1, 2)
    with store.unit_of_work(readonly=True) as uow:
        moved, dead, old = (uow.persons.get(x) for x in (a, b, c))
        assert moved is not None and moved.municipality_code == 101 and moved.resident
        assert dead is not None and dead.status is PersonStatus.DEAD
        assert old is not None and old.status is PersonStatus.REPLACED
        assert old.replaced_by == "0303104248"
        assert uow.persons.get("1503084232") is not None  # not in the file: untouched


def test_an_older_file_is_refused_unless_forced(store: Store, tmp_path: Path) -> None:
    import_extract(
        store, extract(tmp_path, "new.txt", [SyntheticPerson("0101104230")], 10), full=True, now=NOW
    )
    old = extract(tmp_path, "old.txt", [SyntheticPerson("0202104230")], 3)
    refused = import_extract(store, old, full=True, now=NOW)
    assert refused.outcome is ImportOutcome.REFUSED_OLDER
    assert refused.newest_applied == date(2026, 11, 10)
    with store.unit_of_work(readonly=True) as uow:
        assert uow.persons.get("0202104230") is None
    forced = import_extract(store, old, full=True, now=NOW, force=True)
    assert (
        forced.outcome is ImportOutcome.APPLIED
        and forced.record is not None
        and forced.record.forced
    )


def test_a_bad_file_writes_nothing(store: Store, database_url: str, tmp_path: Path) -> None:
    path = extract(
        tmp_path, "bad.txt", [SyntheticPerson("0101104230"), SyntheticPerson("0202104230")], 1
    )
    lines = path.read_text("latin-1").splitlines(keepends=True)
    bad = [line if not line.startswith("001") else line[:23] + "42" + line[25:] for line in lines]
    path.write_text("".join(bad), "latin-1")
    result = import_extract(store, path, full=True, now=NOW)
    assert result.outcome is ImportOutcome.INVALID
    assert result.problem_count == 2  # every bad record, not only the first
    assert {(p.record_type, p.field) for p in result.problems} == {("001", "status")}
    with store.unit_of_work(readonly=True) as uow:
        assert uow.persons.get("0101104230") is None
        assert uow.cpr_imports.list() == []
        assert uow.persons.get("1503084232") is not None


def test_the_commands(store: Store, database_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    usage = runner.invoke(main, ["cpr", "import", str(SAMPLE), "--database", database_url])
    assert usage.exit_code == 2 and "--full or --incremental" in usage.output
    done = runner.invoke(main, ["cpr", "import", str(SAMPLE), "--full", "--database", database_url])
    assert done.exit_code == 0, done.output
    assert "80 persons" in done.output
    # the test seed's person is not in the sample: no longer in the register
    assert "added 80, changed 0, made non-resident 1, unchanged 0, warnings 1" in done.output
    assert "no longer in the register: 1" in done.output
    again = runner.invoke(
        main, ["cpr", "import", str(SAMPLE), "--full", "--database", database_url]
    )
    assert again.exit_code == 0 and "applied before" in again.output
    history = runner.invoke(main, ["cpr", "history", "--database", database_url])
    assert history.exit_code == 0
    assert SAMPLE.name in history.output and "full" in history.output and "111111" in history.output


@pytest.mark.parametrize("form", ["lines", "unseparated"])
def test_cli_lists_problems_with_positions(
    store: Store, database_url: str, tmp_path: Path, form: str
) -> None:
    path = tmp_path / "bad.txt"
    write_extract(
        path, [SyntheticPerson("0101104230")], production_date=date(2026, 11, 1), form=form
    )
    text = path.read_text("latin-1")
    path.write_text(text.replace("999", "998", 1) if form == "lines" else text[:-5], "latin-1")
    result = CliRunner().invoke(
        main, ["cpr", "import", str(path), "--full", "--database", database_url]
    )
    assert result.exit_code == 1
    assert "nothing was imported" in result.output
    assert ("line " if form == "lines" else "byte ") in result.output
    assert "0101104230" not in result.output
