"""``udb reconcile`` end to end, on SQLite and PostgreSQL: a real ``udb serve`` that requires
signatures, reports sent with the SDK, then a planted missing report (a person of LOCAL.csv
never sent) and a planted difference (LOCAL has a newer job wish than UDB): reconcile lists
exactly those two, ``--send`` repairs both, and a second reconcile finds everything ``same``.
``udb fetch`` reads the repaired data back."""

from __future__ import annotations

import csv
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.conftest import UDB, Server, udb
from tests.e2e.interop import INSTITUTION, SYSTEM, Pki, make_pki, secure_server
from udb.client import Contact, EducationWish, JobWish, Report, UdbClient
from udb.domain.clock import DANISH_TZ

pytestmark = pytest.mark.e2e

#: the demo's person in Aarhus, and three more imported into the register (born 2008)
SENT_SAME, SENT_OLDER, NEVER_SENT, SENT_ONLY = (
    "1503084232",
    "0505084231",
    "0606084233",
    "1212084235",
)
LOCAL_CPRS = (SENT_SAME, SENT_OLDER, NEVER_SENT, SENT_ONLY)
NOW = datetime.now(UTC).replace(microsecond=0)
T1 = (NOW - timedelta(days=3)).astimezone(DANISH_TZ)
T2 = (NOW - timedelta(days=1)).astimezone(DANISH_TZ)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, pki: Pki, tmp_path: Path) -> Iterator[Server]:
    with secure_server(pki, tmp_path, request.param) as running:
        register = tmp_path / "register.csv"
        register.write_text(
            "cpr,status,municipality_code\n"
            + "".join(f"{cpr},active,751\n" for cpr in LOCAL_CPRS[1:]),
            encoding="utf-8",
        )
        udb("persons", "import", str(register), database_url=running.database_url)
        running.sent.update(LOCAL_CPRS)
        running.sent.update({"Mette Sørensen", "mette@example.dk"})
        yield running


def client_env(server: Server, pki: Pki, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UDB_")}
    env.update(
        UDB_URL=server.url,
        UDB_SYSTEM=SYSTEM,
        UDB_CERT=str(pki.pinned.cert),
        UDB_KEY=str(pki.pinned.key),
        XDG_CONFIG_HOME=str(tmp_path / "no-config"),
        NO_COLOR="1",
    )
    return env


def command(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*UDB, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def statuses(path: Path) -> dict[str, tuple[str, str]]:
    with path.open(encoding="utf-8", newline="") as file:
        return {row["cpr"]: (row["status"], row["blocks"]) for row in csv.DictReader(file)}


def test_reconcile_finds_the_planted_differences_and_send_repairs_them(
    server: Server, pki: Pki, tmp_path: Path
) -> None:
    contact = Contact("Mette Sørensen", "mette@example.dk", T1)
    with UdbClient(server.url, system_name=SYSTEM, cert=pki.pinned.cert, key=pki.pinned.key) as c:
        for report in (
            Report(SENT_SAME, INSTITUTION, contact=contact, job=JobWish("Tømrer", T1)),
            Report(SENT_OLDER, INSTITUTION, job=JobWish("Smed", T1)),
            Report(SENT_ONLY, INSTITUTION, education=EducationWish("EUD", T1)),
        ):
            assert c.send(report).accepted
    local = tmp_path / "local.csv"
    local.write_text(
        "cpr,institution,kontakt_navn,kontakt_mail,kontakt_tid,job,job_tid,uddannelse,"
        "uddannelse_tid\n"
        f"{SENT_SAME},{INSTITUTION},Mette Sørensen,mette@example.dk,{T1.isoformat()},"
        f"Tømrer,{T1.isoformat()},,\n"
        f"{SENT_OLDER},{INSTITUTION},,,,Elektriker,{T2.isoformat()},,\n"  # newer than UDB's
        f"{NEVER_SENT},{INSTITUTION},,,,Maler,{T2.isoformat()},,\n"  # never reported
        f"{SENT_ONLY},{INSTITUTION},,,,,,EUD,{T1.isoformat()}\n",
        encoding="utf-8",
    )
    env = client_env(server, pki, tmp_path)
    base = ["reconcile", str(local), "--institution", str(INSTITUTION)]

    first = command(env, *base, "--out", str(tmp_path / "diff.csv"))
    assert first.returncode == 1, first.stderr
    assert statuses(tmp_path / "diff.csv") == {
        SENT_SAME: ("same", ""),
        SENT_OLDER: ("differs", "job"),
        NEVER_SENT: ("missing", "job"),
        SENT_ONLY: ("same", ""),
    }
    assert not any(cpr in first.stdout + first.stderr for cpr in LOCAL_CPRS)

    repaired = command(env, *base, "--out", str(tmp_path / "repair.csv"), "--send")
    assert repaired.returncode == 1, repaired.stderr
    assert "sending 2 row(s) of repair.send.csv" in repaired.stdout
    with (tmp_path / "repair.results.csv").open(encoding="utf-8", newline="") as file:
        assert [row["outcome"] for row in csv.DictReader(file)] == ["accepted", "accepted"]

    last = command(env, *base, "--out", str(tmp_path / "again.csv"))
    assert last.returncode == 0, last.stdout + last.stderr
    assert {s for s, _ in statuses(tmp_path / "again.csv").values()} == {"same"}

    fetched = tmp_path / "udb.csv"
    done = command(env, "fetch", "--institution", str(INSTITUTION), "--cpr", SENT_OLDER,
                   "--cpr", NEVER_SENT, "--out", str(fetched))  # fmt: skip
    assert done.returncode == 0, done.stderr
    with fetched.open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [(r["cpr"], r["job"], r["job_af"]) for r in rows] == [
        (SENT_OLDER, "Elektriker", SYSTEM),
        (NEVER_SENT, "Maler", SYSTEM),
    ]
    assert datetime.fromisoformat(rows[0]["job_tid"]) == T2
