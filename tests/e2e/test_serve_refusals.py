"""``udb serve`` refuses to start, in one line and before serving, when it could not serve well.

A busy address (another ``udb serve``, a plain socket, PostgreSQL's port), a
host that is not this machine's, TLS files granian would fail on or no client
would accept, unusable trust anchors. Each run is the real command as a
process; it must end with exit status 1 and exactly one line on stderr, having
logged nothing about serving.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.e2e.conftest import UDB, Server, free_port, start_server, stop_server
from tests.e2e.soap import answer, example, with_stid
from tests.support import postgres_problem
from tests.unit.wssamples import make_identity
from udb.contract import ENDPOINT_PATH
from udb.wssecurity.certs import read_certificate

IN_USE = (
    "Error: 127.0.0.1:{port} is already in use (another udb serve or another program "
    "listens there): stop that one, or choose another --port"
)


def refused(*args: str, database_url: str, env: dict[str, str] | None = None) -> str:
    """Run ``udb serve ARGS`` that must refuse to start; its one line on stderr."""
    process = subprocess.Popen(
        [*UDB, "serve", *args, "--database", database_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail("udb serve started instead of refusing")
    assert process.returncode == 1, stderr
    assert stdout == ""
    assert "Traceback" not in stderr and "serving" not in stderr and "Listening" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


# addresses ------------------------------------------------------------------------


def test_a_port_held_by_another_udb_serve_is_refused_and_the_first_keeps_all_traffic(
    tmp_path: Path,
) -> None:
    (tmp_path / "first").mkdir()
    first = start_server(tmp_path / "first")
    try:
        port = int(first.url.rsplit(":", 1)[1])
        second = tmp_path / "second.sqlite3"
        line = refused("--port", str(port), database_url="sqlite:///" + str(second))
        assert line == IN_USE.format(port=port)
        assert not second.exists()  # refused before touching its database
        # Each report on a connection of its own: a listener sharing the port
        # (SO_REUSEPORT) would be handed some of them.
        ids = []
        for _ in range(12):
            result = answer(first.post(with_stid(example("request.xml"))))
            assert result.ok
            ids.append(result.correlation_id)
        log = first.log()
        assert all(correlation_id in log for correlation_id in ids)
    finally:
        stop_server(first)
    with sqlite3.connect(tmp_path / "first" / "udb.sqlite3") as db:
        logged = {row[0] for row in db.execute("SELECT correlation_id FROM report_log")}
    assert set(ids) <= logged


def test_of_two_udb_serve_started_at_once_on_one_port_one_serves_and_one_refuses(
    tmp_path: Path,
) -> None:
    """Both passed the bind probe before the lock and then shared the port (seen 7/5)."""
    for attempt in range(3):
        port = free_port()
        here = tmp_path / str(attempt)
        here.mkdir()
        processes = []
        for n in range(2):
            with (here / f"{n}.log").open("wb") as log:  # a file: nothing to drain or leak
                processes.append(
                    subprocess.Popen(
                        [
                            *UDB,
                            "serve",
                            "--insecure-dev-mode",
                            "--port",
                            str(port),
                            "--database",
                            "sqlite:///" + str(here / f"{n}.sqlite3"),
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=log,
                        start_new_session=True,
                    )
                )
        try:
            deadline = time.monotonic() + 20
            while all(p.poll() is None for p in processes) and time.monotonic() < deadline:
                time.sleep(0.1)
            refusing = [n for n, p in enumerate(processes) if p.poll() is not None]
            assert len(refusing) == 1, "neither refused: both listen on the port"
            assert processes[refusing[0]].returncode == 1
            line = (here / f"{refusing[0]}.log").read_text().strip()
            assert line == IN_USE.format(port=port)
        finally:
            for p in processes:
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGTERM)
                    try:
                        p.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        os.killpg(p.pid, signal.SIGKILL)
                        p.wait(timeout=10)


def test_a_port_held_by_a_plain_socket_is_refused(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        line = refused("--port", str(port), database_url="sqlite:///" + str(tmp_path / "u.db"))
    assert line == IN_USE.format(port=port)


def test_the_port_of_another_program_is_refused(tmp_path: Path) -> None:
    if postgres_problem():
        pytest.skip("nothing listens on PostgreSQL's port 5432 here")
    line = refused("--port", "5432", database_url="sqlite:///" + str(tmp_path / "u.db"))
    assert line == IN_USE.format(port=5432)


@pytest.mark.parametrize(
    ("host", "message"),
    [
        (
            "192.0.2.1",
            "Error: --host 192.0.2.1 is not an address of this machine: give one of its "
            "addresses, or 0.0.0.0 for all",
        ),
        (
            "localhost",
            "Error: --host localhost is not an IP address: give one of this machine's "
            "addresses (127.0.0.1, ::1, or 0.0.0.0 for all)",
        ),
    ],
)
def test_a_host_that_is_not_an_address_of_this_machine_is_refused(
    tmp_path: Path, host: str, message: str
) -> None:
    database = "sqlite:///" + str(tmp_path / "u.db")
    assert refused("--host", host, "--port", str(free_port()), database_url=database) == message


def _time_wait_on(port: int) -> bool:
    """Whether a TCP connection of this machine's local port ``port`` is in TIME_WAIT."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table, encoding="ascii") as rows:
            for row in list(rows)[1:]:
                local, state = row.split()[1], row.split()[3]
                if int(local.rsplit(":", 1)[1], 16) == port and state == "06":
                    return True
    return False


def _serve_on(port: int, tmp_path: Path, database_url: str) -> Server:
    log_path = tmp_path / "again.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*UDB, "serve", "--port", str(port), "--database", database_url],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server(f"http://127.0.0.1:{port}", database_url, process, log_path)


def test_a_restart_right_after_a_stop_starts(tmp_path: Path) -> None:
    first = start_server(tmp_path)
    port = int(first.url.rsplit(":", 1)[1])
    with httpx.Client() as client:  # a kept-alive connection the stopping server closes
        assert client.get(first.endpoint + "?wsdl").status_code == 200
        stop_server(first)
    assert _time_wait_on(port)
    again = _serve_on(port, tmp_path, first.database_url)
    try:
        deadline = time.monotonic() + 20
        while again.process.poll() is None and time.monotonic() < deadline:
            try:
                if httpx.get(again.endpoint + "?wsdl", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        assert again.process.poll() is None, again.log()
        assert f"serving on http://127.0.0.1:{port}{ENDPOINT_PATH}" in again.log()
    finally:
        stop_server(again)


# TLS files ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``udb dev-certs`` and the wrong files an operator might give instead."""
    folder = tmp_path_factory.mktemp("certs")
    subprocess.run([*UDB, "dev-certs", str(folder)], check=True, capture_output=True)
    key = serialization.load_pem_private_key((folder / "server-key.pem").read_bytes(), None)
    (folder / "encrypted-key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    (folder / "garbage.pem").write_bytes(b"not PEM at all\n")
    assert isinstance(key, rsa.RSAPrivateKey)
    now = datetime.now(UTC)
    for name, not_before, not_after in [
        ("expired.pem", now - timedelta(days=30), now - timedelta(days=1)),
        ("future.pem", now + timedelta(days=1), now + timedelta(days=30)),
    ]:
        identity = make_identity("localhost", key, not_before=not_before, not_after=not_after)
        (folder / name).write_bytes(identity.cert_pem)
    return folder


def _when(path: Path, attribute: str) -> str:
    value: datetime = getattr(read_certificate(path.read_bytes()), attribute)
    return value.strftime("%Y-%m-%d %H:%M UTC")


@pytest.mark.parametrize(
    ("cert", "key", "client_ca", "message"),
    [
        (
            "server.pem",
            "missing.pem",
            None,
            "cannot read --tls-key {d}/missing.pem: No such file or directory: check the path "
            "and its permissions",
        ),
        (
            "server-key.pem",
            "server-key.pem",
            None,
            "--tls-cert {d}/server-key.pem holds a private key, not a certificate: give the "
            "certificate (PEM) here",
        ),
        (
            "garbage.pem",
            "server-key.pem",
            None,
            "--tls-cert {d}/garbage.pem is not a PEM certificate (-----BEGIN CERTIFICATE-----): "
            "convert a DER file with `openssl x509 -inform der -in {d}/garbage.pem -out "
            "{d}/garbage-cert.pem`",
        ),
        (
            "server.pem",
            "server.pem",
            None,
            "--tls-key {d}/server.pem holds a certificate, not a private key: give the key "
            "(PEM) here",
        ),
        (
            "server.pem",
            "garbage.pem",
            None,
            "--tls-key {d}/garbage.pem is not a PEM private key (-----BEGIN PRIVATE KEY-----): "
            "convert it with `openssl pkcs8 -topk8 -nocrypt -in {d}/garbage.pem -out "
            "{d}/garbage-unencrypted.pem` (with -inform der for a DER file)",
        ),
        (
            "server.pem",
            "encrypted-key.pem",
            None,
            "--tls-key {d}/encrypted-key.pem is encrypted (the server cannot ask for its "
            "password): write it unencrypted with `openssl pkcs8 -topk8 -nocrypt -in "
            "{d}/encrypted-key.pem -out {d}/encrypted-key-unencrypted.pem` and let only the "
            "service read that file",
        ),
        (
            "server.pem",
            "client-key.pem",
            None,
            "--tls-key {d}/client-key.pem does not belong to --tls-cert {d}/server.pem (their "
            "public keys differ): give the key the certificate was issued for",
        ),
        (
            "expired.pem",
            "server-key.pem",
            None,
            "--tls-cert {d}/expired.pem expired on {after}: renew it",
        ),
        (
            "future.pem",
            "server-key.pem",
            None,
            "--tls-cert {d}/future.pem is not valid before {before}: check this machine's "
            "clock, or use a certificate valid now",
        ),
        (
            "server.pem",
            "server-key.pem",
            "client-key.pem",
            "--client-ca {d}/client-key.pem holds a private key, not a certificate: give the "
            "certificate (PEM) here",
        ),
    ],
)
def test_a_tls_file_problem_is_refused(
    certs: Path, tmp_path: Path, cert: str, key: str, client_ca: str | None, message: str
) -> None:
    args = ["--tls-cert", str(certs / cert), "--tls-key", str(certs / key)]
    if client_ca:
        args += ["--client-ca", str(certs / client_ca)]
    database = tmp_path / "u.db"
    line = refused(*args, "--port", str(free_port()), database_url="sqlite:///" + str(database))
    expected = message.format(
        d=certs,
        after=_when(certs / cert, "not_valid_after_utc") if cert == "expired.pem" else "",
        before=_when(certs / cert, "not_valid_before_utc") if cert == "future.pem" else "",
    )
    assert line == "Error: " + expected
    assert not database.exists()


# trust anchors --------------------------------------------------------------------


def test_trust_anchors_that_cannot_be_read_are_refused(tmp_path: Path) -> None:
    missing = tmp_path / "anchors.pem"
    line = refused(
        "--trust-anchors", str(missing), database_url="sqlite:///" + str(tmp_path / "u.db")
    )
    assert line == (
        f"Error: cannot read the trust anchors {missing}: No such file or directory: check "
        "--trust-anchors (or UDB_TRUST_ANCHORS) and the file's permissions"
    )


def test_trust_anchors_without_certificates_are_refused(certs: Path, tmp_path: Path) -> None:
    key = certs / "ca-key.pem"
    database = "sqlite:///" + str(tmp_path / "u.db")
    line = refused(database_url=database, env={"UDB_TRUST_ANCHORS": str(key)})
    assert line == (
        f"Error: the trust anchor file {key} holds no valid PEM certificate: give the CA "
        "certificates that issue the signing certificates (-----BEGIN CERTIFICATE-----)"
    )


def test_trust_anchors_none_of_which_is_valid_now_are_refused(certs: Path, tmp_path: Path) -> None:
    expired = certs / "expired.pem"
    database = "sqlite:///" + str(tmp_path / "u.db")
    line = refused("--trust-anchors", str(expired), database_url=database)
    ended = read_certificate(expired.read_bytes()).not_valid_after_utc
    assert line == (
        f"Error: --trust-anchors {expired}: no certificate in it is valid now (the last "
        f"expired on {ended:%Y-%m-%d}), so every signed request would be refused: give the "
        "CA certificates in force"
    )


def test_an_admin_host_that_is_not_of_this_machine_is_named_as_the_admin_host(
    tmp_path: Path,
) -> None:
    database = "sqlite:///" + str(tmp_path / "u.db")
    line = refused(
        "--port", str(free_port()), "--admin-port", str(free_port()),
        "--admin-host", "192.0.2.1", database_url=database,
    )  # fmt: skip
    assert line == (
        "Error: --admin-host 192.0.2.1 is not an address of this machine: give one of its "
        "addresses, or 0.0.0.0 for all"
    )
