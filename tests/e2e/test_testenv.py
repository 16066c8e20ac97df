"""The vendors' test environment end to end: ``udb testenv init/enroll/report`` and a
``udb serve`` on it, driven by the SDK and by ``udb send-batch`` as the vendor guide says
(ready), and by a client that misbehaves (exactly the checks it broke fail)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.e2e.conftest import UDB, Server, start_server, stop_server, udb
from tests.support import postgres_schema, require_postgres
from udb.client import Contact, EducationWish, JobWish, Report, RetryPolicy, UdbClient
from udb.wssecurity.certs import DevCertificates, make_dev_certificates

pytestmark = pytest.mark.e2e

DK = ZoneInfo("Europe/Copenhagen")
FAST = RetryPolicy(attempts=4, initial=0.05, maximum=0.2, budget=20.0)
#: the delayed scenario's wait in these tests (UDB_TESTENV_DELAY_S)
DELAY_S = 3


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "postgresql":
        require_postgres()
        with postgres_schema() as url:
            yield url
        return
    yield "sqlite:///" + str(tmp_path_factory.mktemp("testenv") / "udb.sqlite3")


@pytest.fixture(scope="module")
def environment(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, dict[str, Any]]]:
    """A test environment with three enrolled vendors and a secure server on it."""
    udb("db", "migrate", database_url=database_url)
    made = udb("testenv", "init", "--slots", "2", database_url=database_url)
    assert "test environment ready: 2 slot(s), 0 enrolled" in made.stdout
    vendors: dict[str, Any] = {}
    for name in ("Vendor-SDK", "Vendor-Batch", "Vendor-Careless"):
        pki = make_dev_certificates(tmp_path_factory.mktemp(name), system_name=name)
        shown = udb(
            "testenv", "enroll", name, "--cert", str(pki.client_cert), "--json",
            database_url=database_url,
        )  # fmt: skip
        vendors[name] = {"pki": pki, **json.loads(shown.stdout)}
    server = start_server(
        tmp_path_factory.mktemp("serve"),
        secure=True,
        demo=False,
        database_url=database_url,
        env={"UDB_TESTENV_DELAY_S": str(DELAY_S)},
    )
    yield server, vendors
    stop_server(server)


def _report(vendor: dict[str, Any], cpr: str, server: Server, **times: datetime) -> Report:
    at = datetime.now(UTC).astimezone(DK) - timedelta(minutes=10)
    server.sent.update({"Mette Testvejleder", "mette@test.example"})
    return Report(
        cpr,
        vendor["institution"],
        contact=Contact("Mette Testvejleder", "mette@test.example", times.get("contact", at)),
        job=JobWish("Tømrer", times.get("job", at)),
        education=EducationWish("EUD, bygge og anlæg", at),
    )


def _client(server: Server, name: str, vendor: dict[str, Any], **options: Any) -> UdbClient:
    pki: DevCertificates = vendor["pki"]
    options.setdefault("retry", FAST)
    return UdbClient(
        server.url, system_name=name, cert=pki.client_cert, key=pki.client_key, **options
    )


def _verification(server: Server, name: str) -> dict[str, Any]:
    done = subprocess.run(
        [*UDB, "testenv", "report", name, "--format", "json", "--database", server.database_url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    report: dict[str, Any] = json.loads(done.stdout)
    assert done.returncode == (0 if report["verdict"] == "ready" else 1), done.stderr
    return report


def _statuses(report: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["status"] for c in report["checks"]}


ALL_CHECKS = [
    "signed", "clock", "accepted", "answer-14", "answer-15", "answer-86", "answer-280",
    "retry-101", "no-resend-hard", "correct-280", "unique-transaction-ids", "faults-fixed",
]  # fmt: skip


def test_enrolment_prints_a_kui_and_a_person_for_each_scenario(
    environment: tuple[Server, dict[str, Any]],
) -> None:
    _, vendors = environment
    kuis = {v["institution"] for v in vendors.values()}
    assert len(kuis) == 3  # a test KUI of its own each (the third slot made on demand)
    persons = vendors["Vendor-SDK"]["persons"]
    assert len(persons["accepted"]) == 3
    for scenario in ("14", "15", "86", "101", "delayed"):
        assert len(persons[scenario]) == 10 and persons[scenario].isdigit()
    others = {cpr for v in list(vendors.values())[1:] for p in v["persons"].values()
              for cpr in (p if isinstance(p, list) else [p])}  # fmt: skip
    assert not others & {c for p in persons.values() for c in (p if isinstance(p, list) else [p])}


def test_the_sdk_used_as_the_guide_says_is_ready(
    environment: tuple[Server, dict[str, Any]],
) -> None:
    server, vendors = environment
    name, vendor = "Vendor-SDK", vendors["Vendor-SDK"]
    assert _statuses(_verification(server, name)) == dict.fromkeys(ALL_CHECKS, "not tried")
    p = vendor["persons"]
    future = datetime.now(UTC) + timedelta(days=2)
    # a timeout shorter than the delayed scenario's, as the SDK's 10 s against its 12 s
    with _client(server, name, vendor, timeout=DELAY_S - 1) as client:
        assert client.send(_report(vendor, p["accepted"][0], server)).accepted
        delayed = client.send(_report(vendor, p["delayed"], server))
        assert delayed.accepted and delayed.attempts >= 2  # timed out, then answered at once
        for scenario in ("14", "15", "86"):
            assert client.send(_report(vendor, p[scenario], server)).code == int(scenario)
        assert client.send(_report(vendor, p["accepted"][1], server, job=future)).code == 280
        corrected = client.send(_report(vendor, p["accepted"][1], server))  # a new transaction
        assert corrected.accepted
        retried = client.send(_report(vendor, p["101"], server))
        assert retried.accepted and retried.attempts == 2  # 101 first, then the same id again
    time.sleep(DELAY_S + 1)  # the delayed first attempt is answered and kept by now
    report = _verification(server, name)
    assert report["verdict"] == "ready", report
    assert _statuses(report) == dict.fromkeys(ALL_CHECKS, "passed")
    retry = next(c for c in report["checks"] if c["id"] == "retry-101")
    assert retry["evidence"] and retry["evidence"][0]["correlation_id"]


def test_send_batch_used_as_the_guide_says_is_ready(
    environment: tuple[Server, dict[str, Any]], tmp_path: Path
) -> None:
    server, vendors = environment
    name, vendor = "Vendor-Batch", vendors["Vendor-Batch"]
    p = vendor["persons"]
    at = (datetime.now(DK) - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S")
    future = (datetime.now(DK) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S")

    def row(cpr: str, job_at: str = at) -> dict[str, str]:
        return {
            "cpr": cpr, "institution": str(vendor["institution"]),
            "kontakt_navn": "Mette Testvejleder", "kontakt_mail": "mette@test.example",
            "kontakt_telefon": "", "kontakt_tid": at, "job": "Tømrer", "job_tid": job_at,
            "uddannelse": "EUD", "uddannelse_tid": at,
        }  # fmt: skip

    first = [row(p["accepted"][0]), row(p["14"]), row(p["15"]), row(p["86"]), row(p["101"])]
    first.append(row(p["delayed"]))
    first.append(row(p["accepted"][1], future))
    env = {
        **os.environ, "UDB_URL": server.url, "UDB_SYSTEM": name,
        "UDB_CERT": str(vendor["pki"].client_cert), "UDB_KEY": str(vendor["pki"].client_key),
    }  # fmt: skip
    for number, rows in enumerate((first, [row(p["accepted"][1])]), 1):  # then the correction
        batch = tmp_path / f"batch{number}.csv"
        with batch.open("w", newline="", encoding="utf-8") as out:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        done = subprocess.run(
            [*UDB, "send-batch", str(batch), "--out", str(tmp_path / f"results{number}.csv")],
            capture_output=True, text=True, timeout=120, env=env, check=False,
        )  # fmt: skip
        assert done.returncode == (1 if number == 1 else 0), done.stdout + done.stderr
    report = _verification(server, name)
    assert report["verdict"] == "ready", report
    assert _statuses(report) == dict.fromkeys(ALL_CHECKS, "passed")


def test_a_careless_client_fails_exactly_the_checks_it_broke(
    environment: tuple[Server, dict[str, Any]],
) -> None:
    server, vendors = environment
    name, vendor = "Vendor-Careless", vendors["Vendor-Careless"]
    p = vendor["persons"]
    future = datetime.now(UTC) + timedelta(days=2)
    once = RetryPolicy(attempts=1)
    with _client(server, name, vendor, retry=once) as client:
        assert client.send(_report(vendor, p["accepted"][0], server)).accepted
        for scenario in ("15", "86"):
            assert client.send(_report(vendor, p[scenario], server)).code == int(scenario)
        hard = _report(vendor, p["14"], server)
        assert client.send(hard).code == 14
        assert client.send(hard).code == 14  # the rejected report sent again, blindly
        assert client.send(_report(vendor, p["accepted"][1], server, job=future)).code == 280
        assert client.send(_report(vendor, p["accepted"][1], server)).accepted
        report_101 = _report(vendor, p["101"], server)
        assert client.send(report_101).code == 101
        # retried, but under a new transaction id: a new transaction, so 101 again
        assert client.send(report_101).code == 101
    report = _verification(server, name)
    assert report["verdict"] == "not ready"
    statuses = _statuses(report)
    assert {k for k, v in statuses.items() if v != "passed"} == {"retry-101", "no-resend-hard"}
    for check in report["checks"]:
        if check["status"] == "failed":
            assert check["evidence"] and check["fix"], check
            assert all(e["correlation_id"] and e["time"] for e in check["evidence"])


def test_the_delayed_scenario_answers_the_first_attempt_late_and_the_retry_at_once(
    environment: tuple[Server, dict[str, Any]],
) -> None:
    server, vendors = environment
    name, vendor = "Vendor-SDK", vendors["Vendor-SDK"]
    with _client(server, name, vendor, timeout=DELAY_S / 2) as client:
        result = client.send(_report(vendor, vendor["persons"]["delayed"], server))
    assert result.accepted and result.attempts >= 2  # timed out, then answered at once


def test_the_wsdl_says_it_is_a_test_environment(
    environment: tuple[Server, dict[str, Any]],
) -> None:
    server, _ = environment
    wsdl = httpx.get(server.endpoint + "?wsdl", timeout=10).text
    assert "TEST ENVIRONMENT: synthetic data only" in wsdl
    assert "TEST ENVIRONMENT" in server.log()


def test_init_refuses_a_database_with_register_data(tmp_path: Path) -> None:
    url = "sqlite:///" + str(tmp_path / "udb.sqlite3")
    udb("demo", database_url=url)
    done = subprocess.run(
        [*UDB, "testenv", "init", "--database", url],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.startswith("Error: this database holds 2 client system(s)")
    assert "nothing was changed" in done.stderr


def test_scenarios_never_apply_outside_a_test_environment(tmp_path: Path) -> None:
    """The 101 and delayed persons of slot 1, in an ordinary database: answered at once."""
    from udb.service.testenv import slot_persons

    url = "sqlite:///" + str(tmp_path / "udb.sqlite3")
    udb("demo", database_url=url)
    persons = {p.scenario: p for p in slot_persons(1, 751, 101)}
    rows = tmp_path / "persons.csv"
    rows.write_text(
        "cpr,status,municipality_code\n"
        + "".join(f"{persons[s].cpr},active,751\n" for s in ("101", "delayed")),
        encoding="utf-8",
    )
    udb("persons", "import", str(rows), database_url=url)
    server = start_server(tmp_path, demo=False, database_url=url, env={"UDB_TESTENV_DELAY_S": "30"})
    try:
        from tests.e2e.soap import answer, example, with_stid

        for scenario in ("101", "delayed"):
            body = with_stid(example("request.xml")).replace(
                b"1503084232", persons[scenario].cpr.encode()
            )
            got = answer(server.post(body))
            assert got.ok, (scenario, got)
        assert "TEST ENVIRONMENT" not in server.log()
        wsdl = httpx.get(server.endpoint + "?wsdl", timeout=10).text
        assert "TEST ENVIRONMENT" not in wsdl
    finally:
        stop_server(server)


def test_register_imports_into_a_test_environment_are_refused(tmp_path: Path) -> None:
    from tests.support import SHARED

    url = "sqlite:///" + str(tmp_path / "udb.sqlite3")
    udb("db", "migrate", database_url=url)
    udb("testenv", "init", "--slots", "1", database_url=url)
    persons = tmp_path / "persons.csv"
    persons.write_text("cpr,status,municipality_code\n0101084902,dead,101\n", encoding="utf-8")
    extract = SHARED / "data" / "cpr" / "fake-status-extract-80-persons.txt"
    for command, what in (
        (["cpr", "import", str(extract), "--full"], "a CPR extract"),
        (["persons", "import", str(persons)], "a persons file"),
    ):
        done = subprocess.run(
            [*UDB, *command, "--database", url], capture_output=True, text=True, timeout=60,
            check=False,
        )  # fmt: skip
        assert done.returncode == 1
        assert done.stderr.strip() == (
            "Error: this database is a test environment (udb testenv): its register is "
            f"synthetic and {what} would mix real persons into it; nothing was imported"
        )
    shown = udb("persons", "show", "0101084902", "--json", database_url=url).stdout
    assert json.loads(shown)["status"] == "active"
