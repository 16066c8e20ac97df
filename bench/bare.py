"""The bare endpoint: what any SOAP service must do with a report, and nothing more.

It reads the POSTed body, then parses it and validates it against the
contract with the service's own code (:func:`udb.soap.envelope.read`: the
hardened parser, the envelope checks and the XSD), and answers a fixed SOAP
envelope with ``<Ok>true</Ok>`` (a Ping: ``up``); an invalid body gets a fixed
IPL000002 fault. No WS-Security, rules, database, logging or thread pool: the
parsing and validation run on granian's event loop.

``python -m bench.service --suite`` serves it with granian, with the same number of
worker processes as the service, and divides the service's throughput by
this one's. (The issue names "a bare spyne service"; spyne is not installed,
and the project's own parse + validate is the fairer floor anyway: it is the
very work the service does before its own logic.)

    python -m bench.bare --port 8081 --workers 2
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from pathlib import Path
from typing import Any

from udb import contract
from udb.contract import ENDPOINT_PATH
from udb.soap import envelope
from udb.soap.faults import InvalidRequest
from udb.soap.messages import PING
from udb.soap.version import SoapVersion

ROOT = Path(__file__).resolve().parent.parent
MAX_BODY_BYTES = 64 * 1024

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def _envelope(version: SoapVersion, body: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{version.envelope_ns}"><s:Body>{body}</s:Body></s:Envelope>'
    ).encode()


def _answers(version: SoapVersion) -> dict[str, bytes]:
    return {
        "ok": _envelope(version, "<Svar><Ok>true</Ok></Svar>"),
        "up": _envelope(version, "<PingSvar><Status>up</Status></PingSvar>"),
        "fault": _envelope(
            version, "<s:Fault><Detail><ErrorCode>IPL000002</ErrorCode></Detail></s:Fault>"
        ),
    }


ANSWERS = {version: _answers(version) for version in SoapVersion}


def answer(data: bytes, content_type: str) -> tuple[int, SoapVersion, bytes]:
    """Status, SOAP version and body for one POSTed request."""
    media = content_type.split(";", 1)[0].strip().lower()
    version = SoapVersion.for_media_type(media)
    if version is None:
        return 500, SoapVersion.SOAP12, ANSWERS[SoapVersion.SOAP12]["fault"]
    try:
        request = envelope.read(data, version)
    except InvalidRequest:
        return 500, version, ANSWERS[version]["fault"]
    return 200, version, ANSWERS[version]["up" if request.payload.tag == PING else "ok"]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """ASGI 3: POST to the endpoint's path; lifespan compiles the schema first."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                contract.prepare()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    if scope.get("method") != "POST" or scope.get("path", "").rstrip("/") != ENDPOINT_PATH:
        await _send(send, 404, "text/plain", b"not found\n")
        return
    content_type = ""
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-type":
            content_type = value.decode("latin-1")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            await _send(send, 413, "text/plain", b"too large\n")
            return
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    status, version, body = answer(b"".join(chunks), content_type)
    await _send(send, status, version.content_type, body)


async def _send(send: Send, status: int, content_type: str, body: bytes) -> None:
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bare", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    from granian import Granian
    from granian.constants import Interfaces

    # the workers import this module as "bench.bare", from the repository root
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    Granian(
        "bench.bare:app",
        address=args.host,
        port=args.port,
        interface=Interfaces.ASGI,
        workers=args.workers,
        respawn_failed_workers=True,
        websockets=False,
    ).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
