"""The CPR extract reader on the shared sample, round trips and a large file."""

from __future__ import annotations

import tracemalloc
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from tests.support import SHARED
from udb.domain.cpr import birth_date
from udb.formats.cpr_extract import (
    CprPerson,
    ExtractHeader,
    ExtractProblem,
    ExtractReader,
    Position,
    check,
)
from udb.synthetic import SyntheticPerson, synthetic_cprs, write_extract

SAMPLES = SHARED / "data" / "cpr"
LINES = SAMPLES / "fake-status-extract-80-persons.txt"
UNSEPARATED = SAMPLES / "fake-status-extract-80-persons.unseparated.txt"
PRODUCED = date(2026, 1, 5)


def _read(path: Path) -> tuple[ExtractReader, list[CprPerson]]:
    reader = ExtractReader(path)
    return reader, list(reader.persons())


def _fields(p: CprPerson) -> tuple[object, ...]:
    return (p.cpr, p.status, p.current_cpr, p.birth_date, p.municipality_code)


# --- the shared sample, in both forms -----------------------------------------


@pytest.fixture(scope="module")
def sample_lines() -> tuple[ExtractReader, list[CprPerson]]:
    return _read(LINES)


@pytest.fixture(scope="module")
def sample_unseparated() -> tuple[ExtractReader, list[CprPerson]]:
    return _read(UNSEPARATED)


def test_sample_forms_are_detected(
    sample_lines: tuple[ExtractReader, list[CprPerson]],
    sample_unseparated: tuple[ExtractReader, list[CprPerson]],
) -> None:
    assert sample_lines[0].form == "lines"
    assert sample_unseparated[0].form == "unseparated"


@pytest.mark.parametrize("which", ["sample_lines", "sample_unseparated"])
def test_sample_has_80_persons_no_problems_and_the_counter_warning(
    which: str, request: pytest.FixtureRequest
) -> None:
    reader, persons = request.getfixturevalue(which)
    assert len(persons) == 80
    assert Counter(p.status for p in persons) == {
        "01": 69, "50": 1, "60": 3, "70": 1, "80": 3, "90": 3
    }  # fmt: skip
    assert reader.problems == []
    assert reader.problem_count == 0
    assert len(reader.warnings) == 1
    assert "1098" in reader.warnings[0]
    assert "983" in reader.warnings[0]
    assert reader.records == 983
    assert reader.bytes_read == reader.size
    assert reader.header == ExtractHeader("111111", date(2010, 1, 1), date(2009, 12, 31))


def test_both_sample_forms_give_the_same_persons(
    sample_lines: tuple[ExtractReader, list[CprPerson]],
    sample_unseparated: tuple[ExtractReader, list[CprPerson]],
) -> None:
    lines, unseparated = sample_lines[1], sample_unseparated[1]
    assert [_fields(p) for p in lines] == [_fields(p) for p in unseparated]
    # the unseparated file is the same records without the LF after each line
    for a, b in zip(lines, unseparated, strict=True):
        assert a.position.line is not None
        assert b.position.line is None
        assert a.position.offset == b.position.offset + a.position.line - 1


def test_sample_persons_fields(sample_lines: tuple[ExtractReader, list[CprPerson]]) -> None:
    persons = {p.cpr: p for p in sample_lines[1]}
    assert persons["0101005038"] == CprPerson(
        "0101005038", "01", None, date(2000, 1, 1), 851, Position(2, 36)
    )
    replaced = persons["0101520013"]
    assert (replaced.status, replaced.current_cpr) == ("50", "0107529039")
    assert replaced.municipality_code is None
    assert persons["0108610069"].current_cpr == "0709610015"  # status 60
    assert persons["0701614038"].municipality_code == 573
    assert persons["3012995007"].birth_date == date(1899, 12, 30)  # digit 7 = 5, YY 99
    assert persons["1312814362"].status == "70"


def test_sample_birth_dates_follow_the_century_rule(
    sample_lines: tuple[ExtractReader, list[CprPerson]],
) -> None:
    persons = sample_lines[1]
    assert all(p.birth_date == birth_date(p.cpr) for p in persons)
    assert min(p.birth_date for p in persons) == date(1896, 1, 1)
    assert max(p.birth_date for p in persons) == date(2000, 1, 1)


def test_sample_persons_without_002_take_the_003_municipality(
    sample_lines: tuple[ExtractReader, list[CprPerson]],
) -> None:
    # the 11 persons without a 002 record are those not living in Denmark;
    # their 003 records say 0000
    without = [p for p in sample_lines[1] if p.municipality_code is None]
    assert len(without) == 11
    assert {p.status for p in without} == {"50", "60", "70", "80", "90"}
    assert {p.municipality_code for p in sample_lines[1]} == {None, 851, 573}


def test_sample_persons_are_sorted_and_positions_point_at_001(
    sample_lines: tuple[ExtractReader, list[CprPerson]],
) -> None:
    persons = sample_lines[1]
    assert [p.cpr for p in persons] == sorted({p.cpr for p in persons})
    data = LINES.read_bytes()
    for p in persons:
        assert data[p.position.offset : p.position.offset + 13] == f"001{p.cpr}".encode()


# --- generated extracts read back -------------------------------------------------

GENERATED = [
    SyntheticPerson("0102034000", municipality_code=851),
    SyntheticPerson("0102034001", status="03", municipality_code=101),
    SyntheticPerson("0102045002", status="05", municipality_code=None),
    SyntheticPerson("0203045003", status="60", current_cpr="0203045011", municipality_code=None),
    SyntheticPerson("0304056004", status="50", current_cpr="0304056012"),
    SyntheticPerson("0405067005", status="01", current_cpr="0405067013"),  # not 50/60
    SyntheticPerson("0506078006", status="80", municipality_code=0),
    SyntheticPerson("0607089007", municipality_code=860, address_record=False),
    SyntheticPerson("0708099008", status="90", municipality_code=None),
    SyntheticPerson("3112094009", status="20", municipality_code=None),
]


def _expected(p: SyntheticPerson) -> tuple[object, ...]:
    current = p.current_cpr if p.status in ("50", "60") else None
    born = p.birth_date or birth_date(p.cpr)
    return (p.cpr, p.status, current, born, p.municipality_code or None)


@pytest.mark.parametrize(
    ("form", "crlf", "trim"),
    [
        ("lines", False, False),
        ("lines", True, False),
        ("lines", False, True),
        ("lines", True, True),
        ("unseparated", False, False),
        ("unseparated", True, False),
    ],
)
def test_round_trip(tmp_path: Path, form: str, crlf: bool, trim: bool) -> None:
    path = tmp_path / "extract.txt"
    written = write_extract(
        path,
        GENERATED,
        production_date=PRODUCED,
        previous_production_date=date(2025, 12, 29),
        task_number="123456",
        form=form,  # type: ignore[arg-type]
        crlf=crlf,
        trim_trailing_spaces=trim,
    )
    reader, persons = _read(path)
    assert reader.form == form
    assert reader.problems == []
    assert reader.warnings == []
    assert reader.records == written - 2
    assert reader.header == ExtractHeader("123456", PRODUCED, date(2025, 12, 29))
    assert [_fields(p) for p in persons] == [_expected(p) for p in GENERATED]
    assert all(p.position.line is None for p in persons) == (form == "unseparated")


def test_characters_appended_to_a_line_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "extract.txt"
    write_extract(path, GENERATED, production_date=PRODUCED)
    lines = path.read_text("latin-1").splitlines()
    lines = [line + " EXTRA 0123456789" if line[:3] == "001" else line for line in lines]
    path.write_text("\n".join(lines) + "\n", "latin-1")
    reader, persons = _read(path)
    assert reader.problems == []
    assert [_fields(p) for p in persons] == [_expected(p) for p in GENERATED]


def test_counter_mismatch_is_only_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "extract.txt"
    write_extract(path, GENERATED, production_date=PRODUCED, counter=7)
    reader, persons = _read(path)
    assert reader.problems == []
    assert len(persons) == len(GENERATED)
    assert len(reader.warnings) == 1
    assert "counts 7 records" in reader.warnings[0]


def test_reading_again_starts_over(tmp_path: Path) -> None:
    path = tmp_path / "extract.txt"
    write_extract(path, GENERATED, production_date=PRODUCED, counter=7)
    reader = ExtractReader(path)
    first = list(reader.persons())
    assert list(reader.persons()) == first
    assert len(reader.warnings) == 1


def test_check_reports_progress_up_to_the_size(tmp_path: Path) -> None:
    path = tmp_path / "extract.txt"
    cprs = synthetic_cprs(3000)
    write_extract(path, (SyntheticPerson(c) for c in cprs), production_date=PRODUCED)
    calls: list[tuple[int, int]] = []
    reader = check(path, progress=lambda done, size: calls.append((done, size)))
    assert reader.problems == []
    assert reader.records == 3000 * 6
    assert calls[0] == (0, reader.size)
    assert calls[-1] == (reader.size, reader.size)
    assert len(calls) > 2  # about every MiB of the 2.8 MB
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_position_and_problem_read_as_text() -> None:
    assert str(Position(12, 4000)) == "line 12"
    assert str(Position(None, 4711)) == "byte 4711"
    problem = ExtractProblem(Position(12, 4000), "001", "status", "unknown status code 42")
    assert str(problem) == "line 12, record 001, field status: unknown status code 42"
    assert str(ExtractProblem(Position(None, 7), "", None, "unknown record type '555'")) == (
        "byte 7: unknown record type '555'"
    )


@pytest.mark.parametrize(("form", "count"), [("lines", 200_000), ("unseparated", 20_000)])
def test_check_of_a_large_file_keeps_memory_flat(tmp_path: Path, form: str, count: int) -> None:
    # Persons of two records each (001 and 003) keep the traced run short;
    # the unseparated file is smaller because its reader allocates more per record.
    path = tmp_path / "big.txt"
    persons = (SyntheticPerson(c, municipality_code=None) for c in synthetic_cprs(count))
    write_extract(path, persons, production_date=PRODUCED, form=form, extra_records=False)  # type: ignore[arg-type]
    tracemalloc.start()
    try:
        reader = check(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert reader.problem_count == 0
    assert reader.records == count * 2
    assert peak < 2 * 1024 * 1024  # a read buffer and one person
    assert reader.size > 3 * peak
