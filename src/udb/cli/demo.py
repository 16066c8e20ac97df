"""``udb demo``: load the synthetic demo data set and show how to call the service."""

from __future__ import annotations

import click

from udb import demo as demo_data
from udb.cli.common import database_option, open_migrated
from udb.contract import ENDPOINT_PATH
from udb.domain.clock import utc_now


@click.command()
@click.option(
    "--force", is_flag=True, help="Load the demo into a database that holds other data too."
)
@database_option
def demo(force: bool, database_url: str) -> None:
    """Load a clearly synthetic demo data set and print an example call.

    All 98 municipalities, a made-up KUI institution for each (code * 1000 + 1),
    the client systems Vejledningssystem-Aarhus (751001) and
    Vejledningssystem-Koebenhavn (101001), and made-up young people that
    produce every answer. Loading it again changes nothing.

    Only into an empty database or one that holds only the demo: client
    systems, institutions, persons or CPR extracts of its own are refused
    unless --force (the demo would add invented persons and systems to them).
    """
    store = open_migrated(database_url)
    try:
        if not force:
            with store.unit_of_work(readonly=True) as uow:
                other = demo_data.other_data(uow)
            if other:
                raise click.ClickException(
                    "the database holds data that is not the demo's"
                    f" ({', '.join(other)}), and the demo would add invented persons and"
                    " systems to it; nothing was loaded: use a new database (--database),"
                    " or --force to add the demo anyway"
                )
        loaded = demo_data.load(store, utc_now())
    finally:
        store.close()
    click.echo(f"Loaded the synthetic demo data set into {database_url}:")
    click.echo(
        f"  {loaded.municipalities} municipalities, "
        f"{loaded.institutions} KUI institutions (made up), "
        f"systems {demo_data.AARHUS_SYSTEM} (751001) and {demo_data.KOEBENHAVN_SYSTEM} (101001)"
    )
    click.echo(f"Young people (all invented), as {demo_data.AARHUS_SYSTEM} reporting for 751001:")
    for person in demo_data.PERSONS:
        click.echo(f"  {person.cpr}  {person.answer}")
    click.echo(f"  {demo_data.UNKNOWN_CPR}  14: not in the register")
    click.echo("  any of them with a registration time in the future: 280")
    click.echo("")
    click.echo("Start the service in development mode (it then accepts unsigned requests,")
    click.echo("like the example; never run it like that with real data) and send the example")
    click.echo("report from the repository root:")
    click.echo(f"  udb serve --insecure-dev-mode --database {database_url}")
    click.echo(
        "  curl -s -H 'Content-Type: application/soap+xml; charset=utf-8' "
        "--data-binary @docs/examples/request.xml "
        f"http://127.0.0.1:8080{ENDPOINT_PATH}"
    )
    click.echo("docs/examples/ also has a request for each error code and a Ping.")
    click.echo("Signed requests: `udb dev-certs DIR` makes certificates to sign with.")
