"""An ASGI application that answers every request ``200`` with an empty body: the floor of
the HTTP stage (granian, the event loop, one request read and one answer written), served
by ``python -m bench.wrk`` under granian like ``udb serve``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]


async def app(
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:  # read the body, as the endpoint does
        message = await receive()
        more = bool(message.get("more_body"))
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]}
    )
    await send({"type": "http.response.body", "body": b""})
