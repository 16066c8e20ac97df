"""The changes listing: every page of ``AendretSiden``, as one iterator of persons.

:meth:`UdbClient.changes <udb.client.UdbClient.changes>` returns a
:class:`Changes`; it asks for the first page when it is first iterated, then
for the next (the same ``AendretSiden`` and the page's ``NaesteSide`` as
``SideToken``) whenever the persons of a page are used up, until a page has no
``NaesteSide``. Then :attr:`Changes.until` is that page's ``AendretTil``: the
moment up to which the listing is complete. Keep it and give it as ``since``
next time, and no change is missed or listed twice across runs::

    since = load_mark() or datetime(2026, 1, 1, tzinfo=UTC)
    changes = client.changes(751001, since)
    for person in changes:
        update_local_copy(person)
    save_mark(changes.until)        # set once the last page has been read

A run that stops early (an exception, ``break``) has no :attr:`~Changes.until`:
run it again from the same ``since``. :class:`AsyncChanges` is the same with
``async for``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime

from udb.client._exceptions import UnexpectedResponse
from udb.client._fetched import FetchedPerson
from udb.client._read_wire import HentAnswer

__all__ = ["AsyncChanges", "Changes"]


class _Pages:
    """What both iterators share: the persons not yet yielded, the token, the end."""

    def __init__(self) -> None:
        self.buffer: deque[FetchedPerson] = deque()
        self.token: str | None = None
        self.done = False
        #: pages read so far
        self.pages = 0
        #: the final page's AendretTil, once the last page was read
        self.until: datetime | None = None

    def more(self) -> bool:
        return not self.buffer and not self.done

    def take(self, answer: HentAnswer) -> None:
        self.pages += 1
        self.buffer.extend(answer.persons)
        if answer.next_token is not None and answer.next_token == self.token:
            raise UnexpectedResponse(
                "the service gave the same NaesteSide twice (the listing does not advance)",
                http_status=200,
                correlation_id=answer.correlation_id or None,
            )
        self.token = answer.next_token
        if self.token is None:
            if answer.until is None:
                raise UnexpectedResponse(
                    "the last page of the changes listing has no AendretTil",
                    http_status=200,
                    correlation_id=answer.correlation_id or None,
                )
            self.done = True
            self.until = answer.until


class Changes(Iterator[FetchedPerson]):
    """Every person of a changes listing, page after page (see the module).

    ``until`` is ``None`` until the last page has been read, then its
    ``AendretTil``; ``pages`` counts the pages read.
    """

    def __init__(self, page: Callable[[str | None], HentAnswer]) -> None:
        self._page = page
        self._state = _Pages()

    @property
    def until(self) -> datetime | None:
        return self._state.until

    @property
    def pages(self) -> int:
        return self._state.pages

    def __iter__(self) -> Changes:
        return self

    def __next__(self) -> FetchedPerson:
        state = self._state
        while state.more():
            state.take(self._page(state.token))
        if not state.buffer:
            raise StopIteration
        return state.buffer.popleft()


class AsyncChanges(AsyncIterator[FetchedPerson]):
    """:class:`Changes` for ``async for`` (from :meth:`AsyncUdbClient.changes
    <udb.client.AsyncUdbClient.changes>`)."""

    def __init__(self, page: Callable[[str | None], Awaitable[HentAnswer]]) -> None:
        self._page = page
        self._state = _Pages()

    @property
    def until(self) -> datetime | None:
        return self._state.until

    @property
    def pages(self) -> int:
        return self._state.pages

    def __aiter__(self) -> AsyncChanges:
        return self

    async def __anext__(self) -> FetchedPerson:
        state = self._state
        while state.more():
            state.take(await self._page(state.token))
        if not state.buffer:
            raise StopAsyncIteration
        return state.buffer.popleft()
