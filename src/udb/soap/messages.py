"""Business messages in and out of the IPL wrapper.

Tells the operation a checked request asks for (:func:`operation`), reads a
validated ``IndberetningKontaktJobOgUddOenskerRequest`` into the domain's
:class:`~udb.domain.model.Submission` (:func:`read_submission`), and writes
``IndberetningKontaktJobOgUddOenskerResponse`` and ``PingResponse``.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from lxml import etree

from udb import ns
from udb.contract.violations import Violation, at, element_name
from udb.domain.clock import to_instant
from udb.domain.model import (
    ContactBlock,
    EducationWishBlock,
    JobWishBlock,
    Outcome,
    ReportContent,
    Signature,
    Submission,
)
from udb.soap.envelope import CheckedRequest, ParsedEnvelope
from udb.soap.faults import InvalidRequest
from udb.soap.version import SoapVersion
from udb.wssecurity import UnsignedMessage, VerifiedMessage

REPORT = ns.qname(ns.IPL, "IndberetningKontaktJobOgUddOenskerRequest")
PING = ns.qname(ns.IPL, "Ping")

_DATETIME = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?")


class Operation(enum.Enum):
    """The operations of the service, by the Body's element (the name is the log's)."""

    PING = "Ping"
    REPORT = "Indberetning"


_OPERATIONS = {PING: Operation.PING, REPORT: Operation.REPORT}


@dataclass(frozen=True, slots=True)
class Identifier:
    system_name: str
    system_transaction_id: str


def operation(request: CheckedRequest) -> Operation:
    """The operation the request's payload asks for (IPL000002 for another contract element)."""
    found = _OPERATIONS.get(str(request.payload.tag))
    if found is None:
        name = element_name(etree.QName(request.payload).localname)
        reason = (
            f"{name} is not an operation of this service; the Body must hold "
            "IndberetningKontaktJobOgUddOenskerRequest or Ping"
        )
        raise InvalidRequest([at(request.payload, request.source, reason)])
    return found


def named_operation(parsed: ParsedEnvelope) -> Operation | None:
    """The operation the Body's first element names, before anything is checked.

    Only for the request's record (support lookup, log line, metrics), so that a
    request refused before its payload is read still says what it was meant to be;
    :func:`operation` decides what is served.
    """
    if len(parsed.bodies) != 1:
        return None
    first = next((child for child in parsed.bodies[0] if isinstance(child.tag, str)), None)
    return None if first is None else _OPERATIONS.get(str(first.tag))


def signature_of(message: VerifiedMessage | UnsignedMessage) -> Signature | None:
    """What WS-Security established, as the use cases read it (None: an unsigned request)."""
    if isinstance(message, UnsignedMessage):
        return None
    return Signature(message.fingerprint, message.replay_key, message.keep_until)


def read_submission(
    request: CheckedRequest,
    message: VerifiedMessage | UnsignedMessage,
    *,
    received_at: datetime,
    correlation_id: str,
) -> Submission:
    """The report in ``request`` with the wrapper's facts and the authentication result.

    ``message`` is what verification returned for the request (its Body is
    ``request``'s); an unsigned one is served only in insecure development mode.
    """
    identifier = read_identifier(request.payload)
    return Submission(
        system_name=identifier.system_name,
        system_transaction_id=identifier.system_transaction_id,
        report=read_report(request.payload, request.source),
        received_at=received_at,
        correlation_id=correlation_id,
        signature=signature_of(message),
    )


def _i(local: str) -> str:
    return ns.qname(ns.IPL, local)


def _u(local: str) -> str:
    return ns.qname(ns.UDB, local)


def _text(parent: etree._Element, tag: str) -> str | None:
    child = parent.find(tag)
    return None if child is None else (child.text or "")


def required_text(parent: etree._Element, tag: str) -> str:
    value = _text(parent, tag)
    if value is None:  # the schema guarantees it; kept total for direct callers
        raise InvalidRequest(
            [Violation(parent.sourceline or 1, 1, f"element {tag.split('}')[1]} is missing")]
        )
    return value


def parse_datetime(element: etree._Element, source: bytes = b"") -> datetime:
    """An xs:dateTime (as the contract restricts it) as an aware instant in UTC.

    A value without offset is Danish local time; ``24:00:00`` is midnight at
    the end of the day; fractions beyond microseconds are cut off.
    """
    text = (element.text or "").strip()
    match = _DATETIME.fullmatch(text)
    try:
        if match is None:
            raise ValueError("not an xs:dateTime")
        year, month, day, hour, minute, second = (int(match[i]) for i in range(1, 7))
        micro = int((match[7] or "0")[:6].ljust(6, "0"))
        extra = timedelta(0)
        if hour == 24:
            hour, extra = 0, timedelta(days=1)
        zone = match[8]
        tz = None
        if zone == "Z":
            tz = UTC
        elif zone:
            sign = 1 if zone[0] == "+" else -1
            tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
        value = datetime(year, month, day, hour, minute, second, micro, tzinfo=tz) + extra
        return to_instant(value)
    except (ValueError, OverflowError):
        local = etree.QName(element).localname
        reason = (
            f"element {local}: value is not a date and time that can be processed "
            "(it must fall within the years 0001-9999 in UTC)"
        )
        raise InvalidRequest([at(element, source, reason)]) from None


def read_identifier(payload: etree._Element, ipl: str = ns.IPL) -> Identifier:
    """The Identifier of a request of the service whose IPL namespace is ``ipl``."""
    identifier = payload.find(ns.qname(ipl, "Identifier"))
    if identifier is None:
        raise InvalidRequest([Violation(payload.sourceline or 1, 1, "Identifier is missing")])
    return Identifier(
        required_text(identifier, ns.qname(ipl, "SystemName")),
        required_text(identifier, ns.qname(ipl, "SystemTransactionID")),
    )


def read_report(payload: etree._Element, source: bytes = b"") -> ReportContent:
    """The business request inside ``Message`` of a validated wrapper.

    ``source`` is the raw request, to locate a value that passed the schema but
    cannot be processed (a time outside the years 0001-9999 in UTC).
    """
    request = payload.find(f"{_i('Message')}/{_u('IndberetningKontaktJobOgUddOenskerRequest')}")
    if request is None:
        raise InvalidRequest([Violation(payload.sourceline or 1, 1, "Message is missing")])
    kontakt = job = uddannelse = None
    block = request.find(_u("KommuneKontakt"))
    if block is not None:
        telefon = _text(block, _u("KontaktTelefon"))
        kontakt = ContactBlock(
            navn=required_text(block, _u("KontaktNavn")),
            mail=required_text(block, _u("KontaktMail")),
            telefon=None if telefon is None else int(telefon.strip()),
            registreringstid=parse_datetime(_child(block, "KontaktRegistreringstid"), source),
        )
    block = request.find(_u("JobOnsker"))
    if block is not None:
        job = JobWishBlock(
            tekst=required_text(block, _u("JobOnsker")),
            registreringstid=parse_datetime(_child(block, "JobRegistreringstid"), source),
        )
    block = request.find(_u("UddannelsesOnsker"))
    if block is not None:
        uddannelse = EducationWishBlock(
            tekst=required_text(block, _u("UddannelsesOnsker")),
            registreringstid=parse_datetime(_child(block, "UddannelseRegistreringstid"), source),
        )
    return ReportContent(
        modtager_system_id=required_text(request, _u("ModtagerSystemID")),
        cpr=required_text(request, _u("CPRNr")),
        institution_number=int(required_text(request, _u("KommuneInstitutionNummer")).strip()),
        kontakt=kontakt,
        job=job,
        uddannelse=uddannelse,
    )


def _child(parent: etree._Element, local: str) -> etree._Element:
    child = parent.find(_u(local))
    if child is None:
        raise InvalidRequest([Violation(parent.sourceline or 1, 1, f"element {local} is missing")])
    return child


def new_envelope(version: SoapVersion) -> tuple[etree._Element, etree._Element]:
    """An empty Envelope of ``version`` and its Body, for an answer."""
    env = version.envelope_ns
    envelope = etree.Element(ns.qname(env, "Envelope"), nsmap={"s": env})
    body = etree.SubElement(envelope, ns.qname(env, "Body"))
    return envelope, body


def serialise(envelope: etree._Element) -> bytes:
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="utf-8"))


def report_response(
    version: SoapVersion, identifier: Identifier, correlation_id: str, outcome: Outcome
) -> bytes:
    """``IndberetningKontaktJobOgUddOenskerResponse`` (see examples/response-ok.xml)."""
    envelope, body = new_envelope(version)
    response = etree.SubElement(
        body, _i("IndberetningKontaktJobOgUddOenskerResponse"), nsmap={"v1": ns.IPL, "udb": ns.UDB}
    )
    ident = etree.SubElement(response, _i("Identifier"))
    etree.SubElement(ident, _i("SystemName")).text = identifier.system_name
    etree.SubElement(ident, _i("SystemTransactionID")).text = identifier.system_transaction_id
    etree.SubElement(response, _i("CorrelationID")).text = correlation_id
    svar = etree.SubElement(etree.SubElement(response, _i("Message")), _u("IndberetningSvar"))
    etree.SubElement(svar, _u("Ok")).text = "true" if outcome.ok else "false"
    if outcome.error is not None:
        fejl = etree.SubElement(svar, _u("Fejl"))
        etree.SubElement(fejl, _u("FejlKode")).text = str(int(outcome.error))
        etree.SubElement(fejl, _u("FejlTekst")).text = outcome.error.text
    return serialise(envelope)


def ping_response(version: SoapVersion, up: bool, ipl: str = ns.IPL, prefix: str = "v1") -> bytes:
    """``<v1:PingResponse><v1:Status>up</v1:Status></v1:PingResponse>``, in the IPL
    namespace ``ipl`` of the service that answers."""
    envelope, body = new_envelope(version)
    response = etree.SubElement(body, ns.qname(ipl, "PingResponse"), nsmap={prefix: ipl})
    etree.SubElement(response, ns.qname(ipl, "Status")).text = "up" if up else "down"
    return serialise(envelope)
