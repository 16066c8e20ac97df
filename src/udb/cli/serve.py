"""``udb serve``: the service on granian.

granian is a Rust HTTP server with a process supervisor: it runs ``--workers``
processes, restarts one that dies, and does TLS (with client certificates) by
itself. The application is plain ASGI (:mod:`udb.api.app`), so it also runs
on any other ASGI server.
"""

from __future__ import annotations

import ipaddress
import logging
import logging.config
import os
import shutil
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import click

from udb.cli.common import database_option, open_migrated
from udb.cli.preflight import ListenAddress, check_addresses, check_tls, check_trust_anchors
from udb.cli.retention import start_scheduled, stop_scheduled
from udb.config import ConfigError, Settings
from udb.contract import ENDPOINT_PATH, READBACK_PATH
from udb.logs import LOG_FORMATS, LOG_LEVELS, logging_config


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
    "--fetch-page-size",
    type=click.IntRange(1, 5000),
    default=None,
    help="Persons per page of a read-back changes listing (HentKontaktJobOgUddOensker)  "
    "[env: UDB_FETCH_PAGE_SIZE; default: 500]",
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
@click.option(
    "--admin-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Serve /metrics, /healthz and /readyz on this port, apart from the SOAP port  "
    "[env: UDB_ADMIN_PORT; default: off]",
)
@click.option(
    "--admin-host",
    default=None,
    help="Address of the admin listener; it has no authentication, keep it off the "
    "vendors' network  [env: UDB_ADMIN_HOST; default: 127.0.0.1]",
)
@click.option("--log-level", type=click.Choice(LOG_LEVELS), default="info", show_default=True)
@click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    default=None,
    help="text: one line per event; json: one JSON object per line  "
    "[env: UDB_LOG_FORMAT; default: text]",
)
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
    fetch_page_size: int | None,
    max_body_bytes: int | None,
    future_tolerance: int | None,
    public_url: str | None,
    insecure_dev_mode: bool,
    trust_anchors: str | None,
    tls_cert: str | None,
    tls_key: str | None,
    client_ca: str | None,
    admin_port: int | None,
    admin_host: str | None,
    log_level: str,
    log_format: str | None,
    no_retention: bool,
    database_url: str,
) -> None:
    """Run the service; the database schema is migrated first.

    The endpoint is POST /services/UDB/IndberetningKontaktJobOgUddOensker/v1;
    GET ?wsdl on the same path returns the WSDL. The read-back service is at
    /services/UDB/HentKontaktJobOgUddOensker/v1 (its WSDL at ?wsdl there).

    Before anything is served, the addresses, the TLS files, the trust anchors
    and the database are checked; a problem ends the command with one line
    saying what to fix.

    With --admin-port, GET /metrics (Prometheus), /healthz and /readyz are
    served on that port from this process; see docs/operations.md.
    """
    if bool(tls_cert) != bool(tls_key):
        raise click.UsageError("--tls-cert and --tls-key go together")
    if client_ca and not tls_cert:
        raise click.UsageError("--client-ca needs --tls-cert and --tls-key (mutual TLS)")
    try:
        settings = Settings.from_env(
            database_url=database_url,
            threads=threads,
            fetch_page_size=fetch_page_size,
            max_body_bytes=max_body_bytes,
            future_tolerance=None
            if future_tolerance is None
            else timedelta(seconds=future_tolerance),
            public_url=public_url,
            trust_anchors=trust_anchors,
            insecure_dev_mode=insecure_dev_mode or None,
            log_format=log_format,
            admin_port=admin_port,
            admin_host=admin_host,
            retention=False if no_retention else None,
        )
        security = settings.security()  # refuse to start with an unusable trust anchor file
    except (ConfigError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    addresses = [ListenAddress(host, port)]
    if settings.admin_port is not None:
        _check_admin_host(settings.admin_host)
        addresses.append(ListenAddress(settings.admin_host, settings.admin_port, "--admin-port"))
    check_addresses(addresses)
    check_tls(tls_cert, tls_key, client_ca)
    check_trust_anchors(settings.trust_anchors, security.policy.trust_anchors)
    store = open_migrated(settings.database_url)
    store.close()
    # Again: a migration may have waited minutes for another instance's lock.
    check_addresses(addresses)
    logging.config.dictConfig(logging_config(log_level, settings.log_format))
    os.environ.update(settings.to_env())  # the workers read their settings from here
    metrics_dir = _fresh_metrics_dir(settings.admin_port is not None)
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
    log.info("read-back service on %s://%s%s", scheme, addresses[0], READBACK_PATH)
    if settings.insecure_dev_mode:
        log.warning(
            "INSECURE DEV MODE: unsigned requests are accepted and the caller is whoever "
            "SystemName names. Never run like this where real personal data is reported."
        )
    elif not settings.trust_anchors:
        log.warning("no --trust-anchors: signing certificates are pinned but not chain-checked")
    admin = None
    if settings.admin_port is not None:
        from udb.api.admin import AdminListener

        try:
            admin = AdminListener(
                settings.admin_host,
                settings.admin_port,
                settings.database_url,
                multiprocess_dir=metrics_dir,
            )
        except OSError as exc:
            shutil.rmtree(metrics_dir or "", ignore_errors=True)
            raise click.ClickException(
                f"--admin-port {settings.admin_port}: cannot listen on {addresses[1]} "
                f"({exc.strerror}): choose a free port"
            ) from None
        admin.start()
        log.info("admin listener on http://%s (/metrics, /healthz, /readyz)", addresses[1])
    try:
        _granian(settings, host, port, workers, log_level, tls_cert, tls_key, client_ca)
    finally:
        if admin is not None:
            admin.stop()
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _check_admin_host(host: str) -> None:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise click.ClickException(
            f"--admin-host {host} is not an IP address: give one of this machine's "
            "addresses (127.0.0.1 keeps the admin listener on this machine)"
        ) from None


def _fresh_metrics_dir(enabled: bool) -> str | None:
    """A new private directory for the workers' metric files (prometheus-client's
    multiprocess mode), set before any worker starts; None (and unset) without admin."""
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    if not enabled:
        return None
    path = tempfile.mkdtemp(prefix="udb-metrics-")  # mode 0700, empty: nothing left over
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    if "prometheus_client.values" in sys.modules:
        # imported already: the forked workers must write their files all the same
        from prometheus_client import values

        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    return path


def _granian(
    settings: Settings,
    host: str,
    port: int,
    workers: int,
    log_level: str,
    tls_cert: str | None,
    tls_key: str | None,
    client_ca: str | None,
) -> None:
    schedule = None
    if settings.retention:
        schedule = start_scheduled(log_level)
    else:
        logging.getLogger("udb").info(
            "retention off: old data is not purged (udb retention purge does it)"
        )
    try:
        _run_granian(settings, host, port, workers, log_level, tls_cert, tls_key, client_ca)
    finally:
        if schedule is not None:
            stop_scheduled(schedule)


#: seconds a worker has to end after the stop signal before it is killed
WORKERS_KILL_TIMEOUT_S = 15


def _run_granian(
    settings: Settings,
    host: str,
    port: int,
    workers: int,
    log_level: str,
    tls_cert: str | None,
    tls_key: str | None,
    client_ca: str | None,
) -> None:
    from granian import Granian
    from granian.constants import Interfaces

    Granian(
        "udb.api.app:create_app",
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        respawn_failed_workers=True,
        # a worker that has not ended this long after the stop signal is killed: a
        # worker stopped during its own start was seen never to end, and the server
        # with it (answers in progress need at most a few seconds)
        workers_kill_timeout=WORKERS_KILL_TIMEOUT_S,
        log_dictconfig=logging_config(log_level, settings.log_format),
        websockets=False,
        ssl_cert=Path(tls_cert) if tls_cert else None,
        ssl_key=Path(tls_key) if tls_key else None,
        ssl_ca=Path(client_ca) if client_ca else None,
        ssl_client_verify=bool(client_ca),
    ).serve()
