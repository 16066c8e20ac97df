"""The read-back endpoint (HentKontaktJobOgUddOensker v1): the request path of
:mod:`udb.api.endpoint` with the read-back's schema, operations and use case.

Steps 1-4 (Content-Type, envelope, WS-Security, structure and schema against
``hent-ipl.xsd``) and the faults (in the read-back's IPL namespace) are the
endpoint's own; then:

5. :func:`udb.soap.readback.read_request`: the domain's :class:`~udb.domain.readback.Read`;
6. :func:`udb.service.readback.read` (or :func:`udb.service.ping.ping`);
7. :func:`udb.soap.readback.read_response` / ``ping_response``.

Each read is recorded like a report: operation ``Hent``, outcome ``answered``,
the system, the institution and the first CPR number asked, masked (none for a
changes listing); no personal data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from udb import wssecurity
from udb.api.endpoint import Endpoint, Reply, _Trace
from udb.config import Security
from udb.contract import READBACK
from udb.domain import cpr as cprnr
from udb.domain.clock import utc_now
from udb.service import ping, readback, reports
from udb.service.requests import RequestObserver
from udb.soap import envelope, messages
from udb.soap import readback as wire
from udb.storage.base import Store

__all__ = ["ReadbackEndpoint"]


class ReadbackEndpoint(Endpoint):
    """The endpoint at ``/services/UDB/HentKontaktJobOgUddOensker/v1``."""

    def __init__(
        self,
        store: Store,
        policy: readback.ReadPolicy,
        *,
        security: Security | None = None,
        clock: Callable[[], datetime] = utc_now,
        observers: Sequence[RequestObserver] = (),
        afterwards: Sequence[RequestObserver] = (),
        **kwargs: object,
    ) -> None:
        super().__init__(
            store,
            reports.ReportPolicy(),
            security=security,
            clock=clock,
            observers=observers,
            afterwards=afterwards,
            service=READBACK,
            **kwargs,  # type: ignore[arg-type]
        )
        self.read_policy = policy

    def _answer(
        self,
        request: envelope.CheckedRequest,
        message: wssecurity.VerifiedMessage | wssecurity.UnsignedMessage,
        received_at: datetime,
        correlation_id: str,
        trace: _Trace,
    ) -> Reply:
        asked = wire.operation(request)
        trace.operation = asked.value
        version = request.version
        if asked is wire.ReadOperation.PING:
            up = ping.ping(messages.signature_of(message), self.store, received_at)  # 6
            trace.outcome = "up" if up else "down"
            body = wire.ping_response(version, up)  # 7
            return Reply(200, version.content_type, body, correlation_id, trace.outcome)
        read = wire.read_request(  # 5
            request, message, received_at=received_at, correlation_id=correlation_id
        )
        asked_for = read.request
        trace.system_name = read.system_name
        trace.institution_number = asked_for.institution_number
        trace.masked_cpr = cprnr.mask(asked_for.cprs[0]) if asked_for.cprs else None
        answer = readback.read(read, self.store, self.read_policy)  # 6
        identifier = messages.Identifier(read.system_name, read.system_transaction_id)
        body = wire.read_response(version, identifier, correlation_id, answer)  # 7
        trace.outcome = "answered"
        trace.extra["persons"] = len(answer.persons)
        return Reply(200, version.content_type, body, correlation_id, "answered")
