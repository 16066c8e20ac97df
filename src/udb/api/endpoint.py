"""The SOAP endpoint, independent of the HTTP server: the request path, step by step.

:meth:`Endpoint.post` takes the request body (read under its cap by
:mod:`udb.api.app`) and ``Content-Type`` and answers with status, media type
and body. Each step is owned by one module and only hands its result on:

1. the SOAP version from the ``Content-Type`` (:func:`soap_version`);
2. :func:`udb.soap.envelope.parse`: well-formed, one Envelope of that version,
   its Header, Body and WS-Security header found;
3. :func:`udb.wssecurity.verify`: the verified Body, certificate, replay key
   and expiry, or an unsigned message (served in insecure development mode only);
4. :func:`udb.soap.envelope.checked_payload`: structure and schema of that Body;
5. :func:`udb.soap.messages.read_submission`: the domain's Submission;
6. the use case: :func:`udb.service.reports.submit` or :func:`udb.service.ping.ping`;
7. the answer (:mod:`udb.soap.messages`), or for whatever any step raised the
   fault of the one table in :mod:`udb.soap.faults`.

An unsigned request where signatures are required is refused (IPL000003)
after step 4, so an unsigned request that is also invalid is answered
IPL000002 as such; a signed one is verified before its structure is looked at
(a second Body is signature wrapping, IPL000003).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from udb import wssecurity
from udb.config import Security
from udb.contract import REPORT, ServiceContract
from udb.contract.violations import Violation
from udb.domain import cpr as cprnr
from udb.domain.clock import utc_now
from udb.domain.model import Outcome, Submission
from udb.service import ping, reports
from udb.service.requests import UNREAD, RequestObserver, RequestRecord
from udb.service.testenv_recorder import Exchange
from udb.soap import envelope, faults, messages
from udb.soap.version import SoapVersion
from udb.storage.base import Store

__all__ = ["Endpoint", "Reply", "admit", "body_too_large", "media_type", "soap_version"]

log = logging.getLogger(__name__)

NO_SECURITY_HEADER = "the request has no WS-Security header: sign it with the system's certificate"


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    content_type: str
    body: bytes
    correlation_id: str
    #: what happened, for the log line: "accepted", "rejected 14", "fault IPL000002", "up"
    outcome: str = ""
    #: the request's record, for the observers that run after the answer (:meth:`Endpoint.after`)
    record: RequestRecord | None = None
    #: the request in full, only where the endpoint keeps exchanges (the test environment)
    exchange: Exchange | None = None


@dataclass(slots=True)
class _Trace:
    """What the steps of one request established, for its :class:`RequestRecord`."""

    operation: str = UNREAD
    outcome: str = "fault"
    code: str | None = None
    details: str | None = None
    submission: Submission | None = None
    message: wssecurity.VerifiedMessage | wssecurity.UnsignedMessage | None = None
    repeated: bool = False
    extra: dict[str, object] = field(default_factory=dict)
    #: who and what a request other than a report was about (a read), for its record
    system_name: str | None = None
    institution_number: int | None = None
    masked_cpr: str | None = None


def _exchange(body: bytes, record: RequestRecord, trace: _Trace) -> Exchange:
    message = trace.message
    if isinstance(message, wssecurity.VerifiedMessage):
        return Exchange(
            body, record, trace.submission, message.fingerprint, message.uses_sha1, message.created
        )
    return Exchange(body, record, trace.submission)


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def soap_version(content_type: str | None) -> SoapVersion:
    """The version the ``Content-Type`` asks for (IPL000002 for any other media type)."""
    version = SoapVersion.for_media_type(media_type(content_type))
    if version is None:
        reason = (
            "unsupported Content-Type; send application/soap+xml (SOAP 1.2) or text/xml (SOAP 1.1)"
        )
        raise faults.InvalidRequest([Violation(1, 1, reason)])
    return version


def admit(
    message: wssecurity.VerifiedMessage | wssecurity.UnsignedMessage, security: Security
) -> None:
    """Refuse an unsigned request where signatures are required (IPL000003)."""
    if security.required and isinstance(message, wssecurity.UnsignedMessage):
        raise wssecurity.SecurityError(NO_SECURITY_HEADER)


def body_too_large(limit: int) -> faults.BodyTooLarge:
    """What a request body over ``limit`` bytes is refused with (IPL000006)."""
    return faults.BodyTooLarge(f"the request body is larger than {limit} bytes")


class Endpoint:
    def __init__(
        self,
        store: Store,
        policy: reports.ReportPolicy,
        *,
        security: Security | None = None,
        clock: Callable[[], datetime] = utc_now,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        observers: Sequence[RequestObserver] = (),
        afterwards: Sequence[RequestObserver] = (),
        submit: Callable[[Submission, Store, reports.ReportPolicy], Outcome] = reports.submit,
        exchanges: Sequence[Callable[[Exchange], None]] = (),
        service: ServiceContract = REPORT,
    ) -> None:
        self.store = store
        self.policy = policy
        self.security = security or Security()
        self.clock = clock
        self.new_id = new_id
        #: called with every request's record, after its answer is made
        self.observers = tuple(observers)
        #: called by :meth:`after`, once the answer has gone out, on the server's event loop:
        #: they must not wait (the request log only queues the record for its own thread)
        self.afterwards = tuple(afterwards)
        #: the report use case: :func:`udb.service.reports.submit`, or the test
        #: environment's :class:`udb.service.testenv.Scenarios`
        self.submit = submit
        #: called by :meth:`after` with every request in full (the test environment only)
        self.exchanges = tuple(exchanges)
        #: the service whose schema, namespace and operations this endpoint serves
        self.service = service

    def post(self, body: bytes, content_type: str | None, received_at: datetime) -> Reply:
        """Answer one POSTed request; log one line about it and tell the observers."""
        correlation_id = self.new_id()
        started = time.perf_counter()
        #: the version faults are answered in, also for an unsupported Content-Type
        version = SoapVersion.for_media_type(media_type(content_type)) or SoapVersion.SOAP12
        trace = _Trace()
        try:
            version = soap_version(content_type)  # 1
            parsed = envelope.parse(body, version)  # 2
            named = messages.named_operation(parsed)
            if named is not None:  # for the record, until step 4 decides
                trace.operation = named.value
            message = wssecurity.verify(parsed, policy=self.security.policy, now=self.clock())  # 3
            trace.message = message
            request = envelope.checked_payload(parsed, message, self.service)  # 4
            self._admit(message, correlation_id)
            reply = self._answer(request, message, received_at, correlation_id, trace)  # 5-7
        except Exception as exc:  # 7: every failure becomes the fault of the table
            reply = self.fault(version, exc, correlation_id, trace)
        reply = self._done(trace, reply, version, received_at, started)
        if self.exchanges and reply.record is not None:
            reply = replace(reply, exchange=_exchange(body, reply.record, trace))
        return reply

    def _answer(
        self,
        request: envelope.CheckedRequest,
        message: wssecurity.VerifiedMessage | wssecurity.UnsignedMessage,
        received_at: datetime,
        correlation_id: str,
        trace: _Trace,
    ) -> Reply:
        """Steps 5-7 for the operation ``request`` asks for: Ping or the report."""
        asked = messages.operation(request)
        trace.operation = asked.value
        if asked is messages.Operation.PING:
            return self._ping(request, message, received_at, correlation_id, trace)
        return self._report(request, message, received_at, correlation_id, trace)

    def after(self, reply: Reply) -> None:
        """Run the observers of an answer already sent: the request log, and the
        keeping of the request in full where the endpoint keeps exchanges.

        The ASGI application calls it after the answer has gone out, so that nothing
        here delays an answer; the exchanges are written to the database, so the
        application runs this in its thread pool when the reply carries one.
        """
        if reply.record is not None:
            self._notify(self.afterwards, reply.record)
        if reply.exchange is not None:
            for keep in self.exchanges:
                try:
                    keep(reply.exchange)
                except Exception:
                    log.exception(
                        "keeping a request failed correlation_id=%s",
                        reply.exchange.record.correlation_id,
                    )

    def _notify(self, observers: Sequence[RequestObserver], record: RequestRecord) -> None:
        for observe in observers:
            try:
                observe(record)
            except Exception:
                log.exception("a request observer failed correlation_id=%s", record.correlation_id)

    def _done(
        self,
        trace: _Trace,
        reply: Reply,
        version: SoapVersion,
        received_at: datetime,
        started: float,
    ) -> Reply:
        """The request's record: one log line, then every observer; the reply carries it."""
        submission = trace.submission
        masked_cpr = trace.masked_cpr if submission is None else cprnr.mask(submission.report.cpr)
        record = RequestRecord(
            received_at=received_at,
            correlation_id=reply.correlation_id,
            operation=trace.operation,
            outcome=trace.outcome,
            code=trace.code,
            details=trace.details,
            http_status=reply.status,
            soap_version=version.value,
            duration_ms=(time.perf_counter() - started) * 1000,
            system_name=trace.system_name if submission is None else submission.system_name,
            institution_number=trace.institution_number
            if submission is None
            else submission.report.institution_number,
            masked_cpr=masked_cpr,
            repeated=trace.repeated,
        )
        log.info(
            "%s %s status=%d soap=%s %.1fms correlation_id=%s%s",
            record.operation,
            reply.outcome,
            reply.status,
            record.soap_version,
            record.duration_ms,
            record.correlation_id,
            " ".join(("", *(f"{k}={v}" for k, v in trace.extra.items()))),
            extra=record.log_fields(),
        )
        self._notify(self.observers, record)
        return replace(reply, record=record)

    def _admit(
        self, message: wssecurity.VerifiedMessage | wssecurity.UnsignedMessage, correlation_id: str
    ) -> None:
        """Refuse an unsigned request unless in insecure development mode (IPL000003).

        In that mode an unsigned request passes (the caller is then named by
        SystemName); a signed one was verified all the same.
        """
        unsigned = isinstance(message, wssecurity.UnsignedMessage)
        if not self.security.required:
            log.warning(
                "INSECURE DEV MODE: %s request correlation_id=%s",
                "unsigned" if unsigned else "signed",
                correlation_id,
            )
        admit(message, self.security)
        if isinstance(message, wssecurity.VerifiedMessage) and message.uses_sha1:
            log.warning(
                "SHA-1 signature accepted (certificate %s) correlation_id=%s",
                message.fingerprint[:16],
                correlation_id,
            )

    def _ping(
        self,
        request: envelope.CheckedRequest,
        message: wssecurity.VerifiedMessage | wssecurity.UnsignedMessage,
        received_at: datetime,
        correlation_id: str,
        trace: _Trace,
    ) -> Reply:
        up = ping.ping(messages.signature_of(message), self.store, received_at)  # 6
        body = messages.ping_response(request.version, up)  # 7
        trace.outcome = "up" if up else "down"
        return Reply(200, request.version.content_type, body, correlation_id, trace.outcome)

    def _report(
        self,
        request: envelope.CheckedRequest,
        message: wssecurity.VerifiedMessage | wssecurity.UnsignedMessage,
        received_at: datetime,
        correlation_id: str,
        trace: _Trace,
    ) -> Reply:
        submission = messages.read_submission(  # 5
            request, message, received_at=received_at, correlation_id=correlation_id
        )
        trace.submission = submission
        outcome: Outcome = self.submit(submission, self.store, self.policy)  # 6
        identifier = messages.Identifier(submission.system_name, submission.system_transaction_id)
        body = messages.report_response(request.version, identifier, correlation_id, outcome)  # 7
        trace.repeated = outcome.repeated
        if outcome.error is None:
            trace.outcome, summary = "accepted", "accepted"
        else:
            trace.outcome, trace.code = "rejected", str(int(outcome.error))
            summary = f"rejected {trace.code}"
        return Reply(200, request.version.content_type, body, correlation_id, summary)

    def fault(
        self,
        version: SoapVersion,
        exc: BaseException,
        correlation_id: str,
        trace: _Trace | None = None,
    ) -> Reply:
        """The fault for ``exc`` (:data:`udb.soap.faults.FAULTS`); IPL000001 is logged."""
        spec = faults.spec_for(exc)
        if spec is faults.INTERNAL:
            log.error("unexpected failure correlation_id=%s", correlation_id, exc_info=exc)
        details = faults.details_for(exc)
        if trace is not None:
            trace.outcome, trace.code, trace.details = "fault", spec.error_code, details
        body = faults.build(
            version,
            spec,
            correlation_id=correlation_id,
            now=self.clock(),
            details=details,
            namespace=self.service.ipl_ns,
        )
        return Reply(
            faults.http_status(spec, version),
            version.content_type,
            body,
            correlation_id,
            f"fault {spec.error_code}",
        )

    def too_large(self, content_type: str | None, limit: int, received_at: datetime) -> Reply:
        """The answer to a body over ``limit`` bytes (IPL000006), which was not read further."""
        started = time.perf_counter()
        version = SoapVersion.for_media_type(media_type(content_type)) or SoapVersion.SOAP12
        correlation_id = self.new_id()
        exc = body_too_large(limit)
        trace = _Trace()
        trace.extra["limit_bytes"] = limit
        reply = self.fault(version, exc, correlation_id, trace)
        return self._done(trace, reply, version, received_at, started)
