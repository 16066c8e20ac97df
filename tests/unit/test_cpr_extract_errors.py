"""Malformed CPR extracts: each problem is found with its position, type and field.

The files are written by the synthetic writer and then corrupted as text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from udb.formats.cpr_extract import ExtractProblem, ExtractReader, Position
from udb.synthetic import SyntheticPerson, synthetic_cprs, write_extract

CPRS = list(synthetic_cprs(5))
PERSONS = [SyntheticPerson(c) for c in CPRS]
Lines = list[str]


def _written(tmp_path: Path, form: str = "lines") -> str:
    path = tmp_path / "extract.txt"
    write_extract(path, PERSONS, production_date=date(2026, 1, 5), form=form)  # type: ignore[arg-type]
    return path.read_text("latin-1")


def _read(tmp_path: Path, text: str) -> tuple[ExtractReader, list[str]]:
    path = tmp_path / "corrupt.txt"
    path.write_bytes(text.encode("latin-1"))
    reader = ExtractReader(path)
    return reader, [p.cpr for p in reader.persons()]


def _at(lines: Lines, rtype: str, k: int) -> int:
    """Index of person k's record of type rtype."""
    return next(i for i, line in enumerate(lines) if line.startswith(rtype + CPRS[k]))


def _put(line: str, pos: int, text: str) -> str:
    """``line`` with ``text`` written at the 1-based position ``pos``."""
    return line[: pos - 1] + text + line[pos - 1 + len(text) :]


def _no_full_cpr(problems: list[ExtractProblem]) -> None:
    for problem in problems:
        assert not re.search(r"\d{10}", str(problem)), str(problem)


# Each case corrupts the lines and returns the line number the problem is on.
Corrupt = Callable[[Lines], int]


def short_line(lines: Lines) -> int:
    i = _at(lines, "001", 2)
    lines[i] = lines[i][:24]  # cut in the status field
    return i + 1


def birth_date_not_a_date(lines: Lines) -> int:
    i = _at(lines, "001", 2)
    lines[i] = _put(lines[i], 40, "2001-02-30")
    return i + 1


def birth_date_disagrees(lines: Lines) -> int:
    i = _at(lines, "001", 2)
    born = lines[i][39:49]
    lines[i] = _put(lines[i], 40, str(int(born[:4]) - 100))  # 20YY -> 19YY
    return i + 1


def unknown_status(lines: Lines) -> int:
    i = _at(lines, "001", 2)
    lines[i] = _put(lines[i], 24, "42")
    return i + 1


def unknown_record_type(lines: Lines) -> int:
    i = _at(lines, "003", 2) + 1
    lines.insert(i, "555" + CPRS[2] + "x" * 20)
    return i + 1


def without_pnr(lines: Lines) -> int:
    i = _at(lines, "001", 2)
    lines[i] = _put(lines[i], 4, " " * 10)
    return i + 1


def address_of_another_person(lines: Lines) -> int:
    i = _at(lines, "002", 2)
    lines[i] = _put(lines[i], 4, CPRS[3])
    return i + 1


def second_address(lines: Lines) -> int:
    i = _at(lines, "002", 2)
    lines.insert(i + 1, lines[i])
    return i + 2


def types_out_of_order(lines: Lines) -> int:
    i = _at(lines, "002", 2)
    lines[i], lines[i + 1] = lines[i + 1], lines[i]  # 003 before 002
    return i + 2


def municipality_not_digits(lines: Lines) -> int:
    i = _at(lines, "002", 2)
    lines[i] = _put(lines[i], 14, "07x1")
    return i + 1


CASES = [
    pytest.param(corrupt, rtype, field, text, id=corrupt.__name__)
    for corrupt, rtype, field, text in [
        (short_line, "001", "status", "status"),
        (birth_date_not_a_date, "001", "birth date", "2001-02-30"),
        (birth_date_disagrees, "001", "birth date", "disagrees"),
        (unknown_status, "001", "status", "unknown status code 42"),
        (unknown_record_type, "", None, "unknown record type '555'"),
        (without_pnr, "001", "CPR number", "without PNR"),
        (address_of_another_person, "002", "CPR number", "not that of the 001 record"),
        (second_address, "002", None, "a second 002"),
        (types_out_of_order, "002", None, "ascending type order"),
        (municipality_not_digits, "002", "municipality code", "'07x1'"),
    ]
]


@pytest.mark.parametrize(("corrupt", "rtype", "field", "text"), CASES)
def test_a_bad_record_is_a_problem_and_its_person_is_not_yielded(
    tmp_path: Path, corrupt: Corrupt, rtype: str, field: str | None, text: str
) -> None:
    lines = _written(tmp_path).splitlines()
    line = corrupt(lines)
    reader, cprs = _read(tmp_path, "\n".join(lines) + "\n")
    found = [(p.position.line, p.record_type, p.field) for p in reader.problems]
    assert (line, rtype, field) in found
    problem = reader.problems[found.index((line, rtype, field))]
    assert text in problem.reason
    assert problem.position.offset == len("\n".join(lines[: line - 1])) + 1
    _no_full_cpr(reader.problems)
    assert cprs == CPRS[:2] + CPRS[3:]


def test_a_record_before_the_first_001(tmp_path: Path) -> None:
    lines = _written(tmp_path).splitlines()
    lines.insert(1, lines[_at(lines, "009", 0)])
    reader, cprs = _read(tmp_path, "\n".join(lines) + "\n")
    assert [str(p) for p in reader.problems] == [
        "line 2, record 009: record before the first 001 record"
    ]
    assert cprs == CPRS


def test_persons_out_of_cpr_order(tmp_path: Path) -> None:
    lines = _written(tmp_path).splitlines()
    a, b, c = _at(lines, "001", 1), _at(lines, "001", 2), _at(lines, "001", 3)
    lines[a:c] = lines[b:c] + lines[a:b]  # person 2 before person 1
    reader, cprs = _read(tmp_path, "\n".join(lines) + "\n")
    line = _at(lines, "001", 1) + 1
    assert [(p.position.line, p.record_type, p.field) for p in reader.problems] == [
        (line, "001", "CPR number")
    ]
    assert "sorted by CPR number" in reader.problems[0].reason
    assert cprs == [CPRS[0], CPRS[2], CPRS[3], CPRS[4]]
    _no_full_cpr(reader.problems)


def test_bad_production_date(tmp_path: Path) -> None:
    lines = _written(tmp_path).splitlines()
    lines[0] = _put(lines[0], 20, "20101301")
    reader, cprs = _read(tmp_path, "\n".join(lines) + "\n")
    assert [str(p) for p in reader.problems] == [
        "line 1, record 000, field production date: "
        "production date '20101301' is not a date yyyyMMdd"
    ]
    assert reader.header is None
    assert cprs == CPRS  # the persons are fine; the file as a whole is not


def test_record_before_000(tmp_path: Path) -> None:
    lines = _written(tmp_path).splitlines()
    lines.insert(0, lines[_at(lines, "009", 0)])
    reader, cprs = _read(tmp_path, "\n".join(lines) + "\n")
    assert [(p.position.line, p.record_type, p.field) for p in reader.problems] == [
        (1, "009", None)
    ]
    assert "must begin with a 000" in reader.problems[0].reason
    assert reader.header is not None
    assert cprs == CPRS


def test_missing_999(tmp_path: Path) -> None:
    lines = _written(tmp_path).splitlines()
    del lines[-1]
    reader, cprs = _read(tmp_path, "\n".join(lines) + "\n")
    assert [str(p) for p in reader.problems] == [
        f"line {len(lines) + 1}, record 999: the file ends without a 999 end record"
    ]
    assert cprs == CPRS[:4]  # the last person may be incomplete


def test_data_after_999(tmp_path: Path) -> None:
    lines = _written(tmp_path).splitlines()
    lines.append(lines[1])
    reader, cprs = _read(tmp_path, "\n".join(lines) + "\n\n")
    assert [(p.position.line, p.record_type) for p in reader.problems] == [(len(lines), "001")]
    assert "after the 999" in reader.problems[0].reason
    assert cprs == CPRS


def test_empty_file(tmp_path: Path) -> None:
    reader, cprs = _read(tmp_path, "")
    assert [str(p) for p in reader.problems] == ["line 1: the file is empty"]
    assert cprs == []


def test_all_problems_of_a_line_file_are_reported(tmp_path: Path) -> None:
    lines = _written(tmp_path).splitlines()
    expected = {
        (unknown_status(lines), "001", "status"),  # person 2
        (address_of_another_person(lines), "002", "CPR number"),  # person 2
    }
    for k, pos, text, field in [(0, 24, "42", "status"), (4, 40, "2009-02-29", "birth date")]:
        i = _at(lines, "001", k)
        lines[i] = _put(lines[i], pos, text)
        expected.add((i + 1, "001", field))
    i = _at(lines, "010", 3) + 1
    lines.insert(i, "077" + CPRS[3])
    expected = {(n + (n > i), t, f) for n, t, f in expected} | {(i + 1, "", None)}
    reader, cprs = _read(tmp_path, "\r\n".join(lines) + "\r\n")
    assert {(p.position.line, p.record_type, p.field) for p in reader.problems} == expected
    assert reader.problem_count == len(expected)
    assert cprs == [CPRS[1]]
    _no_full_cpr(reader.problems)


def test_problems_beyond_the_limit_are_counted(tmp_path: Path) -> None:
    lines = _written(tmp_path).splitlines()
    for k in range(5):
        i = _at(lines, "001", k)
        lines[i] = _put(lines[i], 24, "42")
    path = tmp_path / "bad.txt"
    path.write_text("\n".join(lines) + "\n", "latin-1")
    reader = ExtractReader(path, max_problems=2)
    assert list(reader.persons()) == []
    assert len(reader.problems) == 2
    assert reader.problem_count == 5


# --- unseparated files: byte offsets, and the reader keeps its footing -------------


def _records(tmp_path: Path) -> list[str]:
    text = _written(tmp_path, "unseparated")
    lines = _written(tmp_path).splitlines()
    assert "".join(lines) + "\n" == text
    return lines


@pytest.mark.parametrize("rtype", ["001", "002", "003", "008", "010"])
def test_unseparated_record_one_character_short(tmp_path: Path, rtype: str) -> None:
    records = _records(tmp_path)
    i = _at(records, rtype, 2)
    offset = sum(len(r) for r in records[:i])
    records[i] = records[i][:-1]
    reader, cprs = _read(tmp_path, "".join(records) + "\n")
    assert reader.form == "unseparated"
    assert [(p.position, p.record_type, p.field) for p in reader.problems] == [
        (Position(None, offset), rtype, None)
    ]
    length = len(records[i]) + 1
    assert str(reader.problems[0]).startswith(f"byte {offset}, record {rtype}: ")
    assert f"{length - 1} characters long, not {length}" in reader.problems[0].reason
    assert cprs == CPRS[:2] + CPRS[3:]


def test_unseparated_record_cut_in_the_middle(tmp_path: Path) -> None:
    records = _records(tmp_path)
    i = _at(records, "001", 2)
    records[i] = records[i][:30] + records[i][31:]
    reader, cprs = _read(tmp_path, "".join(records) + "\n")
    assert (Position(None, sum(map(len, records[:i]))), "001", None) in [
        (p.position, p.record_type, p.field) for p in reader.problems
    ]
    assert cprs == CPRS[:2] + CPRS[3:]


def test_unseparated_unknown_record_type(tmp_path: Path) -> None:
    records = _records(tmp_path)
    i = _at(records, "003", 2) + 1
    records.insert(i, "555" + CPRS[2] + "x" * 20)
    reader, cprs = _read(tmp_path, "".join(records))
    offset = sum(len(r) for r in records[:i])
    assert [str(p) for p in reader.problems] == [f"byte {offset}: unknown record type '555'"]
    assert cprs == CPRS[:2] + CPRS[3:]


def test_unseparated_garbage_stops_the_reading_without_a_crash(tmp_path: Path) -> None:
    records = _records(tmp_path)
    i = _at(records, "003", 2) + 1
    records[i:] = ["#" * 1000]
    reader, cprs = _read(tmp_path, "".join(records))
    assert [p.record_type for p in reader.problems] == ["", ""]
    assert "reading stops" in reader.problems[1].reason
    assert cprs == CPRS[:2]
