"""Client systems: the municipal systems that may call the service."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import click
from cryptography import x509

from udb.cli.common import database_option, open_migrated
from udb.cli.params import WholeNumber
from udb.domain.clock import utc_now
from udb.domain.model import ClientSystem
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
    type=WholeNumber(1, 2_147_483_647, "an institution number"),
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
    if system.disabled:
        click.echo(f"  the system is disabled: `udb systems enable {system.name}` lets it report")


def _named(uow: UnitOfWork, name: str) -> ClientSystem:
    """The system called ``name``, or exit with a message that says where to look."""
    system = uow.systems.get(name)
    if system is None:
        raise click.ClickException(
            f"no client system is named {name} (`udb systems list` shows the registered ones)"
        )
    return system


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
    type=WholeNumber(0, 365, "a number of days"),
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
            system = _named(uow, name)
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
        disabled = ""
        if system.disabled_at is not None:
            disabled = f"\tdisabled since {system.disabled_at:%Y-%m-%d %H:%M} UTC"
        click.echo(f"{system.name}\tinstitutions: {numbers}{disabled}")
        for c in certificates:
            state = "expired" if c.not_after <= now else f"expires {c.not_after:%Y-%m-%d}"
            if c.retires_at is not None:
                state += (
                    f", retired {c.retires_at:%Y-%m-%d}"
                    if c.retires_at <= now
                    else f", retires {c.retires_at:%Y-%m-%d}"
                )
            click.echo(f"  certificate {c.fingerprint} {c.subject} ({state})")


@systems.command("disable")
@click.argument("name")
@database_option
def systems_disable(name: str, database_url: str) -> None:
    """Stop system NAME from reporting: its reports and Pings get IPL000004.

    Its reports, history, certificates and institutions are kept;
    `udb systems enable NAME` lets it report again.
    """
    now = utc_now()
    store = open_migrated(database_url)
    try:
        with store.unit_of_work() as uow:
            system = _named(uow, name)
            if system.disabled_at is None:
                uow.systems.set_disabled(system.id, now)
                uow.commit()
    finally:
        store.close()
    if system.disabled_at is not None:
        click.echo(f"{name} is disabled since {system.disabled_at:%Y-%m-%d %H:%M} UTC already")
        return
    click.echo(f"{name}: disabled; its reports and Pings now get IPL000004 (access denied)")
    click.echo(f"  its history is kept; `udb systems enable {name}` lets it report again")


@systems.command("enable")
@click.argument("name")
@database_option
def systems_enable(name: str, database_url: str) -> None:
    """Let the disabled system NAME report again."""
    store = open_migrated(database_url)
    try:
        with store.unit_of_work() as uow:
            system = _named(uow, name)
            if system.disabled:
                uow.systems.set_disabled(system.id, None)
                uow.commit()
    finally:
        store.close()
    if not system.disabled:
        click.echo(f"{name} is not disabled; nothing changed")
        return
    click.echo(f"{name}: enabled; it may report again")


@systems.command("remove")
@click.argument("name")
@database_option
def systems_remove(name: str, database_url: str) -> None:
    """Remove system NAME, its certificates and institutions; only if it never reported.

    The report log keeps every report with the system that sent it, so a
    system that has reported cannot be removed: disable it instead.
    """
    store = open_migrated(database_url)
    try:
        with store.unit_of_work() as uow:
            system = _named(uow, name)
            reports = uow.reports.count_for_system(system.id)
            if reports:
                raise click.ClickException(
                    f"{name} has sent {reports} report(s), which the report log keeps with their"
                    f" system, so it cannot be removed; to stop it from reporting:"
                    f" udb systems disable {name}"
                )
            certificates = len(uow.systems.certificates(system.id))
            uow.systems.remove(system.id)
            uow.commit()
    except IntegrityError as exc:  # a report logged meanwhile
        raise click.ClickException(
            f"{name} has just sent a report, so it cannot be removed: {exc};"
            f" to stop it from reporting: udb systems disable {name}"
        ) from exc
    finally:
        store.close()
    click.echo(
        f"removed {name}, its {certificates} pinned certificate(s) and its authorisation for"
        f" {len(system.institutions)} institution(s) (the institutions stay)"
    )
