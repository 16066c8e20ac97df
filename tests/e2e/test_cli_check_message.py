"""``udb check-message`` as a real process: the message on standard input, exit statuses 0, 1, 2.

The corpus of broken messages is in tests/unit/test_check_message.py; here the
command runs as a vendor runs it, without a server or a database.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.e2e.conftest import UDB
from tests.unit.wssamples import signed
from tests.unit.xmlsamples import request

#: 13:00 Danish time on 26 November 2026 is NOW (12:00 UTC) of the signed samples
AT_DANISH = "2026-11-26T13:00"
OK_LINE = (
    "OK: the service would refuse nothing here before its register, which decides 14, 86 "
    "and 15, and whether the certificate is pinned to SystemName (IPL000004)"
)


def check_message(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*UDB, "check-message", *args], input=stdin, capture_output=True, timeout=60
    )


def test_a_good_message_on_standard_input_passes_at_danish_local_time() -> None:
    done = check_message(
        "-", "--at", AT_DANISH, "--content-type", "application/soap+xml", stdin=signed()
    )
    assert done.stdout.decode().splitlines() == [OK_LINE]
    assert done.stderr == b""
    assert done.returncode == 0


def test_problems_on_standard_input_are_one_line_each_and_exit_1() -> None:
    unsigned = request(replace={"ModtagerSystemID": "Vejledningssystem-Odense"})
    done = check_message("-", "--at", AT_DANISH, stdin=unsigned)
    assert done.stdout.decode().splitlines() == [
        "note: no --content-type given: SOAP 1.2 (application/soap+xml) assumed from the "
        "envelope's namespace",
        "IPL000003 the request has no WS-Security header: sign it with the system's certificate",
        "IPL000004 ModtagerSystemID must equal Identifier/SystemName",
    ]
    assert done.returncode == 1


def test_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    done = check_message(str(tmp_path / "nowhere.xml"))
    assert done.returncode == 2
    assert done.stdout == b""
    assert b"nowhere.xml" in done.stderr
    assert b"Traceback" not in done.stderr


def test_a_time_that_is_no_time_is_a_usage_error() -> None:
    done = check_message("-", "--at", "tomorrow", stdin=signed())
    assert done.returncode == 2
    assert (
        "'tomorrow' is not an ISO 8601 date and time, e.g. 2026-11-26T13:00:00+01:00, or "
        "2026-11-26T13:00 (Danish local time)" in done.stderr.decode()
    )


def test_a_cert_file_without_a_certificate_is_a_usage_error(tmp_path: Path) -> None:
    pem = tmp_path / "not-a-cert.pem"
    pem.write_text("hello\n")
    done = check_message("-", "--cert", str(pem), stdin=signed())
    assert done.returncode == 2
    assert "the file does not hold a PEM certificate" in done.stderr.decode()
