"""`udb send-batch` against the real service in-process: checks, results, summary, resume, Ctrl-C.

The service and the helpers are those of ``test_cli_send.py``.
"""

from __future__ import annotations

import csv
import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_cli_send import (
    ACCEPTED,
    OTHER_MUNICIPALITY,
    SYSTEM,
    TOO_OLD,
    UNKNOWN,
    Service,
    an_hour_ago,
    assert_private,
    clean_env,
    connection,
    invoke,
    report_fields,
)
from udb.client.batch import COLUMNS, HEADER
from udb.client.cli import progress
from udb.domain.clock import DANISH_TZ
from udb.wssecurity.certs import DevCertificates, make_dev_certificates


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevCertificates:
    return make_dev_certificates(tmp_path_factory.mktemp("pki"), system_name=SYSTEM)


@pytest.fixture
def service(tmp_path: Path, pki: DevCertificates) -> Iterator[Service]:
    srv = Service(tmp_path / "service", pki)
    yield srv
    srv.close()


def write_csv(tmp_path: Path, rows: list[dict[str, Any]], name: str = "batch.csv") -> Path:
    path = tmp_path / name
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def results(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        assert tuple(reader.fieldnames or ()) == HEADER
        return list(reader)


def jobs(n: int, at: str | None = None) -> list[dict[str, Any]]:
    """n reports on the accepted demo person, told apart by their job wish."""
    at = at or an_hour_ago()
    return [
        report_fields(name=f"Kontakt {i}", job=f"Job {i}", kontakt_tid=at, job_tid=at,
                      uddannelse_tid=at)
        for i in range(n)
    ]  # fmt: skip


def send_batch(
    service: Service, pki: DevCertificates, tmp_path: Path, file: Path, *extra: str
) -> Any:
    out = tmp_path / "results.csv"
    return invoke(
        service, tmp_path, "send-batch", str(file), "--out", str(out), *connection(pki), *extra
    )


# checking first -------------------------------------------------------------------------


def test_bad_rows_are_listed_by_line_and_field_and_nothing_is_sent(
    service: Service, pki: DevCertificates, tmp_path: Path
) -> None:
    rows = [
        report_fields(),  # line 2
        report_fields(cpr="150308-4232"),  # line 3
        report_fields(kontakt_tid=""),  # line 4
        report_fields(job_tid="2026-11-20"),  # line 5
        report_fields(job="x" * 201),  # line 6
        report_fields(institution="0"),  # line 7
        report_fields(kontakt_mail="   ", uddannelse="\x07"),  # line 8
        report_fields(job="Tømrer\neller smed"),  # lines 9-10: a quoted line break
        report_fields(cpr=""),  # line 11
    ]
    result = send_batch(service, pki, tmp_path, write_csv(tmp_path, rows))
    assert result.exit_code == 2
    err = result.stderr
    assert "line 2" not in err and "line 9" not in err
    assert "line 3: cpr: must be exactly 10 digits 0-9, without a hyphen" in err
    assert (
        "line 4 (150308-****): kontakt_tid: is required when kontakt_navn, kontakt_mail, "
        "kontakt_telefon are given" in err
    )
    assert "line 5 (150308-****): job_tid: must be a date and time" in err
    assert "line 6 (150308-****): job: is longer than the maximum length 200" in err
    assert "line 7 (150308-****): institution: must be a whole number from 1 to" in err
    assert "line 8 (150308-****): kontakt_mail: is required when" in err
    assert "line 8 (150308-****): uddannelse: character 1 is a control character" in err
    assert "line 11: cpr: is required" in err
    assert "7 bad row(s) in" in err and "nothing was sent" in err
    assert service.sent.stids == []
    assert not (tmp_path / "results.csv").exists()
    assert_private(result)


def test_file_level_problems(service: Service, pki: DevCertificates, tmp_path: Path) -> None:
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("cpr,institution,kontakt_tlf\n", encoding="utf-8")
    result = send_batch(service, pki, tmp_path, unknown)
    assert result.exit_code == 2 and "unknown column(s) 'kontakt_tlf'" in result.stderr
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    assert "the file is empty" in send_batch(service, pki, tmp_path, empty).stderr
    other = tmp_path / "reports.xlsx"
    other.write_text("x", encoding="utf-8")
    usage = send_batch(service, pki, tmp_path, other)
    assert usage.exit_code == 2 and "--format csv or --format jsonl" in usage.stderr


def test_semicolons_and_missing_columns_of_absent_blocks(
    service: Service, pki: DevCertificates, tmp_path: Path
) -> None:
    path = tmp_path / "excel.csv"
    at = an_hour_ago()
    path.write_bytes((f"\ufeffcpr;institution;job;job_tid\n{ACCEPTED};751001;Smed;{at}\n").encode())
    result = send_batch(service, pki, tmp_path, path)
    assert result.exit_code == 0, result.output
    assert [r["outcome"] for r in results(tmp_path / "results.csv")] == ["accepted"]


def test_jsonl_problems_are_listed_by_line(
    service: Service, pki: DevCertificates, tmp_path: Path
) -> None:
    path = tmp_path / "batch.jsonl"
    lines = [
        json.dumps(report_fields()),
        '{"cpr": "1503084232", "institution": ',
        "[1, 2]",
        json.dumps({**report_fields(), "cpr": 1503084232}),
        json.dumps({**report_fields(), "kontakt_tlf": "12345678"}),
        json.dumps({**report_fields(), "institution": True}),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = send_batch(service, pki, tmp_path, path)
    assert result.exit_code == 2
    err = result.stderr
    assert "line 2: is not valid JSON: Expecting value (column 38)" in err
    assert "line 3: must be a JSON object, not a list" in err
    assert "line 4: cpr: must be a string: as a number it loses its leading zeros" in err
    assert "line 5 (150308-****): unknown field 'kontakt_tlf'" in err
    assert "line 6 (150308-****): institution: must be a whole number or a string, not" in err
    assert service.sent.stids == []
    assert_private(result)


# sending --------------------------------------------------------------------------------

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def test_a_mixed_batch_writes_a_row_per_line_and_a_summary(
    service: Service, pki: DevCertificates, tmp_path: Path
) -> None:
    only_job = {c: "" for c in COLUMNS} | {
        "cpr": ACCEPTED, "institution": "751001", "job": "Smed", "job_tid": an_hour_ago(),
    }  # fmt: skip
    rows = [
        report_fields(ACCEPTED),
        report_fields(UNKNOWN),
        report_fields(OTHER_MUNICIPALITY),
        report_fields(TOO_OLD),
        report_fields(ACCEPTED, job_tid="2099-01-01T09:00:00"),  # no offset: Danish time
        only_job,
    ]
    before = service.report_count(ACCEPTED)
    result = send_batch(service, pki, tmp_path, write_csv(tmp_path, rows), "--concurrency", "3")
    assert result.exit_code == 1, result.output
    out = tmp_path / "results.csv"
    found = results(out)
    assert [r["line"] for r in found] == ["2", "3", "4", "5", "6", "7"]
    assert [(r["outcome"], r["code"]) for r in found] == [
        ("accepted", ""), ("rejected", "14"), ("rejected", "86"), ("rejected", "15"),
        ("rejected", "280"), ("accepted", ""),
    ]  # fmt: skip
    assert [r["cpr"] for r in found] == [
        "150308-****", "200210-****", "101010-****", "010101-****", "150308-****", "150308-****",
    ]  # fmt: skip
    assert found[1]["text"] == "Den unge findes ikke i Ungedatabasen"
    assert found[4]["text"].startswith("Registreringstid for kontakt")
    assert all(_UUID.fullmatch(r["system_transaction_id"]) for r in found)
    assert {r["system_transaction_id"] for r in found} == set(service.sent.stids)
    assert all(uuid.UUID(r["correlation_id"]) for r in found)
    assert service.report_count(ACCEPTED) == before + 3  # 2 accepted + the 280 is logged

    summary = result.stdout
    assert re.search(r"accepted\s+2\b", summary)
    assert re.search(r"rejected\s+14\s+hard\s+1\s+Den unge findes ikke i Ungedatabasen", summary)
    assert re.search(r"rejected\s+86\s+hard\s+1\s+Bruger må ikke", summary)
    assert re.search(r"rejected\s+15\s+hard\s+1\s+Aldersgrænse overskredet", summary)
    assert re.search(r"rejected\s+280\s+soft\s+1\s+Registreringstid", summary)
    assert (
        "6 row(s) in batch.csv: 2 accepted, 4 rejected, 0 without an answer, 0 not sent" in summary
    )
    assert "got 280 (soft): correct the times" in result.stderr
    assert not (tmp_path / "results.csv.journal").exists()
    assert_private(result, out)

    again = send_batch(service, pki, tmp_path, write_csv(tmp_path, rows))
    assert again.exit_code == 2 and "already exists: add --resume" in again.stderr


def test_all_accepted_from_json_lines_exits_0(
    service: Service, pki: DevCertificates, tmp_path: Path
) -> None:
    path = tmp_path / "batch.jsonl"
    rows = jobs(25)
    for row in rows:
        row["kontakt_telefon"] = 4520304050  # a JSON number is fine for the phone
    path.write_text(
        "\n\n".join(json.dumps(row, ensure_ascii=False) for row in rows) + "\n", encoding="utf-8"
    )
    before = service.report_count(ACCEPTED)
    result = send_batch(service, pki, tmp_path, path, "--concurrency", "4")
    assert result.exit_code == 0, result.output
    found = results(tmp_path / "results.csv")
    assert [int(r["line"]) for r in found] == list(range(1, 50, 2))  # blank lines between
    assert {r["outcome"] for r in found} == {"accepted"}
    assert service.report_count(ACCEPTED) == before + 25
    assert "25 row(s) in batch.jsonl: 25 accepted, 0 rejected" in result.stdout
    assert_private(result, tmp_path / "results.csv")


def test_progress_lines_off_a_terminal(
    service: Service, pki: DevCertificates, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(progress, "_PLAIN_EVERY", 0.0)
    result = send_batch(service, pki, tmp_path, write_csv(tmp_path, jobs(3)), "--concurrency", "1")
    assert result.exit_code == 0, result.output
    assert "sent 1 of 3 (33%)" in result.stderr and "sent 3 of 3 (100%)" in result.stderr
    assert re.search(r"sent 3 of 3 \(100%\), [0-9.,]+/s, about 0 s left", result.stderr)


def test_a_progress_bar_and_a_table_on_a_terminal(
    service: Service, pki: DevCertificates, tmp_path: Path
) -> None:
    env = clean_env(tmp_path, TTY_COMPATIBLE="1", NO_COLOR=None)
    out = tmp_path / "results.csv"
    result = invoke(service, tmp_path, "send-batch", str(write_csv(tmp_path, jobs(3))),
                    "--out", str(out), *connection(pki), env=env)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "sending" in result.stderr and "3/3" in result.stderr and "/s" in result.stderr
    assert "─" in result.stdout and re.search(r"accepted.*3", result.stdout)


# resuming -------------------------------------------------------------------------------


def test_resume_resends_101_and_lost_answers_under_their_ids_stored_once(
    service: Service, pki: DevCertificates, tmp_path: Path
) -> None:
    rows = [*jobs(2)[:1], report_fields(UNKNOWN), *jobs(5)[3:5]]  # Job 0, 14, Job 3, Job 4
    path = write_csv(tmp_path, rows)
    service.fail["Job 3<"] = 1  # the database fails once: 101, not stored
    service.lose["Job 4<"] = 1  # stored, but the answer is lost
    before = service.report_count(ACCEPTED)
    first = send_batch(service, pki, tmp_path, path, "--attempts", "1")
    assert first.exit_code == 2, first.output
    out = tmp_path / "results.csv"
    rows_1 = results(out)
    assert [(r["line"], r["outcome"], r["code"]) for r in rows_1] == [
        ("2", "accepted", ""), ("3", "rejected", "14"), ("4", "rejected", "101"),
        ("5", "error", "TimeoutException"),
    ]  # fmt: skip
    assert "2 row(s) have no answer for good yet: run the same command with --resume" in (
        first.stderr
    )
    assert service.report_count(ACCEPTED) == before + 2  # Job 0 and Job 4

    sent_before = len(service.sent.stids)
    second = send_batch(service, pki, tmp_path, path, "--resume")
    assert second.exit_code == 1, second.output  # every row answered; one is rejected (14)
    resent = service.sent.stids[sent_before:]
    assert sorted(resent) == sorted([rows_1[2]["system_transaction_id"],
                                     rows_1[3]["system_transaction_id"]])  # fmt: skip
    rows_2 = results(out)
    assert [(r["line"], r["outcome"]) for r in rows_2] == [
        ("2", "accepted"), ("3", "rejected"), ("4", "accepted"), ("5", "accepted"),
    ]  # fmt: skip
    assert [r["system_transaction_id"] for r in rows_2] == [
        r["system_transaction_id"] for r in rows_1
    ]
    assert rows_2[:2] == rows_1[:2]
    assert service.report_count(ACCEPTED) == before + 3  # Job 4 stored once
    assert "4 row(s) in batch.csv: 3 accepted, 1 rejected, 0 without an answer" in second.stdout
    assert "2 sent in this run" in second.stdout

    third = send_batch(service, pki, tmp_path, path, "--resume")
    assert third.exit_code == 1 and len(service.sent.stids) == sent_before + 2
    assert "0 sent in this run" in third.stdout


def test_resume_a_killed_run_from_its_results_and_journal(
    service: Service, pki: DevCertificates, tmp_path: Path
) -> None:
    """What a killed run leaves: answered rows, a torn last row, the journal of ids sent."""
    rows = jobs(5)  # lines 2-6
    path = write_csv(tmp_path, rows)
    out = tmp_path / "results.csv"
    out.write_text(
        ",".join(HEADER) + "\n"
        "2,150308-****,accepted,,,c0ffee00-0000-4000-8000-000000000002,killed-2\n"
        "3,150308-****,error,ConnectError,cannot connect: refused,,killed-3\n"
        "4,150308-****,acc",
        encoding="utf-8",
    )
    journal = tmp_path / "results.csv.journal"
    journal.write_text(
        "line,system_transaction_id\n2,killed-2\n3,killed-3\n4,killed-4\n5,killed-5\n",
        encoding="utf-8",
    )
    # line 4 had reached the service before the run was killed
    (tmp_path / "row4.json").write_text(json.dumps(rows[2], ensure_ascii=False), encoding="utf-8")
    reached = invoke(service, tmp_path, "send", str(tmp_path / "row4.json"),
                     "--transaction-id", "killed-4", *connection(pki))  # fmt: skip
    assert reached.exit_code == 0, reached.output
    before = service.report_count(ACCEPTED)

    result = send_batch(service, pki, tmp_path, path, "--resume")
    assert result.exit_code == 0, result.output
    resent = service.sent.stids[1:]  # the first was the `udb send` above
    assert len(resent) == 4 and {"killed-3", "killed-4", "killed-5"} <= set(resent)
    assert "killed-2" not in resent
    found = results(out)
    assert [r["line"] for r in found] == ["2", "3", "4", "5", "6"]
    assert {r["outcome"] for r in found} == {"accepted"}
    assert found[0]["correlation_id"] == "c0ffee00-0000-4000-8000-000000000002"  # kept as it was
    assert [r["system_transaction_id"] for r in found[:4]] == [
        "killed-2", "killed-3", "killed-4", "killed-5",
    ]  # fmt: skip
    assert service.report_count(ACCEPTED) == before + 3  # lines 3, 5, 6; line 4 stored once
    assert not journal.exists()


def test_resume_refuses_results_of_another_file(
    service: Service, pki: DevCertificates, tmp_path: Path
) -> None:
    out = tmp_path / "results.csv"
    out.write_text(
        ",".join(HEADER) + "\n2,200210-****,rejected,14,Den unge findes ikke,c,s-2\n"
        "9,150308-****,accepted,,,c,s-9\n",
        encoding="utf-8",
    )
    result = send_batch(service, pki, tmp_path, write_csv(tmp_path, jobs(2)), "--resume")
    assert result.exit_code == 2
    assert "line 2 (150308-****): cpr: is not the CPR number of line 2 in results.csv" in (
        result.stderr
    )
    assert "results.csv has rows for line 9 and later" in result.stderr
    assert service.sent.stids == []
    not_ours = tmp_path / "other.csv"
    not_ours.write_text("a,b\n1,2\n", encoding="utf-8")
    refused = invoke(service, tmp_path, "send-batch", str(write_csv(tmp_path, jobs(1))),
                     "--out", str(not_ours), "--resume", *connection(pki))  # fmt: skip
    assert refused.exit_code == 2 and "is not a results file of udb send-batch" in refused.stderr


# Ctrl-C ---------------------------------------------------------------------------------


def test_ctrl_c_stops_cleanly_and_resume_sends_the_rest(
    service: Service, pki: DevCertificates, tmp_path: Path
) -> None:
    path = write_csv(tmp_path, jobs(40))
    out = tmp_path / "results.csv"
    service.interrupt_at = {6}
    before = service.report_count(ACCEPTED)
    first = send_batch(service, pki, tmp_path, path, "--concurrency", "2")
    assert first.exit_code == 2, first.output
    assert "stopping: waiting for the" in first.stderr and "stopped by Ctrl-C" in first.stderr
    answered = results(out)
    count = len(answered)
    assert 6 <= count < 40
    assert [int(r["line"]) for r in answered] == list(range(2, 2 + count))
    assert {r["outcome"] for r in answered} == {"accepted"}
    assert len(service.sent.stids) == count  # every report handed out was answered and written
    assert service.report_count(ACCEPTED) == before + count
    assert not (tmp_path / "results.csv.journal").exists()
    assert f"{40 - count} not sent" in first.stdout

    service.interrupt_at = set()
    second = send_batch(service, pki, tmp_path, path, "--resume", "--concurrency", "4")
    assert second.exit_code == 0, second.output
    final = results(out)
    assert [int(r["line"]) for r in final] == list(range(2, 42))
    assert final[:count] == answered
    assert service.report_count(ACCEPTED) == before + 40
    assert len(set(service.sent.stids)) == 40


def test_a_second_ctrl_c_stops_at_once_and_the_journal_prevents_duplicates(
    service: Service, pki: DevCertificates, tmp_path: Path
) -> None:
    path = write_csv(tmp_path, jobs(40))
    out = tmp_path / "results.csv"
    service.interrupt_at = {4, 6}
    before = service.report_count(ACCEPTED)
    first = send_batch(service, pki, tmp_path, path, "--concurrency", "2")
    assert first.exit_code == 2, first.output
    assert "stopped at once" in first.stderr
    journal = tmp_path / "results.csv.journal"
    assert journal.exists()
    answered = results(out)
    assert [int(r["line"]) for r in answered] == list(range(2, 2 + len(answered)))
    journalled = dict(line.split(",") for line in journal.read_text().splitlines()[1:])
    assert len(journalled) >= len(service.sent.stids)  # every id sent was journalled first
    assert set(service.sent.stids) <= set(journalled.values())

    service.interrupt_at = set()
    second = send_batch(service, pki, tmp_path, path, "--resume")
    assert second.exit_code == 0, second.output
    assert [int(r["line"]) for r in results(out)] == list(range(2, 42))
    assert service.report_count(ACCEPTED) == before + 40  # nothing stored twice
    assert not journal.exists()


# times without an offset ------------------------------------------------------------------


def test_a_time_without_offset_is_danish_local_time(
    service: Service, pki: DevCertificates, tmp_path: Path
) -> None:
    """Read as UTC, the first would be accepted and the second refused (Denmark is ahead)."""
    danish_now = datetime.now(UTC).astimezone(DANISH_TZ).replace(tzinfo=None, microsecond=0)
    ahead = (danish_now + timedelta(minutes=30)).isoformat()
    behind = (danish_now - timedelta(minutes=30)).isoformat()
    rows = [report_fields(job_tid=ahead), report_fields(job_tid=behind)]
    result = send_batch(service, pki, tmp_path, write_csv(tmp_path, rows))
    assert result.exit_code == 1, result.output
    assert [r["code"] for r in results(tmp_path / "results.csv")] == ["280", ""]
