"""Answers of the read-back service HentKontaktJobOgUddOensker v1, written by hand for the
SDK's unit tests, each ``HentSvar`` validated against the contract's schema (``hent.xsd``
with the report service's ``udb.xsd``) so that the fixtures cannot drift from it.

The schema is the package's ``src/udb/contract/files/hent.xsd`` once the service ships it,
else the contract of the issue (``/tmp/contract14/hent.xsd``)::

    person = Person("1503084232", job=("Tømrer", "2026-11-20T09:20:00+01:00"))
    handler = HentService({"1503084232": person})      # answers CPRNr requests
    client = hent_client(handler)
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from lxml import etree

from tests.support import SYSTEM
from tests.unit.clientsupport import BASE, FAST, keys
from udb import ns, safexml
from udb.client import FETCH_ENDPOINT_PATH, UdbClient
from udb.contract import documents

CORRELATION = "c0ffee00-0000-4000-8000-0000000000aa"
SOURCE = "Vejledningssystem-Aarhus"
RECEIVED = "2026-11-20T08:30:00Z"
_PACKAGE_HENT = Path(documents.__file__).parent / "files" / "hent.xsd"
_ISSUE_HENT = Path("/tmp/contract14/hent.xsd")
TEXTS = {
    14: "Den unge findes ikke i Ungedatabasen",
    15: "Aldersgrænse overskredet",
    86: "Bruger må ikke indberette oplysninger om dette CPR-nummer",
}


@functools.cache
def hent_schema() -> etree.XMLSchema:
    """hent.xsd, its import of udb.xsd resolved to the package's file."""
    path = _PACKAGE_HENT if _PACKAGE_HENT.exists() else _ISSUE_HENT
    udb_xsd = Path(documents.__file__).parent / "files" / "udb.xsd"

    class Resolver(etree.Resolver):
        def resolve(self, system_url: str | None, public_id: str | None, context: object) -> Any:
            if (system_url or "").endswith("udb.xsd"):
                return self.resolve_filename(str(udb_xsd), context)
            return None  # the schema file itself

    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    parser.resolvers.add(Resolver())
    return etree.XMLSchema(etree.parse(str(path), parser))


@dataclass(frozen=True)
class Person:
    """One ``hent:Person``: blocks as (values..., registration time), or a Fejl ``code``."""

    cpr: str
    contact: tuple[str, str, str | None, str] | None = None  # name, mail, phone, time
    job: tuple[str, str] | None = None  # text, time
    education: tuple[str, str] | None = None
    code: int | None = None
    source: str = SOURCE
    received: str = RECEIVED


def _h(local: str) -> str:
    return ns.qname(ns.HENT, local)


def _u(local: str) -> str:
    return ns.qname(ns.UDB, local)


def _i(local: str) -> str:
    return ns.qname(ns.HENT_IPL, local)


def _add(parent: etree._Element, tag: str, text: str) -> None:
    etree.SubElement(parent, tag).text = text


def _source(block: etree._Element, person: Person) -> None:
    _add(block, _h("IndberettetAf"), person.source)
    _add(block, _h("Modtaget"), person.received)


def hent_svar(
    persons: Sequence[Person], *, until: str | None = None, token: str | None = None
) -> etree._Element:
    """A schema-valid ``hent:HentSvar`` (raises if it is not valid)."""
    svar = etree.Element(_h("HentSvar"), nsmap={"hent": ns.HENT, "udb": ns.UDB})
    for person in persons:
        element = etree.SubElement(svar, _h("Person"))
        _add(element, _h("CPRNr"), person.cpr)
        if person.code is not None:
            fejl = etree.SubElement(element, _h("Fejl"))
            _add(fejl, _u("FejlKode"), str(person.code))
            _add(fejl, _u("FejlTekst"), TEXTS.get(person.code, "anden fejl"))
            continue
        if person.contact is not None:
            name, mail, phone, at = person.contact
            block = etree.SubElement(element, _h("KommuneKontakt"))
            _add(block, _u("KontaktNavn"), name)
            _add(block, _u("KontaktMail"), mail)
            if phone is not None:
                _add(block, _u("KontaktTelefon"), phone)
            _add(block, _u("KontaktRegistreringstid"), at)
            _source(block, person)
        for tag, inner, time_tag, value in (
            ("JobOnsker", "JobOnsker", "JobRegistreringstid", person.job),
            (
                "UddannelsesOnsker",
                "UddannelsesOnsker",
                "UddannelseRegistreringstid",
                person.education,
            ),
        ):
            if value is not None:
                block = etree.SubElement(element, _h(tag))
                _add(block, _u(inner), value[0])
                _add(block, _u(time_tag), value[1])
                _source(block, person)
    if until is not None:
        _add(svar, _h("AendretTil"), until)
    if token is not None:
        _add(svar, _h("NaesteSide"), token)
    hent_schema().assertValid(svar)
    return svar


def envelope_of(request: httpx.Request) -> etree._Element:
    return safexml.parse(request.content)


def asked(request: httpx.Request) -> etree._Element:
    """The ``hent:HentKontaktJobOgUddOenskerRequest`` of a request (schema-checked)."""
    found = envelope_of(request).find(f".//{_h('HentKontaktJobOgUddOenskerRequest')}")
    assert found is not None
    hent_schema().assertValid(found)
    return found


def stid_of(request: httpx.Request) -> str:
    text = envelope_of(request).findtext(f".//{_i('SystemTransactionID')}")
    assert text is not None
    return text


def reply(request: httpx.Request, svar: etree._Element) -> httpx.Response:
    """The service's answer to ``request`` holding ``svar``."""
    env = etree.Element(ns.qname(ns.SOAP12_ENV, "Envelope"), nsmap={"s": ns.SOAP12_ENV})
    body = etree.SubElement(env, ns.qname(ns.SOAP12_ENV, "Body"))
    response = etree.SubElement(body, _i("HentKontaktJobOgUddOenskerResponse"))
    identifier = etree.SubElement(response, _i("Identifier"))
    _add(identifier, _i("SystemName"), SYSTEM)
    _add(identifier, _i("SystemTransactionID"), stid_of(request))
    _add(response, _i("CorrelationID"), CORRELATION)
    etree.SubElement(response, _i("Message")).append(svar)
    return httpx.Response(
        200,
        content=etree.tostring(env, xml_declaration=True, encoding="utf-8"),
        headers={"content-type": "application/soap+xml; charset=utf-8"},
    )


def fault(code: str, *, sender: bool = True, status: int | None = None) -> httpx.Response:
    """A SOAP 1.2 fault with its ``ServiceFaultDetailer`` in the read-back's IPL namespace."""
    s = functools.partial(ns.qname, ns.SOAP12_ENV)
    env = etree.Element(s("Envelope"), nsmap={"s": ns.SOAP12_ENV, "h1": ns.HENT_IPL})
    body_fault = etree.SubElement(etree.SubElement(env, s("Body")), s("Fault"))
    _add(
        etree.SubElement(body_fault, s("Code")), s("Value"), "s:Sender" if sender else "s:Receiver"
    )
    _add(etree.SubElement(body_fault, s("Reason")), s("Text"), "Input error")
    detailer = etree.SubElement(
        etree.SubElement(body_fault, s("Detail")), _i("ServiceFaultDetailer")
    )
    _add(detailer, _i("CorrelationID"), CORRELATION)
    _add(detailer, _i("Timestamp"), RECEIVED)
    _add(detailer, _i("ErrorCode"), code)
    _add(detailer, _i("ErrorMessage"), "fixed text")
    _add(detailer, _i("Details"), "what was wrong")
    return httpx.Response(
        status or (400 if sender else 500),
        content=etree.tostring(env, xml_declaration=True, encoding="utf-8"),
        headers={"content-type": "application/soap+xml; charset=utf-8"},
    )


class HentService:
    """A handler answering CPRNr requests from ``persons`` (unknown numbers: Fejl 14) and
    AendretSiden requests from ``pages`` (page n after token ``pn``), recording requests.

    ``before`` steps (responses or exceptions) answer the first requests instead.
    """

    def __init__(
        self,
        persons: dict[str, Person] | None = None,
        pages: Sequence[Sequence[Person]] = (),
        *,
        until: str = "2026-12-01T10:00:00Z",
        before: Sequence[object] = (),
    ) -> None:
        self.persons = persons or {}
        self.pages = pages
        self.until = until
        self.before = list(before)
        self.requests: list[httpx.Request] = []
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == FETCH_ENDPOINT_PATH
        with self._lock:
            self.requests.append(request)
            step = self.before.pop(0) if self.before else None
        if isinstance(step, BaseException):
            raise step
        if isinstance(step, httpx.Response):
            return step
        question = asked(request)
        cprs = [e.text or "" for e in question.iterfind(_h("CPRNr"))]
        if cprs:
            found = [self.persons.get(cpr, Person(cpr, code=14)) for cpr in cprs]
            return reply(request, hent_svar(found))
        token = question.findtext(_h("SideToken"))
        index = 0 if token is None else int(token[1:])
        if token is not None and not token.startswith("p"):
            return fault("IPL000002")
        more = index + 1 < len(self.pages)
        page = self.pages[index] if self.pages else ()
        return reply(
            request,
            hent_svar(page, until=self.until, token=f"p{index + 1}" if more else None),
        )


def hent_client(handler: Callable[[httpx.Request], httpx.Response], **options: Any) -> UdbClient:
    cert, key = keys()
    options.setdefault("retry", FAST)
    return UdbClient(
        BASE,
        system_name=SYSTEM,
        cert=cert,
        key=key,
        transport=httpx.MockTransport(handler),
        **options,
    )
