"""udb.client.batch's files: input rows (CSV, JSON Lines), the results file and its journal."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import pytest

from udb.client.batch import (
    HEADER,
    InputError,
    ResultRow,
    ResultsError,
    ResultsFile,
    format_of,
    parse_time,
    read_rows,
)
from udb.client.batch.journal import JOURNAL_HEADER, Journal

AT = "2026-11-20T09:15:00+01:00"


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2026-10-25T02:30:00", "2026-10-25T00:30:00+00:00"),  # twice: the first (+02:00)
        ("2026-03-29T02:30:00", "2026-03-29T01:30:00+00:00"),  # never: read with +01:00
        ("2026-11-20 09:15", "2026-11-20T08:15:00+00:00"),
        ("2026-11-20T09:15:00Z", "2026-11-20T09:15:00+00:00"),
    ],
)
def test_times_are_read_as_the_contract_reads_them(text: str, utc: str) -> None:
    assert parse_time(text).astimezone(UTC).isoformat() == utc


# input rows -----------------------------------------------------------------------------


def test_csv_rows_by_line_with_reports_or_problems(tmp_path: Path) -> None:
    path = tmp_path / "batch.csv"
    path.write_text(
        f"cpr;institution;job;job_tid\n1503084232;751001;Tømrer;{AT}\n\n150308-4232;751001;;\n",
        encoding="utf-8",
    )
    assert format_of(path) == "csv"
    rows = list(read_rows(path, "csv"))
    assert [row.line for row in rows] == [2, 4]
    good, bad = rows
    assert good.report is not None and good.report.job is not None and not good.problems
    assert good.masked_cpr == "150308-****"
    assert bad.report is None
    assert [str(p) for p in bad.problems] == [
        "line 4: cpr: must be exactly 10 digits 0-9, without a hyphen"
    ]


def test_jsonl_rows_and_file_level_errors(tmp_path: Path) -> None:
    path = tmp_path / "batch.jsonl"
    path.write_text('{"cpr": "1503084232", "institution": 751001}\n[1]\n', encoding="utf-8")
    assert format_of(path) == "jsonl" and format_of(tmp_path / "x.xlsx") is None
    first, second = read_rows(path, "jsonl")
    assert first.report is not None and first.line == 1
    assert str(second.problems[0]) == "line 2: must be a JSON object, not a list"
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("cpr,institution,kontakt_tlf\n", encoding="utf-8")
    with pytest.raises(InputError, match="unknown column"):
        list(read_rows(unknown, "csv"))
    with pytest.raises(InputError, match="cannot read"):
        list(read_rows(tmp_path / "missing.csv", "csv"))


# the results file and its journal ------------------------------------------------------------


def _row(line: int, outcome: str = "accepted", code: str = "", stid: str = "s") -> ResultRow:
    return ResultRow(line, "150308-****", outcome, code, "", "c", f"{stid}-{line}")


def test_results_are_appended_and_put_in_line_order_when_resumed(tmp_path: Path) -> None:
    results = ResultsFile(tmp_path / "results.csv")
    results.open()
    results.note([(2, "s-2"), (3, "s-3")])
    assert results.journal_path.read_text(encoding="utf-8") == (
        ",".join(JOURNAL_HEADER) + "\n2,s-2\n3,s-3\n"
    )
    results.write(_row(2))
    results.write(_row(3, "rejected", "101"))
    results.finish(clean=False)
    assert results.journal_path.exists()  # not every report handed out was answered

    again = ResultsFile(tmp_path / "results.csv")
    loaded = again.load()
    assert {line: entry[2] for line, entry in loaded.entries.items()} == {2: True, 3: False}
    assert loaded.stids == {3: "s-3"}  # the 101 goes again under its id
    again.open()
    again.write(_row(3))
    again.finish(clean=True)
    assert not again.journal_path.exists()
    assert [(r.line, r.outcome) for r in again.rows()] == [(2, "accepted"), (3, "accepted")]
    lines = (tmp_path / "results.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == ",".join(HEADER) and len(lines) == 3  # one row per line


def test_a_torn_last_line_is_cut_off_and_foreign_files_are_refused(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "results.csv.journal")
    journal.path.write_text("line,system_transaction_id\n2,s-2\n3,s-", encoding="utf-8")
    assert journal.load() == {2: "s-2"}
    assert journal.path.read_text(encoding="utf-8").endswith("2,s-2\n")
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(ResultsError, match="is not a results file of udb send-batch"):
        ResultsFile(other).load()
    (tmp_path / "other.csv.journal").write_text("a,b\n", encoding="utf-8")
    with pytest.raises(ResultsError, match="is not a journal of udb send-batch"):
        Journal(tmp_path / "other.csv.journal").load()
