"""When to send a report again, and how long to wait first.

Only outcomes after which the *same* request may succeed are retried:

======================================  =========  ===============================
outcome                                 retried    why
======================================  =========  ===============================
connection refused, timeout, broken     yes        no answer: resend, the service
                                                   answers a repeat as the original
TLS handshake failed                    no         refused again until a setting
                                                   is fixed (nothing was stored)
HTTP 5xx without a SOAP fault           yes        a proxy or balancer in trouble
fault IPL000001 (Receiver)              yes        the service failed
FejlKode 101                            yes        the database failed, nothing stored
Sender faults (IPL000002-6)             no         the request must change
FejlKode 14, 15, 86 (hard)              no         resending gives the same answer
FejlKode 280 (soft)                     no         fix the time, send as a new transaction
======================================  =========  ===============================

Every retry carries the same ``SystemTransactionID`` and the same report and
is signed afresh (a new Timestamp; the service refuses a replayed signature).
The wait before retry *n* is drawn uniformly from
``[0, min(maximum, initial * 2 ** (n - 1))]`` ("full jitter"), so that many
clients failing together do not come back together::

    >>> policy = RetryPolicy(attempts=5, initial=0.2, maximum=5.0, budget=30.0)
    >>> [policy.backoff(n, random=lambda: 1.0) for n in (1, 2, 3, 4, 5, 6, 7, 8)]
    [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0]
"""

from __future__ import annotations

import math
import random as _random
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RetryPolicy", "Schedule"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry a retryable outcome.

    ``attempts`` is the most requests sent for one report (1: never retry);
    ``initial`` and ``maximum`` bound the backoff in seconds (see the module);
    ``budget`` is the time in seconds, counted from the first attempt, after
    which no further attempt is started (a retry whose wait would end past it
    is not made).
    """

    attempts: int = 5
    initial: float = 0.2
    maximum: float = 5.0
    budget: float = 30.0

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int):
            raise TypeError("attempts must be an int")
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        for name in ("initial", "maximum", "budget"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number of seconds >= 0")
        if self.maximum < self.initial:
            raise ValueError("maximum must not be smaller than initial")

    def backoff(self, retry: int, *, random: Callable[[], float] = _random.random) -> float:
        """Seconds to wait before retry number ``retry`` (1 = the second attempt)."""
        ceiling = min(self.maximum, self.initial * 2.0 ** min(retry - 1, 64))
        return ceiling * random()

    def schedule(self) -> Schedule:
        """A schedule for one report, its clock started now."""
        return Schedule(self)


class Schedule:
    """The retries of one report: call :meth:`next_delay` after each retryable failure."""

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        clock: Callable[[], float] = time.monotonic,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self.policy = policy
        self._clock = clock
        self._random = random
        self._started = clock()
        #: requests sent so far
        self.attempts = 0

    def start_attempt(self) -> int:
        """Count an attempt; returns its number (1-based)."""
        self.attempts += 1
        return self.attempts

    def next_delay(self) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` when it is time to give up."""
        if self.attempts >= self.policy.attempts:
            return None
        delay = self.policy.backoff(self.attempts, random=self._random)
        if self._clock() - self._started + delay > self.policy.budget:
            return None
        return delay
