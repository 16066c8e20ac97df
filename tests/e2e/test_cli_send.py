"""`udb send` and `udb send-batch` as a vendor runs them, against a real secure `udb serve`.

Certificates from `udb dev-certs`, the client certificate pinned with
`udb systems add --cert`, a server that requires signatures, and the client
commands run as processes with their settings in the environment or a
configuration file.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import UDB, Server, start_server, stop_server, udb

pytestmark = pytest.mark.e2e

SYSTEM = "Vejledningssystem-Aarhus"
KUI = 751001
ACCEPTED, UNKNOWN, OTHER_MUNICIPALITY, TOO_OLD = (
    "1503084232",
    "2002104230",
    "1010104238",
    "0101014230",
)
COLUMNS = [
    "cpr",
    "institution",
    "kontakt_navn",
    "kontakt_mail",
    "kontakt_telefon",
    "kontakt_tid",
    "job",
    "job_tid",
    "uddannelse",
    "uddannelse_tid",
]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("cli-pki")
    done = subprocess.run(
        [*UDB, "dev-certs", str(directory), "--system", SYSTEM],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert f"udb systems add {SYSTEM} --institution {KUI} --cert" in done.stdout
    return directory


@pytest.fixture(scope="module")
def secure(pki: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(
        tmp_path_factory.mktemp("cli-send"), "--trust-anchors", str(pki / "ca.pem"), secure=True
    )
    udb(
        "systems", "add", SYSTEM, "--institution", str(KUI), "--cert", str(pki / "client.pem"),
        database_url=server.database_url,
    )  # fmt: skip
    yield server
    stop_server(server)


def client_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """The environment of a client command: no inherited UDB_* settings, no user config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("UDB_")}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "config"), TTY_COMPATIBLE="0", NO_COLOR="1")
    env.update(settings)
    return env


def signing(server: Server, pki: Path, tmp_path: Path) -> dict[str, str]:
    return client_env(
        tmp_path,
        UDB_URL=server.url,
        UDB_SYSTEM=SYSTEM,
        UDB_CERT=str(pki / "client.pem"),
        UDB_KEY=str(pki / "client-key.pem"),
    )


def cli(*args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*UDB, *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )


def report_count(server: Server, cpr: str) -> int:
    shown = udb("persons", "show", cpr, "--json", database_url=server.database_url).stdout
    count = json.loads(shown)["report_count"]
    assert isinstance(count, int)
    return count


def write_rows(server: Server, path: Path, rows: list[dict[str, Any]]) -> Path:
    """A CSV batch; its personal values are noted so the server's log is checked for them."""
    for row in rows:
        server.sent.update(
            v for k, v in row.items() if k in ("cpr", "kontakt_navn", "kontakt_mail") and v
        )
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def row(cpr: str, n: int, *, future: bool = False) -> dict[str, Any]:
    at = datetime.now(UTC) + (timedelta(days=3650) if future else -timedelta(hours=1))
    when = at.replace(microsecond=0).isoformat()
    return {
        "cpr": cpr, "institution": KUI, "kontakt_navn": f"E2e Kontakt {n}",
        "kontakt_mail": f"e2e.kontakt.{n}@example.dk", "kontakt_telefon": "4520304050",
        "kontakt_tid": when, "job": f"E2e job {n}", "job_tid": when,
        "uddannelse": "EUD", "uddannelse_tid": when,
    }  # fmt: skip


def results(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def assert_no_full_cpr(*texts: str) -> None:
    for text in texts:
        for cpr in (ACCEPTED, UNKNOWN, OTHER_MUNICIPALITY, TOO_OLD):
            assert cpr not in text


def test_a_batch_of_300_rows(secure: Server, pki: Path, tmp_path: Path) -> None:
    answers = [ACCEPTED, UNKNOWN, OTHER_MUNICIPALITY, TOO_OLD, ACCEPTED]
    rows = [row(answers[n % 5], n, future=n % 5 == 4) for n in range(300)]
    batch = write_rows(secure, tmp_path / "batch.csv", rows)
    out = tmp_path / "results.csv"
    env = signing(secure, pki, tmp_path)
    before = report_count(secure, ACCEPTED)

    done = cli("send-batch", str(batch), "--out", str(out), "--concurrency", "8", env=env)
    assert done.returncode == 1, done.stderr
    found = results(out)
    assert [int(r["line"]) for r in found] == list(range(2, 302))
    codes = [r["code"] for r in found]
    assert codes == ["", "14", "86", "15", "280"] * 60
    assert {r["outcome"] for r in found[::5]} == {"accepted"}
    assert len({r["system_transaction_id"] for r in found}) == 300
    assert report_count(secure, ACCEPTED) == before + 120  # 60 accepted, 60 logged with 280
    assert "300 row(s) in batch.csv: 60 accepted, 240 rejected, 0 without an answer" in done.stdout
    assert_no_full_cpr(done.stdout, done.stderr, out.read_text(encoding="utf-8"))
    assert not (tmp_path / "results.csv.journal").exists()

    again = cli("send-batch", str(batch), "--out", str(out), "--resume", env=env)
    assert again.returncode == 1 and "0 sent in this run" in again.stdout
    assert results(out) == found
    assert report_count(secure, ACCEPTED) == before + 120


def test_ctrl_c_then_resume_stores_every_row_once(
    secure: Server, pki: Path, tmp_path: Path
) -> None:
    rows = [row(ACCEPTED, 1000 + n) for n in range(300)]
    batch = write_rows(secure, tmp_path / "batch.csv", rows)
    out = tmp_path / "results.csv"
    env = signing(secure, pki, tmp_path)
    before = report_count(secure, ACCEPTED)
    args = [*UDB, "send-batch", str(batch), "--out", str(out), "--concurrency", "2"]
    process = subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if out.exists() and out.read_text(encoding="utf-8").count("\n") > 20:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 2, stderr
    assert "stopped by Ctrl-C" in stderr
    first = results(out)
    assert 20 <= len(first) < 300
    assert [int(r["line"]) for r in first] == list(range(2, 2 + len(first)))
    assert report_count(secure, ACCEPTED) == before + len(first)
    assert f"{300 - len(first)} not sent" in stdout

    done = cli("send-batch", str(batch), "--out", str(out), "--resume", env=env)
    assert done.returncode == 0, done.stderr
    final = results(out)
    assert [int(r["line"]) for r in final] == list(range(2, 302))
    assert final[: len(first)] == first
    assert report_count(secure, ACCEPTED) == before + 300


def test_send_one_report_with_a_config_file_over_mutual_tls(pki: Path, tmp_path: Path) -> None:
    """The vendor guide's test set-up: TLS with client certificates, signatures required."""
    server = start_server(
        tmp_path,
        "--tls-cert", str(pki / "server.pem"), "--tls-key", str(pki / "server-key.pem"),
        "--client-ca", str(pki / "ca.pem"), "--trust-anchors", str(pki / "ca.pem"),
        secure=True, tls=True,
    )  # fmt: skip
    try:
        udb(
            "systems", "add", SYSTEM, "--institution", str(KUI), "--cert", str(pki / "client.pem"),
            database_url=server.database_url,
        )  # fmt: skip
        config = tmp_path / "config" / "udb" / "client.toml"
        config.parent.mkdir(parents=True)
        url = server.url.replace("http://127.0.0.1", "https://localhost")
        config.write_text(
            f'url = "{url}"\nsystem = "{SYSTEM}"\n'
            f'cert = "{pki / "client.pem"}"\nkey = "{pki / "client-key.pem"}"\n'
            f'ca = "{pki / "ca.pem"}"\n'
            f'client_cert = "{pki / "client.pem"}"\nclient_key = "{pki / "client-key.pem"}"\n',
            encoding="utf-8",
        )
        report = row(ACCEPTED, 9000)
        server.sent.update({ACCEPTED, report["kontakt_navn"], report["kontakt_mail"]})
        path = tmp_path / "report.json"
        path.write_text(json.dumps(report), encoding="utf-8")
        env = client_env(tmp_path)
        done = cli("send", str(path), "--json", env=env)
        assert done.returncode == 0, done.stderr
        answer = json.loads(done.stdout)
        assert answer["outcome"] == "accepted" and answer["cpr"] == "150308-****"
        before = report_count(server, ACCEPTED)
        again = cli("send", str(path), "--transaction-id", answer["system_transaction_id"], env=env)
        assert again.returncode == 0 and again.stdout.startswith("accepted")
        assert report_count(server, ACCEPTED) == before  # the same transaction, stored once

        # without the TLS client certificate the connection is refused: no answer, exit 2
        config.write_text(
            "\n".join(line for line in config.read_text().splitlines() if "client_" not in line),
            encoding="utf-8",
        )
        refused = cli("send", str(path), "--attempts", "1", env=env)
        assert refused.returncode == 2
        assert "error: " in refused.stderr and "send it again unchanged" in refused.stderr
        assert_no_full_cpr(done.stdout, again.stdout, refused.stderr)
    finally:
        stop_server(server)
