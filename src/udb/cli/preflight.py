"""What ``udb serve`` checks before it serves: each failure one line saying what to fix.

* the addresses to listen on (:func:`check_addresses`): an IP address of this
  machine, a port nobody listens on, not one address twice;
* the trust anchors (:func:`check_trust_anchors`): at least one valid now;
* the TLS files (:func:`check_tls`): readable, a PEM certificate and an
  unencrypted PEM private key that belong together, the certificate valid
  now, the client CA a PEM file of certificates.

The trust anchor file is read and parsed by :meth:`udb.config.Settings.security`,
and the database by :func:`udb.cli.common.check_database`.
"""

from __future__ import annotations

import errno
import fcntl
import ipaddress
import os
import socket
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import click
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_private_key,
)

_TO_PKCS8 = "openssl pkcs8 -topk8 -nocrypt -in {path} -out {stem}-unencrypted.pem"


@dataclass(frozen=True, slots=True)
class ListenAddress:
    """An address the server is to listen on, and the option that named its port."""

    host: str
    port: int
    option: str = "--port"

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def host_option(self) -> str:
        """The option that named the host: ``--host``, or ``--admin-host`` for the admin port."""
        return "--admin-host" if self.option == "--admin-port" else "--host"


def check_addresses(addresses: Sequence[ListenAddress]) -> None:
    """Refuse (one line) an address that is not this machine's, or that is in use.

    Each port is first locked for this process (:func:`_lock_port`), so that of
    two ``udb serve`` starting at the same moment on one port only one goes on.
    Then each address is tried by binding a socket of our own, with
    ``SO_REUSEADDR`` and without ``SO_REUSEPORT``: on Linux that fails while
    any socket listens on the port (also one bound with ``SO_REUSEPORT``,
    which is how a second granian would share it), and succeeds over the
    ``TIME_WAIT`` connections a server stopped a moment ago leaves behind.
    Called again (after a long migration), it keeps the locks it holds.
    """
    seen: dict[tuple[str, int], ListenAddress] = {}
    for address in addresses:
        try:
            host = ipaddress.ip_address(address.host)
        except ValueError:
            raise click.ClickException(
                f"{address.host_option} {address.host} is not an IP address: give one of "
                "this machine's addresses (127.0.0.1, ::1, or 0.0.0.0 for all)"
            ) from None
        key = (str(host), address.port)
        if key in seen:
            raise click.ClickException(
                f"{address.option} {address.port} is the port of {seen[key].option} too: "
                "give each its own port"
            )
        seen[key] = address
        _lock_port(address)
        _try_bind(address, socket.AF_INET6 if host.version == 6 else socket.AF_INET)


#: the port locks this process holds, by port: kept open until the process ends
_held: dict[int, int] = {}


def _lock_port(address: ListenAddress) -> None:
    """Hold an exclusive lock on ``udb-serve-port-N.lock`` in the temporary directory.

    The bind probe alone leaves a moment between the probe and granian's own bind,
    and granian binds with ``SO_REUSEPORT``: two servers started together both
    passed the probe and then shared the port (seen: 12 requests split 7/5). The
    lock closes that moment for every ``udb serve`` of this machine; it goes with
    the process (and its forked workers), however it ends.
    """
    if address.port in _held:
        return
    path = Path(tempfile.gettempdir()) / f"udb-serve-port-{address.port}.lock"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
    except OSError as exc:
        raise click.ClickException(
            f"cannot lock {address.option} {address.port} ({path}: {exc.strerror})"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:  # another udb serve of this machine holds it
        os.close(fd)
        raise click.ClickException(
            _bind_problem(address, OSError(errno.EADDRINUSE, os.strerror(errno.EADDRINUSE)))
        ) from None
    _held[address.port] = fd


def _try_bind(address: ListenAddress, family: socket.AddressFamily) -> None:
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address.host, address.port))
        except OSError as exc:
            raise click.ClickException(_bind_problem(address, exc)) from None


def _bind_problem(address: ListenAddress, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"{address} is already in use (another udb serve or another program listens "
            f"there): stop that one, or choose another {address.option}"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return (
            f"{address.host_option} {address.host} is not an address of this machine: give "
            "one of its addresses, or 0.0.0.0 for all"
        )
    if exc.errno == errno.EACCES:
        return (
            f"not allowed to listen on {address} (ports below 1024 need privileges): "
            f"choose another {address.option}"
        )
    return f"cannot listen on {address}: {exc.strerror}"


def check_trust_anchors(
    path: str | None, anchors: Sequence[x509.Certificate], *, now: datetime | None = None
) -> None:
    """Refuse (one line) trust anchors of which none is valid now: no signing certificate
    could chain to them, so every signed request would be refused (IPL000003)."""
    if not path or not anchors:
        return
    now = now or datetime.now(UTC)
    if any(a.not_valid_before_utc <= now <= a.not_valid_after_utc for a in anchors):
        return
    ends = max(a.not_valid_after_utc for a in anchors)
    when = f"expired on {ends:%Y-%m-%d}" if ends < now else "not valid yet"
    raise click.ClickException(
        f"--trust-anchors {path}: no certificate in it is valid now (the last {when}), so "
        "every signed request would be refused: give the CA certificates in force"
    )


def check_tls(
    cert: str | None, key: str | None, client_ca: str | None, *, now: datetime | None = None
) -> None:
    """Refuse (one line) TLS files granian would fail on, or that no client would accept."""
    now = now or datetime.now(UTC)
    if cert and key:
        certificate = _certificates("--tls-cert", cert)[0]
        private_key = _private_key("--tls-key", key)
        if _public(certificate.public_key()) != _public(private_key.public_key()):
            raise click.ClickException(
                f"--tls-key {key} does not belong to --tls-cert {cert} (their public keys "
                "differ): give the key the certificate was issued for"
            )
        _check_validity("--tls-cert", cert, certificate, now)
    if client_ca:
        authorities = _certificates("--client-ca", client_ca)
        if all(now > ca.not_valid_after_utc for ca in authorities):
            raise click.ClickException(
                f"--client-ca {client_ca}: every certificate in it has expired: give the "
                "current CA certificate that issues the client certificates"
            )


def _read(option: str, path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise click.ClickException(
            f"cannot read {option} {path}: {exc.strerror}: check the path and its permissions"
        ) from None


def _certificates(option: str, path: str) -> list[x509.Certificate]:
    data = _read(option, path)
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        pass
    if b"PRIVATE KEY-----" in data:
        hint = "holds a private key, not a certificate: give the certificate (PEM) here"
    else:
        hint = (
            "is not a PEM certificate (-----BEGIN CERTIFICATE-----): convert a DER file "
            f"with `openssl x509 -inform der -in {path} -out {_stem(path)}-cert.pem`"
        )
    raise click.ClickException(f"{option} {path} {hint}")


def _private_key(option: str, path: str) -> PrivateKeyTypes:
    data = _read(option, path)
    convert = _TO_PKCS8.format(path=path, stem=_stem(path))
    try:
        return load_pem_private_key(data, password=None)
    except TypeError:  # encrypted: granian would need its password
        hint = (
            "is encrypted (the server cannot ask for its password): write it unencrypted "
            f"with `{convert}` and let only the service read that file"
        )
    except ValueError:
        if b"-----BEGIN CERTIFICATE-----" in data:
            hint = "holds a certificate, not a private key: give the key (PEM) here"
        else:
            hint = (
                "is not a PEM private key (-----BEGIN PRIVATE KEY-----): convert it with "
                f"`{convert}` (with -inform der for a DER file)"
            )
    raise click.ClickException(f"{option} {path} {hint}")


def _stem(path: str) -> str:
    """``path`` without its suffix, for the name of a converted file beside it."""
    return str(Path(path).with_suffix(""))


def _public(public_key: PublicKeyTypes) -> bytes:
    return public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _check_validity(option: str, path: str, certificate: x509.Certificate, now: datetime) -> None:
    if now > certificate.not_valid_after_utc:
        when = certificate.not_valid_after_utc.strftime("%Y-%m-%d %H:%M UTC")
        raise click.ClickException(f"{option} {path} expired on {when}: renew it")
    if now < certificate.not_valid_before_utc:
        when = certificate.not_valid_before_utc.strftime("%Y-%m-%d %H:%M UTC")
        raise click.ClickException(
            f"{option} {path} is not valid before {when}: check this machine's clock, "
            "or use a certificate valid now"
        )


__all__ = ["ListenAddress", "check_addresses", "check_tls"]
