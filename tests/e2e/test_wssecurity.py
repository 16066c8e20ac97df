"""WS-Security at a running server: secure by default, certificates pinned, replays refused.

Every operation is authenticated alike: a Ping as a report.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.e2e.conftest import Server, start_server, stop_server, udb
from tests.e2e.soap import answer, example, fault, with_stid
from udb.wssecurity import sign
from udb.wssecurity.certs import make_dev_certificates


@dataclass
class Keys:
    cert: bytes
    key: bytes


def keys(directory: Path, name: str = "client") -> Keys:
    return Keys(
        (directory / f"{name}.pem").read_bytes(), (directory / f"{name}-key.pem").read_bytes()
    )


def leaf_of(ca_dir: Path, common_name: str) -> Keys:
    """Another client certificate from the same development CA."""
    ca = x509.load_pem_x509_certificate((ca_dir / "ca.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((ca_dir / "ca-key.pem").read_bytes(), None)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=30))
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return Keys(cert.public_bytes(serialization.Encoding.PEM), pem_key)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pki")
    make_dev_certificates(directory / "ca1", system_name="Vejledningssystem-Aarhus")
    make_dev_certificates(directory / "ca2", system_name="Vejledningssystem-Aarhus")
    return directory


@pytest.fixture(scope="module")
def secure(pki: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(
        tmp_path_factory.mktemp("secure"),
        "--trust-anchors",
        str(pki / "ca1" / "ca.pem"),
        secure=True,
    )
    udb(
        "systems", "add", "Vejledningssystem-Aarhus", "--institution", "751001",
        "--cert", str(pki / "ca1" / "client.pem"), database_url=server.database_url,
    )  # fmt: skip
    yield server
    stop_server(server)


def signed(body: bytes, k: Keys, digest: str = "sha256") -> bytes:
    return sign(body, key_pem=k.key, cert_pem=k.cert, digest=digest)  # type: ignore[arg-type]


def test_an_unsigned_request_is_refused(secure: Server) -> None:
    response = secure.post(with_stid(example("request.xml")))
    assert response.status_code == 400
    f = fault(response)
    assert (f.code, f.reason, f.error_code) == ("s:Sender", "Security error", "IPL000003")
    assert "WS-Security" in f.details
    assert fault(secure.post(example("ping.xml"))).error_code == "IPL000003"


@pytest.mark.parametrize("digest", ["sha256", "sha1"])
def test_a_signed_report_is_accepted_once(secure: Server, pki: Path, digest: str) -> None:
    body = signed(with_stid(example("request.xml")), keys(pki / "ca1"), digest)
    assert answer(secure.post(body)).ok
    replay = fault(secure.post(body))
    assert replay.error_code == "IPL000003" and "replay" in replay.details
    if digest == "sha1":
        assert "SHA-1 signature accepted" in secure.log()


def test_a_signed_ping_answers_up(secure: Server, pki: Path) -> None:
    response = secure.post(signed(example("ping.xml"), keys(pki / "ca1")))
    assert b"<v1:Status>up</v1:Status>" in response.content


def test_a_replayed_signed_ping_is_refused(secure: Server, pki: Path) -> None:
    body = signed(example("ping.xml"), keys(pki / "ca1"))
    assert b"<v1:Status>up</v1:Status>" in secure.post(body).content
    replay = secure.post(body)
    assert replay.status_code == 400
    f = fault(replay)
    assert (f.reason, f.error_code) == ("Security error", "IPL000003")
    assert "replay" in f.details
    fresh = secure.post(signed(example("ping.xml"), keys(pki / "ca1")))
    assert b"<v1:Status>up</v1:Status>" in fresh.content


def test_a_signed_ping_with_an_unregistered_certificate_is_access_denied(
    secure: Server, pki: Path
) -> None:
    stranger = leaf_of(pki / "ca1", "Vejledningssystem-Aarhus")
    response = secure.post(signed(example("ping.xml"), stranger))
    assert response.status_code == 400
    f = fault(response)
    assert (f.reason, f.error_code) == ("Access denied", "IPL000004")
    assert "not registered" in f.details
    assert "Ping fault IPL000004 status=400" in secure.log()


def test_a_tampered_body_is_refused(secure: Server, pki: Path) -> None:
    body = signed(with_stid(example("request.xml")), keys(pki / "ca1"))
    tampered = body.replace(b"1503084232", b"1010104238")
    f = fault(secure.post(tampered))
    assert f.error_code == "IPL000003"
    assert "1010104238" not in f.details


def test_a_certificate_from_another_ca_is_refused(secure: Server, pki: Path) -> None:
    f = fault(secure.post(signed(with_stid(example("request.xml")), keys(pki / "ca2"))))
    assert f.error_code == "IPL000003"


def test_an_unregistered_certificate_is_access_denied(secure: Server, pki: Path) -> None:
    stranger = leaf_of(pki / "ca1", "Vejledningssystem-Aarhus")
    f = fault(secure.post(signed(with_stid(example("request.xml")), stranger)))
    assert (f.reason, f.error_code) == ("Access denied", "IPL000004")
    assert "not registered" in f.details


def test_system_name_must_be_the_certificates_system(secure: Server, pki: Path) -> None:
    body = with_stid(example("request.xml")).replace(
        b"<v1:SystemName>Vejledningssystem-Aarhus", b"<v1:SystemName>Vejledningssystem-Koebenhavn"
    )
    f = fault(secure.post(signed(body, keys(pki / "ca1"))))
    assert f.error_code == "IPL000004"


def test_insecure_dev_mode_warns_at_start_and_on_every_request(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        answer(server.post(with_stid(example("request.xml"))))
        answer(server.post(with_stid(example("request.xml"))))
        log = server.log()
    finally:
        stop_server(server)
    assert "INSECURE DEV MODE: unsigned requests are accepted" in log
    assert log.count("INSECURE DEV MODE: unsigned request correlation_id=") == 2


def test_mutual_tls_requires_a_client_certificate(pki: Path, tmp_path: Path) -> None:
    ca1 = pki / "ca1"
    server = start_server(
        tmp_path,
        "--tls-cert", str(ca1 / "server.pem"), "--tls-key", str(ca1 / "server-key.pem"),
        "--client-ca", str(ca1 / "ca.pem"),
        tls=True,
    )  # fmt: skip
    try:
        context = ssl.create_default_context(cafile=str(ca1 / "ca.pem"))
        context.load_cert_chain(str(ca1 / "client.pem"), str(ca1 / "client-key.pem"))
        url = server.endpoint.replace("http://127.0.0.1", "https://localhost")
        response = httpx.post(
            url,
            content=with_stid(example("request.xml")),
            headers={"content-type": "application/soap+xml"},
            verify=context,
            timeout=10,
        )
        assert answer(response).ok
        bare = ssl.create_default_context(cafile=str(ca1 / "ca.pem"))
        with pytest.raises(httpx.TransportError):
            httpx.post(
                url,
                content=b"x",
                headers={"content-type": "application/soap+xml"},
                verify=bare,
                timeout=10,
            ).read()
    finally:
        stop_server(server)
