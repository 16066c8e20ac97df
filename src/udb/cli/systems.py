"""Client systems: the municipal systems that may call the service."""

from __future__ import annotations

import click

from udb.cli.common import database_option, open_migrated
from udb.domain.clock import utc_now
from udb.storage import IntegrityError


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
@database_option
def systems_add(name: str, institution_numbers: tuple[int, ...], database_url: str) -> None:
    """Register system NAME (if new) and authorise it for the given institutions.

    NAME is what the system sends as Identifier/SystemName and ModtagerSystemID.
    Adding a system again only adds institutions to it.
    """
    if not name.strip() or len(name) > 100:
        raise click.BadParameter("must be 1 to 100 characters, not only spaces", param_hint="NAME")
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
            system = uow.systems.add(name, institution_numbers, utc_now())
            uow.commit()
    except IntegrityError as exc:
        raise click.ClickException(f"cannot add the system: {exc}") from exc
    finally:
        store.close()
    numbers = ", ".join(map(str, sorted(system.institutions)))
    click.echo(f"{system.name}: may report for institution(s) {numbers}")


@systems.command("list")
@database_option
def systems_list(database_url: str) -> None:
    """List the registered systems and their institutions."""
    store = open_migrated(database_url)
    try:
        with store.unit_of_work(readonly=True) as uow:
            found = uow.systems.list()
    finally:
        store.close()
    if not found:
        click.echo("no client systems registered")
        return
    for system in found:
        numbers = ", ".join(map(str, sorted(system.institutions))) or "-"
        click.echo(f"{system.name}\tinstitutions: {numbers}")
