"""`udb dev-certs`, and certificates pinned with `udb systems add/rotate/list`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509

from udb.cli import main
from udb.wssecurity.certs import fingerprint


@pytest.fixture
def run(store, database_url: str):  # type: ignore[no-untyped-def]
    """Invoke `udb` on the seeded test database (store fixture)."""
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True, db: bool = True):  # type: ignore[no-untyped-def]
        result = runner.invoke(main, [*args, *(["--database", database_url] if db else [])])
        assert (result.exit_code == 0) is ok, result.output
        return result

    return invoke


def certs(run, directory: Path, system: str = "Vejledningssystem-Aarhus") -> tuple[Path, str]:  # type: ignore[no-untyped-def]
    out = run("dev-certs", str(directory), "--system", system, db=False).output
    assert "udb systems add" in out
    client = directory / "client.pem"
    cert = x509.load_pem_x509_certificate(client.read_bytes())
    return client, fingerprint(cert)


def test_dev_certs_makes_a_ca_a_server_and_a_client_certificate(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client, _ = certs(run, tmp_path / "c", "Mit-System")
    ca = x509.load_pem_x509_certificate((tmp_path / "c" / "ca.pem").read_bytes())
    server = x509.load_pem_x509_certificate((tmp_path / "c" / "server.pem").read_bytes())
    leaf = x509.load_pem_x509_certificate(client.read_bytes())
    assert leaf.issuer == ca.subject == server.issuer
    assert "Mit-System" in leaf.subject.rfc4514_string()
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert (tmp_path / "c" / "client-key.pem").stat().st_mode & 0o077 == 0


def test_systems_add_pins_a_certificate_and_list_shows_it(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client, fp = certs(run, tmp_path / "c")
    out = run(
        "systems",
        "add",
        "Vejledningssystem-Aarhus",
        "--institution",
        "751001",
        "--cert",
        str(client),
    ).output
    assert f"certificate {fp} pinned" in out
    listing = run("systems", "list").output
    assert fp in listing and "expires" in listing
    # the same certificate cannot identify a second system
    refused = run(
        "systems", "add", "Andet", "--institution", "751001", "--cert", str(client), ok=False
    )
    assert "already identifies Vejledningssystem-Aarhus" in refused.output
    assert "Andet" not in run("systems", "list").output


def test_rotate_keeps_the_old_certificate_for_the_overlap(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first, old = certs(run, tmp_path / "1")
    second, new = certs(run, tmp_path / "2")
    run(
        "systems",
        "add",
        "Vejledningssystem-Aarhus",
        "--institution",
        "751001",
        "--cert",
        str(first),
    )
    out = run(
        "systems",
        "rotate",
        "Vejledningssystem-Aarhus",
        "--cert",
        str(second),
        "--overlap-days",
        "7",
    ).output
    assert f"certificate {new} pinned" in out and "1 earlier certificate(s)" in out
    listing = run("systems", "list").output
    assert old in listing and new in listing and "retires" in listing
    assert (
        "already pinned"
        in run(
            "systems", "rotate", "Vejledningssystem-Aarhus", "--cert", str(second), ok=False
        ).output
    )
    assert (
        "no client system"
        in run("systems", "rotate", "Ukendt", "--cert", str(second), ok=False).output
    )


def test_a_file_without_a_certificate_is_refused(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    out = run("systems", "add", "X", "--institution", "751001", "--cert", str(bad), ok=False).output
    assert "does not hold a PEM certificate" in out
