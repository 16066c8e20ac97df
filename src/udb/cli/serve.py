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
from typing import Any

import click

from udb.api.app import ENDPOINT_PATH
from udb.cli.common import database_option, open_migrated
from udb.config import ConfigError, Settings

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
@click.option("--log-level", type=click.Choice(LEVELS), default="info", show_default=True)
@database_option
def serve(
    host: str,
    port: int,
    workers: int,
    threads: int | None,
    max_body_bytes: int | None,
    future_tolerance: int | None,
    public_url: str | None,
    log_level: str,
    database_url: str,
) -> None:
    """Run the service; the database schema is migrated first.

    The endpoint is POST /services/UDB/IndberetningKontaktJobOgUddOensker/v1;
    GET ?wsdl on the same path returns the WSDL.
    """
    from granian import Granian
    from granian.constants import Interfaces

    try:
        settings = Settings.from_env(
            database_url=database_url,
            threads=threads,
            max_body_bytes=max_body_bytes,
            future_tolerance=None
            if future_tolerance is None
            else timedelta(seconds=future_tolerance),
            public_url=public_url,
        )
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    store = open_migrated(settings.database_url)
    store.close()
    logging.config.dictConfig(logging_config(log_level))
    os.environ.update(settings.to_env())  # the workers read their settings from here
    logging.getLogger("udb").info(
        "serving on http://%s:%d%s (%d worker(s), database %s)",
        host,
        port,
        ENDPOINT_PATH,
        workers,
        settings.database_url.split("://", 1)[0],
    )
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
    ).serve()
