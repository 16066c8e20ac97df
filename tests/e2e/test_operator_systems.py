"""`udb systems disable / enable / remove` and the list commands, against a secure server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Server, start_server, stop_server, udb
from tests.e2e.soap import answer, example, fault, with_stid
from tests.e2e.test_operator_refusals import one_error_line
from tests.e2e.test_wssecurity import Keys, keys, leaf_of, signed
from udb.wssecurity.certs import make_dev_certificates

AARHUS = "Vejledningssystem-Aarhus"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pki")
    make_dev_certificates(directory, system_name=AARHUS)
    return directory


@pytest.fixture(scope="module")
def secure(pki: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(
        tmp_path_factory.mktemp("secure"), "--trust-anchors", str(pki / "ca.pem"), secure=True
    )
    udb(
        "systems", "add", AARHUS, "--institution", "751001",
        "--cert", str(pki / "client.pem"), database_url=server.database_url,
    )  # fmt: skip
    yield server
    stop_server(server)


def signed_report(server: Server, k: Keys) -> object:
    return server.post(signed(with_stid(example("request.xml")), k))


def signed_ping(server: Server, k: Keys) -> object:
    return server.post(signed(example("ping.xml"), k))


def test_a_disabled_system_is_refused_until_enabled(secure: Server, pki: Path) -> None:
    k = keys(pki)
    assert answer(signed_report(secure, k)).ok  # type: ignore[arg-type]

    disabled = udb("systems", "disable", AARHUS, database_url=secure.database_url)
    assert f"{AARHUS}: disabled; its reports and Pings now get IPL000004" in disabled.stdout
    for response in (signed_report(secure, k), signed_ping(secure, k)):
        f = fault(response)  # type: ignore[arg-type]
        assert (f.reason, f.error_code) == ("Access denied", "IPL000004")
        assert "the client system is disabled" in f.details
    listing = udb("systems", "list", database_url=secure.database_url).stdout
    assert f"{AARHUS}\tinstitutions: 751001\tdisabled since " in listing
    assert "certificate " in listing  # its certificate is kept
    again = udb("systems", "disable", AARHUS, database_url=secure.database_url)
    assert "already" in again.stdout

    enabled = udb("systems", "enable", AARHUS, database_url=secure.database_url)
    assert f"{AARHUS}: enabled; it may report again" in enabled.stdout
    assert answer(signed_report(secure, k)).ok  # type: ignore[arg-type]
    assert b"<v1:Status>up</v1:Status>" in signed_ping(secure, k).content  # type: ignore[attr-defined]
    assert "disabled" not in udb("systems", "list", database_url=secure.database_url).stdout


def test_a_system_that_reported_cannot_be_removed(secure: Server, pki: Path) -> None:
    assert answer(signed_report(secure, keys(pki))).ok  # type: ignore[arg-type]
    result = udb("systems", "remove", AARHUS, database_url=secure.database_url, check=False)
    line = one_error_line(result)
    assert f"{AARHUS} has sent " in line and "so it cannot be removed" in line
    assert f"udb systems disable {AARHUS}" in line
    assert AARHUS in udb("systems", "list", database_url=secure.database_url).stdout
    assert answer(signed_report(secure, keys(pki))).ok  # type: ignore[arg-type]


def test_a_system_without_reports_is_removed_with_its_certificate(
    secure: Server, pki: Path, tmp_path: Path
) -> None:
    newcomer = leaf_of(pki, "Nyt-System")
    cert = tmp_path / "new.pem"
    cert.write_bytes(newcomer.cert)
    udb(
        "systems", "add", "Nyt-System", "--institution", "751001", "--institution", "101001",
        "--cert", str(cert), database_url=secure.database_url,
    )  # fmt: skip
    removed = udb("systems", "remove", "Nyt-System", database_url=secure.database_url)
    assert removed.stdout.strip() == (
        "removed Nyt-System, its 1 pinned certificate(s) and its authorisation for"
        " 2 institution(s) (the institutions stay)"
    )
    assert "Nyt-System" not in udb("systems", "list", database_url=secure.database_url).stdout
    f = fault(secure.post(signed(example("ping.xml"), newcomer)))
    assert (f.error_code, "not registered" in f.details) == ("IPL000004", True)
    institutions = json.loads(
        udb("institutions", "list", "--json", database_url=secure.database_url).stdout
    )
    assert {i["institution_number"] for i in institutions} >= {751001, 101001}


def test_the_list_commands(secure: Server) -> None:
    municipalities = udb("municipalities", "list", database_url=secure.database_url).stdout
    lines = municipalities.splitlines()
    assert lines[0].split() == ["code", "name"] and len(lines) == 1 + 98
    assert any(line.split() == ["751", "Aarhus"] for line in lines)
    data = json.loads(
        udb("municipalities", "list", "--json", database_url=secure.database_url).stdout
    )
    assert {"municipality_code": 860, "name": "Hjørring"} in data

    institutions = udb("institutions", "list", database_url=secure.database_url).stdout
    rows = [line.split() for line in institutions.splitlines()]
    assert rows[0] == ["number", "code", "municipality", "name"]
    assert ["751001", "751", "Aarhus", "KUI", "Aarhus", "(demo)"] in rows
    listed = json.loads(
        udb("institutions", "list", "--json", database_url=secure.database_url).stdout
    )
    assert {
        "institution_number": 101001,
        "municipality_code": 101,
        "municipality": "København",
        "name": "KUI København (demo)",
    } in listed


def test_the_list_commands_on_an_empty_register(tmp_path: Path) -> None:
    url = "sqlite:///" + str(tmp_path / "empty.sqlite3")
    out = udb("institutions", "list", database_url=url).stdout
    assert out.strip() == "no institutions (`udb institutions import FILE.csv` adds them)"
    assert json.loads(udb("institutions", "list", "--json", database_url=url).stdout) == []
