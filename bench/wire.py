"""Reports on the wire, as the load generator sends them and reads what comes back.

Requests are rendered to bytes before a run: the body is the wire example
``docs/examples/request.xml`` with the CPR number and a fresh uuid4
``SystemTransactionID`` put in, optionally signed (:class:`Signer`), framed as
one HTTP/1.1 POST to the endpoint on 127.0.0.1. An answer is read from an
asyncio stream (:func:`read_response`) and counted as exactly one of
``Ok=true``, ``Ok=false`` (by FejlKode) or a fault (:func:`classify`).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path

from udb.contract import ENDPOINT_PATH

HOST = "127.0.0.1"  # the only address the benchmarks talk to
CONTENT_TYPE = "application/soap+xml; charset=utf-8"
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TEMPLATE = ROOT / "docs" / "examples" / "request.xml"
PING = ROOT / "docs" / "examples" / "ping.xml"
#: The demo data set's young person whose reports are accepted.
DEMO_CPR = "1503084232"
#: Expires - Created of the Timestamp ``udb.wssecurity.sign`` writes (its default)
SIGNATURE_LIFETIME_S = 300.0
#: no request is started whose signature is older than the lifetime less this
SIGNATURE_MARGIN_S = 15.0

_CPR = re.compile(r"(<(?:[\w.-]+:)?CPRNr>)[^<]*(</)")
_TXID = re.compile(r"(<(?:[\w.-]+:)?SystemTransactionID>)[^<]*(</)")
_OK = re.compile(rb"<(?:[\w.-]+:)?Ok>\s*(true|false)\s*</")
_FEJLKODE = re.compile(rb"<(?:[\w.-]+:)?FejlKode>\s*(\d+)\s*</")
_IPL_CODE = re.compile(rb"<(?:[\w.-]+:)?ErrorCode>\s*(IPL\d+)\s*</")


class ProtocolError(Exception):
    """The server's answer is not HTTP/1.1 as this client reads it."""


# requests ---------------------------------------------------------------------


def read_template(path: Path = DEFAULT_TEMPLATE) -> str:
    """The request body template; it must hold one CPRNr and one SystemTransactionID."""
    text = path.read_text(encoding="utf-8")
    for name, pattern in (("CPRNr", _CPR), ("SystemTransactionID", _TXID)):
        found = len(pattern.findall(text))
        if found != 1:
            raise ValueError(f"{path}: expected one {name} element, found {found}")
    return text


def render_body(template: str, cpr: str, transaction_id: str) -> bytes:
    body = _CPR.sub(lambda m: m.group(1) + cpr + m.group(2), template, count=1)
    body = _TXID.sub(lambda m: m.group(1) + transaction_id + m.group(2), body, count=1)
    return body.encode("utf-8")


def frame(body: bytes, *, port: int) -> bytes:
    """The complete HTTP/1.1 request that POSTs ``body`` to the endpoint."""
    head = (
        f"POST {ENDPOINT_PATH} HTTP/1.1\r\n"
        f"Host: {HOST}:{port}\r\n"
        f"Content-Type: {CONTENT_TYPE}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    return head.encode("ascii") + body


def render_requests(
    template: str,
    cprs: Sequence[str],
    count: int,
    *,
    port: int,
    signer: Signer | None = None,
    budget_s: float | None = None,
) -> list[bytes]:
    """``count`` complete HTTP requests, CPR numbers taken round-robin from ``cprs``.

    Every request gets its own uuid4 SystemTransactionID, so every one is a new
    report (and not an idempotent repetition of an earlier one). With ``signer``
    every body is signed; signing stops early (fewer requests) once it has
    taken ``budget_s`` seconds.
    """
    if not cprs:
        raise ValueError("no CPR numbers given")
    requests = []
    started = time.perf_counter()
    with signer.batch() if signer else contextlib.nullcontext():
        for i in range(count):
            body = render_body(template, cprs[i % len(cprs)], str(uuid.uuid4()))
            if signer is not None:
                if budget_s is not None and time.perf_counter() - started > budget_s:
                    break
                body = signer.sign(body)
            requests.append(frame(body, port=port))
    return requests


class Signer:
    """Signs bodies as a municipal client does: ``udb.wssecurity.sign``, SHA-256.

    ``sign`` checks on every call that the private key belongs to the
    certificate, and loading an RSA key with ``cryptography`` validates it
    (about 40 ms of the 45 ms a call takes here). Inside :meth:`batch` that
    check is done once and its result reused for the same key and
    certificate, so signing costs about 2 ms a body; the signature itself is
    made by ``udb.wssecurity.sign`` unchanged. ``signed_at`` holds, for each
    body signed, when (``time.perf_counter()``) it was signed.
    """

    def __init__(self, key_pem: bytes, cert_pem: bytes, *, digest: str = "sha256") -> None:
        from udb import wssecurity

        self._sign = wssecurity.sign
        self.key_pem = key_pem
        self.cert_pem = cert_pem
        self.digest = digest
        #: the Timestamp's lifetime of the bodies signed (None: ``sign``'s default, 5 min)
        self.lifetime: timedelta | None = None
        self.signed_at: list[float] = []
        self.seconds = 0.0

    @classmethod
    def from_files(cls, key: Path, cert: Path) -> Signer:
        return cls(key.read_bytes(), cert.read_bytes())

    def sign(self, body: bytes) -> bytes:
        started = time.perf_counter()
        lifetime = {} if self.lifetime is None else {"lifetime": self.lifetime}
        signed: bytes = self._sign(
            body, key_pem=self.key_pem, cert_pem=self.cert_pem, digest=self.digest, **lifetime
        )
        done = time.perf_counter()
        self.seconds += done - started
        self.signed_at.append(done)
        return signed

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Sign a batch of bodies (``udb.wssecurity.sign`` checks the key pair once)."""
        yield

    def deadlines(self) -> list[float]:
        """For each body signed: the last moment to start sending it."""
        age = SIGNATURE_LIFETIME_S - SIGNATURE_MARGIN_S
        return [t + age for t in self.signed_at]


# responses --------------------------------------------------------------------


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool, bytes]:
    """Status, whether the server closes the connection, and the body."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head[:-4].split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise ProtocolError("bad status line")
    status = int(parts[1])
    close = parts[0] == b"HTTP/1.0"
    length: int | None = None
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        value = value.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            close = value == b"close"
        elif name == b"transfer-encoding":
            chunked = value.endswith(b"chunked")
    if chunked:
        return status, close, await _read_chunked(reader)
    if length is None:
        return status, True, await reader.read()
    return status, close, await reader.readexactly(length)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)


def classify(status: int, body: bytes) -> tuple[str, str | None]:
    """``("ok", None)``, ``("rejected", FejlKode)`` or ``("fault", key)``."""
    if status == 200 and b"Fault>" not in body:
        ok = _OK.search(body)
        if ok is not None and ok.group(1) == b"true":
            return "ok", None
        if ok is not None:
            code = _FEJLKODE.search(body)
            return "rejected", code.group(1).decode() if code else "?"
    ipl = _IPL_CODE.search(body)
    return "fault", f"{ipl.group(1).decode()} (HTTP {status})" if ipl else f"HTTP {status}"
