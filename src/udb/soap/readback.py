"""The read-back's messages in and out of its IPL wrapper (HentKontaktJobOgUddOensker v1).

Reads a validated ``HentKontaktJobOgUddOenskerRequest`` into the domain's
:class:`~udb.domain.readback.Read` (:func:`read_request`) and writes
``HentKontaktJobOgUddOenskerResponse`` (:func:`read_response`) and the service's
``PingResponse``. An answer looks like::

    <h1:HentKontaktJobOgUddOenskerResponse xmlns:h1="...hentkontaktjoboguddoensker/v1.0">
      <h1:Identifier>...</h1:Identifier>
      <h1:CorrelationID>...</h1:CorrelationID>
      <h1:Message>
        <hent:HentSvar xmlns:hent="..." xmlns:udb="...">
          <hent:Person>
            <hent:CPRNr>1503084232</hent:CPRNr>
            <hent:KommuneKontakt>
              <udb:KontaktNavn>...</udb:KontaktNavn> ... <udb:KontaktRegistreringstid/>
              <hent:IndberettetAf>Vejledningssystem-Aarhus</hent:IndberettetAf>
              <hent:Modtaget>2026-11-20T08:15:00.123456Z</hent:Modtaget>
            </hent:KommuneKontakt>
          </hent:Person>
          <hent:Person><hent:CPRNr>...</hent:CPRNr><hent:Fejl>...</hent:Fejl></hent:Person>
          <hent:AendretTil>...</hent:AendretTil>          (changes listings)
          <hent:NaesteSide>...</hent:NaesteSide>          (while more remain)
        </hent:HentSvar>
      </h1:Message>
    </h1:HentKontaktJobOgUddOenskerResponse>

The blocks inherit udb.xsd's types, so their own elements are in the report
service's business namespace; IndberettetAf and Modtaget are in the read-back's.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from lxml import etree

from udb import ns
from udb.contract.violations import Violation, at, element_name
from udb.domain.model import ContactBlock, EducationWishBlock, JobWishBlock
from udb.domain.readback import HeldBlock, Read, ReadAnswer, ReadRequest
from udb.soap import messages
from udb.soap.envelope import CheckedRequest
from udb.soap.faults import InvalidRequest
from udb.soap.messages import Identifier, parse_datetime, signature_of
from udb.soap.version import SoapVersion
from udb.wssecurity import UnsignedMessage, VerifiedMessage

READ = ns.qname(ns.HENT_IPL, "HentKontaktJobOgUddOenskerRequest")
PING = ns.qname(ns.HENT_IPL, "Ping")


class ReadOperation(enum.Enum):
    """The operations of the read-back service, by the Body's element (the name is the log's)."""

    PING = "Ping"
    READ = "Hent"


_OPERATIONS = {PING: ReadOperation.PING, READ: ReadOperation.READ}


def _i(local: str) -> str:
    return ns.qname(ns.HENT_IPL, local)


def _h(local: str) -> str:
    return ns.qname(ns.HENT, local)


def _u(local: str) -> str:
    return ns.qname(ns.UDB, local)


def operation(request: CheckedRequest) -> ReadOperation:
    """The operation the request's payload asks for (IPL000002 for another contract element)."""
    found = _OPERATIONS.get(str(request.payload.tag))
    if found is None:
        name = element_name(etree.QName(request.payload).localname)
        reason = (
            f"{name} is not an operation of this service; the Body must hold "
            "HentKontaktJobOgUddOenskerRequest or Ping"
        )
        raise InvalidRequest([at(request.payload, request.source, reason)])
    return found


def read_identifier(payload: etree._Element) -> Identifier:
    return messages.read_identifier(payload, ns.HENT_IPL)


def read_request(
    request: CheckedRequest,
    message: VerifiedMessage | UnsignedMessage,
    *,
    received_at: datetime,
    correlation_id: str,
) -> Read:
    """The read in a validated ``HentKontaktJobOgUddOenskerRequest``, with the wrapper's facts."""
    payload = request.payload
    identifier = read_identifier(payload)
    business = payload.find(f"{_i('Message')}/{_h('HentKontaktJobOgUddOenskerRequest')}")
    if business is None:
        raise InvalidRequest([Violation(payload.sourceline or 1, 1, "Message is missing")])
    since = business.find(_h("AendretSiden"))
    token = business.find(_h("SideToken"))
    return Read(
        system_name=identifier.system_name,
        system_transaction_id=identifier.system_transaction_id,
        request=ReadRequest(
            modtager_system_id=messages.required_text(business, _h("ModtagerSystemID")),
            institution_number=int(
                messages.required_text(business, _h("KommuneInstitutionNummer")).strip()
            ),
            cprs=tuple((c.text or "").strip() for c in business.findall(_h("CPRNr"))),
            since=None if since is None else parse_datetime(since, request.source),
            token=None if token is None else (token.text or "").strip(),
        ),
        received_at=received_at,
        correlation_id=correlation_id,
        signature=signature_of(message),
    )


def instant(value: datetime) -> str:
    """An instant as xs:dateTime in UTC with microseconds: ``2026-11-20T08:15:00.000000Z``."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _local(value: datetime) -> str:
    """A registration time as it was reported: UTC, seconds unless fractions were given."""
    utc = value.astimezone(UTC).replace(tzinfo=None)
    spec = "microseconds" if utc.microsecond else "seconds"
    return utc.isoformat(timespec=spec) + "Z"


def _block(person: etree._Element, held: HeldBlock) -> None:
    block = held.block
    if isinstance(block, ContactBlock):
        element = etree.SubElement(person, _h("KommuneKontakt"))
        etree.SubElement(element, _u("KontaktNavn")).text = block.navn
        etree.SubElement(element, _u("KontaktMail")).text = block.mail
        if block.telefon is not None:
            etree.SubElement(element, _u("KontaktTelefon")).text = str(block.telefon)
        etree.SubElement(element, _u("KontaktRegistreringstid")).text = _local(
            block.registreringstid
        )
    elif isinstance(block, JobWishBlock):
        element = etree.SubElement(person, _h("JobOnsker"))
        etree.SubElement(element, _u("JobOnsker")).text = block.tekst
        etree.SubElement(element, _u("JobRegistreringstid")).text = _local(block.registreringstid)
    elif isinstance(block, EducationWishBlock):
        element = etree.SubElement(person, _h("UddannelsesOnsker"))
        etree.SubElement(element, _u("UddannelsesOnsker")).text = block.tekst
        etree.SubElement(element, _u("UddannelseRegistreringstid")).text = _local(
            block.registreringstid
        )
    etree.SubElement(element, _h("IndberettetAf")).text = held.system_name
    etree.SubElement(element, _h("Modtaget")).text = instant(held.received_at)


def read_response(
    version: SoapVersion, identifier: Identifier, correlation_id: str, answer: ReadAnswer
) -> bytes:
    """``HentKontaktJobOgUddOenskerResponse`` (see the module's documentation)."""
    envelope, body = messages.new_envelope(version)
    response = etree.SubElement(
        body,
        _i("HentKontaktJobOgUddOenskerResponse"),
        nsmap={"h1": ns.HENT_IPL, "hent": ns.HENT, "udb": ns.UDB},
    )
    ident = etree.SubElement(response, _i("Identifier"))
    etree.SubElement(ident, _i("SystemName")).text = identifier.system_name
    etree.SubElement(ident, _i("SystemTransactionID")).text = identifier.system_transaction_id
    etree.SubElement(response, _i("CorrelationID")).text = correlation_id
    svar = etree.SubElement(etree.SubElement(response, _i("Message")), _h("HentSvar"))
    for each in answer.persons:
        person = etree.SubElement(svar, _h("Person"))
        etree.SubElement(person, _h("CPRNr")).text = each.cpr
        if each.error is not None:
            fejl = etree.SubElement(person, _h("Fejl"))
            etree.SubElement(fejl, _u("FejlKode")).text = str(int(each.error))
            etree.SubElement(fejl, _u("FejlTekst")).text = each.error.text
            continue
        for held in each.blocks:
            _block(person, held)
    if answer.until is not None:
        etree.SubElement(svar, _h("AendretTil")).text = instant(answer.until)
    if answer.next_token is not None:
        etree.SubElement(svar, _h("NaesteSide")).text = answer.next_token
    return messages.serialise(envelope)


def ping_response(version: SoapVersion, up: bool) -> bytes:
    """``<h1:PingResponse><h1:Status>up</h1:Status></h1:PingResponse>`` (this service's ns)."""
    return messages.ping_response(version, up, ns.HENT_IPL, "h1")
