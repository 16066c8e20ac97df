"""``udb dev-certs DIR``: throw-away certificates for development and tests."""

from __future__ import annotations

from pathlib import Path

import click

from udb.cli.params import WholeNumber
from udb.wssecurity.certs import make_dev_certificates


@click.command("dev-certs")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--system",
    "system_name",
    default="Vejledningssystem-Aarhus",
    show_default=True,
    help="Client system the client certificate is made for (its common name).",
)
@click.option(
    "--days",
    type=WholeNumber(1, 3650, "a number of days"),
    default=365,
    show_default=True,
    help="How long the certificates are valid.",
)
@click.option(
    "--force", is_flag=True, help="Replace certificates and keys that DIRECTORY holds already."
)
def dev_certs(directory: Path, system_name: str, days: int, force: bool) -> None:
    """Make a throw-away CA, a server certificate for localhost and a client certificate.

    For development and tests only: the keys are written unencrypted. Never use
    these where real personal data is reported. Files that exist already are
    never replaced without --force: a client certificate pinned to a system
    would stop identifying it (IPL000004).
    """
    try:
        paths = make_dev_certificates(
            directory, system_name=system_name, days=days, overwrite=force
        )
    except FileExistsError as exc:
        raise click.ClickException(
            f"{directory}/ holds {exc} already; nothing was written (replacing a pinned"
            " client certificate locks its system out: IPL000004); use another directory,"
            " or --force to replace them"
        ) from exc
    except OSError as exc:
        raise click.ClickException(
            f"cannot write the certificates to {directory}: {exc.strerror or exc}"
        ) from exc
    click.echo(
        f"wrote to {directory}/: ca.pem, server.pem + server-key.pem, client.pem + client-key.pem"
    )
    click.echo("Register the client certificate for its system:")
    click.echo(f"  udb systems add {system_name} --institution 751001 --cert {paths.client_cert}")
    click.echo("Serve with TLS that requires a client certificate from this CA:")
    click.echo(
        f"  udb serve --tls-cert {paths.server_cert} --tls-key {paths.server_key} "
        f"--client-ca {paths.ca_cert} --trust-anchors {paths.ca_cert}"
    )
