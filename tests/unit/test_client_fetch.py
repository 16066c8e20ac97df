"""Reading back with the SDK: fetch (order, requests of 100, Fejl, blocks with their source,
faults, retries) and changes (paging through NaesteSide, AendretTil, a bad token), against
hand-written answers that the contract's schema accepts (tests/unit/hentsupport.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest

from tests.support import SYSTEM
from tests.unit.clientsupport import BASE, FAST, keys
from tests.unit.hentsupport import (
    CORRELATION,
    SOURCE,
    HentService,
    Person,
    asked,
    envelope_of,
    fault,
    hent_client,
    hent_svar,
    reply,
    stid_of,
)
from udb import ns, wssecurity
from udb.client import (
    FETCH_ENDPOINT_PATH,
    AccessDeniedFault,
    AsyncUdbClient,
    Contact,
    EducationWish,
    ErrorCode,
    ErrorKind,
    Fetched,
    FetchedPerson,
    JobWish,
    NetworkError,
    ReportError,
    RetryPolicy,
    SchemaFault,
    ServerFault,
    UnexpectedResponse,
)
from udb.domain.clock import utc_now
from udb.soap import envelope
from udb.soap.version import SoapVersion

INSTITUTION = 751001
A, B, C = "1503084232", "2002104321", "0101091234"
FULL = Person(
    A,
    contact=("Mette Sørensen", "mette@example.dk", "4520304050", "2026-11-20T09:15:00+01:00"),
    job=("Tømrer", "2026-11-20T09:20:00+01:00"),
    education=("EUD, bygge og anlæg", "2026-11-20T09:25:00"),  # no offset: Danish time
)


def cprs_of(request: httpx.Request) -> list[str]:
    return [e.text or "" for e in asked(request).iterfind(ns.qname(ns.HENT, "CPRNr"))]


# fetch -----------------------------------------------------------------------------------


def test_fetch_reads_every_block_with_its_source() -> None:
    service = HentService({A: FULL})
    with hent_client(service) as client:
        (person,) = client.fetch(INSTITUTION, [A])
    received = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
    assert person.found and person.cpr == A and person.code is None
    assert person.contact == Fetched(
        Contact(
            "Mette Sørensen",
            "mette@example.dk",
            datetime(2026, 11, 20, 8, 15, tzinfo=UTC),
            phone="4520304050",
        ),
        SOURCE,
        received,
    )
    assert person.job == Fetched(
        JobWish("Tømrer", datetime(2026, 11, 20, 8, 20, tzinfo=UTC)), SOURCE, received
    )
    assert person.education is not None
    assert person.education.value == EducationWish(
        "EUD, bygge og anlæg", datetime(2026, 11, 20, 8, 25, tzinfo=UTC)
    )
    assert "1503084232" not in repr(person) and "Tømrer" not in repr(person)
    (request,) = service.requests
    assert request.url == BASE + FETCH_ENDPOINT_PATH
    question = asked(request)
    assert question.findtext(ns.qname(ns.HENT, "ModtagerSystemID")) == SYSTEM
    assert question.findtext(ns.qname(ns.HENT, "KommuneInstitutionNummer")) == str(INSTITUTION)


def test_fetch_answers_in_the_order_asked_with_a_fejl_per_refused_person() -> None:
    service = HentService({A: FULL, C: Person(C, code=86), B: Person(B, code=15)})
    with hent_client(service) as client:
        persons = client.fetch(INSTITUTION, [C, "1111111118", A, B])
    assert [p.cpr for p in persons] == [C, "1111111118", A, B]
    assert [p.code for p in persons] == [86, 14, None, 15]
    refused = persons[0]
    assert (refused.found, refused.kind, refused.contact, refused.job) == (
        False,
        ErrorKind.HARD,
        None,
        None,
    )
    assert isinstance(refused.code, ErrorCode)
    assert refused.text == "Bruger må ikke indberette oplysninger om dette CPR-nummer"
    assert persons[2].found


def test_a_person_without_blocks_is_found_and_empty() -> None:
    with hent_client(HentService({A: Person(A)})) as client:
        (person,) = client.fetch(INSTITUTION, [A])
    assert person == FetchedPerson(A)


def test_long_lists_are_asked_for_in_requests_of_100() -> None:
    numbers = [f"{n:010d}" for n in range(1, 251)]
    service = HentService()
    with hent_client(service) as client:
        persons = client.fetch(INSTITUTION, iter(numbers))
    assert [len(cprs_of(r)) for r in service.requests] == [100, 100, 50]
    assert [cpr for r in service.requests for cpr in cprs_of(r)] == numbers
    assert [p.cpr for p in persons] == numbers
    assert len({stid_of(r) for r in service.requests}) == 3


def test_an_empty_list_sends_nothing() -> None:
    service = HentService()
    with hent_client(service) as client:
        assert client.fetch(INSTITUTION, []) == []
    assert service.requests == []


@pytest.mark.parametrize(
    ("institution", "cprs", "field"),
    [
        (INSTITUTION, ["150308-4232"], "cprs[0]"),
        (INSTITUTION, A, "cprs"),
        (0, [A], "institution"),
        ("751001", [A], "institution"),
    ],
)
def test_bad_arguments_are_refused_before_sending(
    institution: object, cprs: object, field: str
) -> None:
    service = HentService()
    with hent_client(service) as client, pytest.raises(ReportError) as raised:
        client.fetch(institution, cprs)  # type: ignore[arg-type]
    assert raised.value.field == field and "4232" not in str(raised.value)
    assert service.requests == []


def test_an_answer_for_other_persons_is_not_taken() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return reply(request, hent_svar([Person(B)]))

    with hent_client(handler) as client, pytest.raises(UnexpectedResponse, match="in their order"):
        client.fetch(INSTITUTION, [A])


def test_an_answer_to_another_transaction_is_not_taken() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        answer = reply(request, hent_svar([Person(A)]))
        return httpx.Response(200, content=answer.content.replace(stid_of(request).encode(), b"x"))

    with hent_client(handler) as client, pytest.raises(UnexpectedResponse, match="Identifier"):
        client.fetch(INSTITUTION, [A])


def test_requests_are_signed() -> None:
    service = HentService({A: FULL})
    with hent_client(service) as client:
        client.fetch(INSTITUTION, [A])
    parsed = envelope.parse(service.requests[0].content, SoapVersion.SOAP12)
    verified = wssecurity.verify(parsed, policy=wssecurity.SecurityPolicy(), now=utc_now())
    assert isinstance(verified, wssecurity.VerifiedMessage)
    assert verified.payload.tag == ns.qname(ns.HENT_IPL, "HentKontaktJobOgUddOenskerRequest")


# faults and retries -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "cls"),
    [("IPL000002", SchemaFault), ("IPL000004", AccessDeniedFault)],
)
def test_sender_faults_are_typed_and_never_retried(code: str, cls: type[Exception]) -> None:
    service = HentService({A: FULL}, before=[fault(code)] * 5)
    with hent_client(service) as client, pytest.raises(cls) as raised:
        client.fetch(INSTITUTION, [A])
    assert len(service.requests) == 1
    assert raised.value.correlation_id == CORRELATION  # type: ignore[attr-defined]
    assert raised.value.error_code == code  # type: ignore[attr-defined]


def test_ipl000001_502_and_a_lost_answer_are_retried_each_as_a_new_signed_transaction() -> None:
    lost = httpx.ReadTimeout("lost")
    service = HentService(
        {A: FULL},
        before=[fault("IPL000001", sender=False), httpx.Response(502, text="bad gateway"), lost],
    )
    with hent_client(service) as client:
        (person,) = client.fetch(INSTITUTION, [A])
    assert person.found
    assert len(service.requests) == 4
    assert len({stid_of(r) for r in service.requests}) == 4
    signatures = {
        envelope_of(r).findtext(f".//{{{ns.DS}}}SignatureValue") for r in service.requests
    }
    assert len(signatures) == 4


def test_after_the_last_attempt_the_error_is_raised_with_its_count() -> None:
    service = HentService(before=[fault("IPL000001", sender=False)] * 3)
    retry = RetryPolicy(attempts=3, initial=0, maximum=0)
    with hent_client(service, retry=retry) as client, pytest.raises(ServerFault) as raised:
        client.fetch(INSTITUTION, [A])
    assert raised.value.attempts == 3
    assert raised.value.system_transaction_id == stid_of(service.requests[-1])


def test_a_broken_connection_without_retries() -> None:
    service = HentService(before=[httpx.ReadError("broken")])
    with hent_client(service, retry=None) as client, pytest.raises(NetworkError):
        client.fetch(INSTITUTION, [A])


# changes ----------------------------------------------------------------------------------

SINCE = datetime(2026, 11, 1, tzinfo=UTC)
PAGES = [[Person(A), Person(B)], [Person(C, job=("Smed", "2026-11-02T10:00:00Z"))], []]


def test_changes_follows_every_page_and_gives_the_final_aendret_til() -> None:
    service = HentService(pages=PAGES, until="2026-12-01T10:00:00Z")
    with hent_client(service) as client:
        changes = client.changes(INSTITUTION, SINCE)
        assert service.requests == []  # nothing until iterated
        assert changes.until is None
        persons = list(changes)
    assert [p.cpr for p in persons] == [A, B, C]
    assert changes.until == datetime(2026, 12, 1, 10, tzinfo=UTC)
    assert changes.pages == 3
    asks = [asked(r) for r in service.requests]
    assert {a.findtext(ns.qname(ns.HENT, "AendretSiden")) for a in asks} == {
        "2026-11-01T00:00:00+00:00"
    }
    assert [a.findtext(ns.qname(ns.HENT, "SideToken")) for a in asks] == [None, "p1", "p2"]


def test_changes_of_an_empty_listing() -> None:
    service = HentService(pages=[], until="2026-12-01T10:00:00+01:00")
    with hent_client(service) as client:
        changes = client.changes(INSTITUTION, SINCE)
        assert list(changes) == []
    assert changes.until == datetime(2026, 12, 1, 9, tzinfo=UTC)


def test_a_tampered_token_is_a_schema_fault() -> None:
    service = HentService(pages=PAGES)

    def handler(request: httpx.Request) -> httpx.Response:
        token = asked(request).findtext(ns.qname(ns.HENT, "SideToken"))
        return fault("IPL000002") if token == "p1" else service(request)

    with hent_client(handler) as client:
        changes = client.changes(INSTITUTION, SINCE)
        assert next(changes).cpr == A
        assert next(changes).cpr == B
        with pytest.raises(SchemaFault):
            next(changes)
    assert changes.until is None


def test_an_unauthorised_system_gets_access_denied_for_changes() -> None:
    service = HentService(before=[fault("IPL000004")])
    with hent_client(service) as client, pytest.raises(AccessDeniedFault):
        list(client.changes(INSTITUTION, SINCE))


def test_a_page_is_retried_under_a_new_transaction() -> None:
    service = HentService(pages=PAGES, before=[httpx.ConnectError("refused")])
    with hent_client(service) as client:
        assert len(list(client.changes(INSTITUTION, SINCE))) == 3
    assert len(service.requests) == 4


def test_a_listing_that_does_not_advance_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return reply(request, hent_svar([Person(A)], until="2026-12-01T10:00:00Z", token="p1"))

    with hent_client(handler) as client, pytest.raises(UnexpectedResponse, match="twice"):
        list(client.changes(INSTITUTION, SINCE))


def test_a_naive_since_is_refused() -> None:
    with hent_client(HentService()) as client, pytest.raises(ReportError, match="timezone"):
        client.changes(INSTITUTION, datetime(2026, 11, 1))


# the asynchronous client ----------------------------------------------------------------


def test_the_async_client_fetches_and_lists_changes_alike() -> None:
    service = HentService({A: FULL}, pages=PAGES, before=[httpx.ReadTimeout("lost")])
    cert, key = keys()

    async def run() -> tuple[list[FetchedPerson], list[str], datetime | None]:
        async with AsyncUdbClient(
            BASE,
            system_name=SYSTEM,
            cert=cert,
            key=key,
            retry=FAST,
            transport=httpx.MockTransport(service),
        ) as client:
            persons = await client.fetch(INSTITUTION, [A, B])
            changes = client.changes(INSTITUTION, SINCE)
            listed = [p.cpr async for p in changes]
            return persons, listed, changes.until

    persons, listed, until = asyncio.run(run())
    assert [(p.cpr, p.code) for p in persons] == [(A, None), (B, 14)]
    assert persons[0].job is not None and persons[0].job.value.text == "Tømrer"
    assert listed == [A, B, C]
    assert until == datetime(2026, 12, 1, 10, tzinfo=UTC)
    assert len(service.requests) == 5  # a lost answer, the fetch again, three pages
