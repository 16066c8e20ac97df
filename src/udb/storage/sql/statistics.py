"""The dashboard's counts (:class:`udb.storage.operator.Statistics`) in SQL, written once.

Each statement reads one time range of ``report_log`` or ``request_log`` through
the index on ``received_at`` (migrations 0006 and 0008) and answers counts only:
no CPR number, masked or not, leaves these statements. The reports per interval
are counted in one pass with one ``FILTER`` per interval, so no dialect needs its
own way of truncating a time to the minute.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from datetime import datetime

from udb.storage import operator
from udb.storage.records import IntervalCount, MunicipalityCount
from udb.storage.sql.repositories import SqlRepository


@functools.cache
def _intervals_statement(n: int) -> str:
    """Counts of reports (and rejected ones) in ``n`` consecutive half-open intervals.

    >>> sql = _intervals_statement(2)
    >>> sql.count("FILTER"), sql.count("?")
    (4, 10)
    """
    window = "received_at >= ? AND received_at < ?"
    columns = ", ".join(
        f"count(*) FILTER (WHERE {window}),"
        f" count(*) FILTER (WHERE {window} AND outcome_code IS NOT NULL)"
        for _ in range(n)
    )
    return f"SELECT {columns} FROM report_log WHERE {window}"


class SqlStatistics(SqlRepository, operator.Statistics):
    def answers(self, since: datetime) -> dict[int | None, int]:
        rows = self.db.all(
            "SELECT outcome_code, count(*) FROM report_log WHERE received_at >= ?"
            " GROUP BY outcome_code",
            (self.d.time(since),),
        )
        return {None if code is None else int(code): int(n) for code, n in rows}

    def requests(self, since: datetime) -> dict[tuple[str, str | None], int]:
        rows = self.db.all(
            "SELECT outcome, code, count(*) FROM request_log WHERE received_at >= ?"
            " GROUP BY outcome, code",
            (self.d.time(since),),
        )
        return {(str(outcome), code): int(n) for outcome, code, n in rows}

    def intervals(self, boundaries: Sequence[datetime]) -> list[IntervalCount]:
        if list(boundaries) != sorted(boundaries):
            raise ValueError("interval boundaries must ascend")
        if len(boundaries) < 2:
            return []
        times = [self.d.time(b) for b in boundaries]
        params: list[object] = []
        for start, end in itertools.pairwise(times):
            params += [start, end, start, end]
        params += [times[0], times[-1]]
        row = self.db.one(_intervals_statement(len(times) - 1), params)
        counts = [int(n or 0) for n in row] if row else [0] * (2 * (len(times) - 1))
        return [
            IntervalCount(start, end, counts[2 * i], counts[2 * i + 1])
            for i, (start, end) in enumerate(itertools.pairwise(boundaries))
        ]

    def municipalities(self, since: datetime) -> list[MunicipalityCount]:
        rows = self.db.all(
            "SELECT m.code, m.name, count(*), count(r.outcome_code)"
            " FROM report_log r"
            " LEFT JOIN institutions i ON i.number = r.institution_number"
            " LEFT JOIN municipalities m ON m.code = i.municipality_code"
            " WHERE r.received_at >= ?"
            " GROUP BY m.code, m.name ORDER BY m.code",
            (self.d.time(since),),
        )
        return [
            MunicipalityCount(code, name, int(reports), int(rejected))
            for code, name, reports, rejected in rows
        ]
