"""A stub of the endpoint for ``bench.client``: it answers every report ``Ok=true`` at once.

It does none of the service's work (no parsing, no schema, no signature check,
no database): it reads the HTTP/1.1 request, takes ``SystemName`` and
``SystemTransactionID`` out of the body with a regular expression and answers
the service's own accepted answer (``udb.soap.messages.report_response``,
rendered once) with those two values and a fresh ``CorrelationID`` put in. It
costs a few hundredths of a millisecond of CPU per request, so a client sending
to it is limited by itself: ``bench.client`` uses it to show how fast the
clients (the SDK, zeep) are on their own, apart from the server.

    python -m bench.client_stub --port 8082

It listens on 127.0.0.1 only, keeps connections alive, and prints ``ready
PORT`` once it listens (``--port 0``: a free port).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import signal
import sys
import uuid
from collections.abc import Sequence

from bench.wire import HOST
from udb.domain.model import Outcome
from udb.soap.messages import Identifier, report_response
from udb.soap.version import SoapVersion

_SYSTEM = re.compile(rb"<(?:[\w.-]+:)?SystemName>([^<]*)</")
_TXID = re.compile(rb"<(?:[\w.-]+:)?SystemTransactionID>([^<]*)</")
_MARKS = (b"@@SYSTEM@@", b"@@TXID@@", b"@@CORRELATION@@")
MAX_BODY = 1 << 20


def _template() -> list[bytes]:
    """The accepted answer, split where the system, the transaction and the correlation go."""
    text = report_response(
        SoapVersion.SOAP12,
        Identifier(_MARKS[0].decode(), _MARKS[1].decode()),
        _MARKS[2].decode(),
        Outcome.accepted(),
    )
    parts = re.split(b"|".join(re.escape(m) for m in _MARKS), text)
    if len(parts) != 4:
        raise RuntimeError("the answer template does not hold each value once")
    return parts


TEMPLATE = _template()


def answer(body: bytes) -> bytes:
    """The HTTP response to one request body."""
    system = _SYSTEM.search(body)
    txid = _TXID.search(body)
    if system is None or txid is None:
        return b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
    correlation = str(uuid.uuid4()).encode()
    first, second, third, last = TEMPLATE
    content = b"".join((first, system.group(1), second, txid.group(1), third, correlation, last))
    head = (
        b"HTTP/1.1 200 OK\r\n"
        b"Content-Type: application/soap+xml; charset=utf-8\r\n"
        b"X-Correlation-ID: " + correlation + b"\r\n"
        b"Content-Length: " + str(len(content)).encode() + b"\r\n\r\n"
    )
    return head + content


async def serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                return
            length = 0
            close = False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value.strip())
                elif name == b"connection":
                    close = value.strip().lower() == b"close"
            if length > MAX_BODY:
                return
            body = await reader.readexactly(length) if length else b""
            writer.write(answer(body))
            await writer.drain()
            if close:
                return
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        return
    finally:
        with contextlib.suppress(ConnectionError, RuntimeError):
            writer.close()


async def main_async(port: int) -> None:
    server = await asyncio.start_server(serve_connection, HOST, port, backlog=512)
    bound = server.sockets[0].getsockname()[1]
    print(f"ready {bound}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.client_stub", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    args = parser.parse_args(argv)
    asyncio.run(main_async(args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
