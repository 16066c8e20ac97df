"""``udb fetch`` and ``udb reconcile`` through click's CliRunner, against a stand-in UDB
(tests/unit/fakeudb.py) reached through the ``Network`` seam: files written, exit codes,
one-line errors, no CPR number on the terminal, ``--send`` and ``--resume``."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from tests.support import SYSTEM
from tests.unit.clientsupport import keys
from tests.unit.fakeudb import FakeUdb
from tests.unit.hentsupport import Person, fault
from udb.cli import main
from udb.client.batch.readback import FETCH_COLUMNS
from udb.client.batch.reconcile import DIFF_COLUMNS
from udb.client.cli.settings import Network

KUI = "751001"
SAME, MISSING, NEWER_LOCAL, UNKNOWN = "1503084232", "2002104321", "0101091234", "1111111118"
CPRS = (SAME, MISSING, NEWER_LOCAL, UNKNOWN)
LOCAL = f"""cpr,institution,kontakt_navn,kontakt_mail,kontakt_tid,job,job_tid
{SAME},{KUI},Mette Sørensen,m@example.dk,2026-11-20T09:15:00+01:00,Tømrer,2026-11-20T09:20:00+01:00
{MISSING},{KUI},,,,Smed,2026-11-21T10:00:00+01:00
{NEWER_LOCAL},{KUI},,,,Elektriker,2026-11-25T08:00:00+01:00
{UNKNOWN},{KUI},,,,Maler,2026-11-21T10:00:00+01:00
"""


def udb() -> FakeUdb:
    return FakeUdb(
        {
            SAME: Person(
                SAME,
                contact=("Mette Sørensen", "m@example.dk", None, "2026-11-20T08:15:00Z"),
                job=("Tømrer", "2026-11-20T09:20:00+01:00"),
            ),
            NEWER_LOCAL: Person(NEWER_LOCAL, job=("Murer", "2026-11-22T08:00:00+01:00")),
        },
        known=[MISSING],
    )


@pytest.fixture
def settings(tmp_path: Path) -> list[str]:
    cert, key = keys()
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    return ["--url", "http://127.0.0.1:9", "--system", SYSTEM,
            "--cert", str(tmp_path / "cert.pem"), "--key", str(tmp_path / "key.pem")]  # fmt: skip


def run(transport: httpx.BaseTransport, tmp_path: Path, *args: str) -> Result:
    env: dict[str, str | None] = {name: None for name in os.environ if name.startswith("UDB_")}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "no-config"), NO_COLOR="1", TTY_COMPATIBLE="0")
    return CliRunner().invoke(
        main, list(args), obj=Network(transport), env=env, catch_exceptions=False
    )


def no_cpr_in(result: Result) -> bool:
    return not any(c in result.stdout + result.stderr for c in CPRS)


def table(result: Result) -> dict[str, int]:
    """The summary's persons by status."""
    lines = result.stdout.splitlines()
    start = lines.index(next(line for line in lines if line.startswith("status")))
    found: dict[str, int] = {}
    for line in lines[start + 1 :]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        found[parts[0]] = int(parts[1])
    return found


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


# udb fetch ------------------------------------------------------------------------------


def test_fetch_writes_the_send_batch_columns_with_the_source(
    tmp_path: Path, settings: list[str]
) -> None:
    out = tmp_path / "udb.csv"
    result = run(httpx.MockTransport(udb()), tmp_path, "fetch", "--institution", KUI,
                 "--cpr", SAME, "--cpr", UNKNOWN, "--out", str(out), *settings)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2 person(s) written to" in result.stdout and "1 found, 1 unknown" in result.stdout
    assert no_cpr_in(result)
    found, unknown = rows(out)
    assert tuple(found) == FETCH_COLUMNS
    assert (found["cpr"], found["institution"], found["status"]) == (SAME, KUI, "found")
    assert (found["job"], found["job_tid"]) == ("Tømrer", "2026-11-20T09:20:00+01:00")
    assert found["kontakt_tid"] == "2026-11-20T09:15:00+01:00"
    assert (found["job_af"], found["job_modtaget"]) == (
        "Vejledningssystem-Aarhus",
        "2026-11-20T08:30:00Z",
    )
    assert (unknown["status"], unknown["code"], unknown["job"]) == ("unknown", "14", "")


def test_fetch_since_writes_json_lines_and_says_where_to_go_on(
    tmp_path: Path, settings: list[str]
) -> None:
    service = udb()
    service.pages = [[service.persons[SAME]], [Person(UNKNOWN, code=86)]]
    out = tmp_path / "changes.jsonl"
    result = run(httpx.MockTransport(service), tmp_path, "fetch", "--institution", KUI,
                 "--since", "2026-11-01T00:00:00", "--out", str(out), *settings)  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(p["cpr"], p["status"]) for p in lines] == [(SAME, "found"), (UNKNOWN, "not-allowed")]
    assert lines[1]["job"] is None
    assert "give --since 2026-12-01T10:00:00Z next time" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give either --cpr (one or more) or --since"),
        (["--cpr", SAME, "--since", "2026-11-01T00:00:00Z"], "not both"),
        (["--cpr", "150308-4232"], "value 1 must be exactly 10 digits"),
        (["--since", "2026-11-01"], "a date alone is not enough"),
    ],
)
def test_fetch_usage_errors(
    tmp_path: Path, settings: list[str], args: list[str], message: str
) -> None:
    out = tmp_path / "udb.csv"
    result = run(httpx.MockTransport(udb()), tmp_path, "fetch", "--institution", KUI, *args,
                 "--out", str(out), *settings)  # fmt: skip
    assert result.exit_code == 2 and message in result.stderr
    assert "4232" not in result.stderr and not out.exists()


def test_fetch_refuses_to_overwrite_and_fails_in_one_line(
    tmp_path: Path, settings: list[str]
) -> None:
    out = tmp_path / "udb.csv"
    out.write_text("mine\n")
    args = ["fetch", "--institution", KUI, "--cpr", SAME, "--out", str(out), *settings]
    refused = run(httpx.MockTransport(udb()), tmp_path, *args)
    assert refused.exit_code == 2 and "add --force" in refused.stderr
    denied = run(httpx.MockTransport(lambda r: fault("IPL000004")), tmp_path, *args, "--force")
    assert denied.exit_code == 2
    (line,) = denied.stderr.strip().splitlines()[-1:]
    assert line.startswith("Error: IPL000004") and "nothing was written" in line
    assert "Traceback" not in denied.output
    assert out.read_text() == "mine\n"


# udb reconcile ------------------------------------------------------------------------------


def test_reconcile_lists_the_differences_then_send_repairs_them(
    tmp_path: Path, settings: list[str]
) -> None:
    local = tmp_path / "local.csv"
    local.write_text(LOCAL, encoding="utf-8")
    diff = tmp_path / "diff.csv"
    service = udb()
    transport = httpx.MockTransport(service)
    args = ["reconcile", str(local), "--institution", KUI, "--out", str(diff), *settings]

    first = run(transport, tmp_path, *args)
    assert first.exit_code == 1, first.output
    assert no_cpr_in(first)
    assert table(first) == {"same": 1, "missing": 1, "differs": 1, "unknown": 1}
    assert "blocks not the same: job 2" in first.stdout
    found = rows(diff)
    assert tuple(found[0]) == DIFF_COLUMNS
    assert [(r["cpr"], r["status"], r["blocks"]) for r in found] == [
        (SAME, "same", ""),
        (MISSING, "missing", "job"),
        (NEWER_LOCAL, "differs", "job"),
        (UNKNOWN, "unknown", ""),
    ]
    assert (found[2]["job_tid"], found[2]["job_udb_tid"]) == (
        "2026-11-25T08:00:00+01:00",
        "2026-11-22T08:00:00+01:00",
    )
    assert service.reports == 0

    again = run(transport, tmp_path, *args, "--send")
    assert again.exit_code == 2 and "add --force" in again.stderr
    sent = run(transport, tmp_path, *args, "--send", "--force")
    assert sent.exit_code == 1, sent.output
    assert "sending 2 row(s) of diff.send.csv" in sent.stdout
    assert service.reports == 2 and no_cpr_in(sent)
    assert [r["outcome"] for r in rows(tmp_path / "diff.results.csv")] == ["accepted"] * 2

    last = run(transport, tmp_path, *args, "--force")
    assert last.exit_code == 1  # the unknown person remains
    assert [r["status"] for r in rows(diff)] == ["same", "same", "same", "unknown"]


def test_all_the_same_exits_0(tmp_path: Path, settings: list[str]) -> None:
    local = tmp_path / "local.csv"
    local.write_text("\n".join(LOCAL.splitlines()[:2]) + "\n", encoding="utf-8")
    result = run(httpx.MockTransport(udb()), tmp_path, "reconcile", str(local),
                 "--institution", KUI, "--out", str(tmp_path / "diff.csv"), *settings)  # fmt: skip
    assert result.exit_code == 0, result.output


def test_send_resume_goes_on_without_sending_twice(tmp_path: Path, settings: list[str]) -> None:
    local = tmp_path / "local.csv"
    local.write_text(LOCAL, encoding="utf-8")
    service = udb()
    failing = {"n": 0}

    def flaky(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("IndberetningKontaktJobOgUddOensker/v1"):
            failing["n"] += 1
            if failing["n"] == 1:
                raise httpx.ConnectError("refused")
        return service(request)

    args = ["reconcile", str(local), "--institution", KUI, "--out", str(tmp_path / "d.csv"),
            "--send", "--attempts", "1", *settings]  # fmt: skip
    first = run(httpx.MockTransport(flaky), tmp_path, *args)
    assert first.exit_code == 2 and "--resume" in first.stderr
    assert service.reports == 1
    resumed = run(httpx.MockTransport(flaky), tmp_path, *args, "--resume")
    assert resumed.exit_code == 1, resumed.output
    assert service.reports == 2  # only the row without an answer was sent again
    assert not (tmp_path / "d.results.csv.journal").exists()
    assert run(httpx.MockTransport(flaky), tmp_path, *args).exit_code == 2  # no overwrite


def test_bad_rows_are_listed_and_nothing_is_fetched(tmp_path: Path, settings: list[str]) -> None:
    local = tmp_path / "local.csv"
    local.write_text(LOCAL + f"{MISSING},{KUI},,,,Smed,\n", encoding="utf-8")
    service = udb()
    out = tmp_path / "d.csv"
    result = run(httpx.MockTransport(service), tmp_path, "reconcile", str(local),
                 "--institution", "851001", "--out", str(out), *settings)  # fmt: skip
    assert result.exit_code == 2
    assert "line 2 (150308-****): institution: is not 851001" in result.stderr
    assert "line 6 (200210-****): job_tid: is required" in result.stderr
    assert "5 bad row(s)" in result.stderr and no_cpr_in(result)
    assert service.requests == [] and not out.exists()


def test_a_failed_read_is_one_line_and_writes_nothing(tmp_path: Path, settings: list[str]) -> None:
    local = tmp_path / "local.csv"
    local.write_text(LOCAL, encoding="utf-8")
    result = run(httpx.MockTransport(lambda r: fault("IPL000001", sender=False)), tmp_path,
                 "reconcile", str(local), "--institution", KUI, "--out", str(tmp_path / "d.csv"),
                 "--attempts", "1", *settings)  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1].startswith("Error: IPL000001")
    assert not (tmp_path / "d.csv").exists()


def test_resume_needs_send(tmp_path: Path, settings: list[str]) -> None:
    local = tmp_path / "local.csv"
    local.write_text(LOCAL, encoding="utf-8")
    result = run(httpx.MockTransport(udb()), tmp_path, "reconcile", str(local), "--institution",
                 KUI, "--out", str(tmp_path / "d.csv"), "--resume", *settings)  # fmt: skip
    assert result.exit_code == 2 and "--resume continues a --send" in result.stderr
