"""IPL faults, from one table (ipl-conventions.md, "Faults").

=========  ========  ====  =============  =========================================
ErrorCode  Code      HTTP  Reason         when
=========  ========  ====  =============  =========================================
IPL000001  Receiver  500   Internal error unexpected failure outside the business rules
IPL000002  Sender    400   Input error    not well-formed, not valid against the schema
IPL000003  Sender    400   Security error WS-Security header missing or invalid
IPL000004  Sender    400   Access denied  caller not registered / names another system
IPL000005  Sender    400   Input error    SystemTransactionID reused for another report
IPL000006  Sender    413   Input error    body larger than the configured limit
=========  ========  ====  =============  =========================================

:data:`FAULTS` is the one place where an exception becomes a fault: the
endpoint catches whatever the request path raised and asks :func:`spec_for`
and :func:`details_for`. SOAP 1.1 uses ``soap:Client`` / ``soap:Server`` and
HTTP 500 for every fault but 413. ``Details`` never carries personal data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Final

from lxml import etree

from udb import ns
from udb.contract.faults import (
    ACCESS_DENIED,
    ALL,
    INTERNAL,
    SCHEMA,
    SECURITY,
    TOO_LARGE,
    TRANSACTION_REUSED,
    FaultCode,
    FaultSpec,
)
from udb.contract.violations import Violation
from udb.domain.clock import DANISH_TZ
from udb.service.errors import AccessDenied, Replayed, ServiceError, TransactionIdReused
from udb.service.readback import BadSideToken
from udb.soap.version import SoapVersion
from udb.wssecurity import SecurityError

__all__ = [
    "ACCESS_DENIED",
    "ALL",
    "FAULTS",
    "INTERNAL",
    "SCHEMA",
    "SECURITY",
    "TOO_LARGE",
    "TRANSACTION_REUSED",
    "BodyTooLarge",
    "FaultCode",
    "FaultSpec",
    "InvalidRequest",
    "build",
    "details_for",
    "http_status",
    "qualified",
    "spec_for",
]


def qualified(code: FaultCode, version: SoapVersion) -> str:
    """The fault code's local name in ``version``: Sender / Receiver, or Client / Server."""
    return code.value if version is SoapVersion.SOAP12 else code.soap11


def http_status(spec: FaultSpec, version: SoapVersion) -> int:
    return spec.http_status if version is SoapVersion.SOAP12 else spec.http_status_soap11


class InvalidRequest(Exception):
    """The request is not well-formed or not valid: the violations found (line, column, reason)."""

    def __init__(self, violations: Sequence[Violation]) -> None:
        self.details = "; ".join(str(v) for v in violations)
        super().__init__(self.details)
        self.violations = tuple(violations)


class BodyTooLarge(Exception):
    """The request body is larger than the configured limit."""

    def __init__(self, details: str) -> None:
        super().__init__(details)
        self.details = details


#: Every exception the request path raises on purpose, and the fault it becomes
#: (a subclass gets its nearest listed ancestor's); anything else is IPL000001.
FAULTS: Final[Mapping[type[Exception], FaultSpec]] = MappingProxyType(
    {
        InvalidRequest: SCHEMA,
        BadSideToken: SCHEMA,
        SecurityError: SECURITY,
        Replayed: SECURITY,
        AccessDenied: ACCESS_DENIED,
        TransactionIdReused: TRANSACTION_REUSED,
        BodyTooLarge: TOO_LARGE,
    }
)


def spec_for(exc: BaseException) -> FaultSpec:
    """The fault for an exception, from :data:`FAULTS`; IPL000001 for anything unforeseen."""
    for cls in type(exc).__mro__:
        spec = FAULTS.get(cls)
        if spec is not None:
            return spec
    return INTERNAL


def details_for(exc: BaseException) -> str | None:
    """The fault's ``Details``: what the exception says for the caller; None for IPL000001.

    The texts are written for the caller and never carry personal data; an
    unforeseen exception's text is never passed on.
    """
    if spec_for(exc) is INTERNAL:
        return None
    if isinstance(exc, SecurityError):
        return exc.reason
    if isinstance(exc, InvalidRequest | BodyTooLarge | ServiceError):
        return exc.details
    return None  # pragma: no cover - every class of FAULTS is handled above


def timestamp(now: datetime) -> str:
    """Fault Timestamp: Danish local time with offset, milliseconds."""
    return now.astimezone(DANISH_TZ).isoformat(timespec="milliseconds")


def build(
    version: SoapVersion,
    spec: FaultSpec,
    *,
    correlation_id: str,
    now: datetime,
    details: str | None,
    namespace: str = ns.IPL,
) -> bytes:
    """A fault envelope (``namespace``: the service's IPL namespace, of ServiceFaultDetailer)::

    <s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">
      <s:Body><s:Fault>
        <s:Code><s:Value>s:Sender</s:Value></s:Code>
        <s:Reason><s:Text xml:lang="en">Input error</s:Text></s:Reason>
        <s:Detail><ServiceFaultDetailer xmlns="...ipl ns...">
          <CorrelationID/><Timestamp/><ErrorCode/><ErrorMessage/><Details/>
        </ServiceFaultDetailer></s:Detail>
      </s:Fault></s:Body>
    </s:Envelope>
    """
    env = version.envelope_ns
    envelope = etree.Element(ns.qname(env, "Envelope"), nsmap={"s": env})
    body = etree.SubElement(envelope, ns.qname(env, "Body"))
    fault = etree.SubElement(body, ns.qname(env, "Fault"))
    code = f"s:{qualified(spec.code, version)}"
    if version is SoapVersion.SOAP12:
        value = etree.SubElement(
            etree.SubElement(fault, ns.qname(env, "Code")), ns.qname(env, "Value")
        )
        value.text = code
        text = etree.SubElement(
            etree.SubElement(fault, ns.qname(env, "Reason")), ns.qname(env, "Text")
        )
        text.set(ns.qname(ns.XML, "lang"), "en")
        text.text = spec.reason
        detail = etree.SubElement(fault, ns.qname(env, "Detail"))
    else:
        etree.SubElement(fault, "faultcode").text = code
        etree.SubElement(fault, "faultstring").text = spec.reason
        detail = etree.SubElement(fault, "detail")
    detailer = etree.SubElement(
        detail, ns.qname(namespace, "ServiceFaultDetailer"), nsmap={None: namespace}
    )
    for name, content in (
        ("CorrelationID", correlation_id),
        ("Timestamp", timestamp(now)),
        ("ErrorCode", spec.error_code),
        ("ErrorMessage", spec.error_message),
        ("Details", details),
    ):
        if content is not None:
            etree.SubElement(detailer, ns.qname(namespace, name)).text = content
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="utf-8"))
