"""A small stand-in for UDB behind :class:`httpx.MockTransport`, for the client commands'
unit tests: it takes reports (keeping the current block by registration time, the later
arrival winning a tie, as ``udb.domain.merge`` says) and answers read-back requests from
what it holds, with hand-written HentSvar answers the contract's schema accepts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

import httpx

from tests.unit.clientsupport import report_reply
from tests.unit.hentsupport import HentService, Person, asked
from udb import ns, safexml

_BLOCKS = {
    "KommuneKontakt": ("contact", ("KontaktNavn", "KontaktMail", "KontaktTelefon"),
                       "KontaktRegistreringstid"),
    "JobOnsker": ("job", ("JobOnsker",), "JobRegistreringstid"),
    "UddannelsesOnsker": ("education", ("UddannelsesOnsker",), "UddannelseRegistreringstid"),
}  # fmt: skip


def _u(local: str) -> str:
    return ns.qname(ns.UDB, local)


class FakeUdb(HentService):
    """Holds ``persons`` (a :class:`Person` each), ``known`` persons of the register without
    data, and ``refused`` (CPR number -> FejlKode); other CPR numbers are unknown (14).
    ``reports`` counts the reports taken."""

    def __init__(
        self,
        persons: dict[str, Person],
        *,
        known: Iterable[str] = (),
        refused: dict[str, int] | None = None,
    ) -> None:
        super().__init__({cpr: Person(cpr) for cpr in known} | persons)
        for cpr, code in (refused or {}).items():
            self.persons[cpr] = Person(cpr, code=code)
        self.reports = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/IndberetningKontaktJobOgUddOensker/v1"):
            return self._report(request)
        asked(request)  # the read-back request is schema-valid
        return super().__call__(request)

    def _report(self, request: httpx.Request) -> httpx.Response:
        self.reports += 1
        message = safexml.parse(request.content).find(
            f".//{_u('IndberetningKontaktJobOgUddOenskerRequest')}"
        )
        assert message is not None
        cpr = message.findtext(_u("CPRNr")) or ""
        person = self.persons.get(cpr, Person(cpr, code=14))
        if person.code is not None:
            return report_reply(request, person.code)
        for tag, (field, values, time_tag) in _BLOCKS.items():
            block = message.find(_u(tag))
            if block is None:
                continue
            at = block.findtext(_u(time_tag)) or ""
            current = getattr(person, field)
            if current is not None and _instant(current[-1]) > _instant(at):
                continue  # an older block is kept in the history only
            new = (*(block.findtext(_u(v)) for v in values), at)
            person = replace(person, **{field: new})
        self.persons[cpr] = person
        return report_reply(request)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)
