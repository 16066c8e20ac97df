"""What `udb send` and `udb send-batch` say after every kind of failure: stored, not stored or
unknown, and what to do, naming the setting to fix.

The network is an :class:`httpx.MockTransport` that raises the exceptions httpx raises
(with their ``ssl``/socket causes) or answers as a proxy or the service would; the
command reaches it through the ``Network`` seam. The helpers are ``test_cli_send.py``'s.
"""

from __future__ import annotations

import json
import re
import ssl
from pathlib import Path

import httpx
import pytest
from click.testing import Result

from tests.integration.test_cli_send import (
    SYSTEM,
    URL,
    Service,
    assert_private,
    connection,
    invoke,
    report_fields,
    write_json,
)
from tests.integration.test_cli_send_batch import write_csv
from tests.unit.clientsupport import CORRELATION, Script
from udb.contract import faults
from udb.wssecurity.certs import DevCertificates, make_dev_certificates


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevCertificates:
    return make_dev_certificates(tmp_path_factory.mktemp("pki"), system_name=SYSTEM)


def caused(exc: httpx.RequestError, cause: BaseException) -> httpx.RequestError:
    exc.__cause__ = cause
    return exc


def alert(reason: str) -> httpx.RequestError:
    """What httpx raises when the server ends the TLS handshake with an alert."""
    text = f"[SSL: {reason}] {reason.lower().replace('_', ' ')} (_ssl.c:2580)"
    return caused(httpx.ReadError(text), ssl.SSLError(1, text))


def unverified(code: int, message: str) -> httpx.RequestError:
    """What httpx raises when the server's certificate does not verify."""
    text = f"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {message} (_ssl.c:1006)"
    error = ssl.SSLCertVerificationError(1, text)
    error.reason, error.verify_code, error.verify_message = (
        "CERTIFICATE_VERIFY_FAILED",
        code,
        message,
    )
    return caused(httpx.ConnectError(text), error)


REFUSED = caused(httpx.ConnectError("[Errno 111] Connection refused"), ConnectionRefusedError())


def last_line(stderr: str) -> str:
    """The advice: the last line `udb send` writes about an error."""
    return stderr.strip().splitlines()[-1].strip()


@pytest.mark.parametrize(
    ("failure", "first", "advice"),
    [
        (
            alert("TLSV13_ALERT_CERTIFICATE_REQUIRED"),
            "error: TLSHandshakeError: the TLS handshake with 127.0.0.1:9 failed: the server asks "
            "for a TLS client certificate and none was given (TLSV13_ALERT_CERTIFICATE_REQUIRED)",
            "not stored: the TLS handshake failed, so nothing reached the service; give the TLS "
            "client certificate with --client-cert and --client-key (or UDB_CLIENT_CERT and "
            "UDB_CLIENT_KEY), then send it again unchanged with --transaction-id tx-cli",
        ),
        (
            alert("SSLV3_ALERT_BAD_CERTIFICATE"),
            "error: TLSHandshakeError: the TLS handshake with 127.0.0.1:9 failed: the server "
            "refused the TLS client certificate (SSLV3_ALERT_BAD_CERTIFICATE)",
            "not stored: the TLS handshake failed, so nothing reached the service; check "
            "--client-cert and --client-key (UDB_CLIENT_CERT, UDB_CLIENT_KEY)",
        ),
        (
            unverified(20, "unable to get local issuer certificate"),
            "error: TLSHandshakeError: the TLS handshake with 127.0.0.1:9 failed: the server's "
            "certificate is not issued by a CA this client trusts",
            "not stored: the TLS handshake failed, so nothing reached the service; give the CA "
            "that issued the server's certificate with --ca (UDB_CA), then send it again",
        ),
        (
            unverified(62, "Hostname mismatch, certificate is not valid for '127.0.0.1'."),
            "error: TLSHandshakeError: the TLS handshake with 127.0.0.1:9 failed: the server's "
            "certificate is not valid for the name 127.0.0.1",
            "not stored: the TLS handshake failed, so nothing reached the service; use a host "
            "name in --url (UDB_URL) that the server's certificate names",
        ),
        (
            unverified(10, "certificate has expired"),
            "error: TLSHandshakeError: the TLS handshake with 127.0.0.1:9 failed: the server's "
            "certificate has expired, or this machine's clock is wrong",
            "not stored: the TLS handshake failed, so nothing reached the service; check this "
            "machine's clock",
        ),
        (
            REFUSED,
            "error: ConnectError: cannot connect to 127.0.0.1:9: the connection was refused",
            "not stored: no connection to the service; check --url (UDB_URL) and that the service "
            "is running, then send it again unchanged with --transaction-id tx-cli",
        ),
        (
            httpx.ConnectTimeout("timed out"),
            "error: TimeoutException: timed out connecting to 127.0.0.1:9",
            "not stored: nothing reached the service; send it again unchanged with "
            "--transaction-id tx-cli",
        ),
        (
            httpx.ReadTimeout("timed out"),
            "error: TimeoutException: timed out waiting for the answer from 127.0.0.1:9",
            "may have been stored: no answer came; send it again unchanged with --transaction-id "
            "tx-cli: the service stores a report at most once",
        ),
        (
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            "error: NetworkError: the connection to 127.0.0.1:9 broke before the answer came",
            "may have been stored: no answer came; send it again unchanged with --transaction-id "
            "tx-cli",
        ),
        (
            httpx.Response(502, text="<html>Bad Gateway</html>"),
            "error: HTTP 502: ",
            "may have been stored: HTTP 502 is not an answer of the service (the service or a "
            "proxy in front of it is failing); send it again unchanged with --transaction-id "
            "tx-cli",
        ),
        (
            httpx.Response(404, text="<html>Not Found</html>"),
            "error: HTTP 404: ",
            "may have been stored: HTTP 404 is not an answer of the service (check --url "
            "(UDB_URL) and any proxy in between)",
        ),
        (
            faults.INTERNAL,
            "error: IPL000001: ",
            "may have been stored: the service failed (IPL000001); send it again unchanged with "
            "--transaction-id tx-cli: it stores a report at most once; if this goes on, give the "
            "CorrelationID to the service's operator",
        ),
        (
            faults.ACCESS_DENIED,
            "error: IPL000004: ",
            "refused: nothing was stored; the signing certificate is not registered for this "
            "system: check --system and --cert (UDB_SYSTEM, UDB_CERT)",
        ),
        (
            faults.SECURITY,
            "error: IPL000003: ",
            "refused: nothing was stored; check the signing certificate and key (--cert, --key; "
            "UDB_CERT, UDB_KEY) and this machine's clock, then send it again",
        ),
        (
            faults.TRANSACTION_REUSED,
            "error: IPL000005: ",
            "refused: nothing was stored; this transaction id belongs to another report: send "
            "this one under a new transaction id",
        ),
        (
            faults.SCHEMA,
            "error: IPL000002: ",
            "refused: nothing was stored; the service finds the request invalid (see above): "
            "give the CorrelationID to the service's support",
        ),
    ],
)
def test_udb_send_says_whether_the_report_was_stored_and_what_to_fix(
    pki: DevCertificates, tmp_path: Path, failure: object, first: str, advice: str
) -> None:
    script = Script(failure)
    result = invoke(
        httpx.MockTransport(script), tmp_path, "send", str(write_json(tmp_path)),
        *connection(pki), "--attempts", "2", "--transaction-id", "tx-cli",
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.splitlines()[0].startswith(first), result.stderr
    assert last_line(result.stderr).startswith(advice), result.stderr
    assert "  SystemTransactionID: tx-cli" in result.stderr
    correlation = CORRELATION if isinstance(failure, faults.FaultSpec) else "-"
    assert f"  CorrelationID:       {correlation}" in result.stderr
    assert_private(result)


def test_the_json_output_says_whether_it_may_be_stored(
    pki: DevCertificates, tmp_path: Path
) -> None:
    report = str(write_json(tmp_path))
    cases = [
        (alert("TLSV13_ALERT_CERTIFICATE_REQUIRED"), False, "client-cert-missing", 1),
        (httpx.ReadTimeout("lost"), True, None, 2),
        (REFUSED, False, None, 2),
        (faults.SECURITY, False, None, 1),
    ]
    for failure, stored, problem, attempts in cases:
        script = Script(failure)
        result = invoke(httpx.MockTransport(script), tmp_path, "send", report, "--json",
                        *connection(pki), "--attempts", "2")  # fmt: skip
        assert result.exit_code == 2
        data = json.loads(result.stdout)
        assert data["outcome"] == "error" and data["may_be_stored"] is stored, failure
        assert data["error"]["tls_problem"] == problem
        assert data["attempts"] == attempts == len(script.requests)
        assert data["advice"].startswith(
            "may have been stored" if stored else ("not stored", "refused: nothing was stored")
        )

    # a refusal after a request that got no answer: it may have been stored after all
    mixed = Script(httpx.ReadTimeout("lost"), REFUSED)
    text = invoke(httpx.MockTransport(mixed), tmp_path, "send", report, *connection(pki),
                  "--attempts", "2", "--transaction-id", "tx-mixed")  # fmt: skip
    assert last_line(text.stderr).startswith(
        "may have been stored by an earlier attempt: no connection to the service"
    )


def test_a_fault_shows_its_correlation_id(pki: DevCertificates, tmp_path: Path) -> None:
    """The real service in-process: the CorrelationID printed is the one it answered with."""
    service = Service(tmp_path / "service", pki)
    try:
        result = invoke(service, tmp_path, "send", str(write_json(tmp_path)), "--url", URL,
                        "--system", "Ukendt-System", "--cert", str(pki.client_cert),
                        "--key", str(pki.client_key))  # fmt: skip
        assert result.exit_code == 2
        assert result.stderr.startswith("error: IPL000004: ")
        shown = re.search(r"^  CorrelationID:\s+(\S+)$", result.stderr, re.M)
        assert shown and re.fullmatch(r"[0-9a-f-]{36}", shown.group(1)), result.stderr
        data = json.loads(
            invoke(service, tmp_path, "send", str(write_json(tmp_path)), "--json", "--url", URL,
                   "--system", "Ukendt-System", "--cert", str(pki.client_cert),
                   "--key", str(pki.client_key)).stdout
        )  # fmt: skip
        assert re.fullmatch(r"[0-9a-f-]{36}", data["correlation_id"])
        assert data["correlation_id"] != shown.group(1)  # one per exchange
    finally:
        service.close()


def test_a_bad_transaction_id_is_a_usage_error_and_nothing_is_sent(
    pki: DevCertificates, tmp_path: Path
) -> None:
    script = Script(None)
    result = invoke(httpx.MockTransport(script), tmp_path, "send", str(write_json(tmp_path)),
                    *connection(pki), "--transaction-id", "x" * 101)  # fmt: skip
    assert result.exit_code == 2
    assert "Invalid value for '--transaction-id': is longer than the maximum length 100" in (
        result.stderr
    )
    assert "nothing was sent" in result.stderr and "send.transaction_id" not in result.stderr
    assert script.requests == []


# send-batch ---------------------------------------------------------------------------------


def batch(tmp_path: Path, n: int) -> Path:
    return write_csv(tmp_path, [report_fields(job=f"Job {i}") for i in range(n)])


def send_batch(
    transport: httpx.BaseTransport, pki: DevCertificates, tmp_path: Path, path: Path, *extra: str
) -> Result:
    out = str(tmp_path / "results.csv")
    return invoke(transport, tmp_path, "send-batch", str(path), "--out", out, *connection(pki),
                  *extra)  # fmt: skip


def test_send_batch_names_the_tls_setting_and_says_nothing_was_stored(
    pki: DevCertificates, tmp_path: Path
) -> None:
    script = Script(alert("TLSV13_ALERT_CERTIFICATE_REQUIRED"))
    result = send_batch(httpx.MockTransport(script), pki, tmp_path, batch(tmp_path, 3))
    assert result.exit_code == 2
    err = result.stderr
    assert len(script.requests) == 3  # one each: a refused handshake is not retried
    assert (
        "3 row(s) TLSHandshakeError: not stored: the TLS handshake failed, so nothing reached "
        "the service; give the TLS client certificate with --client-cert and --client-key (or "
        "UDB_CLIENT_CERT and UDB_CLIENT_KEY), then run the same command with --resume"
    ) in err
    assert "have no answer for good yet" not in err


def test_send_batch_shows_the_first_correlation_id_of_each_outcome(
    pki: DevCertificates, tmp_path: Path
) -> None:
    service = Service(tmp_path / "service", pki)
    try:
        rows = [report_fields(), report_fields(cpr="2002104230"), report_fields()]
        result = invoke(service, tmp_path, "send-batch", str(write_csv(tmp_path, rows)),
                        "--out", str(tmp_path / "results.csv"), "--url", URL, "--system", SYSTEM,
                        "--insecure-unsigned")  # fmt: skip
        assert result.exit_code == 2
        lines = result.stdout.splitlines()
        header = lines.index("first row of each outcome (every row is in results.csv):")
        first = lines[header + 1]
        assert re.fullmatch(
            r"  error IPL000003  line 2 \(150308-\*\*\*\*\)  CorrelationID [0-9a-f-]{36}  "
            r"SystemTransactionID [0-9a-f-]{36}",
            first,
        ), first
        written = (tmp_path / "results.csv").read_text(encoding="utf-8").splitlines()[1]
        assert written.split(",")[5] in first  # the CorrelationID of line 2
        assert (
            "3 row(s) IPL000003: refused: nothing was stored; check the signing certificate and "
            "key (--cert, --key; UDB_CERT, UDB_KEY) and this machine's clock, then run the same "
            "command with --resume"
        ) in result.stderr
        assert_private(result, tmp_path / "results.csv")
    finally:
        service.close()


def test_send_batch_tells_rows_not_stored_from_rows_that_may_be(
    pki: DevCertificates, tmp_path: Path
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if b"Job 0<" in request.content:
            raise REFUSED
        if b"Job 1<" in request.content:
            raise httpx.ReadTimeout("lost", request=request)
        return httpx.Response(502, text="<html>Bad Gateway</html>")

    result = send_batch(httpx.MockTransport(handler), pki, tmp_path, batch(tmp_path, 3),
                        "--attempts", "1")  # fmt: skip
    assert result.exit_code == 2
    assert (
        "3 row(s) have no answer for good yet: run the same command with --resume to send them "
        "(again, under the same transaction ids); of these, 1 not stored (101, or no "
        "connection), 2 may have been stored (no answer came; the service stores each at most "
        "once)"
    ) in result.stderr


def test_unusable_settings_are_told_in_the_commands_words(
    pki: DevCertificates, tmp_path: Path
) -> None:
    script = Script(None)
    report = str(write_json(tmp_path))
    cases: list[tuple[list[str], str]] = [
        (["--system", "x" * 101],
         "the system name (--system, UDB_SYSTEM) is longer than the maximum length 100"),
        (["--system", "   "], "--system must not be empty"),
        (["--client-cert", str(pki.client_cert), "--client-key", str(pki.ca_key)],
         "the key does not belong to the certificate"),
        (["--ca", str(pki.client_key)], "it holds no PEM certificate"),
        (["--cert", str(pki.client_key)], "is not a PEM certificate"),
    ]  # fmt: skip
    for extra, words in cases:
        result = invoke(httpx.MockTransport(script), tmp_path, "send", report, *connection(pki),
                        *extra)  # fmt: skip
        assert result.exit_code == 2, (extra, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0], (extra, result.stderr)
        for python in ("UdbClient.", "_ssl.c", "[SSL", "[X509", "Errno", " str "):
            assert python not in lines[0], (extra, lines[0])
    config = tmp_path / "client.toml"
    config.write_text("system = 5\n", encoding="utf-8")
    numeric = invoke(httpx.MockTransport(script), tmp_path, "send", report, "--config",
                     str(config), "--url", URL)  # fmt: skip
    assert numeric.exit_code == 2
    assert f"'system' in {config} must be text in quotes" in numeric.stderr
    assert script.requests == []
