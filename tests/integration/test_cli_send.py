"""`udb send` against the real service in-process; the settings of the client commands.

The service is :class:`udb.api.endpoint.Endpoint` on a SQLite store with the
demo data set, WS-Security required, behind :class:`httpx.MockTransport`; the
command reaches it through the ``Network`` seam (click's context object). The
helpers here are shared with ``test_cli_send_batch.py``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result
from cryptography import x509

from tests.support import sqlite_url
from udb import demo
from udb.api.endpoint import Endpoint
from udb.cli import main
from udb.client.cli.settings import Network
from udb.config import Security
from udb.domain.clock import DANISH_TZ, utc_now
from udb.service.reports import ReportPolicy
from udb.storage import Store, open_store
from udb.storage.base import StorageError
from udb.wssecurity.certs import DevCertificates, make_dev_certificates, pinned

SYSTEM = "Vejledningssystem-Aarhus"
KUI = 751001
#: demo persons and what Aarhus's KUI gets for them
ACCEPTED, UNKNOWN, OTHER_MUNICIPALITY, TOO_OLD = (
    "1503084232",
    "2002104230",
    "1010104238",
    "0101014230",
)
ALL_CPRS = (ACCEPTED, UNKNOWN, OTHER_MUNICIPALITY, TOO_OLD)
URL = "http://127.0.0.1:9"  # never contacted: the transport is the service in-process
_STID = re.compile(rb"<v1:SystemTransactionID>([^<]*)<")
_SYSTEM_NAME = re.compile(rb"<v1:SystemName>([^<]*)<")
_CPR = re.compile(rb"<udb:CPRNr>([0-9]{10})<")


def an_hour_ago() -> str:
    return (utc_now() - timedelta(hours=1)).astimezone(DANISH_TZ).isoformat(timespec="seconds")


def report_fields(
    cpr: str = ACCEPTED, name: str = "Mette Sørensen", **extra: Any
) -> dict[str, Any]:
    """The fields of a report with all three blocks, registered an hour ago."""
    at = an_hour_ago()
    fields: dict[str, Any] = {
        "cpr": cpr,
        "institution": KUI,
        "kontakt_navn": name,
        "kontakt_mail": "mette.sorensen@example.dk",
        "kontakt_telefon": "4520304050",
        "kontakt_tid": at,
        "job": "Tømrer",
        "job_tid": at,
        "uddannelse": "EUD, bygge og anlæg",
        "uddannelse_tid": at,
    }
    fields.update(extra)
    return fields


@dataclass
class Sent:
    """What the service received: one entry per request."""

    stids: list[str] = field(default_factory=list)
    systems: list[str] = field(default_factory=list)
    cprs: list[str] = field(default_factory=list)


class Service(httpx.MockTransport):
    """The service's endpoint in-process: demo data, the client certificate pinned.

    ``fail[marker] = n``: the database fails for the next n reports whose
    request holds ``marker`` (e.g. a CPR number or a job text): answered 101,
    nothing stored. ``lose[marker] = n``: the next n answers to such reports
    are lost after the service stored them (a read timeout).
    ``interrupt_at = {n, ...}``: a SIGINT (Ctrl-C) is sent to this process
    (after a short pause) when the n-th request arrives.
    """

    def __init__(self, tmp_path: Path, pki: DevCertificates) -> None:
        tmp_path.mkdir(parents=True, exist_ok=True)
        self.store: Store = open_store(sqlite_url(tmp_path, "service.sqlite3"))
        self.store.migrate()
        now = utc_now()
        demo.load(self.store, now)
        with self.store.unit_of_work() as uow:
            system = uow.systems.get(SYSTEM)
            assert system is not None
            certificate = x509.load_pem_x509_certificate(pki.client_cert.read_bytes())
            uow.systems.add_certificate(system.id, pinned(certificate, now))
            uow.commit()
        self._local = threading.local()
        self.endpoint = Endpoint(
            _Failing(self.store, self._local),  # type: ignore[arg-type]
            ReportPolicy(),
            security=Security(required=True),
        )
        self.lock = threading.Lock()
        self.sent = Sent()
        self.fail: dict[str, int] = {}
        self.lose: dict[str, int] = {}
        self.interrupt_at: set[int] = set()
        super().__init__(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        body = request.content
        cpr = _first(_CPR, body)
        with self.lock:
            self.sent.stids.append(_first(_STID, body))
            self.sent.systems.append(_first(_SYSTEM_NAME, body))
            self.sent.cprs.append(cpr)
            number = len(self.sent.cprs)
            failing = _take(self.fail, body)
            losing = not failing and _take(self.lose, body)
        if number in self.interrupt_at:
            time.sleep(0.2)
            os.kill(os.getpid(), signal.SIGINT)
        self._local.fail = failing
        try:
            reply = self.endpoint.post(body, request.headers.get("content-type"), utc_now())
        finally:
            self._local.fail = False
        if losing:
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return httpx.Response(
            reply.status,
            content=reply.body,
            headers={"content-type": reply.content_type, "x-correlation-id": reply.correlation_id},
        )

    def report_count(self, cpr: str) -> int:
        """Reports logged about ``cpr`` (any outcome), as `udb persons show` counts them."""
        with self.store.unit_of_work(readonly=True) as uow:
            view = uow.persons.view(cpr)
        return 0 if view is None else int(view.report_count)

    def close(self) -> None:
        self.store.close()


def _take(budget: dict[str, int], body: bytes) -> bool:
    """Count one down for the first marker in ``body`` that has some left."""
    for marker, left in budget.items():
        if left > 0 and marker.encode() in body:
            budget[marker] = left - 1
            return True
    return False


def _first(pattern: re.Pattern[bytes], body: bytes) -> str:
    found = pattern.search(body)
    return found.group(1).decode() if found else ""


class _Failing:
    """The store, whose units of work fail (a database outage) in a thread that asks for it."""

    def __init__(self, store: Store, local: threading.local) -> None:
        self.store, self.local = store, local

    def unit_of_work(self, **options: Any) -> Any:
        if getattr(self.local, "fail", False):
            raise StorageError("injected outage")
        return self.store.unit_of_work(**options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevCertificates:
    return make_dev_certificates(tmp_path_factory.mktemp("pki"), system_name=SYSTEM)


@pytest.fixture
def service(tmp_path: Path, pki: DevCertificates) -> Iterator[Service]:
    srv = Service(tmp_path / "service", pki)
    yield srv
    srv.close()


def connection(pki: DevCertificates) -> list[str]:
    return [
        "--url",
        URL,
        "--system",
        SYSTEM,
        "--cert",
        str(pki.client_cert),
        "--key",
        str(pki.client_key),
    ]


def clean_env(tmp_path: Path, **extra: str | None) -> dict[str, str | None]:
    """No UDB_* settings and no user config file unless given; output as off a terminal."""
    env: dict[str, str | None] = {name: None for name in os.environ if name.startswith("UDB_")}
    env.update(
        XDG_CONFIG_HOME=str(tmp_path / "no-config"),
        TTY_COMPATIBLE="0",
        FORCE_COLOR=None,
        NO_COLOR="1",
    )
    env.update(extra)
    return env


def invoke(
    service: httpx.BaseTransport | None,
    tmp_path: Path,
    *args: str,
    input: str | None = None,
    env: dict[str, str | None] | None = None,
) -> Result:
    """Run `udb ARGS` in-process, reaching ``service`` through the Network seam."""
    runner = CliRunner()
    return runner.invoke(
        main,
        list(args),
        obj=Network(service),
        input=input,
        env=clean_env(tmp_path) if env is None else env,
        catch_exceptions=False,
    )


def assert_private(result: Result, *files: Path) -> None:
    """No full CPR number of the demo (or a name or e-mail) in the output or the files."""
    texts = [result.stdout, result.stderr] + [f.read_text(encoding="utf-8") for f in files]
    for text in texts:
        for secret in (*ALL_CPRS, "Mette Sørensen", "mette.sorensen@example.dk", "4520304050"):
            assert secret not in text


def write_json(tmp_path: Path, name: str = "report.json", **fields: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(report_fields(**fields), ensure_ascii=False), encoding="utf-8")
    return path


# udb send -------------------------------------------------------------------------------


def test_send_one_report_accepted(service: Service, pki: DevCertificates, tmp_path: Path) -> None:
    before = service.report_count(ACCEPTED)
    result = invoke(service, tmp_path, "send", str(write_json(tmp_path)), *connection(pki))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "accepted"
    assert "CPR number:          150308-****" in result.stdout
    correlation = re.search(r"CorrelationID:\s+(\S+)", result.stdout)
    stid = re.search(r"SystemTransactionID:\s+(\S+)", result.stdout)
    assert correlation and stid and stid.group(1) == service.sent.stids[0]
    assert service.report_count(ACCEPTED) == before + 1
    assert_private(result)


@pytest.mark.parametrize(
    ("cpr", "code", "kind", "fields"),
    [
        (UNKNOWN, 14, "hard", {}),
        (OTHER_MUNICIPALITY, 86, "hard", {}),
        (TOO_OLD, 15, "hard", {}),
        (ACCEPTED, 280, "soft", {"job_tid": "2099-01-01T09:00:00+01:00"}),
    ],
)
def test_send_rejected_exits_1_with_code_text_and_kind(
    service: Service,
    pki: DevCertificates,
    tmp_path: Path,
    cpr: str,
    code: int,
    kind: str,
    fields: dict[str, str],
) -> None:
    path = write_json(tmp_path, cpr=cpr, **fields)
    result = invoke(service, tmp_path, "send", str(path), *connection(pki))
    assert result.exit_code == 1, result.output
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"rejected: {code} ") and first.endswith(f"({kind})")
    assert f"{cpr[:6]}-****" in result.stdout
    advice = "correct the data" if kind == "soft" else "gets the same answer"
    assert advice in result.stdout
    assert_private(result)


def test_send_json_output_and_the_same_transaction_id_twice(
    service: Service, pki: DevCertificates, tmp_path: Path
) -> None:
    path = write_json(tmp_path, name="Twice Sent")
    args = ("send", str(path), "--json", "--transaction-id", "cli-send-twice", *connection(pki))
    before = service.report_count(ACCEPTED)
    first = invoke(service, tmp_path, *args)
    second = invoke(service, tmp_path, *args)
    assert first.exit_code == second.exit_code == 0
    one, two = json.loads(first.stdout), json.loads(second.stdout)
    assert one["outcome"] == "accepted" and one["accepted"] is True
    assert (one["code"], one["text"], one["kind"], one["error"]) == (None, None, None, None)
    assert one["cpr"] == "150308-****" and one["attempts"] == 1
    assert one["system_transaction_id"] == two["system_transaction_id"] == "cli-send-twice"
    assert one["correlation_id"] != two["correlation_id"]
    assert service.report_count(ACCEPTED) == before + 1  # stored once

    rejected = invoke(service, tmp_path, "send", str(write_json(tmp_path, cpr=UNKNOWN)), "--json",
                      *connection(pki))  # fmt: skip
    data = json.loads(rejected.stdout)
    assert rejected.exit_code == 1
    assert (data["outcome"], data["code"], data["kind"], data["retryable"]) == (
        "rejected", 14, "hard", False,
    )  # fmt: skip
    assert data["text"] == "Den unge findes ikke i Ungedatabasen"


def test_send_reads_standard_input(service: Service, pki: DevCertificates, tmp_path: Path) -> None:
    text = json.dumps(
        {"cpr": ACCEPTED, "institution": "751001", "job": "Smed", "job_tid": an_hour_ago()}
    )
    result = invoke(service, tmp_path, "send", "-", *connection(pki), input=text)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("accepted")


def test_send_an_invalid_report_sends_nothing(
    service: Service, pki: DevCertificates, tmp_path: Path
) -> None:
    path = write_json(
        tmp_path,
        kontakt_telefon="+45 20 30 40 50",
        job_tid="i går",
        uddannelse_tid="",
        institution="Aarhus",
    )
    result = invoke(service, tmp_path, "send", str(path), *connection(pki))
    assert result.exit_code == 2
    assert "  kontakt_telefon: must be 1 to 10 digits 0-9, e.g. 12345678" in result.stderr
    assert "job_tid: is not an ISO 8601 date and time" in result.stderr
    assert "uddannelse_tid: is required when uddannelse is given" in result.stderr
    assert "institution: must be a whole number" in result.stderr
    assert "nothing was sent" in result.stderr
    assert service.sent.stids == []
    assert_private(result)

    as_json = invoke(service, tmp_path, "send", str(path), "--json", *connection(pki))
    data = json.loads(as_json.stdout)
    assert as_json.exit_code == 2 and data["outcome"] == "invalid"
    assert {p["field"] for p in data["problems"]} == {
        "kontakt_telefon", "job_tid", "uddannelse_tid", "institution",
    }  # fmt: skip

    garbage = tmp_path / "garbage.json"
    garbage.write_text('{"cpr": "1503084232",', encoding="utf-8")
    broken = invoke(service, tmp_path, "send", str(garbage), *connection(pki))
    assert broken.exit_code == 2 and "is not valid JSON" in broken.stderr
    assert "1503084232" not in broken.stderr


def test_send_a_fault_exits_2(service: Service, pki: DevCertificates, tmp_path: Path) -> None:
    """Unsigned requests to a service that requires signatures: IPL000003, nothing stored."""
    before = service.report_count(ACCEPTED)
    path = write_json(tmp_path)
    result = invoke(
        service,
        tmp_path,
        "send",
        str(path),
        "--url",
        URL,
        "--system",
        SYSTEM,
        "--insecure-unsigned",
    )
    assert result.exit_code == 2
    assert "warning: requests are sent unsigned (--insecure-unsigned)" in result.stderr
    assert "error: IPL000003: Security error" in result.stderr
    assert "refused: nothing was stored" in result.stderr
    assert service.report_count(ACCEPTED) == before
    data = json.loads(
        invoke(service, tmp_path, "send", str(path), "--json", "--url", URL, "--system", SYSTEM,
               "--insecure-unsigned").stdout
    )  # fmt: skip
    assert data["outcome"] == "error" and data["error"]["error_code"] == "IPL000003"
    assert data["error"]["type"] == "SecurityFault" and data["error"]["http_status"] == 400


def test_send_101_and_lost_answers_are_retried_under_one_transaction(
    service: Service, pki: DevCertificates, tmp_path: Path
) -> None:
    before = service.report_count(ACCEPTED)
    service.fail[ACCEPTED] = 1
    service.lose[ACCEPTED] = 1
    result = invoke(service, tmp_path, "send", str(write_json(tmp_path)), *connection(pki))
    assert result.exit_code == 0, result.output
    assert "attempts:            3" in result.stdout
    assert len(set(service.sent.stids)) == 1 and len(service.sent.stids) == 3
    assert service.report_count(ACCEPTED) == before + 1

    service.fail[ACCEPTED] = 1
    once = invoke(service, tmp_path, "send", str(write_json(tmp_path)), "--attempts", "1",
                  *connection(pki))  # fmt: skip
    assert once.exit_code == 2  # 101: not stored, send again
    assert once.stdout.startswith("rejected: 101 exeption - UDB (retry)")
    assert "send the same report again unchanged, with --transaction-id" in once.stdout


def test_send_without_an_answer_says_how_to_resend(pki: DevCertificates, tmp_path: Path) -> None:
    """A real connection to a closed port: ConnectError, retried, then exit 2 with the id."""
    result = invoke(
        None, tmp_path, "send", str(write_json(tmp_path)), *connection(pki),
        "--attempts", "2", "--timeout", "2", "--transaction-id", "no-answer-1",
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ConnectError: cannot connect")
    assert "attempts:            2" in result.stderr
    assert "send it again unchanged with --transaction-id no-answer-1" in result.stderr


# connection settings ----------------------------------------------------------------------


def _config(path: Path, **values: Any) -> Path:
    lines = [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_settings_flag_over_environment_over_file(
    service: Service, pki: DevCertificates, tmp_path: Path
) -> None:
    # the file names the certificates relative to its own directory
    config_dir = tmp_path / "xdg" / "udb"
    (config_dir / "certs").mkdir(parents=True)
    for source in (pki.client_cert, pki.client_key):
        (config_dir / "certs" / source.name).write_bytes(source.read_bytes())
    _config(
        config_dir / "client.toml",
        url=URL, system="Fra-Filen", cert="certs/client.pem", key="certs/client-key.pem",
    )  # fmt: skip
    report = str(write_json(tmp_path))
    env = clean_env(tmp_path, XDG_CONFIG_HOME=str(tmp_path / "xdg"))

    from_file = invoke(service, tmp_path, "send", report, env=env)
    assert from_file.exit_code == 2 and "IPL000004" in from_file.stderr
    env["UDB_SYSTEM"] = "Fra-Miljoeet"
    from_env = invoke(service, tmp_path, "send", report, env=env)
    assert from_env.exit_code == 2 and "IPL000004" in from_env.stderr
    from_flag = invoke(service, tmp_path, "send", report, "--system", SYSTEM, env=env)
    assert from_flag.exit_code == 0, from_flag.output
    assert service.sent.systems == ["Fra-Filen", "Fra-Miljoeet", SYSTEM]

    # --config (or UDB_CLIENT_CONFIG) names another file; the default is then not read
    other = _config(tmp_path / "other.toml", system=SYSTEM)
    only_other = invoke(service, tmp_path, "send", report, "--config", str(other), env=env)
    assert only_other.exit_code == 2
    assert "missing setting(s): the service URL" in only_other.stderr
    env["UDB_CLIENT_CONFIG"] = str(other)
    from_variable = invoke(service, tmp_path, "send", report, env=env)
    assert from_variable.exit_code == 2 and f"'url' in {other}" in from_variable.stderr


def test_settings_from_the_environment_only(
    service: Service, pki: DevCertificates, tmp_path: Path
) -> None:
    env = clean_env(
        tmp_path,
        UDB_URL=URL,
        UDB_SYSTEM=SYSTEM,
        UDB_CERT=str(pki.client_cert),
        UDB_KEY=str(pki.client_key),
        UDB_TIMEOUT="5",
        UDB_ATTEMPTS="1",
    )
    result = invoke(service, tmp_path, "send", str(write_json(tmp_path)), env=env)
    assert result.exit_code == 0, result.output
    # the server's own variables are not read by the client commands
    env.update(UDB_URL=None, UDB_DATABASE_URL=URL, UDB_PUBLIC_URL=URL)
    missing = invoke(service, tmp_path, "send", str(write_json(tmp_path)), env=env)
    assert (
        missing.exit_code == 2 and "the service URL (--url, UDB_URL or 'url' in" in missing.stderr
    )


def test_missing_and_bad_settings_are_clear_errors(
    service: Service, pki: DevCertificates, tmp_path: Path
) -> None:
    report = str(write_json(tmp_path))
    nothing = invoke(service, tmp_path, "send", report)
    assert nothing.exit_code == 2
    message = nothing.stderr
    for needed in ("the service URL (--url, UDB_URL", "the system name (--system, UDB_SYSTEM",
                   "the signing certificate (--cert, UDB_CERT", "its private key (--key, UDB_KEY",
                   "or --insecure-unsigned"):  # fmt: skip
        assert needed in message
    assert str(tmp_path / "no-config" / "udb" / "client.toml") in message
    assert service.sent.stids == []

    cases: list[tuple[list[str], str]] = [
        (["--timeout", "soon"], "--timeout must be a number of seconds"),
        (["--attempts", "0"], "--attempts must be a whole number from 1 to 20"),
        (["--url", "udb.example.dk"], "must be an http:// or https:// URL"),
        (["--client-cert", str(pki.client_cert)], "--client-cert and --client-key go together"),
        (["--cert", str(tmp_path / "missing.pem")], "cannot read the certificate"),
        (["--key", str(pki.ca_key)], "key"),
        (["--config", str(tmp_path / "absent.toml")], "absent.toml does not exist"),
    ]
    for extra, expected in cases:
        result = invoke(service, tmp_path, "send", report, *connection(pki), *extra)
        assert result.exit_code == 2, (extra, result.output)
        assert expected in result.stderr, (extra, result.stderr)
    bad = _config(tmp_path / "bad.toml", url=URL, sytem=SYSTEM)
    typo = invoke(service, tmp_path, "send", report, "--config", str(bad), *connection(pki))
    assert typo.exit_code == 2 and "unknown key(s)" in typo.stderr and "sytem" in typo.stderr
    assert service.sent.stids == []


def test_a_plain_http_url_to_another_host_is_warned_about(
    service: Service, pki: DevCertificates, tmp_path: Path
) -> None:
    args = ["--system", SYSTEM, "--cert", str(pki.client_cert), "--key", str(pki.client_key)]
    report = str(write_json(tmp_path))
    remote = invoke(service, tmp_path, "send", report, "--url", "http://udb.example.dk", *args)
    assert remote.exit_code == 0, remote.output
    assert "travel unencrypted" in remote.stderr
    local = invoke(service, tmp_path, "send", report, "--url", URL, *args)
    assert "unencrypted" not in local.stderr
