"""Connection settings of the client commands (``udb send``, ``udb send-batch``).

Each setting comes from the command line, else the environment, else the
configuration file (``--config PATH``, ``UDB_CLIENT_CONFIG``, default
``$XDG_CONFIG_HOME/udb/client.toml``, i.e. ``~/.config/udb/client.toml``):

==================  =======================  ===================  ==========================
flag                environment              key in client.toml   meaning
==================  =======================  ===================  ==========================
--url               UDB_URL                  url                  the service's base URL
--system            UDB_SYSTEM               system               the calling system's name
--cert              UDB_CERT                 cert                 signing certificate (PEM)
--key               UDB_KEY                  key                  its private key (PEM)
--ca                UDB_CA                   ca                   CAs trusted for TLS (PEM)
--client-cert       UDB_CLIENT_CERT          client_cert          TLS client certificate
--client-key        UDB_CLIENT_KEY           client_key           its private key
--timeout           UDB_TIMEOUT              timeout              seconds per request (10)
--attempts          UDB_ATTEMPTS             attempts             requests per report (5)
--insecure-unsigned UDB_INSECURE_UNSIGNED    insecure_unsigned    send unsigned (dev servers)
==================  =======================  ===================  ==========================

None of these names is read by ``udb serve`` (its variables are listed in
:mod:`udb.config`). A relative path in the configuration file is relative to
the file's directory; ``~`` is expanded everywhere.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import click
import httpx
from click.core import ParameterSource

from udb.client import ReportError, RetryPolicy, UdbClient

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_TIMEOUT = 10.0
DEFAULT_ATTEMPTS = 5


class Failure(click.ClickException):
    """A usage, configuration or transport failure: exit status 2."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class Network:
    """The network the client commands use: the test seam, like httpx's ``transport``.

    Tests invoke the command with ``obj=Network(transport)`` (click's context
    object) to reach the service in-process; ``None`` is the real network.
    """

    transport: httpx.BaseTransport | None = None


@dataclass(frozen=True, slots=True)
class _Setting:
    name: str  # parameter name and key in the file
    flag: str
    env: str
    kind: str  # "text", "path", "seconds", "count", "switch"
    help: str


_SETTINGS = (
    _Setting(
        "url", "--url", "UDB_URL", "text",
        "Base URL of the service, e.g. https://udb.example.dk (the endpoint path is added).",
    ),
    _Setting(
        "system", "--system", "UDB_SYSTEM", "text",
        "Name of the calling system (SystemName), as registered with UDB.",
    ),
    _Setting("cert", "--cert", "UDB_CERT", "path", "PEM certificate the requests are signed with."),
    _Setting("key", "--key", "UDB_KEY", "path", "PEM private key of --cert."),
    _Setting(
        "ca", "--ca", "UDB_CA", "path",
        "PEM file of the CAs trusted for the server's TLS certificate (default: public CAs).",
    ),
    _Setting(
        "client_cert", "--client-cert", "UDB_CLIENT_CERT", "path",
        "PEM certificate for mutual TLS.",
    ),
    _Setting(
        "client_key", "--client-key", "UDB_CLIENT_KEY", "path",
        "PEM private key of --client-cert.",
    ),
    _Setting(
        "timeout", "--timeout", "UDB_TIMEOUT", "seconds",
        f"Seconds to connect, send and wait for each answer (default {DEFAULT_TIMEOUT:g}).",
    ),
    _Setting(
        "attempts", "--attempts", "UDB_ATTEMPTS", "count",
        f"Most requests per report: no answer, HTTP 5xx, IPL000001 and 101 are retried "
        f"under the same transaction id (default {DEFAULT_ATTEMPTS}; 1: never retry).",
    ),
    _Setting(
        "insecure_unsigned", "--insecure-unsigned", "UDB_INSECURE_UNSIGNED", "switch",
        "Send unsigned requests; only a server started with --insecure-dev-mode accepts them.",
    ),
)  # fmt: skip
_BY_NAME = {s.name: s for s in _SETTINGS}
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True, slots=True)
class Connection:
    """Where and how to send: everything :class:`~udb.client.UdbClient` needs."""

    url: str
    system: str
    cert: Path | None
    key: Path | None
    ca: Path | None
    client_cert: Path | None
    client_key: Path | None
    timeout: float
    attempts: int
    insecure_unsigned: bool

    def open(self, network: Network | None = None) -> UdbClient:
        """The client; :class:`Failure` when a file cannot be used."""
        transport = network.transport if network else None
        mtls = (self.client_cert, self.client_key) if self.client_cert and self.client_key else None
        try:
            return UdbClient(
                self.url,
                system_name=self.system,
                cert=None if self.insecure_unsigned else self.cert,
                key=None if self.insecure_unsigned else self.key,
                sign=not self.insecure_unsigned,
                ca=self.ca,
                client_cert=mtls,
                timeout=self.timeout,
                retry=RetryPolicy(attempts=self.attempts),
                transport=transport,
            )
        except ReportError as exc:  # the system name breaks the contract's rule for it
            raise Failure(f"the system name (--system, UDB_SYSTEM) {exc.reason}") from None
        except ValueError as exc:
            raise Failure(str(exc)) from None


def connection_options(func: F) -> F:
    """The options of every client command (their values are read by :func:`resolve`)."""
    func = click.option(
        "--config",
        "config_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="TOML file with the connection settings  "
        "[env: UDB_CLIENT_CONFIG; default: ~/.config/udb/client.toml]",
    )(func)
    for setting in reversed(_SETTINGS):
        if setting.kind == "switch":
            decorator = click.option(
                setting.flag,
                setting.name,
                is_flag=True,
                help=f"{setting.help}  [env: {setting.env}]",
            )
        else:
            decorator = click.option(
                setting.flag,
                setting.name,
                metavar={"path": "FILE", "seconds": "SECONDS", "count": "N"}.get(
                    setting.kind, "TEXT"
                ),
                help=f"{setting.help}  [env: {setting.env}]",
            )
        func = decorator(func)
    return func


def default_config(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "udb" / "client.toml"


def resolve(
    options: Mapping[str, Any],
    config_file: Path | None,
    *,
    ctx: click.Context | None = None,
    env: Mapping[str, str] | None = None,
) -> Connection:
    """The settings, flag > environment > file; :class:`Failure` naming what is missing or bad.

    ``options`` holds the command's parameters by name (a flag not given is
    ``None``; for ``--insecure-unsigned`` the parameter source tells).
    """
    env = os.environ if env is None else env
    ctx = ctx or click.get_current_context()
    explicit = config_file is not None or bool(env.get("UDB_CLIENT_CONFIG"))
    path = config_file or Path(env.get("UDB_CLIENT_CONFIG") or default_config(env))
    path = path.expanduser()
    from_file = _read_config(path, required=explicit)
    values: dict[str, Any] = {}
    for setting in _SETTINGS:
        value: Any = options.get(setting.name)
        if setting.kind == "switch":
            given = ctx.get_parameter_source(setting.name) is ParameterSource.COMMANDLINE
            value = True if given and value else None
        if value is not None:
            values[setting.name] = _convert(setting, value, setting.flag, base=None)
        elif env.get(setting.env):
            values[setting.name] = _convert(setting, env[setting.env], setting.env, base=None)
        elif setting.name in from_file:
            where = f"{setting.name!r} in {path}"
            values[setting.name] = _convert(
                setting, from_file[setting.name], where, base=path.parent
            )
    missing = [
        f"{what} ({_sources(name, path)})"
        for name, what in (("url", "the service URL"), ("system", "the system name"))
        if name not in values
    ]
    unsigned = bool(values.get("insecure_unsigned", False))
    if not unsigned:
        missing += [
            f"{what} ({_sources(name, path)})"
            for name, what in (("cert", "the signing certificate"), ("key", "its private key"))
            if name not in values
        ]
    if missing:
        hint = "" if unsigned else " (or --insecure-unsigned for a development server)"
        raise Failure("missing setting(s): " + "; ".join(missing) + hint)
    if ("client_cert" in values) != ("client_key" in values):
        raise Failure("--client-cert and --client-key go together: give both or neither")
    _check_url(values["url"])
    if unsigned:
        click.echo(
            "warning: requests are sent unsigned (--insecure-unsigned): only a server started "
            "with --insecure-dev-mode accepts them",
            err=True,
        )
    return Connection(
        url=values["url"],
        system=values["system"],
        cert=values.get("cert"),
        key=values.get("key"),
        ca=values.get("ca"),
        client_cert=values.get("client_cert"),
        client_key=values.get("client_key"),
        timeout=values.get("timeout", DEFAULT_TIMEOUT),
        attempts=values.get("attempts", DEFAULT_ATTEMPTS),
        insecure_unsigned=unsigned,
    )


def _sources(name: str, path: Path) -> str:
    setting = _BY_NAME[name]
    return f"{setting.flag}, {setting.env} or {name!r} in {path}"


def _read_config(path: Path, *, required: bool) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except FileNotFoundError:
        if required:
            raise Failure(f"the configuration file {path} does not exist") from None
        return {}
    except OSError as exc:
        raise Failure(f"cannot read the configuration file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise Failure(f"the configuration file {path} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(_BY_NAME))
    if unknown:
        known = ", ".join(_BY_NAME)
        raise Failure(f"unknown key(s) in {path}: {', '.join(unknown)} (the keys are: {known})")
    return data


def _convert(setting: _Setting, value: object, where: str, *, base: Path | None) -> Any:
    """The value of ``setting`` from a flag, a variable or the file (``base``: its directory)."""
    kind = setting.kind
    if kind == "switch":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            return value.strip().lower() in _TRUE
        raise Failure(f"{where} must be true or false")
    if kind in ("seconds", "count") and isinstance(value, bool):
        raise Failure(f"{where} must be a number")
    if kind == "seconds":
        try:
            seconds = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise Failure(f"{where} must be a number of seconds") from None
        if not 0 < seconds <= 3600:
            raise Failure(f"{where} must be more than 0 and at most 3600 seconds")
        return seconds
    if kind == "count":
        try:
            count = int(value) if isinstance(value, int | str) else None
        except ValueError:
            count = None
        if count is None or not 1 <= count <= 20:
            raise Failure(f"{where} must be a whole number from 1 to 20")
        return count
    if not isinstance(value, str):
        raise Failure(f'{where} must be text in quotes, e.g. "..."')
    if not value.strip():
        raise Failure(f"{where} must not be empty")
    if kind == "path":
        path = Path(value).expanduser()
        return base / path if base is not None and not path.is_absolute() else path
    return value


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Failure("the service URL must be an http:// or https:// URL with a host")
    if parts.scheme == "http" and not _is_local(parts.hostname):
        click.echo(
            "warning: the service URL is http://: reports (personal data) travel unencrypted; "
            "use https://",
            err=True,
        )


def _is_local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
