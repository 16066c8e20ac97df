"""The SOAP endpoint, independent of the HTTP server.

:meth:`Endpoint.post` takes the request body and ``Content-Type`` and answers
with status, media type and body. It parses and validates the envelope,
dispatches on the Body's root element (``IndberetningKontaktJobOgUddOenskerRequest``
or ``Ping``), calls the use case and translates what comes back, every
failure into the fault of :mod:`udb.soap.faults`.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from udb import wssecurity
from udb.config import Security
from udb.contract.violations import Violation, at, element_name
from udb.domain.clock import utc_now
from udb.domain.model import Signature, Submission
from udb.service import reports
from udb.service.errors import ServiceError
from udb.soap import envelope, faults, messages
from udb.soap.version import SoapVersion
from udb.storage.base import Store

__all__ = ["Endpoint", "Reply", "Security", "media_type"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    content_type: str
    body: bytes
    correlation_id: str
    #: what happened, for the log line: "accepted", "rejected 14", "fault IPL000002", "up"
    outcome: str = ""


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


class Endpoint:
    def __init__(
        self,
        store: Store,
        policy: reports.ReportPolicy,
        *,
        security: Security | None = None,
        clock: Callable[[], datetime] = utc_now,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.store = store
        self.policy = policy
        self.security = security or Security()
        self.clock = clock
        self.new_id = new_id

    def post(self, body: bytes, content_type: str | None, received_at: datetime) -> Reply:
        """Answer one POSTed request."""
        correlation_id = self.new_id()
        started = time.perf_counter()
        requested = media_type(content_type)
        version = SoapVersion.for_media_type(requested) or SoapVersion.SOAP12
        operation = "-"
        try:
            if SoapVersion.for_media_type(requested) is None:
                raise faults.InvalidRequest(
                    [
                        Violation(
                            1,
                            1,
                            "unsupported Content-Type; send application/soap+xml (SOAP 1.2) "
                            "or text/xml (SOAP 1.1)",
                        )
                    ]
                )
            verified: list[wssecurity.VerifiedMessage] = []
            request = envelope.read(
                body, version, authenticate=lambda root: verified.append(self._verify(root))
            )
            signature = self._authenticate(request, verified, correlation_id)
            if request.payload.tag == messages.PING:
                operation = "Ping"
                up = reports.ping(self.store)
                body = messages.ping_response(version, up)
                reply = Reply(
                    200, version.content_type, body, correlation_id, "up" if up else "down"
                )
            elif request.payload.tag == messages.REPORT:
                operation = "Indberetning"
                reply = self._report(request, correlation_id, received_at, signature)
            else:
                name = element_name(etree.QName(request.payload).localname)
                raise faults.InvalidRequest(
                    [
                        at(
                            request.payload,
                            body,
                            f"{name} is not an operation of this service; the Body must hold "
                            "IndberetningKontaktJobOgUddOenskerRequest or Ping",
                        )
                    ]
                )
        except (faults.Fault, ServiceError) as exc:
            reply = self.fault(version, exc, correlation_id)
        except Exception as exc:
            log.exception("unexpected failure correlation_id=%s", correlation_id)
            reply = self.fault(version, exc, correlation_id)
        log.info(
            "%s %s status=%d soap=%s %.1fms correlation_id=%s",
            operation,
            reply.outcome,
            reply.status,
            version.value,
            (time.perf_counter() - started) * 1000,
            correlation_id,
        )
        return reply

    def _verify(self, root: etree._Element) -> wssecurity.VerifiedMessage:
        """Verify the WS-Security header of the envelope ``root`` (IPL000003 if it fails)."""
        try:
            return wssecurity.verify(root, policy=self.security.policy, now=self.clock())
        except wssecurity.SecurityError as exc:
            raise faults.SecurityFault(exc.reason) from None

    def _authenticate(
        self,
        request: envelope.Envelope,
        verified: list[wssecurity.VerifiedMessage],
        correlation_id: str,
    ) -> Signature | None:
        """What the WS-Security header established (IPL000003 if it is missing when required).

        In insecure development mode an unsigned request passes (the caller is
        then named by SystemName); a signed one is verified all the same.
        """
        if not self.security.required:
            log.warning(
                "INSECURE DEV MODE: %s request correlation_id=%s",
                "signed" if request.signed else "unsigned",
                correlation_id,
            )
        if not verified:
            if self.security.required or request.signed:
                raise faults.SecurityFault(
                    "the request has no WS-Security header: sign it with the system's certificate"
                )
            return None
        message = verified[0]
        if message.payload is not request.payload:  # pragma: no cover - verify() ensures it
            raise faults.SecurityFault("the signed Body is not the Body of the envelope")
        if message.uses_sha1:
            log.warning(
                "SHA-1 signature accepted (certificate %s) correlation_id=%s",
                message.fingerprint[:16],
                correlation_id,
            )
        replay_key = hashlib.sha256(message.signature_value.encode("ascii")).hexdigest()
        keep_until = message.expires + self.security.policy.clock_skew
        return Signature(message.fingerprint, replay_key, keep_until)

    def _report(
        self,
        request: envelope.Envelope,
        correlation_id: str,
        received_at: datetime,
        signature: Signature | None,
    ) -> Reply:
        identifier = messages.read_identifier(request.payload)
        submission = Submission(
            system_name=identifier.system_name,
            system_transaction_id=identifier.system_transaction_id,
            report=messages.read_report(request.payload, request.source),
            received_at=received_at,
            correlation_id=correlation_id,
            signature=signature,
        )
        outcome = reports.submit(submission, self.store, self.policy)
        body = messages.report_response(request.version, identifier, correlation_id, outcome)
        summary = "accepted" if outcome.error is None else f"rejected {int(outcome.error)}"
        return Reply(200, request.version.content_type, body, correlation_id, summary)

    def fault(self, version: SoapVersion, exc: BaseException, correlation_id: str) -> Reply:
        spec = faults.spec_for(exc)
        body = faults.build(
            version,
            spec,
            correlation_id=correlation_id,
            now=self.clock(),
            details=faults.details_for(exc),
        )
        return Reply(
            faults.http_status(spec, version),
            version.content_type,
            body,
            correlation_id,
            f"fault {spec.error_code}",
        )

    def too_large(self, content_type: str | None, limit: int) -> Reply:
        version = SoapVersion.for_media_type(media_type(content_type)) or SoapVersion.SOAP12
        correlation_id = self.new_id()
        exc = faults.BodyTooLarge(f"the request body is larger than {limit} bytes")
        reply = self.fault(version, exc, correlation_id)
        log.info(
            "- %s status=%d soap=%s (body over %d bytes) correlation_id=%s",
            reply.outcome,
            reply.status,
            version.value,
            limit,
            correlation_id,
        )
        return reply
