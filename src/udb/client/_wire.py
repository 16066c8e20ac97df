"""The XML on the wire: request envelopes out, answers in.

A report is written as SOAP 1.2 exactly like ``docs/examples/request.xml``
(before it is signed)::

    <s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">
      <s:Header/>
      <s:Body>
        <v1:IndberetningKontaktJobOgUddOenskerRequest xmlns:v1="...ipl..." xmlns:udb="...udb...">
          <v1:Identifier>
            <v1:SystemName>Vejledningssystem-Aarhus</v1:SystemName>
            <v1:SystemTransactionID>7d1c5e2a-4b3f-4c8d-9e6a-1f2b3c4d5e01</v1:SystemTransactionID>
          </v1:Identifier>
          <v1:Message>
            <udb:IndberetningKontaktJobOgUddOenskerRequest>
              <udb:ModtagerSystemID>Vejledningssystem-Aarhus</udb:ModtagerSystemID>
              <udb:CPRNr>1503084232</udb:CPRNr>
              <udb:KommuneInstitutionNummer>751001</udb:KommuneInstitutionNummer>
              <udb:KommuneKontakt>...</udb:KommuneKontakt>          (each block if present)
              <udb:JobOnsker>...</udb:JobOnsker>
              <udb:UddannelsesOnsker>...</udb:UddannelsesOnsker>
            </udb:IndberetningKontaktJobOgUddOenskerRequest>
          </v1:Message>
        </v1:IndberetningKontaktJobOgUddOenskerRequest>
      </s:Body>
    </s:Envelope>

Answers are read with the project's hardened parser (:mod:`udb.safexml`) and
checked for the shape the contract gives them; anything else is an
:class:`UnexpectedResponse`, a SOAP fault a :class:`FaultError`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lxml import etree

from udb import ns, safexml
from udb.client._exceptions import FaultError, UnexpectedResponse, fault_class
from udb.client._report import Report
from udb.contract import ENDPOINT_PATH

__all__ = [
    "ENDPOINT_PATH",
    "ReportAnswer",
    "payload",
    "ping_envelope",
    "read_ping",
    "read_report_answer",
    "report_envelope",
    "xs_datetime",
]


_MAX_OFFSET = timedelta(hours=14)


def _i(local: str) -> str:
    return ns.qname(ns.IPL, local)


def _u(local: str) -> str:
    return ns.qname(ns.UDB, local)


def _s(local: str) -> str:
    return ns.qname(ns.SOAP12_ENV, local)


def xs_datetime(value: datetime) -> str:
    """An aware datetime as the contract's xs:dateTime, keeping its offset where it can.

    >>> from zoneinfo import ZoneInfo
    >>> xs_datetime(datetime(2026, 11, 20, 9, 15, tzinfo=ZoneInfo("Europe/Copenhagen")))
    '2026-11-20T09:15:00+01:00'
    >>> xs_datetime(datetime(2026, 7, 1, 8, 0, 0, 250000, tzinfo=UTC))
    '2026-07-01T08:00:00.250000+00:00'

    An offset the schema cannot write (seconds, as in 19th-century local mean
    time, or beyond +-14:00) is converted to UTC:

    >>> xs_datetime(datetime(1850, 1, 1, 12, 0, tzinfo=ZoneInfo("Europe/Copenhagen")))
    '1850-01-01T11:09:40Z'
    """
    offset = value.utcoffset()
    if offset is None:
        raise ValueError("the datetime must be timezone-aware")
    if offset.microseconds or offset.seconds % 60 or abs(offset) > _MAX_OFFSET:
        return value.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"
    return value.isoformat()


def _envelope() -> tuple[etree._Element, etree._Element]:
    envelope = etree.Element(_s("Envelope"), nsmap={"s": ns.SOAP12_ENV})
    etree.SubElement(envelope, _s("Header"))
    return envelope, etree.SubElement(envelope, _s("Body"))


def _serialise(envelope: etree._Element) -> bytes:
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="utf-8"))


def _add(parent: etree._Element, tag: str, text: str) -> None:
    etree.SubElement(parent, tag).text = text


def report_envelope(report: Report, *, system_name: str, transaction_id: str) -> bytes:
    """The unsigned SOAP 1.2 request for ``report`` (see the module for its shape)."""
    envelope, body = _envelope()
    wrapper = etree.SubElement(
        body,
        _i("IndberetningKontaktJobOgUddOenskerRequest"),
        nsmap={"v1": ns.IPL, "udb": ns.UDB},
    )
    identifier = etree.SubElement(wrapper, _i("Identifier"))
    _add(identifier, _i("SystemName"), system_name)
    _add(identifier, _i("SystemTransactionID"), transaction_id)
    request = etree.SubElement(
        etree.SubElement(wrapper, _i("Message")), _u("IndberetningKontaktJobOgUddOenskerRequest")
    )
    _add(request, _u("ModtagerSystemID"), system_name)
    _add(request, _u("CPRNr"), report.cpr)
    _add(request, _u("KommuneInstitutionNummer"), str(report.institution))
    if report.contact is not None:
        block = etree.SubElement(request, _u("KommuneKontakt"))
        _add(block, _u("KontaktNavn"), report.contact.name)
        _add(block, _u("KontaktMail"), report.contact.mail)
        if report.contact.phone is not None:
            _add(block, _u("KontaktTelefon"), report.contact.phone)
        _add(block, _u("KontaktRegistreringstid"), xs_datetime(report.contact.registered_at))
    if report.job is not None:
        block = etree.SubElement(request, _u("JobOnsker"))
        _add(block, _u("JobOnsker"), report.job.text)
        _add(block, _u("JobRegistreringstid"), xs_datetime(report.job.registered_at))
    if report.education is not None:
        block = etree.SubElement(request, _u("UddannelsesOnsker"))
        _add(block, _u("UddannelsesOnsker"), report.education.text)
        _add(block, _u("UddannelseRegistreringstid"), xs_datetime(report.education.registered_at))
    return _serialise(envelope)


def ping_envelope() -> bytes:
    """``<s:Envelope><s:Header/><s:Body><v1:Ping/></s:Body></s:Envelope>`` (unsigned)."""
    envelope, body = _envelope()
    etree.SubElement(body, _i("Ping"), nsmap={"v1": ns.IPL})
    return _serialise(envelope)


# Answers ---------------------------------------------------------------------------


class ReportAnswer:
    """A report answer's values, checked against the request it answers."""

    __slots__ = ("code", "correlation_id", "ok", "text")

    def __init__(self, ok: bool, code: int | None, text: str | None, correlation_id: str) -> None:
        self.ok = ok
        self.code = code
        self.text = text
        self.correlation_id = correlation_id


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def payload(
    status: int, content: bytes, correlation_id: str | None, *, ipl: str = ns.IPL
) -> etree._Element:
    """The Body's element of a SOAP answer; raises the fault it holds.

    ``ipl`` is the namespace of the service's ``ServiceFaultDetailer`` (each
    service has its own IPL namespace).
    """

    def unexpected(message: str) -> UnexpectedResponse:
        return UnexpectedResponse(message, http_status=status, correlation_id=correlation_id)

    try:
        root = safexml.parse(content)
    except (safexml.XmlSyntaxError, safexml.UnsafeXml):
        raise unexpected("the answer is not a SOAP envelope (not well-formed XML)") from None
    env = etree.QName(root).namespace
    if _local(root.tag) != "Envelope" or env not in (ns.SOAP12_ENV, ns.SOAP11_ENV):
        raise unexpected("the answer is not a SOAP envelope")
    body = root.find(ns.qname(env, "Body"))
    children = [] if body is None else [c for c in body if isinstance(c.tag, str)]
    if len(children) != 1:
        raise unexpected("the answer's SOAP Body does not hold exactly one element")
    element = children[0]
    if element.tag == ns.qname(env, "Fault"):
        raise _fault(element, env, status, correlation_id, ipl)
    if status != 200:
        raise unexpected("the answer has an HTTP error status but no SOAP fault")
    return element


def _fault(
    fault: etree._Element, env: str, status: int, header_correlation_id: str | None, ipl: str
) -> FaultError:
    """The exception for a SOAP 1.2 (or 1.1) fault with an IPL ``ServiceFaultDetailer``."""
    detailer_tag = ns.qname(ipl, "ServiceFaultDetailer")
    if env == ns.SOAP12_ENV:
        code = fault.findtext(f"{_s('Code')}/{_s('Value')}") or ""
        reason = fault.findtext(f"{_s('Reason')}/{_s('Text')}") or ""
        detailer = fault.find(f"{_s('Detail')}/{detailer_tag}")
    else:
        code = fault.findtext("faultcode") or ""
        reason = fault.findtext("faultstring") or ""
        detailer = fault.find(f"detail/{detailer_tag}")

    def detail(local: str) -> str | None:
        text = None if detailer is None else detailer.findtext(ns.qname(ipl, local))
        return None if text is None else text.strip()

    soap_code = code.strip().rsplit(":", 1)[-1]
    error_code = detail("ErrorCode")
    return fault_class(error_code, soap_code)(
        error_code=error_code,
        reason=reason.strip(),
        error_message=detail("ErrorMessage"),
        details=detail("Details"),
        correlation_id=detail("CorrelationID") or header_correlation_id,
        http_status=status,
    )


def _boolean(text: str | None) -> bool | None:
    value = (text or "").strip()
    return True if value in ("true", "1") else False if value in ("false", "0") else None


def read_report_answer(
    status: int,
    content: bytes,
    *,
    system_name: str,
    transaction_id: str,
    correlation_id: str | None = None,
) -> ReportAnswer:
    """The ``IndberetningSvar`` of an answer to the request ``(system_name, transaction_id)``.

    ``correlation_id`` is the ``X-Correlation-ID`` header, for errors raised
    before the envelope's own CorrelationID is read. Raises the fault the
    answer holds, or :class:`UnexpectedResponse`.
    """
    answer = payload(status, content, correlation_id)

    def unexpected(message: str) -> UnexpectedResponse:
        return UnexpectedResponse(message, http_status=status, correlation_id=correlation_id)

    if answer.tag != _i("IndberetningKontaktJobOgUddOenskerResponse"):
        raise unexpected("the answer is not an IndberetningKontaktJobOgUddOenskerResponse")
    echoed = (
        answer.findtext(f"{_i('Identifier')}/{_i('SystemName')}"),
        answer.findtext(f"{_i('Identifier')}/{_i('SystemTransactionID')}"),
    )
    if echoed != (system_name, transaction_id):
        raise unexpected("the answer's Identifier is not the request's")
    correlation_id = (answer.findtext(_i("CorrelationID")) or "").strip() or correlation_id
    svar = answer.find(f"{_i('Message')}/{_u('IndberetningSvar')}")
    if svar is None:
        raise unexpected("the answer has no IndberetningSvar")
    ok = _boolean(svar.findtext(_u("Ok")))
    if ok is None:
        raise unexpected("IndberetningSvar/Ok is not a boolean")
    if ok:
        return ReportAnswer(True, None, None, correlation_id or "")
    code_text = svar.findtext(f"{_u('Fejl')}/{_u('FejlKode')}")
    try:
        code = int((code_text or "").strip())
    except ValueError:
        raise unexpected("a rejection without a numeric Fejl/FejlKode") from None
    text = svar.findtext(f"{_u('Fejl')}/{_u('FejlTekst')}")
    return ReportAnswer(False, code, text, correlation_id or "")


def read_ping(status: int, content: bytes, *, correlation_id: str | None = None) -> bool:
    """True for ``PingResponse/Status`` ``up``, False for ``down``."""
    answer = payload(status, content, correlation_id)
    state = answer.findtext(_i("Status")) if answer.tag == _i("PingResponse") else None
    if state is None or state.strip() not in ("up", "down"):
        raise UnexpectedResponse(
            "the answer is not a PingResponse with Status up or down",
            http_status=status,
            correlation_id=correlation_id,
        )
    return state.strip() == "up"
