"""X.509 certificates: reading, fingerprints, and throw-away development certificates.

Client systems are identified by their certificate's SHA-256 fingerprint
(pinning): ``udb systems add NAME --cert FILE.pem`` stores it.
``udb dev-certs DIR`` makes a throw-away CA with a server certificate for
localhost and a client certificate, for trying the service and for tests; they
are never for production.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from udb.domain.model import ClientCertificate


class CertificateError(ValueError):
    """A file that does not hold a usable certificate."""


def read_certificate(pem: bytes) -> x509.Certificate:
    """The first certificate of a PEM file."""
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise CertificateError("the file does not hold a PEM certificate") from None


def fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 of the certificate's DER encoding, lowercase hex."""
    return certificate.fingerprint(hashes.SHA256()).hex()


def pinned(certificate: x509.Certificate, now: datetime) -> ClientCertificate:
    """The facts about ``certificate`` that a client system's registration keeps."""
    return ClientCertificate(
        fingerprint=fingerprint(certificate),
        subject=certificate.subject.rfc4514_string(),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        added_at=now,
    )


@dataclass(frozen=True, slots=True)
class DevCertificates:
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    @classmethod
    def in_directory(cls, directory: Path) -> DevCertificates:
        """The files :func:`make_dev_certificates` writes into ``directory``."""
        return cls(
            ca_cert=directory / "ca.pem",
            ca_key=directory / "ca-key.pem",
            server_cert=directory / "server.pem",
            server_key=directory / "server-key.pem",
            client_cert=directory / "client.pem",
            client_key=directory / "client-key.pem",
        )

    @property
    def files(self) -> tuple[Path, ...]:
        return (
            self.ca_cert, self.ca_key, self.server_cert, self.server_key,
            self.client_cert, self.client_key,
        )  # fmt: skip

    def existing(self) -> list[Path]:
        """Those of the files that exist already (or are in the way as something else)."""
        return [path for path in self.files if path.exists() or path.is_symlink()]


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _write_key(path: Path, key: rsa.RSAPrivateKey) -> None:
    """Write ``key`` readable by its owner only, from the first byte on."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,  # the most widely read form of an unencrypted key
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a file that existed keeps its mode otherwise
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "UDB development only"),
        ]
    )


def make_dev_certificates(
    directory: Path,
    *,
    system_name: str,
    now: datetime | None = None,
    days: int = 365,
    overwrite: bool = False,
) -> DevCertificates:
    """Write a CA, a server certificate for localhost and a client certificate (PEM).

    Raises :class:`FileExistsError`, before writing anything, if any of the
    files exists already, unless ``overwrite``: replacing a pinned client
    certificate's key locks its system out (IPL000004).
    """
    paths = DevCertificates.in_directory(directory)
    existing = paths.existing()
    if existing and not overwrite:
        raise FileExistsError(", ".join(path.name for path in existing))
    now = now or datetime.now(UTC)
    start, end = now - timedelta(minutes=5), now + timedelta(days=days)
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = _key()
    ca_name = _name("UDB development CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip

    def leaf(
        common_name: str, usage: x509.ObjectIdentifier, san: list[x509.GeneralName] | None
    ) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
        key = _key()
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return builder.sign(ca_key, hashes.SHA256()), key

    server, server_key = leaf(
        "localhost",
        ExtendedKeyUsageOID.SERVER_AUTH,
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
    )
    client, client_key = leaf(system_name, ExtendedKeyUsageOID.CLIENT_AUTH, None)
    for path, cert in (
        (paths.ca_cert, ca),
        (paths.server_cert, server),
        (paths.client_cert, client),
    ):
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(paths.ca_key, ca_key)
    _write_key(paths.server_key, server_key)
    _write_key(paths.client_key, client_key)
    return paths
