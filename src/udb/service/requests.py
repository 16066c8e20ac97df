"""What every request leaves behind for the operator: a record without personal data.

The endpoint makes one :class:`RequestRecord` per request (report, Ping, or a
request refused with a fault before it was read) and hands it to the observers
it was given: the request log line, the metrics, the support lookup. The record
holds what support needs to answer "why was my request refused?" from the
CorrelationID alone, and nothing personal: the CPR number only masked, no name,
e-mail, phone number or free text.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from udb.storage.base import StorageError, Store
from udb.storage.records import RequestRecord

__all__ = ["UNREAD", "RequestLogWriter", "RequestObserver", "RequestRecord"]

log = logging.getLogger(__name__)

#: ``operation`` of a request whose Body was never read as an operation
UNREAD = "-"


#: what the endpoint calls with every request's record, after the answer is made
RequestObserver = Callable[[RequestRecord], None]


class RequestLogWriter:
    """The observer that keeps every request's record in the request log (support lookup).

    Each record is written in its own short transaction, after the answer is
    made, and never fails the request: while the database refuses, the first
    failure is logged (with its CorrelationID) and the following ones only
    counted, until a write succeeds again and the count of records lost is
    logged. After a failure the writer waits :attr:`RETRY_AFTER_S` before it
    tries again, so that an unreachable database (which takes seconds to time
    out) does not slow every answer down a second time.
    """

    #: seconds after a failed write in which records are counted as lost, not tried
    RETRY_AFTER_S = 5.0

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.clock = clock
        self._lock = threading.Lock()
        #: records not written since the database last refused (0: writing works)
        self.lost = 0
        self._retry_at = 0.0

    def __call__(self, record: RequestRecord) -> None:
        with self._lock:
            if self.lost and self.clock() < self._retry_at:
                self.lost += 1
                return
        try:
            with self.store.unit_of_work() as uow:
                uow.requests.add(record)
                uow.commit()
        except StorageError as exc:
            with self._lock:
                self.lost += 1
                first = self.lost == 1
                self._retry_at = self.clock() + self.RETRY_AFTER_S
            if first:
                log.error(
                    "the request log is not written, support cannot find this request and "
                    "those after it until the database takes writes again: %s correlation_id=%s",
                    exc,
                    record.correlation_id,
                )
            return
        if self.lost:
            with self._lock:
                lost, self.lost = self.lost, 0
            if lost:
                log.warning("the request log is written again; %d record(s) were lost", lost)
