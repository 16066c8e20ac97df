"""CPR numbers: form, birth date and masking.

A CPR number is ten digits ``DDMMYYSSSS``. Digits 1-6 are the birth date and
digit 7 together with the two-digit year gives the century (the CPR office's
rule, implemented by :func:`stdnum.dk.cpr.get_birth_date`):

=========  ========  ========  ========
digit 7    YY 00-36  YY 37-57  YY 58-99
=========  ========  ========  ========
0-3        19YY      19YY      19YY
4, 9       20YY      19YY      19YY
5-8        20YY      20YY      18YY
=========  ========  ========  ========

The old modulus-11 check is deliberately *not* applied: numbers issued since
2007 may fail it and are valid.
"""

from __future__ import annotations

from datetime import date

from stdnum.dk import cpr as _stdnum_cpr
from stdnum.exceptions import ValidationError


def is_cpr_form(value: str) -> bool:
    """True if ``value`` is exactly ten ASCII digits."""
    return len(value) == 10 and value.isascii() and value.isdigit()


def birth_date(cpr: str) -> date | None:
    """The birth date a CPR number encodes, or ``None`` if it encodes no date.

    >>> birth_date("1503084232")
    datetime.date(2008, 3, 15)
    >>> birth_date("1503081234")
    datetime.date(1908, 3, 15)
    >>> birth_date("3102081234") is None
    True
    """
    if not is_cpr_form(cpr):
        return None
    try:
        born: date = _stdnum_cpr.get_birth_date(cpr)
        return born
    except ValidationError:
        return None


def mask(cpr: str) -> str:
    """The CPR number as it may appear in a log: the first six digits only.

    >>> mask("1503081234")
    '150308-****'
    """
    return f"{cpr[:6]}-****"
