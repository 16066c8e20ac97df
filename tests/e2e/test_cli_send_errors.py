"""A vendor's mistakes with `udb send` and `udb send-batch`, run as processes against a real
mutual-TLS `udb serve`: each ends with exit status 2 and a line that says whether the report
was stored and which setting to fix; nothing is stored that the line says was not.

Certificates from `udb dev-certs` (a second set plays a CA the client does not trust).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import UDB, Server, free_port, start_server, stop_server, udb
from tests.e2e.test_cli_send import (
    ACCEPTED,
    KUI,
    SYSTEM,
    assert_no_full_cpr,
    cli,
    client_env,
    report_count,
    results,
    row,
    write_rows,
)

pytestmark = pytest.mark.e2e


def dev_certs(directory: Path) -> Path:
    subprocess.run(
        [*UDB, "dev-certs", str(directory), "--system", SYSTEM],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return directory


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return dev_certs(tmp_path_factory.mktemp("errors-pki"))


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another CA and its certificates: not the service's."""
    return dev_certs(tmp_path_factory.mktemp("stranger-pki"))


@pytest.fixture(scope="module")
def mtls(pki: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(
        tmp_path_factory.mktemp("errors-mtls"),
        "--tls-cert", str(pki / "server.pem"), "--tls-key", str(pki / "server-key.pem"),
        "--client-ca", str(pki / "ca.pem"), "--trust-anchors", str(pki / "ca.pem"),
        secure=True, tls=True,
    )  # fmt: skip
    udb(
        "systems", "add", SYSTEM, "--institution", str(KUI), "--cert", str(pki / "client.pem"),
        database_url=server.database_url,
    )  # fmt: skip
    yield server
    stop_server(server)


def https(server: Server) -> str:
    return server.url.replace("http://127.0.0.1", "https://localhost")


def settings(server: Server, pki: Path, tmp_path: Path, **extra: str) -> dict[str, str]:
    """Every setting right (TLS client certificate included), then ``extra`` over them."""
    env = client_env(
        tmp_path,
        UDB_URL=https(server),
        UDB_SYSTEM=SYSTEM,
        UDB_CERT=str(pki / "client.pem"),
        UDB_KEY=str(pki / "client-key.pem"),
        UDB_CA=str(pki / "ca.pem"),
        UDB_CLIENT_CERT=str(pki / "client.pem"),
        UDB_CLIENT_KEY=str(pki / "client-key.pem"),
    )
    env.update(extra)
    return {k: v for k, v in env.items() if v}


def report_file(server: Server, tmp_path: Path, n: int) -> Path:
    report = row(ACCEPTED, n)
    server.sent.update({ACCEPTED, report["kontakt_navn"], report["kontakt_mail"]})
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    return path


def advice_line(stderr: str, *needed: str) -> str:
    """The one line of ``stderr`` that holds every one of ``needed``."""
    lines = [line for line in stderr.splitlines() if all(n in line for n in needed)]
    assert len(lines) == 1, stderr
    return lines[0].strip()


def test_without_the_client_certificate_nothing_is_stored_and_the_setting_is_named(
    mtls: Server, pki: Path, tmp_path: Path
) -> None:
    path = report_file(mtls, tmp_path, 9100)
    before = report_count(mtls, ACCEPTED)
    env = settings(mtls, pki, tmp_path, UDB_CLIENT_CERT="", UDB_CLIENT_KEY="")
    done = cli("send", str(path), "--transaction-id", "e2e-no-client-cert", env=env)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr.startswith("error: TLSHandshakeError: the TLS handshake with localhost:")
    assert "the server asks for a TLS client certificate and none was given" in done.stderr
    line = advice_line(done.stderr, "not stored", "--client-cert")
    assert line == (
        "not stored: the TLS handshake failed, so nothing reached the service; give the TLS "
        "client certificate with --client-cert and --client-key (or UDB_CLIENT_CERT and "
        "UDB_CLIENT_KEY), then send it again unchanged with --transaction-id e2e-no-client-cert"
    )
    assert "attempts:" not in done.stderr  # refused for a setting: not retried
    assert report_count(mtls, ACCEPTED) == before

    # with the setting fixed, the same command stores it
    fixed = cli("send", str(path), "--transaction-id", "e2e-no-client-cert",
                env=settings(mtls, pki, tmp_path))  # fmt: skip
    assert fixed.returncode == 0, fixed.stderr
    assert report_count(mtls, ACCEPTED) == before + 1
    assert_no_full_cpr(done.stdout, done.stderr, fixed.stdout)


def test_send_batch_without_the_client_certificate_stores_nothing(
    mtls: Server, pki: Path, tmp_path: Path
) -> None:
    batch = write_rows(mtls, tmp_path / "batch.csv", [row(ACCEPTED, 9200 + n) for n in range(4)])
    out = tmp_path / "results.csv"
    before = report_count(mtls, ACCEPTED)
    env = settings(mtls, pki, tmp_path, UDB_CLIENT_CERT="", UDB_CLIENT_KEY="")
    done = cli("send-batch", str(batch), "--out", str(out), env=env)
    assert done.returncode == 2, done.stderr
    line = advice_line(done.stderr, "not stored", "--client-cert")
    assert line.startswith("4 row(s) TLSHandshakeError: not stored: the TLS handshake failed")
    assert line.endswith("then run the same command with --resume")
    assert {(r["outcome"], r["code"]) for r in results(out)} == {("error", "TLSHandshakeError")}
    assert report_count(mtls, ACCEPTED) == before

    resumed = cli("send-batch", str(batch), "--out", str(out), "--resume",
                  env=settings(mtls, pki, tmp_path))  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert report_count(mtls, ACCEPTED) == before + 4
    assert_no_full_cpr(done.stdout, done.stderr, resumed.stdout, out.read_text(encoding="utf-8"))


@pytest.mark.parametrize("ca", ["stranger", "public"])
def test_a_server_certificate_the_client_does_not_trust_names_the_ca_setting(
    mtls: Server, pki: Path, stranger: Path, tmp_path: Path, ca: str
) -> None:
    path = report_file(mtls, tmp_path, 9300)
    before = report_count(mtls, ACCEPTED)
    # no --ca at all means the public CAs, which did not issue a dev certificate either
    env = settings(mtls, pki, tmp_path, UDB_CA=str(stranger / "ca.pem") if ca == "stranger" else "")
    if ca == "public":
        env.pop("UDB_CA", None)
    done = cli("send", str(path), env=env)
    assert done.returncode == 2, done.stderr
    assert "the server's certificate is not issued by a CA this client trusts" in done.stderr
    assert advice_line(done.stderr, "not stored", "--ca").startswith(
        "not stored: the TLS handshake failed, so nothing reached the service; give the CA "
        "that issued the server's certificate with --ca (UDB_CA)"
    )
    assert report_count(mtls, ACCEPTED) == before


def test_a_refused_connection_is_not_stored_and_names_the_url(tmp_path: Path, pki: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = client_env(tmp_path, UDB_URL=url, UDB_SYSTEM=SYSTEM, UDB_CERT=str(pki / "client.pem"),
                     UDB_KEY=str(pki / "client-key.pem"))  # fmt: skip
    path = tmp_path / "report.json"
    path.write_text(json.dumps(row(ACCEPTED, 9400)), encoding="utf-8")
    done = cli("send", str(path), "--attempts", "2", "--transaction-id", "e2e-refused", env=env)
    assert done.returncode == 2
    assert (
        done.stderr.startswith("error: ConnectError: cannot connect to 127.0.0.1:")
        and "the connection was refused" in done.stderr
    )
    assert "  attempts:            2" in done.stderr
    assert advice_line(done.stderr, "not stored", "--url") == (
        "not stored: no connection to the service; check --url (UDB_URL) and that the service "
        "is running, then send it again unchanged with --transaction-id e2e-refused"
    )
    assert_no_full_cpr(done.stdout, done.stderr)


def test_a_fault_shows_the_correlation_id_the_server_logged(
    mtls: Server, pki: Path, tmp_path: Path
) -> None:
    path = report_file(mtls, tmp_path, 9500)
    before = report_count(mtls, ACCEPTED)
    env = settings(mtls, pki, tmp_path, UDB_SYSTEM="Ukendt-System")
    done = cli("send", str(path), env=env)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: IPL000004: ")
    shown = re.search(r"^  CorrelationID:\s+([0-9a-f-]{36})$", done.stderr, re.M)
    assert shown, done.stderr
    assert f"correlation_id={shown.group(1)}" in mtls.log()
    assert advice_line(done.stderr, "nothing was stored", "--system").startswith(
        "refused: nothing was stored; the signing certificate is not registered for this system"
    )
    assert report_count(mtls, ACCEPTED) == before

    batch = write_rows(mtls, tmp_path / "batch.csv", [row(ACCEPTED, 9600), row(ACCEPTED, 9601)])
    out = tmp_path / "results.csv"
    batched = cli("send-batch", str(batch), "--out", str(out), env=env)
    assert batched.returncode == 2, batched.stderr
    first = results(out)[0]
    assert first["code"] == "IPL000004"
    assert (
        f"  error IPL000004  line 2 (150308-****)  CorrelationID {first['correlation_id']}  "
        f"SystemTransactionID {first['system_transaction_id']}"
    ) in batched.stdout.splitlines()
    assert f"correlation_id={first['correlation_id']}" in mtls.log()
    assert "2 row(s) IPL000004: refused: nothing was stored" in batched.stderr
    assert report_count(mtls, ACCEPTED) == before
    assert_no_full_cpr(done.stdout, done.stderr, batched.stdout, batched.stderr)
