"""Logging that keeps personal data out, as text lines or JSON objects.

Code logs CPR numbers only through :func:`udb.domain.cpr.mask` and never logs
names, e-mails or phone numbers. As a second line of defence, every record that
passes the service's handlers goes through :class:`RedactCpr`, which masks any
free-standing run of exactly ten digits (a CPR number inside an exception
message, say) to its first six digits, in the message, the exception text and
the values of the record's fields.

:func:`logging_config` is the configuration ``udb serve`` gives the supervisor
and every worker: one line per event on stderr, as text (``%(asctime)s LEVEL
logger [pid] message``) or, with ``--log-format json``, as one JSON object
(:class:`JsonLines`, python-json-logger) per line.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from udb.config import LOG_FORMATS

__all__ = ["LOG_FORMATS", "LOG_LEVELS", "JsonLines", "RedactCpr", "logging_config", "redact"]

#: the levels ``--log-level`` takes
LOG_LEVELS = ("debug", "info", "warning", "error")

# Ten digits (optionally DDMMYY-SSSS) not touching other hex digits or hyphens,
# so that identifiers such as CorrelationIDs (UUIDs) pass unchanged.
_TEN_DIGITS = re.compile(r"(?<![0-9A-Fa-f-])(\d{6})-?(\d{4})(?![0-9A-Fa-f-])")

#: the attributes every LogRecord has; the others are the fields given with ``extra=``
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


def redact(text: str) -> str:
    """``text`` with every free-standing CPR-shaped number masked.

    >>> redact("no person 1503084232 (or 150308-4232)")
    'no person 150308-**** (or 150308-****)'
    """
    return _TEN_DIGITS.sub(r"\1-****", text)


class RedactCpr(logging.Filter):
    """Mask CPR-shaped numbers in the message, the exception text and the fields' values."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        for name, value in list(vars(record).items()):
            if name not in _STANDARD and isinstance(value, str):
                setattr(record, name, redact(value))
        return True


class JsonLines(JsonFormatter):
    """One JSON object per record: ``time`` (ISO 8601, UTC), ``level``, ``logger``,
    ``process``, ``message``, then the record's fields (``extra=``), and ``exc_info``
    (the traceback, CPR numbers masked) when there is one."""

    def __init__(self) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(process)d %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            json_ensure_ascii=False,
        )

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        created = datetime.fromtimestamp(record.created, tz=UTC)
        log_data["time"] = created.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        super().add_fields(log_data, record, message_dict)

    def formatException(self, ei: Any) -> str:
        return redact(str(super().formatException(ei)))


def logging_config(level: str, log_format: str = "text") -> dict[str, Any]:
    """Logging for the server and every worker: one event per line on stderr.

    Every handler (udb's, granian's, psycopg's) masks CPR numbers (:class:`RedactCpr`);
    ``log_format`` is ``text`` or ``json`` (:data:`LOG_FORMATS`).
    """
    if log_format not in LOG_FORMATS:
        raise ValueError(f"the log format must be one of {', '.join(LOG_FORMATS)}")
    json = log_format == "json"
    text = "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"
    lines = {"()": "udb.logs.JsonLines"}
    generic = lines if json else {"()": "logging.Formatter", "fmt": text}
    access = lines if json else {"()": "logging.Formatter", "fmt": "%(message)s"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact_cpr": {"()": "udb.logs.RedactCpr"}},
        "formatters": {"generic": generic, "access": access},
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
                "filters": ["redact_cpr"],
            },
        },
        "loggers": {
            "_granian": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "granian.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
            "udb": {"handlers": ["console"], "level": level.upper(), "propagate": False},
            "psycopg": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        },
        "root": {"handlers": ["console"], "level": "WARNING"},
    }
