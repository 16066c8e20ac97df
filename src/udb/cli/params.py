"""Parameter types whose errors speak the operator's language.

click's own ``IntRange`` says ``0 is not in the range 1<=x<=2147483647``;
these say what the value is and which values are allowed::

    Error: Invalid value for '--institution': x is not an institution number
    (a whole number from 1 to 2147483647).
"""

from __future__ import annotations

import click


class WholeNumber(click.ParamType[int, object]):
    """A whole number from ``low`` to ``high``, called ``what`` in messages."""

    name = "number"

    def __init__(self, low: int, high: int, what: str = "a number") -> None:
        self.low, self.high, self.what = low, high, what

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            text = str(value).strip()
            if not text.isascii() or not text.isdigit():
                self.fail(f"{value} is not {self._allowed()}", param, ctx)
            number = int(text)
        if not self.low <= number <= self.high:
            self.fail(f"{value} is not {self._allowed()}", param, ctx)
        return number

    def _allowed(self) -> str:
        return f"{self.what} (a whole number from {self.low} to {self.high})"
