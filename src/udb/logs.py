"""Logging that keeps personal data out.

Code logs CPR numbers only through :func:`udb.domain.cpr.mask` and never logs
names, e-mails or phone numbers. As a second line of defence, every record that
passes the service's handlers goes through :class:`RedactCpr`, which masks any
free-standing run of exactly ten digits (a CPR number inside an exception
message, say) to its first six digits.
"""

from __future__ import annotations

import logging
import re

# Ten digits (optionally DDMMYY-SSSS) not touching other hex digits or hyphens,
# so that identifiers such as CorrelationIDs (UUIDs) pass unchanged.
_TEN_DIGITS = re.compile(r"(?<![0-9A-Fa-f-])(\d{6})-?(\d{4})(?![0-9A-Fa-f-])")


def redact(text: str) -> str:
    """``text`` with every free-standing CPR-shaped number masked.

    >>> redact("no person 1503084232 (or 150308-4232)")
    'no person 150308-**** (or 150308-****)'
    """
    return _TEN_DIGITS.sub(r"\1-****", text)


class RedactCpr(logging.Filter):
    """Mask CPR-shaped numbers in the formatted message and the exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
