"""The IPL fault codes, as data both sides of the wire read (ipl-conventions.md, "Faults").

=========  ========  ====  ==============  =========================================
ErrorCode  Code      HTTP  Reason          when
=========  ========  ====  ==============  =========================================
IPL000001  Receiver  500   Internal error  unexpected failure outside the business rules
IPL000002  Sender    400   Input error     not well-formed, not valid against the schema
IPL000003  Sender    400   Security error  WS-Security header missing or invalid
IPL000004  Sender    400   Access denied   caller not registered / names another system
IPL000005  Sender    400   Input error     SystemTransactionID reused for another report
IPL000006  Sender    413   Input error     body larger than the configured limit
=========  ========  ====  ==============  =========================================

SOAP 1.1 writes the codes ``soap:Client`` / ``soap:Server`` and answers every
fault but 413 with HTTP 500. The service builds its faults from this table
(:mod:`udb.soap.faults`), the client SDK reads them with it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final


class FaultCode(enum.Enum):
    """Whose fault it is: the SOAP 1.2 ``Code/Value`` (SOAP 1.1: Client / Server)."""

    SENDER = "Sender"
    RECEIVER = "Receiver"

    @property
    def soap11(self) -> str:
        return "Client" if self is FaultCode.SENDER else "Server"


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """One IPL fault: its ``ErrorCode``, SOAP code, HTTP status, ``Reason`` and ``ErrorMessage``."""

    error_code: str
    code: FaultCode
    http_status: int
    reason: str
    error_message: str

    @property
    def http_status_soap11(self) -> int:
        """SOAP 1.1 answers every fault with 500, but keeps 413."""
        return self.http_status if self.http_status == 413 else 500


INTERNAL: Final = FaultSpec(
    "IPL000001",
    FaultCode.RECEIVER,
    500,
    "Internal error",
    "An unexpected error occurred. Contact support and quote the CorrelationID",
)
SCHEMA: Final = FaultSpec(
    "IPL000002",
    FaultCode.SENDER,
    400,
    "Input error",
    "The request is invalid according to the schema definition. "
    "Check details for further information",
)
SECURITY: Final = FaultSpec(
    "IPL000003",
    FaultCode.SENDER,
    400,
    "Security error",
    "The WS-Security header is missing or invalid. Check details for further information",
)
ACCESS_DENIED: Final = FaultSpec(
    "IPL000004",
    FaultCode.SENDER,
    400,
    "Access denied",
    "The calling system is not allowed to use this service as it identified itself",
)
TRANSACTION_REUSED: Final = FaultSpec(
    "IPL000005",
    FaultCode.SENDER,
    400,
    "Input error",
    "The SystemTransactionID has already been used for a different request",
)
TOO_LARGE: Final = FaultSpec(
    "IPL000006",
    FaultCode.SENDER,
    413,
    "Input error",
    "The request body is larger than the service accepts",
)

#: Every fault, in code order.
ALL: Final[tuple[FaultSpec, ...]] = (
    INTERNAL,
    SCHEMA,
    SECURITY,
    ACCESS_DENIED,
    TRANSACTION_REUSED,
    TOO_LARGE,
)
BY_CODE: Final = {spec.error_code: spec for spec in ALL}
