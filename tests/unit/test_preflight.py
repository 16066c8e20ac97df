"""The checks ``udb serve`` makes before serving (udb.cli.preflight), at a fixed instant."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import click
import pytest

from tests.unit import wssamples
from udb.cli.preflight import ListenAddress, check_addresses, check_tls


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_free_addresses_pass() -> None:
    check_addresses([ListenAddress("127.0.0.1", _free_port())])


def test_every_address_of_the_list_is_checked_the_same_way() -> None:
    with socket.socket() as admin:
        admin.bind(("127.0.0.1", 0))
        admin.listen()
        busy = admin.getsockname()[1]
        with pytest.raises(click.ClickException) as caught:
            check_addresses(
                [
                    ListenAddress("127.0.0.1", _free_port()),
                    ListenAddress("127.0.0.1", busy, "--admin-port"),
                ]
            )
    assert caught.value.message == (
        f"127.0.0.1:{busy} is already in use (another udb serve or another program listens "
        "there): stop that one, or choose another --admin-port"
    )


def test_one_port_for_two_listeners_is_refused() -> None:
    port = _free_port()
    with pytest.raises(click.ClickException) as caught:
        check_addresses(
            [ListenAddress("127.0.0.1", port), ListenAddress("127.0.0.1", port, "--admin-port")]
        )
    assert caught.value.message == (
        f"--admin-port {port} is the port of --port too: give each its own port"
    )


def test_a_busy_ipv6_address_is_written_in_brackets() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    with socket.socket(socket.AF_INET6) as holder:
        try:
            holder.bind(("::1", 0))
        except OSError:
            pytest.skip("no IPv6 loopback on this machine")
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(click.ClickException) as caught:
            check_addresses([ListenAddress("::1", port)])
    assert caught.value.message.startswith(f"[::1]:{port} is already in use")


# TLS --------------------------------------------------------------------------------


def _write(folder: Path, name: str, data: bytes) -> str:
    (folder / name).write_bytes(data)
    return str(folder / name)


def test_a_valid_certificate_and_its_key_pass(tmp_path: Path) -> None:
    server = wssamples.client()
    cert = _write(tmp_path, "cert.pem", server.cert_pem)
    key = _write(tmp_path, "key.pem", server.key_pem)
    ca = _write(tmp_path, "ca.pem", wssamples.ca().cert_pem)
    check_tls(cert, key, ca, now=wssamples.NOW)


@pytest.mark.parametrize(
    ("identity", "message"),
    [
        (wssamples.expired_client, "--tls-cert {cert} expired on 2026-11-25 12:00 UTC: renew it"),
        (
            wssamples.future_client,
            "--tls-cert {cert} is not valid before 2026-11-27 12:00 UTC: check this machine's "
            "clock, or use a certificate valid now",
        ),
    ],
)
def test_a_certificate_not_valid_now_is_refused(
    tmp_path: Path, identity: Callable[[], wssamples.Identity], message: str
) -> None:
    cert = _write(tmp_path, "cert.pem", identity().cert_pem)
    key = _write(tmp_path, "key.pem", identity().key_pem)
    with pytest.raises(click.ClickException) as caught:
        check_tls(cert, key, None, now=wssamples.NOW)
    assert caught.value.message == message.format(cert=cert)


def test_a_client_ca_that_has_expired_is_refused(tmp_path: Path) -> None:
    server = wssamples.client()
    cert = _write(tmp_path, "cert.pem", server.cert_pem)
    key = _write(tmp_path, "key.pem", server.key_pem)
    ca = _write(tmp_path, "ca.pem", wssamples.expired_ca().cert_pem)
    with pytest.raises(click.ClickException) as caught:
        check_tls(cert, key, ca, now=wssamples.NOW)
    assert caught.value.message == (
        f"--client-ca {ca}: every certificate in it has expired: give the current CA "
        "certificate that issues the client certificates"
    )
