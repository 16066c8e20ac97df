"""The synchronous client: :class:`UdbClient`."""

from __future__ import annotations

import collections
import concurrent.futures as cf
import functools
import os
import time
import uuid
from collections.abc import Callable, Generator, Iterable
from datetime import datetime
from types import TracebackType
from typing import Literal

import httpx

from udb.client import _base, _wire
from udb.client._base import BatchInput, Core, PemSource
from udb.client._changes import Changes
from udb.client._exceptions import ReportError, UdbError, settle_stored
from udb.client._fetched import FetchedPerson
from udb.client._read_wire import MAX_CPRS, HentAnswer
from udb.client._report import Report
from udb.client._result import BatchItem, Result
from udb.client._retry import RetryPolicy

__all__ = ["UdbClient"]


class UdbClient:
    """A client of the service, for one calling system; thread-safe, keeps connections alive.

    ::

        with UdbClient(
            "https://udb.example.dk",
            system_name="Vejledningssystem-Aarhus",
            cert="client.pem", key="client-key.pem",    # the system's signing certificate
            ca="ca.pem",                                 # trust only this CA for TLS
            client_cert=("client.pem", "client-key.pem"),  # mutual TLS
        ) as client:
            result = client.send(report)
            if not result.accepted:
                print(result.code, result.text, result.kind)

    ``base_url`` is the service's base (the endpoint path is added unless the
    URL already ends with it). ``cert`` and ``key`` (paths, or PEM bytes) sign
    every request (WS-Security, ``digest`` ``"sha256"`` or ``"sha1"``); they are
    read once, here, and a key that is not the certificate's fails here.
    ``sign=False`` sends unsigned requests, which only a server started with
    ``udb serve --insecure-dev-mode`` accepts.

    ``timeout`` (seconds, or an :class:`httpx.Timeout`) bounds connecting,
    sending and waiting for each request; ``retry`` is the
    :class:`RetryPolicy` (``None``: one attempt only). ``http2=True`` speaks
    HTTP/2 where the server offers it over TLS (needs the ``h2`` package;
    the default is HTTP/1.1 with keep-alive). ``transport`` replaces the network
    (e.g. :class:`httpx.MockTransport` in tests); TLS options then do not apply.
    """

    def __init__(
        self,
        base_url: str,
        *,
        system_name: str,
        cert: PemSource | None = None,
        key: PemSource | None = None,
        sign: bool = True,
        digest: Literal["sha256", "sha1"] = "sha256",
        ca: str | os.PathLike[str] | None = None,
        client_cert: tuple[str | os.PathLike[str], str | os.PathLike[str]] | None = None,
        timeout: float | httpx.Timeout = 10.0,
        retry: RetryPolicy | None = _base.DEFAULT_RETRY,
        http2: bool = False,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._core = Core(
            base_url,
            system_name=system_name,
            cert=cert,
            key=key,
            sign=sign,
            digest=digest,
            retry=retry,
        )
        self._client_cert = client_cert is not None
        self._http = httpx.Client(
            verify=_base.ssl_context(ca, client_cert),
            http2=_base.http2_enabled(http2),
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
        )

    @property
    def endpoint(self) -> str:
        """The URL requests are posted to."""
        return self._core.endpoint

    @property
    def system_name(self) -> str:
        return self._core.system_name

    # lifecycle ----------------------------------------------------------------

    def close(self) -> None:
        """Close the connections. The client cannot be used afterwards."""
        self._http.close()

    def __enter__(self) -> UdbClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # operations -------------------------------------------------------------------

    def send(self, report: Report, *, transaction_id: str | None = None) -> Result:
        """Send one report; its answer, after retries (see :mod:`udb.client._retry`).

        ``transaction_id`` (``SystemTransactionID``) defaults to a new UUID4,
        chosen once and kept for every retry; pass the one of an earlier try
        to resend a report whose answer was lost. Raises :class:`ReportError`
        before sending, :class:`FaultError` for a fault, :class:`TransportError`
        or :class:`UnexpectedResponse` when no usable answer came; after the
        last retry of a 101, the 101 :class:`Result` is returned.
        """
        transaction_id = self._core.transaction_id(transaction_id)
        unsigned = self._core.report_body(report, transaction_id)
        schedule = self._core.retry.schedule()
        unsure = False  # whether an attempt so far may have stored the report
        while True:
            attempt = schedule.start_attempt()
            outcome: Result | UdbError
            try:
                outcome = self._exchange(unsigned, transaction_id, attempt)
            except UdbError as exc:
                outcome = _base.note_attempt(exc, transaction_id, attempt)
                unsure = unsure or exc.may_be_stored
            delay = schedule.next_delay() if outcome.retryable else None
            if delay is None:
                if isinstance(outcome, UdbError):
                    raise settle_stored(outcome, unsure)
                return outcome
            _base.log_retry(transaction_id, attempt, _base.outcome_name(outcome), delay)
            time.sleep(delay)

    def ping(self) -> bool:
        """``True`` if the service is up, ``False`` if it answers ``down`` (no database).

        One signed request, not retried. Raises :class:`TransportError` when the
        service does not answer, :class:`FaultError` when it refuses the request.
        """
        status, headers, content = self._post(self._core.seal(_wire.ping_envelope()))
        return self._core.ping_result(status, headers, content)

    def fetch(self, institution: int, cprs: Iterable[str]) -> list[FetchedPerson]:
        """What UDB holds for each of ``cprs``: one :class:`FetchedPerson` per number, in order.

        ``institution`` is the KUI institution number the system reads for.
        Longer lists are asked for in requests of 100. A person the system may
        not read gets ``code`` 86 and no data, an unknown one 14, one of 25 or
        older 15. Each request is retried as :meth:`send` is (a read stores
        nothing: a retry has a new transaction id and a fresh signature).
        Raises :class:`ReportError` before sending, :class:`FaultError`,
        :class:`TransportError` or :class:`UnexpectedResponse`.
        """
        institution = _base.check_institution(institution)
        numbers = _base.check_cprs(cprs)
        persons: list[FetchedPerson] = []
        for start in range(0, len(numbers), MAX_CPRS):
            chunk = numbers[start : start + MAX_CPRS]
            answer = self._read(
                functools.partial(self._core.fetch_body, institution=institution, cprs=chunk),
                cprs=chunk,
            )
            persons.extend(answer.persons)
        return persons

    def changes(self, institution: int, since: datetime) -> Changes:
        """Every young person of the institution's municipality whose data UDB received
        after ``since`` (aware), page after page (see :class:`Changes`).

        Nothing is sent until the result is iterated. After the last page,
        ``.until`` is the moment up to which the listing is complete: give it as
        ``since`` next time. A tampered or foreign page token gets
        :class:`SchemaFault` (IPL000002), a system not authorised for the
        institution :class:`AccessDeniedFault` (IPL000004).
        """
        institution = _base.check_institution(institution)
        since = _base.check_since(since)

        def page(token: str | None) -> HentAnswer:
            return self._read(
                lambda stid: self._core.fetch_body(stid, institution, since=since, token=token)
            )

        return Changes(page)

    def send_many(
        self,
        reports: Iterable[BatchInput],
        concurrency: int = 16,
        *,
        ordered: bool = True,
    ) -> Generator[BatchItem, None, None]:
        """Send many reports over the shared connections; yield a :class:`BatchItem` each.

        ``reports`` is any iterable (a generator is never read more than
        ``2 * concurrency`` items ahead of what was yielded); an item is a
        :class:`Report` or a ``(Report, transaction_id)`` pair, so a resumed
        batch reuses its ids. Items come in input order (``ordered=True``) or as
        they complete. An error of one report (a :class:`UdbError`) is carried
        by its item and the batch goes on::

            for item in client.send_many(reports, concurrency=8):
                if not item.accepted:
                    failed.append((item.index, item.system_transaction_id))

        Leaving the loop early (or closing the iterator) stops taking reports
        from the input, cancels those not yet started, lets the requests under
        way finish, and ends the worker threads. Their answers are not yielded,
        and the service may have stored those reports: to resend them without
        storing any twice, choose each transaction id yourself (pairs), keep it
        before sending, and resend under it (as ``udb send-batch`` does).
        """
        window = 2 * _base.check_concurrency(concurrency)
        return self._stream(reports, concurrency, window, ordered)

    # internals ----------------------------------------------------------------------

    def _stream(
        self, reports: Iterable[BatchInput], concurrency: int, window: int, ordered: bool
    ) -> Generator[BatchItem, None, None]:
        source = enumerate(reports)
        pending: collections.deque[cf.Future[BatchItem]] = collections.deque()
        waiting: set[cf.Future[BatchItem]] = set()
        with cf.ThreadPoolExecutor(concurrency, thread_name_prefix="udb-client") as pool:
            try:
                while True:
                    while len(pending) + len(waiting) < window:
                        taken = next(source, None)
                        if taken is None:
                            break
                        future = self._submit(pool, *taken)
                        if ordered:
                            pending.append(future)
                        else:
                            waiting.add(future)
                    if ordered:
                        if not pending:
                            return
                        yield pending.popleft().result()
                    else:
                        if not waiting:
                            return
                        done, _ = cf.wait(waiting, return_when=cf.FIRST_COMPLETED)
                        for future in done:
                            waiting.discard(future)
                            yield future.result()
            finally:
                for future in (*pending, *waiting):
                    future.cancel()

    def _submit(self, pool: cf.Executor, index: int, item: object) -> cf.Future[BatchItem]:
        """Start one input (checked here, in the consumer's thread)."""
        try:
            report, transaction_id = self._core.batch_input(item)
        except ReportError as exc:
            done: cf.Future[BatchItem] = cf.Future()
            done.set_result(BatchItem(index, None, None, error=exc))
            return done
        return pool.submit(self._batch_item, index, report, transaction_id)

    def _batch_item(self, index: int, report: Report, transaction_id: str) -> BatchItem:
        try:
            result = self.send(report, transaction_id=transaction_id)
        except UdbError as exc:
            return BatchItem(index, transaction_id, report, error=exc)
        return BatchItem(index, transaction_id, report, result=result)

    def _exchange(self, unsigned: bytes, transaction_id: str, attempt: int) -> Result:
        status, headers, content = self._post(self._core.seal(unsigned))
        return self._core.result(
            status, headers, content, transaction_id=transaction_id, attempts=attempt
        )

    def _read(
        self, build: Callable[[str], bytes], *, cprs: tuple[str, ...] | None = None
    ) -> HentAnswer:
        """One read-back request, retried by the policy, each attempt a new transaction."""
        schedule = self._core.retry.schedule()
        while True:
            attempt = schedule.start_attempt()
            stid = str(uuid.uuid4())
            try:
                status, headers, content = self._post(
                    self._core.seal(build(stid)), self._core.read_endpoint, _base.MAX_READ_BYTES
                )
                return self._core.hent_answer(
                    status, headers, content, transaction_id=stid, cprs=cprs
                )
            except UdbError as exc:
                error = _base.note_attempt(exc, stid, attempt)
            delay = schedule.next_delay() if error.retryable else None
            if delay is None:
                raise error
            _base.log_retry(stid, attempt, _base.outcome_name(error), delay)
            time.sleep(delay)

    def _post(
        self, body: bytes, url: str | None = None, limit: int = _base.MAX_ANSWER_BYTES
    ) -> tuple[int, httpx.Headers, bytes]:
        """POST ``body`` (to the report endpoint unless ``url``); the status, headers and
        content of the answer, read up to ``limit`` bytes."""
        try:
            request = self._http.build_request(
                "POST", url or self._core.endpoint, content=body, headers=self._core.headers
            )
            response = self._http.send(request, stream=True)
            try:
                answer = _base.CappedBody(response, limit)
                for chunk in response.iter_bytes():
                    answer.add(chunk)
            finally:
                response.close()
        except httpx.RequestError as exc:
            raise _base.transport_error(
                exc, self._core.where, client_cert=self._client_cert
            ) from exc
        return response.status_code, response.headers, answer.content()
