"""``udb serve``: the service on granian.

granian is a Rust HTTP server with a process supervisor: it runs ``--workers``
processes, restarts one that dies, and does TLS (with client certificates) by
itself. The application is plain ASGI (:mod:`udb.api.app`), so it also runs
on any other ASGI server.
"""

from __future__ import annotations

import logging
import logging.config
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from udb.cli.common import database_option, open_migrated
from udb.cli.preflight import ListenAddress, check_addresses, check_tls
from udb.cli.retention import start_scheduled
from udb.config import ConfigError, Settings
from udb.contract import ENDPOINT_PATH

LEVELS = ("debug", "info", "warning", "error")


def logging_config(level: str) -> dict[str, Any]:
    """Logging for the server and every worker: one line per event on stderr."""
    fmt = "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact_cpr": {"()": "udb.logs.RedactCpr"}},
        "formatters": {
            "generic": {"()": "logging.Formatter", "fmt": fmt},
            "access": {"()": "logging.Formatter", "fmt": "%(message)s"},
        },
        "handlers": {
            "console": {
                "formatter": "generic",
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "filters": ["redact_cpr"],
            },
            "access": {
                "formatter": "access",
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
            },
        },
        "loggers": {
            "_granian": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "granian.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
            "udb": {"handlers": ["console"], "level": level.upper(), "propagate": False},
            "psycopg": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        },
    }


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes; a worker that dies is restarted.",
)
@click.option(
    "--threads",
    type=click.IntRange(1, 256),
    default=None,
    help="Request-handling threads per worker  [env: UDB_THREADS; default: 8]",
)
@click.option(
    "--max-body-bytes",
    type=click.IntRange(1024, 16 * 1024 * 1024),
    default=None,
    help="Largest request body accepted (IPL000006 above)  [env: UDB_MAX_BODY_BYTES; "
    "default: 65536]",
)
@click.option(
    "--future-tolerance",
    type=click.IntRange(0, 86400),
    default=None,
    metavar="SECONDS",
    help="How far a registration time may lie after receipt before error 280  "
    "[env: UDB_FUTURE_TOLERANCE_S; default: 0]",
)
@click.option(
    "--public-url",
    default=None,
    metavar="URL",
    help="Base URL callers use (https://host[:port][/prefix]); the WSDL's addresses use it "
    "instead of the request's Host, e.g. behind a TLS-terminating proxy  [env: UDB_PUBLIC_URL]",
)
@click.option(
    "--insecure-dev-mode",
    is_flag=True,
    help="Accept unsigned requests (the caller named by SystemName). Development only: "
    "never where real personal data is reported.",
)
@click.option(
    "--trust-anchors",
    type=click.Path(),
    default=None,
    help="PEM file of the CA certificates a signing certificate must chain to  "
    "[env: UDB_TRUST_ANCHORS]",
)
@click.option(
    "--tls-cert",
    type=click.Path(),
    help="Serve HTTPS with this certificate (PEM).",
)
@click.option(
    "--tls-key",
    type=click.Path(),
    help="The certificate's private key (PEM, unencrypted: PKCS#8, RSA or EC).",
)
@click.option(
    "--client-ca",
    type=click.Path(),
    help="Require a TLS client certificate issued by this CA (mutual TLS).",
)
@click.option("--log-level", type=click.Choice(LEVELS), default="info", show_default=True)
@click.option(
    "--no-retention",
    is_flag=True,
    help="Do not purge old data at start and once a day (udb retention purge)  "
    "[env: UDB_RETENTION=off]",
)
@database_option
def serve(
    host: str,
    port: int,
    workers: int,
    threads: int | None,
    max_body_bytes: int | None,
    future_tolerance: int | None,
    public_url: str | None,
    insecure_dev_mode: bool,
    trust_anchors: str | None,
    tls_cert: str | None,
    tls_key: str | None,
    client_ca: str | None,
    log_level: str,
    no_retention: bool,
    database_url: str,
) -> None:
    """Run the service; the database schema is migrated first.

    The endpoint is POST /services/UDB/IndberetningKontaktJobOgUddOensker/v1;
    GET ?wsdl on the same path returns the WSDL.

    Before anything is served, the addresses, the TLS files, the trust anchors
    and the database are checked; a problem ends the command with one line
    saying what to fix.
    """
    from granian import Granian
    from granian.constants import Interfaces

    if bool(tls_cert) != bool(tls_key):
        raise click.UsageError("--tls-cert and --tls-key go together")
    if client_ca and not tls_cert:
        raise click.UsageError("--client-ca needs --tls-cert and --tls-key (mutual TLS)")
    try:
        settings = Settings.from_env(
            database_url=database_url,
            threads=threads,
            max_body_bytes=max_body_bytes,
            future_tolerance=None
            if future_tolerance is None
            else timedelta(seconds=future_tolerance),
            public_url=public_url,
            trust_anchors=trust_anchors,
            insecure_dev_mode=insecure_dev_mode or None,
            retention=False if no_retention else None,
        )
        settings.security()  # refuse to start with an unusable trust anchor file
    except (ConfigError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    addresses = [ListenAddress(host, port)]
    check_addresses(addresses)
    check_tls(tls_cert, tls_key, client_ca)
    store = open_migrated(settings.database_url)
    store.close()
    # Again: a migration may have waited minutes for another instance's lock.
    check_addresses(addresses)
    logging.config.dictConfig(logging_config(log_level))
    os.environ.update(settings.to_env())  # the workers read their settings from here
    log = logging.getLogger("udb")
    scheme = "https" if tls_cert else "http"
    log.info(
        "serving on %s://%s%s (%d worker(s), database %s%s)",
        scheme,
        addresses[0],
        ENDPOINT_PATH,
        workers,
        settings.database_url.split("://", 1)[0],
        ", client certificates required" if client_ca else "",
    )
    if settings.insecure_dev_mode:
        log.warning(
            "INSECURE DEV MODE: unsigned requests are accepted and the caller is whoever "
            "SystemName names. Never run like this where real personal data is reported."
        )
    elif not settings.trust_anchors:
        log.warning("no --trust-anchors: signing certificates are pinned but not chain-checked")
    if settings.retention:
        start_scheduled(settings)
    else:
        log.info("retention off: old data is not purged (udb retention purge does it)")
    Granian(
        "udb.api.app:create_app",
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        respawn_failed_workers=True,
        log_dictconfig=logging_config(log_level),
        websockets=False,
        ssl_cert=Path(tls_cert) if tls_cert else None,
        ssl_key=Path(tls_key) if tls_key else None,
        ssl_ca=Path(client_ca) if client_ca else None,
        ssl_client_verify=bool(client_ca),
    ).serve()
