"""The synthetic extract writer and its CPR numbers."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from udb.domain.cpr import birth_date
from udb.domain.model import PersonStatus
from udb.formats.cpr_records import RECORD_LENGTHS
from udb.synthetic import SyntheticPerson, synthetic_cprs, synthetic_persons, write_extract

PRODUCED = date(2026, 1, 5)


def _persons() -> list[SyntheticPerson]:
    cprs = list(synthetic_cprs(4))
    return [
        SyntheticPerson(cprs[0]),
        SyntheticPerson(cprs[1], status="60", current_cpr=cprs[3], municipality_code=None),
        SyntheticPerson(cprs[2], municipality_code=851, address_record=False),
        SyntheticPerson(cprs[3], status="90", municipality_code=101),
    ]


def test_every_record_has_its_types_length(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    written = write_extract(path, _persons(), production_date=PRODUCED)
    lines = path.read_bytes().decode("latin-1").split("\n")
    assert lines.pop() == ""
    assert written == len(lines)
    assert [line[:3] for line in lines] == [
        "000",
        *("001", "002", "003", "008", "009", "010"),
        *("001", "003", "008", "009", "010"),  # no municipality: no 002
        *("001", "003", "008", "009", "010"),  # address_record=False
        *("001", "002", "003", "008", "009", "010"),
        "999",
    ]
    for line in lines:
        assert len(line) == RECORD_LENGTHS[line[:3]], line[:3]


def test_the_fields_read_are_where_the_spec_says(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    persons = _persons()
    write_extract(
        path,
        persons,
        production_date=PRODUCED,
        previous_production_date=date(2025, 12, 29),
        task_number="424242",
        extra_records=False,
    )
    lines = path.read_text("latin-1").splitlines()
    assert lines[0] == "000" + "0" * 10 + "424242" + "20260105" + "20251229"
    assert lines[-1] == "999" + "9" * 10 + f"{len(lines) - 2:08d}"
    replaced = next(line for line in lines if line.startswith("001" + persons[1].cpr))
    assert replaced[13:23] == persons[3].cpr
    assert replaced[23:25] == "60"
    assert replaced[39:49] == str(birth_date(persons[1].cpr))
    first_002 = next(line for line in lines if line.startswith("002"))
    assert first_002[13:17] == "0751"
    post = [line for line in lines if line.startswith("003")]
    assert [line[207:211] for line in post] == ["0751", "0000", "0851", "0101"]


def test_the_file_is_iso_8859_1(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    write_extract(path, _persons(), production_date=PRODUCED)
    data = path.read_bytes()
    assert b"\xf8" in data or b"\xe6" in data or b"\xe5" in data  # ø, æ or å
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")


def test_line_ends_and_trimmed_spaces(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    written = write_extract(
        path, _persons(), production_date=PRODUCED, crlf=True, trim_trailing_spaces=True
    )
    data = path.read_bytes()
    assert data.count(b"\r\n") == data.count(b"\n") == written
    assert b" \r\n" not in data


def test_unseparated_is_the_lines_back_to_back(tmp_path: Path) -> None:
    lines, unseparated = tmp_path / "lines.txt", tmp_path / "unseparated.txt"
    write_extract(lines, _persons(), production_date=PRODUCED)
    write_extract(unseparated, _persons(), production_date=PRODUCED, form="unseparated")
    assert unseparated.read_bytes() == lines.read_bytes().replace(b"\n", b"") + b"\n"


def test_the_counter_can_be_set(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    write_extract(path, _persons(), production_date=PRODUCED, counter=1098)
    assert path.read_text("latin-1").splitlines()[-1] == "9999999999999" + "00001098"


def test_the_writer_refuses_what_it_cannot_write(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    with pytest.raises(ValueError, match="trimmed"):
        write_extract(
            path, [], production_date=PRODUCED, form="unseparated", trim_trailing_spaces=True
        )
    with pytest.raises(ValueError, match="six characters"):
        write_extract(path, [], production_date=PRODUCED, task_number="1")
    with pytest.raises(ValueError, match="no birth date"):
        write_extract(path, [SyntheticPerson("3102081234")], production_date=PRODUCED)


def test_a_given_birth_date_is_written_as_is(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    person = SyntheticPerson("3102081234", birth_date=date(2008, 2, 29))
    write_extract(path, [person], production_date=PRODUCED)
    assert path.read_text("latin-1").splitlines()[1][39:49] == "2008-02-29"


def test_synthetic_cprs_are_distinct_ascending_and_born_in_range() -> None:
    cprs = list(synthetic_cprs(20_000))
    assert len(cprs) == 20_000
    assert cprs == sorted(set(cprs))
    births = [birth_date(c) for c in cprs]
    assert all(b is not None and date(2002, 1, 1) <= b <= date(2010, 12, 31) for b in births)
    assert {c[6] for c in cprs} <= set("456789")  # the 2000s, YY 00-36
    assert len({c[:6] for c in cprs}) == 3287  # spread over every day of the range


@pytest.mark.parametrize(
    ("born_from", "born_to", "digits"),
    [
        (date(1880, 1, 1), date(1889, 12, 31), set("5678")),
        (date(1940, 1, 1), date(1949, 12, 31), set("012349")),
        (date(2040, 1, 1), date(2049, 12, 31), set("5678")),
    ],
)
def test_synthetic_cprs_follow_the_century_rule(
    born_from: date, born_to: date, digits: set[str]
) -> None:
    cprs = list(synthetic_cprs(5000, born_from=born_from, born_to=born_to))
    assert {c[6] for c in cprs} == digits
    assert all(born_from <= (birth_date(c) or date.min) <= born_to for c in cprs)


def test_synthetic_cprs_limits() -> None:
    assert list(synthetic_cprs(0)) == []
    one_day = {"born_from": date(2008, 3, 15), "born_to": date(2008, 3, 15)}
    assert len(list(synthetic_cprs(6000, **one_day))) == 6000  # digits 4-9, 1000 each
    with pytest.raises(ValueError, match="only 6000"):
        list(synthetic_cprs(6001, **one_day))


def test_synthetic_persons_are_active_residents_born_in_range() -> None:
    persons = synthetic_persons(
        3000, municipality_code=751, born_from=date(2005, 1, 1), born_to=date(2010, 12, 31)
    )
    assert len(persons) == 3000
    cprs = [p.cpr for p in persons]
    assert cprs == sorted(set(cprs))
    for p in persons:
        assert p.status is PersonStatus.ACTIVE
        assert p.municipality_code == 751
        assert p.resident
        assert p.birth_date == birth_date(p.cpr)
        assert date(2005, 1, 1) <= p.birth_date <= date(2010, 12, 31)


def test_synthetic_persons_leave_out_the_numbers_excluded() -> None:
    everyone = [p.cpr for p in synthetic_persons(50, municipality_code=101)]
    left_out = {everyone[0], everyone[10], "1503084232"}
    persons = synthetic_persons(50, municipality_code=101, exclude=left_out)
    assert len(persons) == 50
    assert not left_out & {p.cpr for p in persons}
    assert synthetic_persons(0, municipality_code=101) == []
