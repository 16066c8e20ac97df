"""Settings of the service, from the environment or the command line.

========================  =========================  ==================================
environment variable      default                    meaning
========================  =========================  ==================================
UDB_DATABASE_URL          sqlite:///./udb.sqlite3    where reports are stored
UDB_MAX_BODY_BYTES        65536                      larger request bodies get IPL000006
UDB_FUTURE_TOLERANCE_S    0                          seconds a registration time may lie
                                                     after receipt before error 280
UDB_THREADS               8                          threads per worker that handle
                                                     requests (parse, rules, storage)
UDB_FETCH_PAGE_SIZE       500                        persons per page of a read-back
UDB_FETCH_SETTLE_S        30                         a changes listing ends this long
                                                     before its first page's read
                                                     changes listing (1-5000)
UDB_PUBLIC_URL            (the request's Host)       base URL callers use, for the
                                                     WSDL's addresses behind a proxy
UDB_TRUST_ANCHORS         (none)                     PEM file of CA certificates a
                                                     signing certificate must chain to
UDB_WSSE_ALLOW_SHA1       true                       accept RSA-SHA1/SHA-1 signatures
UDB_WSSE_CLOCK_SKEW_S     300                        tolerance for Timestamp and
                                                     certificate validity times
UDB_INSECURE_DEV_MODE     false                      accept unsigned requests (never in
                                                     production)
UDB_LOG_FORMAT            text                       text: one line per event; json:
                                                     one JSON object per line
UDB_ADMIN_PORT            (off)                      port of the admin listener (metrics,
                                                     health); off unless given
UDB_ADMIN_HOST            127.0.0.1                  address of the admin listener
UDB_RETENTION             on                         udb serve purges old data at start
                                                     and then every interval
UDB_RETENTION_INTERVAL_S  86400                      seconds between those purges
UDB_RETENTION_AFTER_25_   0                          days after the 25th birthday before
DAYS                                                 contact person and wishes go
UDB_RETENTION_GONE_DAYS   90                         days after leaving Denmark or the
                                                     register before they go
UDB_RETENTION_LOG_DAYS    400                        days report-log and request records
                                                     are kept
UDB_TESTENV_DELAY_S       12                         in a test environment, how long the
                                                     "delayed" scenario holds its answer
========================  =========================  ==================================

:meth:`Settings.security` builds the WS-Security settings from the last four:
the verification policy, with the trust anchors read and checked, and
whether requests must be signed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509

from udb.wssecurity.policy import SecurityPolicy, load_trust_anchors

DEFAULT_DATABASE_URL = "sqlite:///./udb.sqlite3"
#: the formats of the service's log (``UDB_LOG_FORMAT``): :func:`udb.logs.logging_config`
LOG_FORMATS = ("text", "json")


class ConfigError(ValueError):
    """A setting has a value the service cannot use."""


@dataclass(frozen=True, slots=True)
class Security:
    """How requests are authenticated (:meth:`Settings.security`)."""

    policy: SecurityPolicy = field(default_factory=SecurityPolicy)
    #: False only in insecure development mode: unsigned requests are accepted
    required: bool = True


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    max_body_bytes: int = 64 * 1024
    future_tolerance: timedelta = timedelta(0)
    threads: int = 8
    #: persons per page of a read-back changes listing (HentKontaktJobOgUddOensker)
    fetch_page_size: int = 500
    #: a read-back changes listing ends this long before its first page (reports in
    #: processing then are stored by the time the listing is read)
    fetch_settle: timedelta = timedelta(seconds=30)
    #: ``https://udb.example.dk`` - the scheme, host and any path prefix callers use;
    #: ``None``: taken from each request (its scheme and Host header)
    public_url: str | None = None
    #: PEM file of the CAs a signing certificate must chain to (None: no chain check)
    trust_anchors: str | None = None
    allow_sha1: bool = True
    clock_skew: timedelta = timedelta(minutes=5)
    #: accept unsigned requests, the caller named by SystemName (development only)
    insecure_dev_mode: bool = False
    #: "text" or "json" (:data:`LOG_FORMATS`)
    log_format: str = "text"
    #: the admin listener (``/metrics``, ``/healthz``, ``/readyz``): off when ``None``
    admin_port: int | None = None
    admin_host: str = "127.0.0.1"
    #: ``udb serve`` purges (:mod:`udb.service.retention`) at start and every interval
    retention: bool = True
    retention_interval: timedelta = timedelta(days=1)
    retention_after_25: timedelta = timedelta(0)
    retention_gone: timedelta = timedelta(days=90)
    retention_logs: timedelta = timedelta(days=400)
    #: in a test environment (``udb testenv``), the ``delayed`` scenario's wait: past the
    #: SDK's 10 s default timeout
    testenv_delay: timedelta = timedelta(seconds=12)

    def __post_init__(self) -> None:
        if not 1024 <= self.max_body_bytes <= 16 * 1024 * 1024:
            raise ConfigError("max body bytes must be between 1024 and 16777216")
        if not timedelta(0) <= self.future_tolerance <= timedelta(days=1):
            raise ConfigError("future tolerance must be between 0 and 86400 seconds")
        if not 1 <= self.threads <= 256:
            raise ConfigError("threads must be between 1 and 256")
        if not 1 <= self.fetch_page_size <= 5000:
            raise ConfigError("UDB_FETCH_PAGE_SIZE must be between 1 and 5000")
        if not timedelta(0) <= self.fetch_settle <= timedelta(minutes=10):
            raise ConfigError("UDB_FETCH_SETTLE_S must be between 0 and 600")
        if not timedelta(0) <= self.clock_skew <= timedelta(hours=1):
            raise ConfigError("the clock skew must be between 0 and 3600 seconds")
        if self.log_format not in LOG_FORMATS:
            raise ConfigError(f"the log format must be one of: {', '.join(LOG_FORMATS)}")
        if self.admin_port is not None and not 1 <= self.admin_port <= 65535:
            raise ConfigError("the admin port must be between 1 and 65535")
        if not timedelta(seconds=1) <= self.retention_interval <= timedelta(days=7):
            raise ConfigError("the retention interval must be between 1 and 604800 seconds")
        for name, days in (
            ("UDB_RETENTION_AFTER_25_DAYS", self.retention_after_25),
            ("UDB_RETENTION_GONE_DAYS", self.retention_gone),
            ("UDB_RETENTION_LOG_DAYS", self.retention_logs),
        ):
            if not timedelta(0) <= days <= timedelta(days=36500) or days.seconds:
                raise ConfigError(f"{name} must be a whole number of days from 0 to 36500")
        if not timedelta(0) <= self.testenv_delay <= timedelta(minutes=5):
            raise ConfigError("UDB_TESTENV_DELAY_S must be between 0 and 300")
        if self.public_url is not None:
            parts = urlsplit(self.public_url)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
                raise ConfigError("the public URL must look like https://host[:port][/prefix]")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``UDB_*`` variables, then ``overrides`` that are not ``None``."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        if "UDB_DATABASE_URL" in env:
            values["database_url"] = env["UDB_DATABASE_URL"]
        if "UDB_MAX_BODY_BYTES" in env:
            values["max_body_bytes"] = _int(env, "UDB_MAX_BODY_BYTES")
        if "UDB_FUTURE_TOLERANCE_S" in env:
            values["future_tolerance"] = timedelta(seconds=_int(env, "UDB_FUTURE_TOLERANCE_S"))
        if "UDB_THREADS" in env:
            values["threads"] = _int(env, "UDB_THREADS")
        if "UDB_FETCH_PAGE_SIZE" in env:
            values["fetch_page_size"] = _int(env, "UDB_FETCH_PAGE_SIZE")
        if env.get("UDB_FETCH_SETTLE_S"):
            settle = min(_int(env, "UDB_FETCH_SETTLE_S"), 10**9)
            values["fetch_settle"] = timedelta(seconds=settle)
        if env.get("UDB_PUBLIC_URL"):
            values["public_url"] = env["UDB_PUBLIC_URL"]
        if env.get("UDB_TRUST_ANCHORS"):
            values["trust_anchors"] = env["UDB_TRUST_ANCHORS"]
        if "UDB_WSSE_ALLOW_SHA1" in env:
            values["allow_sha1"] = _bool(env, "UDB_WSSE_ALLOW_SHA1")
        if "UDB_WSSE_CLOCK_SKEW_S" in env:
            values["clock_skew"] = timedelta(seconds=_int(env, "UDB_WSSE_CLOCK_SKEW_S"))
        if "UDB_INSECURE_DEV_MODE" in env:
            values["insecure_dev_mode"] = _bool(env, "UDB_INSECURE_DEV_MODE")
        if env.get("UDB_LOG_FORMAT"):
            values["log_format"] = env["UDB_LOG_FORMAT"].strip().lower()
        if env.get("UDB_ADMIN_PORT"):
            values["admin_port"] = _int(env, "UDB_ADMIN_PORT")
        if env.get("UDB_ADMIN_HOST"):
            values["admin_host"] = env["UDB_ADMIN_HOST"]
        if "UDB_RETENTION" in env:
            values["retention"] = _bool(env, "UDB_RETENTION")
        if "UDB_RETENTION_INTERVAL_S" in env:
            seconds = min(_int(env, "UDB_RETENTION_INTERVAL_S"), 10**9)  # timedelta's range
            values["retention_interval"] = timedelta(seconds=seconds)
        for name, key in _RETENTION_DAYS:
            if name in env:
                values[key] = timedelta(days=min(_int(env, name), 10**8))
        if env.get("UDB_TESTENV_DELAY_S"):
            seconds = min(_int(env, "UDB_TESTENV_DELAY_S"), 10**9)
            values["testenv_delay"] = timedelta(seconds=seconds)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        """The settings as ``UDB_*`` variables (for worker processes)."""
        return {
            "UDB_DATABASE_URL": self.database_url,
            "UDB_MAX_BODY_BYTES": str(self.max_body_bytes),
            "UDB_FUTURE_TOLERANCE_S": str(int(self.future_tolerance.total_seconds())),
            "UDB_THREADS": str(self.threads),
            "UDB_FETCH_PAGE_SIZE": str(self.fetch_page_size),
            "UDB_FETCH_SETTLE_S": str(int(self.fetch_settle.total_seconds())),
            "UDB_PUBLIC_URL": self.public_url or "",
            "UDB_TRUST_ANCHORS": self.trust_anchors or "",
            "UDB_WSSE_ALLOW_SHA1": "true" if self.allow_sha1 else "false",
            "UDB_WSSE_CLOCK_SKEW_S": str(int(self.clock_skew.total_seconds())),
            "UDB_INSECURE_DEV_MODE": "true" if self.insecure_dev_mode else "false",
            "UDB_LOG_FORMAT": self.log_format,
            "UDB_ADMIN_PORT": "" if self.admin_port is None else str(self.admin_port),
            "UDB_ADMIN_HOST": self.admin_host,
            "UDB_RETENTION": "on" if self.retention else "off",
            "UDB_RETENTION_INTERVAL_S": str(int(self.retention_interval.total_seconds())),
            **{name: str(getattr(self, key).days) for name, key in _RETENTION_DAYS},
            "UDB_TESTENV_DELAY_S": str(int(self.testenv_delay.total_seconds())),
        }

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def security(self) -> Security:
        """The WS-Security settings; :class:`ConfigError` for an unusable trust anchor file."""
        anchors: tuple[x509.Certificate, ...] = ()
        if self.trust_anchors:
            path = self.trust_anchors
            try:
                pem = Path(path).read_bytes()
            except OSError as exc:
                raise ConfigError(
                    f"cannot read the trust anchors {path}: {exc.strerror}: check "
                    "--trust-anchors (or UDB_TRUST_ANCHORS) and the file's permissions"
                ) from None
            try:
                anchors = load_trust_anchors(pem)
            except ValueError:
                raise ConfigError(
                    f"the trust anchor file {path} holds no valid PEM certificate: give the "
                    "CA certificates that issue the signing certificates "
                    "(-----BEGIN CERTIFICATE-----)"
                ) from None
        policy = SecurityPolicy(
            allow_sha1=self.allow_sha1, clock_skew=self.clock_skew, trust_anchors=anchors
        )
        return Security(policy=policy, required=not self.insecure_dev_mode)


#: the retention periods: variable and setting, in whole days
_RETENTION_DAYS = (
    ("UDB_RETENTION_AFTER_25_DAYS", "retention_after_25"),
    ("UDB_RETENTION_GONE_DAYS", "retention_gone"),
    ("UDB_RETENTION_LOG_DAYS", "retention_logs"),
)


def _bool(env: Mapping[str, str], name: str) -> bool:
    value = env[name].strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false")


def _int(env: Mapping[str, str], name: str) -> int:
    try:
        return int(env[name])
    except ValueError:
        raise ConfigError(f"{name} must be a whole number") from None
