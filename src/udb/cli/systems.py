"""Client systems: the municipal systems that may call the service."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import click
from cryptography import x509

from udb.cli.common import database_option, open_migrated
from udb.domain.clock import utc_now
from udb.storage import IntegrityError, UnitOfWork
from udb.wssecurity.certs import CertificateError, fingerprint, pinned, read_certificate


@click.group()
def systems() -> None:
    """Registered client systems and the institutions they report for."""


@systems.command("add")
@click.argument("name")
@click.option(
    "--institution",
    "institution_numbers",
    type=click.IntRange(1, 2_147_483_647),
    multiple=True,
    required=True,
    help="Institution number the system may report for (repeat for several).",
)
@click.option(
    "--cert",
    "cert_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM certificate the system signs with (pinned by its SHA-256 fingerprint).",
)
@database_option
def systems_add(
    name: str, institution_numbers: tuple[int, ...], cert_file: Path | None, database_url: str
) -> None:
    """Register system NAME (if new) and authorise it for the given institutions.

    NAME is what the system sends as Identifier/SystemName and ModtagerSystemID.
    With --cert, the certificate it signs with identifies it (WS-Security).
    Adding a system again only adds institutions (and a certificate) to it.
    """
    if not name.strip() or len(name) > 100:
        raise click.BadParameter("must be 1 to 100 characters, not only spaces", param_hint="NAME")
    certificate = _certificate(cert_file) if cert_file else None
    now = utc_now()
    store = open_migrated(database_url)
    try:
        with store.unit_of_work() as uow:
            unknown = sorted(set(institution_numbers) - uow.institutions.numbers())
            if unknown:
                raise click.ClickException(
                    "unknown institution number(s): "
                    + ", ".join(map(str, unknown))
                    + " (import institutions first); nothing was changed"
                )
            system = uow.systems.add(name, institution_numbers, now)
            if certificate is not None:
                _pin(uow, system.id, certificate, now)
            uow.commit()
    except IntegrityError as exc:
        raise click.ClickException(f"cannot add the system: {exc}") from exc
    finally:
        store.close()
    numbers = ", ".join(map(str, sorted(system.institutions)))
    click.echo(f"{system.name}: may report for institution(s) {numbers}")
    if certificate is not None:
        click.echo(f"  certificate {fingerprint(certificate)} pinned")


def _certificate(path: Path) -> x509.Certificate:
    try:
        return read_certificate(path.read_bytes())
    except CertificateError as exc:
        raise click.BadParameter(str(exc), param_hint="--cert") from exc


def _pin(uow: UnitOfWork, system_id: int, certificate: x509.Certificate, now: datetime) -> None:
    found = uow.systems.by_certificate(fingerprint(certificate), now)
    if found is not None and found.id != system_id:
        raise click.ClickException(
            f"that certificate already identifies {found.name}; nothing was changed"
        )
    if found is None:
        uow.systems.add_certificate(system_id, pinned(certificate, now))


@systems.command("rotate")
@click.argument("name")
@click.option(
    "--cert",
    "cert_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="The new PEM certificate.",
)
@click.option(
    "--overlap-days",
    type=click.IntRange(0, 365),
    default=30,
    show_default=True,
    help="How long the current certificate(s) keep identifying the system.",
)
@database_option
def systems_rotate(name: str, cert_file: Path, overlap_days: int, database_url: str) -> None:
    """Pin a new certificate to system NAME; the old one stays valid for the overlap."""
    certificate = _certificate(cert_file)
    now = utc_now()
    until = now + timedelta(days=overlap_days)
    store = open_migrated(database_url)
    try:
        with store.unit_of_work() as uow:
            system = uow.systems.get(name)
            if system is None:
                raise click.ClickException(f"no client system named {name!r}")
            if any(
                c.fingerprint == fingerprint(certificate)
                for c in uow.systems.certificates(system.id)
            ):
                raise click.ClickException("that certificate is already pinned to the system")
            retired = uow.systems.retire_certificates(system.id, until)
            _pin(uow, system.id, certificate, now)
            uow.commit()
    except IntegrityError as exc:
        raise click.ClickException(f"cannot pin the certificate: {exc}") from exc
    finally:
        store.close()
    click.echo(f"{name}: certificate {fingerprint(certificate)} pinned")
    if retired:
        click.echo(
            f"  {retired} earlier certificate(s) identify the system"
            f" until {until:%Y-%m-%d %H:%M} UTC"
        )


@systems.command("list")
@database_option
def systems_list(database_url: str) -> None:
    """List the registered systems and their institutions."""
    store = open_migrated(database_url)
    try:
        with store.unit_of_work(readonly=True) as uow:
            found = [(s, uow.systems.certificates(s.id)) for s in uow.systems.list()]
    finally:
        store.close()
    if not found:
        click.echo("no client systems registered")
        return
    now = utc_now()
    for system, certificates in found:
        numbers = ", ".join(map(str, sorted(system.institutions))) or "-"
        click.echo(f"{system.name}\tinstitutions: {numbers}")
        for c in certificates:
            state = "expired" if c.not_after <= now else f"expires {c.not_after:%Y-%m-%d}"
            if c.retires_at is not None:
                state += (
                    f", retired {c.retires_at:%Y-%m-%d}"
                    if c.retires_at <= now
                    else f", retires {c.retires_at:%Y-%m-%d}"
                )
            click.echo(f"  certificate {c.fingerprint} {c.subject} ({state})")
