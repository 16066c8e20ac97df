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

    Calling it only queues the record: a thread of its own (one per process, started
    with the first record) writes what has queued up in one transaction, so a busy
    server writes many records a commit and an idle one each record a moment after
    its answer. It never fails or slows a request:

    * while the database refuses, the first failure is logged (with a CorrelationID of
      the records lost) and the following ones only counted, until a write succeeds
      again and the count of records lost is logged;
    * after a failure the thread waits :attr:`RETRY_AFTER_S` before it tries again, and
      counts the records that arrive meanwhile as lost, so that an unreachable database
      (which takes seconds to time out) holds up nothing and memory stays bounded;
    * at most ``max_queued`` (:attr:`MAX_QUEUED`) records wait; past that they are
      counted as lost.

    :meth:`close` writes what is queued and ends the thread (the server's shutdown);
    :meth:`flush` waits until everything queued so far is written or counted lost.
    """

    #: seconds after a failed write in which records are counted as lost, not tried
    RETRY_AFTER_S = 5.0
    #: the most records written in one transaction
    BATCH = 500
    #: the most records waiting to be written
    MAX_QUEUED = 20_000

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_queued: int = MAX_QUEUED,
    ) -> None:
        self.store = store
        self.clock = clock
        self._queue: queue.Queue[RequestRecord | None] = queue.Queue(max_queued)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        #: records not written since the database last refused (0: writing works)
        self.lost = 0
        self._retry_at = 0.0

    def __call__(self, record: RequestRecord) -> None:
        if self._closed:
            self._write([record])  # after close (a test, a shutdown): written at once
            return
        self._started()
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self._count_lost([record], "the request log's queue is full")

    def flush(self) -> None:
        """Wait until every record queued so far is written (or counted as lost)."""
        if self._thread is not None:
            self._queue.join()

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued and end the thread (waits at most ``timeout`` seconds)."""
        with self._lock:
            thread, self._closed = self._thread, True
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)

    def _started(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="udb-request-log", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            batch = [] if first is None else [first]
            stop = first is None
            while len(batch) < self.BATCH and not stop:
                try:
                    record = self._queue.get_nowait()
                except queue.Empty:
                    break
                if record is None:
                    stop = True
                else:
                    batch.append(record)
            try:
                if batch:
                    self._write(batch)
            finally:
                for _ in range(len(batch) + (1 if stop else 0)):
                    self._queue.task_done()
            if stop:
                return

    def _write(self, records: list[RequestRecord]) -> None:
        with self._lock:
            if self.lost and self.clock() < self._retry_at:
                self.lost += len(records)
                return
        try:
            with self.store.unit_of_work() as uow:
                uow.requests.add_many(records)
                uow.commit()
        except StorageError as exc:
            self._count_lost(records, str(exc), retry_later=True)
            return
        except Exception:  # a bug must not end the thread: later records still count
            log.exception("writing the request log failed")
            self._count_lost(records, "unexpected failure")
            return
        if self.lost:
            with self._lock:
                lost, self.lost = self.lost, 0
            if lost:
                log.warning("the request log is written again; %d record(s) were lost", lost)

    def _count_lost(
        self, records: list[RequestRecord], reason: str, *, retry_later: bool = False
    ) -> None:
        with self._lock:
            first = self.lost == 0
            self.lost += len(records)
            if retry_later:
                self._retry_at = self.clock() + self.RETRY_AFTER_S
        if first:
            log.error(
                "the request log is not written, support cannot find this request and "
                "those after it until the database takes writes again: %s correlation_id=%s",
                reason,
                records[0].correlation_id,
            )
