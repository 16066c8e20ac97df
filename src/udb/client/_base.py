"""What the synchronous and the asynchronous client share: settings, signing, answers.

Neither does any I/O here except reading the key files once, in the constructor.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import ssl
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Literal, TypeAlias

import httpx

import udb
from udb import wssecurity
from udb.client import _read_wire, _wire
from udb.client._exceptions import ReportError, UdbError, UnexpectedResponse
from udb.client._read_wire import HentAnswer
from udb.client._report import INT_MAX, Report, check_text
from udb.client._result import Result
from udb.client._retry import RetryPolicy
from udb.client._transport import transport_error as transport_error
from udb.domain import cpr as _cpr

log = logging.getLogger("udb.client")

#: A PEM file: its path, or its content as bytes.
PemSource: TypeAlias = str | os.PathLike[str] | bytes
#: Where a batch input comes from: a report, or a report with the transaction id to reuse.
BatchInput: TypeAlias = Report | tuple[Report, str]

#: Answers of this service are small (well under 10 KiB); a larger one is not read to the end.
MAX_ANSWER_BYTES = 1 << 20
#: A read-back page (up to 500 persons, each at most a few KiB) is read up to this size.
MAX_READ_BYTES = 32 << 20
SOAP12_CONTENT_TYPE = "application/soap+xml; charset=utf-8"
DEFAULT_RETRY = RetryPolicy()


def read_pem(source: PemSource, what: str, label: str) -> bytes:
    """The PEM bytes of ``source``; :class:`ValueError` in words if they are not ``what``."""
    if isinstance(source, bytes):
        data, name = source, ""
    else:
        name = f" {os.fspath(source)!r}"
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise ValueError(f"cannot read the {what}{name}: {exc.strerror}") from None
    if b"-----BEGIN " not in data or f"{label}-----".encode() not in data:
        raise ValueError(
            f"the {what}{name} is not a PEM {what} (a file with a -----BEGIN {label}----- line)"
        )
    return data


def _tls_file_problem(exc: Exception) -> str:
    """Why ``ssl`` refused a file, in words (its own text names C files and line numbers)."""
    if isinstance(exc, OSError) and exc.strerror and not isinstance(exc, ssl.SSLError):
        return exc.strerror
    text = str(exc)
    if "KEY_VALUES_MISMATCH" in text:
        return "the key does not belong to the certificate"
    if "NO_CERTIFICATE_OR_CRL_FOUND" in text:
        return "it holds no PEM certificate"
    if "PEM lib" in text or "PEM" in text:
        return "it is not a PEM certificate and key, or the key is encrypted"
    return text


def endpoint_url(base_url: str) -> str:
    """The endpoint below ``base_url`` (a URL that already ends with the path is kept)."""
    url = httpx.URL(base_url)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("base_url must be an http:// or https:// URL with a host")
    text = str(url.copy_with(query=None, fragment=None)).rstrip("/")
    return text if text.endswith(_wire.ENDPOINT_PATH) else text + _wire.ENDPOINT_PATH


def read_endpoint_url(endpoint: str) -> str:
    """The read-back endpoint next to the report ``endpoint`` (same base URL)."""
    return endpoint[: -len(_wire.ENDPOINT_PATH)] + _read_wire.FETCH_ENDPOINT_PATH


def ssl_context(
    ca: str | os.PathLike[str] | None,
    client_cert: tuple[str | os.PathLike[str], str | os.PathLike[str]] | None,
) -> ssl.SSLContext | bool:
    """TLS verification against ``ca`` only (default: the public CAs), with a client certificate."""
    if ca is None and client_cert is None:
        return True
    try:
        context = (
            ssl.create_default_context(cafile=os.fspath(ca)) if ca else httpx.create_ssl_context()
        )
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"cannot use the CA bundle {os.fspath(ca or '')!r}: {_tls_file_problem(exc)}"
        ) from None
    if client_cert is not None:
        cert, key = client_cert
        try:
            context.load_cert_chain(os.fspath(cert), os.fspath(key))
        except (OSError, ValueError) as exc:
            raise ValueError(
                f"cannot use the TLS client certificate {os.fspath(cert)!r} and key "
                f"{os.fspath(key)!r}: {_tls_file_problem(exc)}"
            ) from None
    return context


def http2_enabled(http2: bool) -> bool:
    if http2 and importlib.util.find_spec("h2") is None:
        raise ValueError("http2=True needs the h2 package (pip install 'httpx[http2]')")
    return http2


def check_concurrency(concurrency: int) -> int:
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError("concurrency must be an int >= 1")
    return concurrency


class CappedBody:
    """The body of an answer as it arrives, refused beyond ``limit`` bytes."""

    def __init__(self, response: httpx.Response, limit: int = MAX_ANSWER_BYTES) -> None:
        self._response = response
        self._limit = limit
        self._chunks: list[bytes] = []
        self._size = 0

    def add(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self._limit:
            raise UnexpectedResponse(
                f"the answer is larger than {self._limit} bytes",
                http_status=self._response.status_code,
                correlation_id=self._response.headers.get("x-correlation-id"),
            )
        self._chunks.append(chunk)

    def content(self) -> bytes:
        return b"".join(self._chunks)


class Core:
    """Settings, signing and the reading of answers; the clients add the I/O."""

    def __init__(
        self,
        base_url: str,
        *,
        system_name: str,
        cert: PemSource | None,
        key: PemSource | None,
        sign: bool,
        digest: Literal["sha256", "sha1"],
        retry: RetryPolicy | None,
    ) -> None:
        self.endpoint = endpoint_url(base_url)
        self.read_endpoint = read_endpoint_url(self.endpoint)
        url = httpx.URL(self.endpoint)
        #: the service's host and port, as messages name it
        self.where = f"{url.host}:{url.port or (443 if url.scheme == 'https' else 80)}"
        # a ReportError (a ValueError): the name is the contract's SystemName
        check_text("UdbClient", "system_name", "SystemName", system_name, 100)
        self.system_name = system_name
        self.retry = retry if retry is not None else RetryPolicy(attempts=1)
        if not isinstance(self.retry, RetryPolicy):
            raise TypeError("retry must be a RetryPolicy or None")
        if digest not in ("sha256", "sha1"):
            raise ValueError("digest must be 'sha256' or 'sha1'")
        self.digest: Literal["sha256", "sha1"] = digest
        self.key_pem: bytes | None = None
        self.cert_pem: bytes | None = None
        if sign:
            if cert is None or key is None:
                raise ValueError(
                    "cert and key are required to sign requests; pass sign=False only for a "
                    "server started with --insecure-dev-mode"
                )
            self.cert_pem = read_pem(cert, "certificate", "CERTIFICATE")
            self.key_pem = read_pem(key, "private key", "PRIVATE KEY")
            # Fails now for a key that is not the certificate's; later signatures reuse the check.
            self.seal(_wire.ping_envelope())
        elif cert is not None or key is not None:
            raise ValueError("cert and key are for signing; drop them or drop sign=False")
        self.headers = {
            "content-type": SOAP12_CONTENT_TYPE,
            "accept": "application/soap+xml, text/xml",
            "user-agent": f"udb-client/{udb.__version__} httpx/{httpx.__version__}",
        }

    @property
    def signs(self) -> bool:
        return self.key_pem is not None

    def seal(self, unsigned: bytes) -> bytes:
        """The envelope as sent: signed with a fresh Timestamp (or as is, unsigned)."""
        if self.key_pem is None or self.cert_pem is None:
            return unsigned
        return wssecurity.sign(
            unsigned, key_pem=self.key_pem, cert_pem=self.cert_pem, digest=self.digest
        )

    def transaction_id(self, given: str | None) -> str:
        """The caller's transaction id (checked), or a new UUID4."""
        if given is None:
            return str(uuid.uuid4())
        check_text("send", "transaction_id", "SystemTransactionID", given, 100)
        return given

    def report_body(self, report: Report, transaction_id: str) -> bytes:
        if not isinstance(report, Report):
            raise ReportError("report", f"must be a Report, not {type(report).__name__}")
        return _wire.report_envelope(
            report, system_name=self.system_name, transaction_id=transaction_id
        )

    def result(
        self,
        status: int,
        headers: Mapping[str, str],
        content: bytes,
        *,
        transaction_id: str,
        attempts: int,
    ) -> Result:
        """The :class:`Result` of an answer; raises the fault or :class:`UnexpectedResponse`."""
        answer = _wire.read_report_answer(
            status,
            content,
            system_name=self.system_name,
            transaction_id=transaction_id,
            correlation_id=headers.get("x-correlation-id"),
        )
        return Result.of(
            answer.ok,
            answer.code,
            answer.text,
            correlation_id=answer.correlation_id,
            system_transaction_id=transaction_id,
            attempts=attempts,
        )

    def fetch_body(
        self,
        transaction_id: str,
        institution: int,
        *,
        cprs: tuple[str, ...] = (),
        since: datetime | None = None,
        token: str | None = None,
    ) -> bytes:
        """The unsigned read-back request (see :mod:`udb.client._read_wire`)."""
        return _read_wire.fetch_envelope(
            system_name=self.system_name,
            transaction_id=transaction_id,
            institution=institution,
            cprs=cprs,
            since=since,
            token=token,
        )

    def hent_answer(
        self,
        status: int,
        headers: Mapping[str, str],
        content: bytes,
        *,
        transaction_id: str,
        cprs: tuple[str, ...] | None = None,
    ) -> HentAnswer:
        """The ``HentSvar`` of an answer; for ``cprs``, one person per number, in order."""
        answer = _read_wire.read_hent_answer(
            status,
            content,
            system_name=self.system_name,
            transaction_id=transaction_id,
            correlation_id=headers.get("x-correlation-id"),
        )
        if cprs is not None and tuple(p.cpr for p in answer.persons) != cprs:
            raise UnexpectedResponse(
                "the answer's persons are not the CPR numbers asked for, in their order",
                http_status=status,
                correlation_id=answer.correlation_id or None,
            )
        return answer

    def ping_result(self, status: int, headers: Mapping[str, str], content: bytes) -> bool:
        return _wire.read_ping(status, content, correlation_id=headers.get("x-correlation-id"))

    def batch_input(self, item: object) -> tuple[Report, str]:
        """A batch input as (report, transaction id); raises :class:`ReportError`."""
        if isinstance(item, Report):
            return item, self.transaction_id(None)
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], Report):
            transaction_id = item[1]
            if not isinstance(transaction_id, str):
                raise ReportError(
                    "send_many item", "the transaction id of a (Report, id) pair must be a str"
                )
            return item[0], self.transaction_id(transaction_id)
        raise ReportError(
            "send_many item",
            f"must be a Report or a (Report, transaction_id) pair, not {type(item).__name__}",
        )


def check_institution(institution: object) -> int:
    """The KUI institution number to read for; :class:`ReportError` if it is not one."""
    if isinstance(institution, bool) or not isinstance(institution, int):
        raise ReportError(
            "institution",
            f"must be an int, not {type(institution).__name__}",
            element="KommuneInstitutionNummer",
        )
    if not 1 <= institution <= INT_MAX:
        raise ReportError(
            "institution",
            f"must be a whole number from 1 to {INT_MAX}",
            element="KommuneInstitutionNummer",
        )
    return institution


def check_cprs(cprs: Iterable[str]) -> tuple[str, ...]:
    """The CPR numbers to fetch; :class:`ReportError` naming the position, never the value."""
    if isinstance(cprs, str | bytes):
        raise ReportError("cprs", "must be an iterable of CPR numbers, not one string")
    numbers = tuple(cprs)
    for index, cpr in enumerate(numbers):
        if not isinstance(cpr, str) or not _cpr.is_cpr_form(cpr):
            raise ReportError(
                f"cprs[{index}]", "must be exactly 10 digits 0-9, without a hyphen", element="CPRNr"
            )
    return numbers


def check_since(since: object) -> datetime:
    """The AendretSiden of a changes listing: an aware datetime."""
    if not isinstance(since, datetime):
        raise ReportError("since", f"must be a datetime, not {type(since).__name__}")
    if since.tzinfo is None or since.utcoffset() is None:
        raise ReportError(
            "since",
            "must be timezone-aware, e.g. datetime(..., tzinfo=ZoneInfo('Europe/Copenhagen'))",
            element="AendretSiden",
        )
    return since


def note_attempt(error: UdbError, transaction_id: str, attempts: int) -> UdbError:
    """``error`` with the transaction and the number of requests sent for it."""
    error.system_transaction_id = transaction_id
    error.attempts = attempts
    return error


def log_retry(transaction_id: str, attempt: int, outcome: str, delay: float) -> None:
    """A DEBUG line per retry: the transaction id and what failed, never report data."""
    log.debug(
        "transaction %s attempt %d failed (%s); retrying in %.2fs",
        transaction_id,
        attempt,
        outcome,
        delay,
    )


def outcome_name(outcome: Result | UdbError) -> str:
    if isinstance(outcome, Result):
        return f"FejlKode {outcome.code}"
    if isinstance(outcome, UnexpectedResponse):
        return f"HTTP {outcome.http_status}"
    code = getattr(outcome, "error_code", None)
    return f"{type(outcome).__name__} {code}" if code else type(outcome).__name__
