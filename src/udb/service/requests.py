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
import queue
import threading
import time
from collections.abc import Callable, Sequence

from udb.storage.base import StorageError, Store
from udb.storage.records import RequestRecord

__all__ = ["UNREAD", "RequestLogQueue", "RequestLogWriter", "RequestObserver", "RequestRecord"]

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
        self.write([record])

    def write(self, records: Sequence[RequestRecord]) -> None:
        """Keep ``records`` in one transaction (all, or none and they count as lost)."""
        if not records:
            return
        with self._lock:
            if self.lost and self.clock() < self._retry_at:
                self.lost += len(records)
                return
        try:
            with self.store.unit_of_work() as uow:
                for record in records:
                    uow.requests.add(record)
                uow.commit()
        except StorageError as exc:
            with self._lock:
                first = self.lost == 0
                self.lost += len(records)
                self._retry_at = self.clock() + self.RETRY_AFTER_S
            if first:
                log.error(
                    "the request log is not written, support cannot find this request and "
                    "those after it until the database takes writes again: %s correlation_id=%s",
                    exc,
                    records[0].correlation_id,
                )
            return
        if self.lost:
            with self._lock:
                lost, self.lost = self.lost, 0
            if lost:
                log.warning("the request log is written again; %d record(s) were lost", lost)

    def count_lost(self, n: int) -> None:
        with self._lock:
            self.lost += n


_STOP = object()


class RequestLogQueue:
    """Hands every record to a :class:`RequestLogWriter` in a thread of its own.

    What arrives while one batch is being written goes into the next, one
    transaction each (at most :attr:`MAX_BATCH` records): under load many
    records share one commit instead of one commit each, and when the service
    is quiet each record is written at once. The request's own thread only
    queues. At most :attr:`MAX_WAITING` records wait; beyond that (a database
    that takes no writes for long) they count as lost, as the writer's failures
    do. :meth:`close` writes what waits before the worker ends.
    """

    MAX_BATCH = 500
    MAX_WAITING = 10_000

    def __init__(self, writer: RequestLogWriter) -> None:
        self.writer = writer
        self._waiting: queue.Queue[object] = queue.Queue(self.MAX_WAITING)
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def __call__(self, record: RequestRecord) -> None:
        if self._thread is None:
            self._start()
        try:
            self._waiting.put_nowait(record)
        except queue.Full:
            self.writer.count_lost(1)

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                thread = threading.Thread(target=self._run, name="udb-request-log", daemon=True)
                thread.start()
                self._thread = thread

    def _run(self) -> None:
        while True:
            item = self._waiting.get()
            batch: list[RequestRecord] = []
            while item is not _STOP:
                batch.append(item)  # type: ignore[arg-type]
                if len(batch) >= self.MAX_BATCH:
                    break
                try:
                    item = self._waiting.get_nowait()
                except queue.Empty:
                    break
            try:
                self.writer.write(batch)
            except Exception:
                log.exception("the request log writer failed; %d record(s) lost", len(batch))
            if item is _STOP:
                return

    def close(self, timeout: float = 10.0) -> None:
        """Write what waits, then end the thread (``timeout`` seconds at most)."""
        thread = self._thread
        if thread is None:
            return
        self._waiting.put(_STOP)
        thread.join(timeout)
