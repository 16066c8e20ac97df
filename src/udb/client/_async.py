"""The asynchronous client: :class:`AsyncUdbClient`, the twin of :class:`UdbClient`."""

from __future__ import annotations

import asyncio
import collections
import functools
import os
import uuid
from collections.abc import AsyncGenerator, AsyncIterable, Callable, Iterable
from datetime import datetime
from types import TracebackType
from typing import Literal

import httpx

from udb.client import _base, _wire
from udb.client._base import BatchInput, Core, PemSource
from udb.client._changes import AsyncChanges
from udb.client._exceptions import ReportError, UdbError, settle_stored
from udb.client._fetched import FetchedPerson
from udb.client._read_wire import MAX_CPRS, HentAnswer
from udb.client._report import Report
from udb.client._result import BatchItem, Result
from udb.client._retry import RetryPolicy

__all__ = ["AsyncUdbClient"]


class AsyncUdbClient:
    """The asynchronous client, with the same options and behaviour as :class:`UdbClient`::

        async with AsyncUdbClient(base_url, system_name="Vejledningssystem-Aarhus",
                                  cert="client.pem", key="client-key.pem") as client:
            result = await client.send(report)
            async for item in client.send_many(reports, concurrency=16):
                ...

    ``transport`` takes an :class:`httpx.AsyncBaseTransport` (e.g.
    :class:`httpx.MockTransport` or :class:`httpx.ASGITransport`).
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
        transport: httpx.AsyncBaseTransport | None = None,
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
        self._http = httpx.AsyncClient(
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

    async def aclose(self) -> None:
        """Close the connections. The client cannot be used afterwards."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncUdbClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # operations -------------------------------------------------------------------

    async def send(self, report: Report, *, transaction_id: str | None = None) -> Result:
        """Send one report; see :meth:`UdbClient.send`."""
        transaction_id = self._core.transaction_id(transaction_id)
        unsigned = self._core.report_body(report, transaction_id)
        schedule = self._core.retry.schedule()
        unsure = False  # whether an attempt so far may have stored the report
        while True:
            attempt = schedule.start_attempt()
            outcome: Result | UdbError
            try:
                outcome = await self._exchange(unsigned, transaction_id, attempt)
            except UdbError as exc:
                outcome = _base.note_attempt(exc, transaction_id, attempt)
                unsure = unsure or exc.may_be_stored
            delay = schedule.next_delay() if outcome.retryable else None
            if delay is None:
                if isinstance(outcome, UdbError):
                    raise settle_stored(outcome, unsure)
                return outcome
            _base.log_retry(transaction_id, attempt, _base.outcome_name(outcome), delay)
            await asyncio.sleep(delay)

    async def ping(self) -> bool:
        """``True`` if the service is up, ``False`` if down; see :meth:`UdbClient.ping`."""
        status, headers, content = await self._post(await self._seal(_wire.ping_envelope()))
        return self._core.ping_result(status, headers, content)

    async def fetch(self, institution: int, cprs: Iterable[str]) -> list[FetchedPerson]:
        """What UDB holds for each of ``cprs``, in order; see :meth:`UdbClient.fetch`."""
        institution = _base.check_institution(institution)
        numbers = _base.check_cprs(cprs)
        persons: list[FetchedPerson] = []
        for start in range(0, len(numbers), MAX_CPRS):
            chunk = numbers[start : start + MAX_CPRS]
            answer = await self._read(
                functools.partial(self._core.fetch_body, institution=institution, cprs=chunk),
                cprs=chunk,
            )
            persons.extend(answer.persons)
        return persons

    def changes(self, institution: int, since: datetime) -> AsyncChanges:
        """Every changed person, page after page, for ``async for``; see
        :meth:`UdbClient.changes` (``.until`` once the last page was read)."""
        institution = _base.check_institution(institution)
        since = _base.check_since(since)

        async def page(token: str | None) -> HentAnswer:
            return await self._read(
                lambda stid: self._core.fetch_body(stid, institution, since=since, token=token)
            )

        return AsyncChanges(page)

    def send_many(
        self,
        reports: Iterable[BatchInput] | AsyncIterable[BatchInput],
        concurrency: int = 16,
        *,
        ordered: bool = True,
    ) -> AsyncGenerator[BatchItem, None]:
        """Send many reports; yield a :class:`BatchItem` each (see :meth:`UdbClient.send_many`).

        ``reports`` may be an iterable or an async iterable; at most
        ``concurrency`` requests are under way and at most ``2 * concurrency``
        inputs taken and not yet yielded. To stop early, close the iterator
        (``contextlib.aclosing``): the tasks not finished are cancelled::

            async with contextlib.aclosing(client.send_many(reports)) as items:
                async for item in items:
                    ...

        A cancelled request may still have been stored by the service: to
        resend such reports without storing any twice, choose each transaction
        id yourself (pairs), keep it before sending, and resend under it.
        """
        window = 2 * _base.check_concurrency(concurrency)
        return self._stream(reports, asyncio.Semaphore(concurrency), window, ordered)

    # internals ----------------------------------------------------------------------

    async def _stream(
        self,
        reports: Iterable[BatchInput] | AsyncIterable[BatchInput],
        limit: asyncio.Semaphore,
        window: int,
        ordered: bool,
    ) -> AsyncGenerator[BatchItem, None]:
        source = _enumerate(reports)
        pending: collections.deque[asyncio.Task[BatchItem]] = collections.deque()
        waiting: set[asyncio.Task[BatchItem]] = set()
        exhausted = False
        try:
            while True:
                while not exhausted and len(pending) + len(waiting) < window:
                    try:
                        index, item = await anext(source)
                    except StopAsyncIteration:
                        exhausted = True
                        break
                    task = asyncio.ensure_future(self._batch_item(limit, index, item))
                    if ordered:
                        pending.append(task)
                    else:
                        waiting.add(task)
                if ordered:
                    if not pending:
                        return
                    yield await pending.popleft()
                else:
                    if not waiting:
                        return
                    done, waiting = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                    for task in done:
                        yield task.result()
        finally:
            unfinished = [task for task in (*pending, *waiting) if not task.done()]
            for task in unfinished:
                task.cancel()
            if unfinished:
                await asyncio.gather(*unfinished, return_exceptions=True)
            await source.aclose()

    async def _batch_item(self, limit: asyncio.Semaphore, index: int, item: object) -> BatchItem:
        try:
            report, transaction_id = self._core.batch_input(item)
        except ReportError as exc:
            return BatchItem(index, None, None, error=exc)
        async with limit:
            try:
                result = await self.send(report, transaction_id=transaction_id)
            except UdbError as exc:
                return BatchItem(index, transaction_id, report, error=exc)
        return BatchItem(index, transaction_id, report, result=result)

    async def _seal(self, unsigned: bytes) -> bytes:
        """The request signed in a worker thread: a signature takes milliseconds of CPU,
        and python-xmlsec releases the GIL meanwhile, so the event loop goes on."""
        return await asyncio.to_thread(self._core.seal, unsigned)

    async def _exchange(self, unsigned: bytes, transaction_id: str, attempt: int) -> Result:
        status, headers, content = await self._post(await self._seal(unsigned))
        return self._core.result(
            status, headers, content, transaction_id=transaction_id, attempts=attempt
        )

    async def _read(
        self, build: Callable[[str], bytes], *, cprs: tuple[str, ...] | None = None
    ) -> HentAnswer:
        """One read-back request; see :meth:`UdbClient._read`."""
        schedule = self._core.retry.schedule()
        while True:
            attempt = schedule.start_attempt()
            stid = str(uuid.uuid4())
            try:
                status, headers, content = await self._post(
                    await self._seal(build(stid)), self._core.read_endpoint, _base.MAX_READ_BYTES
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
            await asyncio.sleep(delay)

    async def _post(
        self, body: bytes, url: str | None = None, limit: int = _base.MAX_ANSWER_BYTES
    ) -> tuple[int, httpx.Headers, bytes]:
        """POST ``body``; see :meth:`UdbClient._post`."""
        try:
            request = self._http.build_request(
                "POST", url or self._core.endpoint, content=body, headers=self._core.headers
            )
            response = await self._http.send(request, stream=True)
            try:
                answer = _base.CappedBody(response, limit)
                async for chunk in response.aiter_bytes():
                    answer.add(chunk)
            finally:
                await response.aclose()
        except httpx.RequestError as exc:
            raise _base.transport_error(
                exc, self._core.where, client_cert=self._client_cert
            ) from exc
        return response.status_code, response.headers, answer.content()


async def _enumerate(
    reports: Iterable[BatchInput] | AsyncIterable[BatchInput],
) -> AsyncGenerator[tuple[int, object], None]:
    index = 0
    if isinstance(reports, AsyncIterable):
        async for item in reports:
            yield index, item
            index += 1
    else:
        for item in reports:
            yield index, item
            index += 1
