"""``udb check-message``: what the service would refuse in a message, without a server.

::

    $ udb check-message signed.xml --content-type text/xml --at 2026-11-26T13:00
    IPL000002 line 2, column 1: a SOAP 1.2 envelope was sent with the SOAP 1.1 content type text/xml
    IPL000003 the Timestamp has expired

One line per finding (:mod:`udb.api.check`), on standard output. Exit status 0:
nothing the service refuses before its register; 1: problems; 2: a usage
error (a file that cannot be read, an option's value).
"""

from __future__ import annotations

from datetime import datetime
from typing import IO

import click

from udb.api.check import check
from udb.domain.clock import to_instant, utc_now
from udb.wssecurity.certs import CertificateError, read_certificate


class Instant(click.ParamType[datetime, object]):
    """An ISO 8601 date and time; without an offset it is Danish local time."""

    name = "time"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return to_instant(value)
        text = str(value).strip()
        try:
            return to_instant(datetime.fromisoformat(text))
        except ValueError:
            self.fail(
                f"{text!r} is not an ISO 8601 date and time, e.g. 2026-11-26T13:00:00+01:00, "
                "or 2026-11-26T13:00 (Danish local time)",
                param,
                ctx,
            )


@click.command("check-message")
@click.argument("message", type=click.File("rb"), metavar="FILE|-")
@click.option(
    "--content-type",
    metavar="TYPE",
    help="The Content-Type the message is sent with (default: the envelope's SOAP version).",
)
@click.option(
    "--at",
    type=Instant(),
    metavar="TIME",
    help="When the service receives it (ISO 8601; no offset: Danish time). Default: now.",
)
@click.option(
    "--cert",
    type=click.File("rb"),
    metavar="FILE.pem",
    help="The certificate pinned to the sending system: the message must be signed with it.",
)
def check_message(
    message: IO[bytes],
    content_type: str | None,
    at: datetime | None,
    cert: IO[bytes] | None,
) -> None:
    """Explain what the service would refuse in the SOAP request FILE (- reads standard input).

    Reports and Pings of IndberetningKontaktJobOgUddOensker only: a request of the
    read-back service (HentKontaktJobOgUddOensker) is not checked (its schema is not
    the report's).

    Runs the service's own checks, without a server or a database: well-formed,
    SOAP version against the Content-Type, schema (with line and column),
    WS-Security at --at (signature, Timestamp, certificate, --cert),
    ModtagerSystemID against SystemName, the CPR number's date and registration
    times after --at. One line per problem, with the service's fault or error
    code and words; exit status 0 when there is none, 1 otherwise. What only the
    register decides (14 for an unknown person, 86, 15, a pinned certificate,
    a replay) is not checked.
    """
    certificate = None
    if cert is not None:
        try:
            certificate = read_certificate(cert.read())
        except CertificateError as exc:
            raise click.BadParameter(f"{cert.name}: {exc}", param_hint="'--cert'") from None
    result = check(
        message.read(), at=at or utc_now(), content_type=content_type, certificate=certificate
    )
    for finding in result.findings:
        click.echo(str(finding))
    if result.ok:
        click.echo(result.verdict)
        return
    click.get_current_context().exit(1)
