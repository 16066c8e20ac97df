"""The XML of the read-back service HentKontaktJobOgUddOensker v1: requests out, answers in.

A request (SOAP 1.2, signed like a report) asks for up to 100 CPR numbers, or
for the changes since a moment, page by page::

    <s:Body>
      <h1:HentKontaktJobOgUddOenskerRequest xmlns:h1="...ipl.../hentkontaktjoboguddoensker/v1.0"
                                            xmlns:hent="...udb.../hentkontaktjoboguddoensker/v1">
        <h1:Identifier>
          <h1:SystemName>Vejledningssystem-Aarhus</h1:SystemName>
          <h1:SystemTransactionID>(a new UUID4 per request)</h1:SystemTransactionID>
        </h1:Identifier>
        <h1:Message>
          <hent:HentKontaktJobOgUddOenskerRequest>
            <hent:ModtagerSystemID>Vejledningssystem-Aarhus</hent:ModtagerSystemID>
            <hent:KommuneInstitutionNummer>751001</hent:KommuneInstitutionNummer>
            <hent:CPRNr>1503084232</hent:CPRNr>                  (1 to 100), or:
            <hent:AendretSiden>2026-11-01T00:00:00+01:00</hent:AendretSiden>
            <hent:SideToken>(NaesteSide of the previous page)</hent:SideToken>
          </hent:HentKontaktJobOgUddOenskerRequest>
        </h1:Message>
      </h1:HentKontaktJobOgUddOenskerRequest>
    </s:Body>

The answer's ``hent:HentSvar`` holds ``Person*`` (``CPRNr``, then a ``Fejl`` or
the blocks, each with the report service's element names followed by
``IndberettetAf`` and ``Modtaget``), ``AendretTil?`` and ``NaesteSide?``.
Anything not of that shape is an :class:`UnexpectedResponse`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from udb import ns
from udb.client._exceptions import ReportError, UnexpectedResponse
from udb.client._fetched import Fetched, FetchedPerson
from udb.client._report import Contact, EducationWish, JobWish
from udb.client._wire import payload, xs_datetime
from udb.contract import READBACK_PATH
from udb.domain import cpr as _cpr
from udb.domain.clock import to_instant

__all__ = ["FETCH_ENDPOINT_PATH", "MAX_CPRS", "HentAnswer", "fetch_envelope", "read_hent_answer"]

#: The read-back service's path below the base URL (next to the report service's).
FETCH_ENDPOINT_PATH = READBACK_PATH
#: CPR numbers one request may ask for (the SDK splits longer lists).
MAX_CPRS = 100


def _i(local: str) -> str:
    return ns.qname(ns.HENT_IPL, local)


def _h(local: str) -> str:
    return ns.qname(ns.HENT, local)


def _u(local: str) -> str:
    return ns.qname(ns.UDB, local)


def _add(parent: etree._Element, tag: str, text: str) -> None:
    etree.SubElement(parent, tag).text = text


def fetch_envelope(
    *,
    system_name: str,
    transaction_id: str,
    institution: int,
    cprs: Sequence[str] = (),
    since: datetime | None = None,
    token: str | None = None,
) -> bytes:
    """The unsigned SOAP 1.2 request: ``cprs`` (1 to 100), or ``since`` with ``token``."""
    envelope = etree.Element(ns.qname(ns.SOAP12_ENV, "Envelope"), nsmap={"s": ns.SOAP12_ENV})
    etree.SubElement(envelope, ns.qname(ns.SOAP12_ENV, "Header"))
    body = etree.SubElement(envelope, ns.qname(ns.SOAP12_ENV, "Body"))
    wrapper = etree.SubElement(
        body,
        _i("HentKontaktJobOgUddOenskerRequest"),
        nsmap={"h1": ns.HENT_IPL, "hent": ns.HENT},
    )
    identifier = etree.SubElement(wrapper, _i("Identifier"))
    _add(identifier, _i("SystemName"), system_name)
    _add(identifier, _i("SystemTransactionID"), transaction_id)
    request = etree.SubElement(
        etree.SubElement(wrapper, _i("Message")), _h("HentKontaktJobOgUddOenskerRequest")
    )
    _add(request, _h("ModtagerSystemID"), system_name)
    _add(request, _h("KommuneInstitutionNummer"), str(institution))
    if since is None:
        for cpr in cprs:
            _add(request, _h("CPRNr"), cpr)
    else:
        _add(request, _h("AendretSiden"), xs_datetime(since))
        if token is not None:
            _add(request, _h("SideToken"), token)
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="utf-8"))


@dataclass(frozen=True, slots=True)
class HentAnswer:
    """One ``HentSvar``: its persons, ``AendretTil`` and ``NaesteSide``, and the exchange's id."""

    persons: tuple[FetchedPerson, ...]
    until: datetime | None
    next_token: str | None
    correlation_id: str


class _Reader:
    """Reads one answer, raising :class:`UnexpectedResponse` for anything out of shape."""

    def __init__(self, status: int, correlation_id: str | None) -> None:
        self.status = status
        self.correlation_id = correlation_id

    def unexpected(self, message: str) -> UnexpectedResponse:
        return UnexpectedResponse(
            message, http_status=self.status, correlation_id=self.correlation_id
        )

    def text(self, parent: etree._Element, tag: str, what: str) -> str:
        value = parent.findtext(tag)
        if value is None or not value.strip():
            raise self.unexpected(f"{what} is missing or empty")
        return value

    def time(self, parent: etree._Element, tag: str, what: str) -> datetime:
        value = self.text(parent, tag, what).strip()
        try:
            parsed = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
        except ValueError:
            raise self.unexpected(f"{what} is not an xs:dateTime") from None
        return to_instant(parsed) if parsed.tzinfo is None else parsed

    def person(self, element: etree._Element) -> FetchedPerson:
        cpr = self.text(element, _h("CPRNr"), "Person/CPRNr").strip()
        if not _cpr.is_cpr_form(cpr):
            raise self.unexpected("Person/CPRNr is not 10 digits")
        fejl = element.find(_h("Fejl"))
        if fejl is not None:
            try:
                code = int(self.text(fejl, _u("FejlKode"), "Fejl/FejlKode").strip())
            except ValueError:
                raise self.unexpected("Fejl/FejlKode is not a number") from None
            return FetchedPerson.refused(cpr, code, fejl.findtext(_u("FejlTekst")) or "")
        try:
            return FetchedPerson(
                cpr,
                contact=self._contact(element.find(_h("KommuneKontakt"))),
                job=self._job(element.find(_h("JobOnsker"))),
                education=self._education(element.find(_h("UddannelsesOnsker"))),
            )
        except ReportError as exc:  # a value the SDK's own rules refuse
            raise self.unexpected(f"a block UDB holds breaks the contract: {exc}") from None

    def _source(self, block: etree._Element, what: str) -> tuple[str, datetime]:
        return (
            self.text(block, _h("IndberettetAf"), f"{what}/IndberettetAf"),
            self.time(block, _h("Modtaget"), f"{what}/Modtaget"),
        )

    def _contact(self, block: etree._Element | None) -> Fetched[Contact] | None:
        if block is None:
            return None
        phone = block.findtext(_u("KontaktTelefon"))
        contact = Contact(
            self.text(block, _u("KontaktNavn"), "KommuneKontakt/KontaktNavn"),
            self.text(block, _u("KontaktMail"), "KommuneKontakt/KontaktMail"),
            self.time(block, _u("KontaktRegistreringstid"), "KontaktRegistreringstid"),
            phone=None if phone is None else phone.strip(),
        )
        return Fetched(contact, *self._source(block, "KommuneKontakt"))

    def _job(self, block: etree._Element | None) -> Fetched[JobWish] | None:
        if block is None:
            return None
        wish = JobWish(
            self.text(block, _u("JobOnsker"), "JobOnsker/JobOnsker"),
            self.time(block, _u("JobRegistreringstid"), "JobRegistreringstid"),
        )
        return Fetched(wish, *self._source(block, "JobOnsker"))

    def _education(self, block: etree._Element | None) -> Fetched[EducationWish] | None:
        if block is None:
            return None
        wish = EducationWish(
            self.text(block, _u("UddannelsesOnsker"), "UddannelsesOnsker/UddannelsesOnsker"),
            self.time(block, _u("UddannelseRegistreringstid"), "UddannelseRegistreringstid"),
        )
        return Fetched(wish, *self._source(block, "UddannelsesOnsker"))


def read_hent_answer(
    status: int,
    content: bytes,
    *,
    system_name: str,
    transaction_id: str,
    correlation_id: str | None = None,
) -> HentAnswer:
    """The ``HentSvar`` of an answer to the request ``(system_name, transaction_id)``.

    Raises the fault the answer holds (its ``ServiceFaultDetailer`` in the
    read-back's IPL namespace), or :class:`UnexpectedResponse`.
    """
    answer = payload(status, content, correlation_id, ipl=ns.HENT_IPL)
    reader = _Reader(status, correlation_id)
    if answer.tag != _i("HentKontaktJobOgUddOenskerResponse"):
        raise reader.unexpected("the answer is not a HentKontaktJobOgUddOenskerResponse")
    echoed = (
        answer.findtext(f"{_i('Identifier')}/{_i('SystemName')}"),
        answer.findtext(f"{_i('Identifier')}/{_i('SystemTransactionID')}"),
    )
    if echoed != (system_name, transaction_id):
        raise reader.unexpected("the answer's Identifier is not the request's")
    correlation = (answer.findtext(_i("CorrelationID")) or "").strip() or correlation_id or ""
    reader.correlation_id = correlation or None
    svar = answer.find(f"{_i('Message')}/{_h('HentSvar')}")
    if svar is None:
        raise reader.unexpected("the answer has no HentSvar")
    persons = tuple(reader.person(element) for element in svar.iterfind(_h("Person")))
    until = (
        reader.time(svar, _h("AendretTil"), "HentSvar/AendretTil")
        if svar.find(_h("AendretTil")) is not None
        else None
    )
    token = svar.findtext(_h("NaesteSide"))
    return HentAnswer(persons, until, token.strip() if token else None, correlation)
