"""What the interop tests with real third-party clients share (zeep, node-soap).

A vendor's view of the service: certificates from ``udb dev-certs`` (run as a
command), the client certificate pinned with ``udb systems add ... --cert``, a
real ``udb serve`` that requires signatures (no ``--insecure-dev-mode``) on the
demo data set, and the database read back with ``udb persons show --json``.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.e2e.conftest import UDB, Server, start_server, stop_server, udb
from tests.support import postgres_schema, require_postgres

IPL = "http://ipl.stil.dk/services/udb/indberetningkontaktjoboguddoensker/v1.0"
SYSTEM = "Vejledningssystem-Aarhus"
INSTITUTION = 751001
ACCEPTED_CPR = "1503084232"  # lives in Aarhus, 18: docs/examples/request.xml
UNKNOWN_CPR = "2002104230"  # not in the register: 14
KOEBENHAVN_CPR = "0202854232"  # lives in København: 86 for Aarhus's KUI
OVER_25_CPR = "0101014230"  # lives in Aarhus, 25 or older: 15


@dataclass(frozen=True)
class Certs:
    """One ``udb dev-certs`` directory."""

    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def cert(self) -> Path:
        return self.directory / "client.pem"

    @property
    def key(self) -> Path:
        return self.directory / "client-key.pem"


def dev_certs(directory: Path) -> Certs:
    """``udb dev-certs DIR`` as a vendor runs it."""
    done = subprocess.run(
        [*UDB, "dev-certs", str(directory), "--system", SYSTEM],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert f"udb systems add {SYSTEM} --institution {INSTITUTION} --cert" in done.stdout
    return Certs(directory)


@dataclass(frozen=True)
class Pki:
    pinned: Certs  # registered for the system with ``udb systems add --cert``
    stranger: Certs  # issued by a trusted CA, never registered
    untrusted: Certs  # issued by a CA the server does not trust


def make_pki(directory: Path) -> Pki:
    return Pki(
        dev_certs(directory / "pinned"),
        dev_certs(directory / "stranger"),
        dev_certs(directory / "untrusted"),
    )


@contextmanager
def secure_server(pki: Pki, directory: Path, database: str) -> Iterator[Server]:
    """A server that requires signatures, on the demo data, with the pinned certificate.

    ``database`` is ``sqlite`` or ``postgresql`` (skipped without it, failed in CI).
    """
    anchors = directory / "trust-anchors.pem"
    anchors.write_bytes(pki.pinned.ca.read_bytes() + pki.stranger.ca.read_bytes())
    with ExitStack() as stack:
        database_url = None
        if database == "postgresql":
            require_postgres()
            database_url = stack.enter_context(postgres_schema())
        server = start_server(
            directory, "--trust-anchors", str(anchors), secure=True, database_url=database_url
        )
        try:
            udb(
                "systems", "add", SYSTEM, "--institution", str(INSTITUTION),
                "--cert", str(pki.pinned.cert), database_url=server.database_url,
            )  # fmt: skip
            assert "unsigned requests are accepted" not in server.log()
            yield server
        finally:
            stop_server(server)


def show(server: Server, cpr: str) -> dict[str, Any]:
    """``udb persons show CPR --json``: what the database holds about the person."""
    data = find(server, cpr)
    assert data is not None, f"no person {cpr}"
    return data


def find(server: Server, cpr: str) -> dict[str, Any] | None:
    """Like :func:`show`, or None when the register has no such person."""
    done = udb("persons", "show", cpr, "--json", database_url=server.database_url, check=False)
    if done.returncode != 0:
        assert "no person" in done.stdout + done.stderr, done.stderr
        return None
    data = json.loads(done.stdout)
    assert isinstance(data, dict)
    return data
