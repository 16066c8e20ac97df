"""A known set of reports and requests for the dashboard's tests, and what it should show.

Reports go in through the storage API (:meth:`Reports.log`); the request log has
no writer in these tests, so its rows are inserted with portable SQL through the
unit of work's connection, the same statement on SQLite and PostgreSQL.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from tests.support import AARHUS_KUI, NOW, SYSTEM
from udb.domain.model import ErrorCode
from udb.storage import Store
from udb.storage.records import ReportRecord

KOBENHAVN_KUI = 101001
UNKNOWN_KUI = 999999
_serial = itertools.count(1)

#: (minutes before NOW, institution, outcome code or None, how many)
REPORTS = [
    (0, AARHUS_KUI, None, 3),
    (1, AARHUS_KUI, None, 2),
    (10, AARHUS_KUI, 14, 2),
    (20, AARHUS_KUI, 86, 1),
    (59, AARHUS_KUI, 280, 1),
    (180, AARHUS_KUI, None, 4),
    (181, AARHUS_KUI, 15, 1),
    (30 * 60, AARHUS_KUI, None, 10),  # older than a day: never counted
    (5, KOBENHAVN_KUI, None, 2),
    (6, KOBENHAVN_KUI, 15, 1),
    (7, UNKNOWN_KUI, 86, 1),
]
#: (minutes before NOW, outcome, code, how many)
REQUESTS = [
    (2, "fault", "IPL000003", 2),
    (3, "fault", "IPL000002", 1),
    (4, "rejected", "101", 1),
    (4, "accepted", None, 5),
    (300, "fault", "IPL000004", 1),
    (300, "rejected", "101", 1),
    (48 * 60, "fault", "IPL000001", 1),  # older than a day
]
EXPECTED = {
    "accepted-1h": 7,
    "rejected-14-1h": 2,
    "rejected-15-1h": 1,
    "rejected-86-1h": 2,
    "rejected-101-1h": 1,
    "rejected-280-1h": 1,
    "faults-1h": 3,
    "accepted-24h": 11,
    "rejected-14-24h": 2,
    "rejected-15-24h": 2,
    "rejected-86-24h": 2,
    "rejected-101-24h": 2,
    "rejected-280-24h": 1,
    "faults-24h": 4,
}


def log_reports(store: Store, institution: int, code: int | None, n: int, at: datetime) -> None:
    with store.unit_of_work() as uow:
        system = uow.systems.get(SYSTEM)
        assert system is not None
        for _ in range(n):
            serial = next(_serial)
            record = ReportRecord(
                correlation_id=str(uuid.uuid4()),
                system_id=system.id,
                system_transaction_id=f"dash-{serial}-{uuid.uuid4().hex[:8]}",
                content_sha256=f"{serial:064d}",
                cpr="1503084232",
                institution_number=institution,
                received_at=at,
                outcome=None if code is None else ErrorCode(code),
            )
            assert uow.reports.log(record) is not None
        uow.commit()


def log_requests(store: Store, outcome: str, code: str | None, n: int, at: datetime) -> None:
    with store.unit_of_work() as uow:
        repo = uow.statistics
        for _ in range(n):
            repo.db.execute(  # type: ignore[attr-defined]
                "INSERT INTO request_log (received_at, correlation_id, operation, outcome,"
                " code, details, http_status, soap_version, duration_ms, system_name,"
                " institution_number, masked_cpr) VALUES (?, ?, 'Indberetning', ?, ?, NULL,"
                " ?, '1.2', 3.5, ?, ?, '150308-****')",
                (
                    repo.d.time(at),  # type: ignore[attr-defined]
                    str(uuid.uuid4()),
                    outcome,
                    code,
                    400 if outcome == "fault" else 200,
                    SYSTEM,
                    AARHUS_KUI,
                ),
            )
        uow.commit()


def load(
    store: Store,
    now: datetime = NOW,
    requests: Callable[[Store, str, str | None, int, datetime], None] = log_requests,
) -> None:
    """The known set, relative to ``now``, on a :func:`tests.support.seeded_store`.

    ``requests`` writes the request log (the in-memory fake has its own).
    """
    for minutes, institution, code, n in REPORTS:
        log_reports(store, institution, code, n, now - timedelta(minutes=minutes))
    for minutes, outcome, fault, n in REQUESTS:
        requests(store, outcome, fault, n, now - timedelta(minutes=minutes))
