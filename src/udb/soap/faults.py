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

SOAP 1.1 uses ``soap:Client`` / ``soap:Server`` and HTTP 500 for every fault
but 413. ``Details`` never carries personal data.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

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
from udb.soap.version import SoapVersion

__all__ = [
    "ACCESS_DENIED",
    "ALL",
    "INTERNAL",
    "SCHEMA",
    "SECURITY",
    "TOO_LARGE",
    "TRANSACTION_REUSED",
    "BodyTooLarge",
    "Fault",
    "FaultCode",
    "FaultSpec",
    "InvalidRequest",
    "SecurityFault",
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


class Fault(Exception):
    """A request answered with a SOAP fault instead of a business answer."""

    spec: FaultSpec = INTERNAL

    def __init__(self, details: str | None = None) -> None:
        super().__init__(details or self.spec.error_message)
        self.details = details


class InvalidRequest(Fault):
    """IPL000002, with the violations found (line, column, reason)."""

    spec = SCHEMA

    def __init__(self, violations: Sequence[Violation]) -> None:
        super().__init__("; ".join(str(v) for v in violations))
        self.violations = tuple(violations)


class BodyTooLarge(Fault):
    spec = TOO_LARGE


#: Use-case errors and the faults they become.
SERVICE_FAULTS: dict[type[ServiceError], FaultSpec] = {
    AccessDenied: ACCESS_DENIED,
    TransactionIdReused: TRANSACTION_REUSED,
    Replayed: SECURITY,
}


class SecurityFault(Fault):
    """IPL000003: the WS-Security header is missing or does not verify."""

    spec = SECURITY


def spec_for(exc: BaseException) -> FaultSpec:
    """The fault for an exception; IPL000001 for anything unforeseen."""
    if isinstance(exc, Fault):
        return exc.spec
    for cls in type(exc).__mro__:
        spec = SERVICE_FAULTS.get(cls)
        if spec is not None:
            return spec
    return INTERNAL


def details_for(exc: BaseException) -> str | None:
    if isinstance(exc, Fault):
        return exc.details
    if isinstance(exc, ServiceError):
        return exc.details
    return None


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
) -> bytes:
    """A fault envelope::

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
        detail, ns.qname(ns.IPL, "ServiceFaultDetailer"), nsmap={None: ns.IPL}
    )
    for name, content in (
        ("CorrelationID", correlation_id),
        ("Timestamp", timestamp(now)),
        ("ErrorCode", spec.error_code),
        ("ErrorMessage", spec.error_message),
        ("Details", details),
    ):
        if content is not None:
            etree.SubElement(detailer, ns.qname(ns.IPL, name)).text = content
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="utf-8"))
