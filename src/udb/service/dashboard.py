"""The operator's dashboard: what the service answered, read from the database.

:func:`figures` assembles, for a ``now``, the counts the dashboard shows; every
instance reads them from the shared database, so the page is the same whichever
instance serves it. Nothing personal is read: only counts, reason codes and the
names of municipalities.

Business answers come from the report log (one row per transaction, so an answer
given again to a repeated transaction is not counted twice), except code 101: a
101 is the answer given when the database could not keep the report, so it is
counted from the request log, like the faults (IPL000001 ... IPL000006).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from udb.domain.model import ErrorCode
from udb.storage.base import StorageError, Store
from udb.storage.records import IntervalCount, MunicipalityCount

#: the two windows the figures are given for, by the suffix of their names
WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24)}
#: the rejection codes shown, in the contract's order
REJECTIONS = tuple(sorted(int(code) for code in ErrorCode))
#: the municipalities listed with most reports and with most rejections
TOP = 5


@dataclass(frozen=True, slots=True)
class Window:
    """The answers of one window: accepted, each rejection code, each fault code."""

    accepted: int
    rejected: dict[int, int]
    faults: dict[str, int]

    @property
    def fault_total(self) -> int:
        return sum(self.faults.values())


@dataclass(frozen=True, slots=True)
class Figures:
    """What the dashboard shows at ``now``; ``database_up`` False leaves the rest empty."""

    now: datetime
    database_up: bool
    windows: dict[str, Window] = field(default_factory=dict)
    #: reports per minute over the last hour, oldest first
    per_minute: list[IntervalCount] = field(default_factory=list)
    #: the municipalities with most reports (last 24 hours), most first
    most_reports: list[MunicipalityCount] = field(default_factory=list)
    #: the municipalities with most rejections (last 24 hours), most first
    most_rejections: list[MunicipalityCount] = field(default_factory=list)
    #: the database is a test environment (``udb testenv init``): synthetic data only
    test_environment: bool = False

    def metrics(self) -> dict[str, int]:
        """The figures by the names monitors read (``accepted-1h``, ``rejected-14-24h`` ...)."""
        named: dict[str, int] = {}
        for suffix, window in self.windows.items():
            named[f"accepted-{suffix}"] = window.accepted
            for code, count in window.rejected.items():
                named[f"rejected-{code}-{suffix}"] = count
            named[f"faults-{suffix}"] = window.fault_total
            for fault, count in window.faults.items():
                named[f"faults-{fault}-{suffix}"] = count
        return named


def _minutes(now: datetime) -> list[datetime]:
    """61 boundaries of the 60 whole minutes up to the current (partial) one, inclusive."""
    end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return [end - timedelta(minutes=60 - i) for i in range(61)]


def figures(store: Store, now: datetime, fault_codes: Sequence[str]) -> Figures:
    """The dashboard's figures at ``now`` (``database_up`` False if the database fails).

    ``fault_codes`` are the faults to count (each shown, if only as 0).
    """
    try:
        with store.unit_of_work(readonly=True) as uow:
            windows = {}
            for suffix, length in WINDOWS.items():
                answers = uow.statistics.answers(now - length)
                requests = uow.statistics.requests(now - length)
                rejected = {code: answers.get(code, 0) for code in REJECTIONS}
                rejected[int(ErrorCode.INTERNAL)] = requests.get(
                    ("rejected", str(int(ErrorCode.INTERNAL))), 0
                )
                windows[suffix] = Window(
                    accepted=answers.get(None, 0),
                    rejected=rejected,
                    faults={code: requests.get(("fault", code), 0) for code in fault_codes},
                )
            per_minute = uow.statistics.intervals(_minutes(now))
            municipalities = uow.statistics.municipalities(now - WINDOWS["24h"])
            test_environment = uow.testenv.is_marked()
    except StorageError:
        return Figures(now, database_up=False)

    def known_first(m: MunicipalityCount) -> tuple[bool, int]:
        return (m.code is None, m.code or 0)

    most_reports = sorted(municipalities, key=lambda m: (-m.reports, *known_first(m)))[:TOP]
    most_rejections = sorted(
        (m for m in municipalities if m.rejected), key=lambda m: (-m.rejected, *known_first(m))
    )[:TOP]
    return Figures(now, True, windows, per_minute, most_reports, most_rejections, test_environment)
