"""What every request leaves behind for the operator: a record without personal data.

The endpoint makes one :class:`RequestRecord` per request (report, Ping, or a
request refused with a fault before it was read) and hands it to the observers
it was given: the request log line, the metrics, the support lookup. The record
holds what support needs to answer "why was my request refused?" from the
CorrelationID alone, and nothing personal: the CPR number only masked, no name,
e-mail, phone number or free text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

#: ``operation`` of a request whose Body was never read as an operation
UNREAD = "-"


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request: when, which, what came of it, who (as far as it was established)."""

    received_at: datetime
    correlation_id: str
    #: "Indberetning", "Ping", or ``UNREAD`` (refused before its operation was known)
    operation: str
    #: "accepted", "rejected", "fault", "up" or "down"
    outcome: str
    #: the FejlKode of a rejection ("14"), the ErrorCode of a fault ("IPL000002"), else None
    code: str | None
    #: a fault's Details (by contract without submitted values), else None
    details: str | None
    http_status: int
    soap_version: str
    duration_ms: float
    #: the calling system's name (SystemName of a read request), if it got that far
    system_name: str | None = None
    institution_number: int | None = None
    #: the CPR number masked to its first six digits (``150308-****``)
    masked_cpr: str | None = None
    #: the answer was given before, to the same transaction (idempotency)
    repeated: bool = False

    @property
    def summary(self) -> str:
        """``accepted``, ``rejected 14``, ``fault IPL000002``, ``up``: for the log line."""
        return self.outcome if self.code is None else f"{self.outcome} {self.code}"

    def log_fields(self) -> dict[str, object]:
        """The record as the fields of a structured log line (``extra=``)."""
        return {
            "correlation_id": self.correlation_id,
            "operation": self.operation,
            "outcome": self.outcome,
            "code": self.code,
            "status": self.http_status,
            "soap": self.soap_version,
            "duration_ms": round(self.duration_ms, 1),
            "system": self.system_name,
            "institution": self.institution_number,
            "cpr": self.masked_cpr,
            "repeated": self.repeated,
        }


#: what the endpoint calls with every request's record, after the answer is made
RequestObserver = Callable[[RequestRecord], None]
