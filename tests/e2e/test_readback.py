"""The read-back service (HentKontaktJobOgUddOensker v1) at a real, secure ``udb serve``.

A vendor's view (:mod:`tests.e2e.interop`): dev certificates, Aarhus's system pinned to
one and København's to another, every request signed (``udb.wssecurity.sign``, and zeep's
own plugin for the zeep test), on SQLite and PostgreSQL, with ``UDB_FETCH_PAGE_SIZE=3``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import zeep
from lxml import etree

from tests.e2e.conftest import SOAP11, SOAP12, Server, start_server, stop_server, udb
from tests.e2e.interop import (
    ACCEPTED_CPR,
    INSTITUTION,
    KOEBENHAVN_CPR,
    OVER_25_CPR,
    SYSTEM,
    UNKNOWN_CPR,
    Certs,
    Pki,
    make_pki,
)
from tests.e2e.soap import example, with_stid
from tests.e2e.test_zeep_wssecurity import SHA256, wsse
from tests.support import postgres_schema, require_postgres
from udb import contract
from udb.synthetic import SyntheticPerson, synthetic_persons, write_extract
from udb.wssecurity import sign

H1 = "http://ipl.stil.dk/services/udb/hentkontaktjoboguddoensker/v1.0"
HENT = "http://www.udb.stil.dk/hentkontaktjoboguddoensker/v1"
UDB = "http://www.udb.stil.dk/indberetningkontaktjoboguddoensker/v1"
NS = {"h1": H1, "hent": HENT, "udb": UDB}
PATH = "/services/UDB/HentKontaktJobOgUddOensker/v1"
KBH_SYSTEM = "Vejledningssystem-Koebenhavn"
KBH_KUI = 101001
PAGE = 3


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("readback-pki"))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def secure(
    request: pytest.FixtureRequest, pki: Pki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """Signatures required; Aarhus pinned to ``pki.pinned``, København to ``pki.stranger``."""
    directory = tmp_path_factory.mktemp("readback")
    anchors = directory / "trust-anchors.pem"
    anchors.write_bytes(pki.pinned.ca.read_bytes() + pki.stranger.ca.read_bytes())
    with ExitStack() as stack:
        database_url = None
        if request.param == "postgresql":
            require_postgres()
            database_url = stack.enter_context(postgres_schema())
        server = start_server(
            directory,
            "--trust-anchors",
            str(anchors),
            secure=True,
            database_url=database_url,
            env={"UDB_FETCH_PAGE_SIZE": str(PAGE), "UDB_FETCH_SETTLE_S": "0"},
        )
        try:
            for name, kui, certs in (
                (SYSTEM, INSTITUTION, pki.pinned),
                (KBH_SYSTEM, KBH_KUI, pki.stranger),
            ):
                udb(
                    "systems", "add", name, "--institution", str(kui), "--cert", str(certs.cert),
                    database_url=server.database_url,
                )  # fmt: skip
            yield server
        finally:
            stop_server(server)


# the wire -----------------------------------------------------------------------


def post(server: Server, body: bytes, certs: Certs, content_type: str = SOAP12) -> httpx.Response:
    """``body`` signed with ``certs``, posted to the read-back path (personal data noted)."""
    signed = sign(body, key_pem=certs.key.read_bytes(), cert_pem=certs.cert.read_bytes())
    server.sent.update(m.decode() for m in _values(body))
    return httpx.post(
        server.url + PATH, content=signed, headers={"content-type": content_type}, timeout=30
    )


def _values(body: bytes) -> list[bytes]:
    root = etree.fromstring(body)
    return [(e.text or "").strip().encode() for e in root.iter(f"{{{HENT}}}CPRNr")]


def hent(
    *,
    cprs: tuple[str, ...] = (),
    since: datetime | None = None,
    token: str | None = None,
    system: str = SYSTEM,
    kui: int = INSTITUTION,
    soap11: bool = False,
) -> bytes:
    env = (
        "http://schemas.xmlsoap.org/soap/envelope/"
        if soap11
        else "http://www.w3.org/2003/05/soap-envelope"
    )
    asked = "".join(f"<hent:CPRNr>{c}</hent:CPRNr>" for c in cprs)
    if since is not None:
        asked += f"<hent:AendretSiden>{since.isoformat()}</hent:AendretSiden>"
    if token is not None:
        asked += f"<hent:SideToken>{token}</hent:SideToken>"
    return (
        f'<s:Envelope xmlns:s="{env}"><s:Body>'
        f'<h1:HentKontaktJobOgUddOenskerRequest xmlns:h1="{H1}" xmlns:hent="{HENT}">'
        f"<h1:Identifier><h1:SystemName>{system}</h1:SystemName>"
        f"<h1:SystemTransactionID>{uuid.uuid4()}</h1:SystemTransactionID></h1:Identifier>"
        f"<h1:Message><hent:HentKontaktJobOgUddOenskerRequest>"
        f"<hent:ModtagerSystemID>{system}</hent:ModtagerSystemID>"
        f"<hent:KommuneInstitutionNummer>{kui}</hent:KommuneInstitutionNummer>{asked}"
        "</hent:HentKontaktJobOgUddOenskerRequest></h1:Message>"
        "</h1:HentKontaktJobOgUddOenskerRequest></s:Body></s:Envelope>"
    ).encode()


def report(server: Server, certs: Certs, cpr: str, job: str) -> None:
    """A signed report from Aarhus's system: the example's contact person and ``job``."""
    body = with_stid(example("request.xml")).replace(b"1503084232", cpr.encode())
    body = body.replace(b"T\xc3\xb8mrer eller anden byggebranche", job.encode())
    server.sent.update({cpr, job})
    signed = sign(body, key_pem=certs.key.read_bytes(), cert_pem=certs.cert.read_bytes())
    response = server.post(signed)
    assert response.status_code == 200 and b"<udb:Ok>true</udb:Ok>" in response.content


@dataclass
class Person:
    cpr: str
    fejl: int | None
    #: block name -> its children's text by local name
    blocks: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class Svar:
    persons: list[Person]
    until: str | None
    next_page: str | None


def svar(response: httpx.Response) -> Svar:
    assert response.status_code == 200, response.text
    root = etree.fromstring(response.content)
    message = root.find(".//h1:HentKontaktJobOgUddOenskerResponse", NS)
    assert message is not None, response.text
    assert contract.validate(message, response.content, contract.READBACK) == []
    persons = []
    for person in message.iterfind(".//hent:Person", NS):
        code = person.findtext("hent:Fejl/udb:FejlKode", namespaces=NS)
        blocks = {
            etree.QName(b).localname: {etree.QName(c).localname: c.text or "" for c in b}
            for b in person
            if etree.QName(b).localname not in ("CPRNr", "Fejl")
        }
        cpr = person.findtext("hent:CPRNr", namespaces=NS) or ""
        persons.append(Person(cpr, None if code is None else int(code), blocks))
    found = message.find(".//hent:HentSvar", NS)
    assert found is not None
    return Svar(
        persons,
        found.findtext("hent:AendretTil", namespaces=NS),
        found.findtext("hent:NaesteSide", namespaces=NS),
    )


def fault_of(response: httpx.Response) -> dict[str, str]:
    detailer = etree.fromstring(response.content).find(f".//{{{H1}}}ServiceFaultDetailer")
    assert detailer is not None, response.text  # in the read-back's own namespace
    return {etree.QName(c).localname: c.text or "" for c in detailer}


# tests --------------------------------------------------------------------------


def test_a_person_is_read_back_after_a_report(secure: Server, pki: Pki) -> None:
    job = f"Smed {uuid.uuid4().hex[:8]}"
    before = datetime.now(UTC)
    report(secure, pki.pinned, ACCEPTED_CPR, job)
    response = post(
        secure, hent(cprs=(ACCEPTED_CPR, UNKNOWN_CPR, OVER_25_CPR, KOEBENHAVN_CPR)), pki.pinned
    )
    answer = svar(response)
    assert [(p.cpr, p.fejl) for p in answer.persons] == [
        (ACCEPTED_CPR, None),
        (UNKNOWN_CPR, 14),
        (OVER_25_CPR, 15),
        (KOEBENHAVN_CPR, 86),
    ]
    assert answer.until is None and answer.next_page is None
    blocks = answer.persons[0].blocks
    assert set(blocks) == {"KommuneKontakt", "JobOnsker", "UddannelsesOnsker"}
    assert blocks["JobOnsker"]["JobOnsker"] == job
    assert blocks["KommuneKontakt"]["KontaktNavn"] == "Mette Sørensen"
    for block in blocks.values():
        assert block["IndberettetAf"] == SYSTEM
        received = datetime.fromisoformat(block["Modtaget"])
        assert before <= received <= datetime.now(UTC)
    assert any("Hent answered status=200 soap=1.2" in line for line in secure.log().splitlines())
    correlation_id = response.headers["x-correlation-id"]
    logged = udb("requests", "show", correlation_id, database_url=secure.database_url).stdout
    assert "Hent" in logged and "answered" in logged and "150308-****" in logged
    assert ACCEPTED_CPR not in logged


def test_another_municipality_gets_86_for_each_person_and_no_data(secure: Server, pki: Pki) -> None:
    job = f"Maler {uuid.uuid4().hex[:8]}"
    report(secure, pki.pinned, ACCEPTED_CPR, job)
    # its own KUI: the rules per person (an unknown person is 14 whoever asks); Aarhus's KUI,
    # which it is not authorised for: 86 for everyone, not even whether the person exists
    for kui, codes in ((KBH_KUI, [86, 14, 86]), (INSTITUTION, [86, 86, 86])):
        response = post(
            secure,
            hent(cprs=(ACCEPTED_CPR, UNKNOWN_CPR, OVER_25_CPR), system=KBH_SYSTEM, kui=kui),
            pki.stranger,
        )
        assert [(p.fejl, p.blocks) for p in svar(response).persons] == [(c, {}) for c in codes]
        for value in (job, "Mette", "sorensen", "4520304050", "Erhvervsuddannelse", SYSTEM):
            assert value.encode() not in response.content


def test_changes_of_an_institution_the_system_may_not_read_are_refused(
    secure: Server, pki: Pki
) -> None:
    since = datetime.now(UTC) - timedelta(days=1)
    response = post(secure, hent(since=since, system=KBH_SYSTEM), pki.stranger)
    assert response.status_code == 400
    detail = fault_of(response)
    assert detail["ErrorCode"] == "IPL000004"
    assert "not authorised for this KommuneInstitutionNummer" in detail["Details"]


def test_paging_over_more_persons_than_a_page_while_reports_arrive(
    secure: Server, pki: Pki, tmp_path: Path
) -> None:
    people = [
        p.cpr
        for p in synthetic_persons(
            8, municipality_code=751, born_from=date(2006, 1, 1), born_to=date(2008, 12, 31)
        )
        if p.cpr != ACCEPTED_CPR
    ][:7]
    extract = tmp_path / "young.txt"
    write_extract(extract, [SyntheticPerson(c) for c in people], production_date=date.today())
    udb("cpr", "import", str(extract), "--incremental", database_url=secure.database_url)
    since = datetime.now(UTC)
    for cpr in people:
        report(secure, pki.pinned, cpr, "Paging")
    first = svar(post(secure, hent(since=since), pki.pinned))
    assert [p.cpr for p in first.persons] == people[:PAGE]  # reported in this order
    assert first.until and first.next_page
    report(secure, pki.pinned, people[0], "Paging again")  # listed already
    report(secure, pki.pinned, people[5], "Paging again")  # not yet: moves past AendretTil
    listed, token = [p.cpr for p in first.persons], first.next_page
    while token:
        page = svar(post(secure, hent(since=since, token=token), pki.pinned))
        assert page.until == first.until
        assert len(page.persons) <= PAGE
        listed += [p.cpr for p in page.persons]
        token = page.next_page
    assert listed == [c for c in people if c != people[5]]  # none repeated, none else skipped
    following = svar(post(secure, hent(since=datetime.fromisoformat(first.until)), pki.pinned))
    assert [p.cpr for p in following.persons] == [people[0], people[5]]
    assert following.persons[1].blocks["JobOnsker"]["JobOnsker"] == "Paging again"
    assert following.next_page is None


def test_a_changed_token_is_an_input_error_in_the_read_backs_namespace(
    secure: Server, pki: Pki
) -> None:
    since = datetime.now(UTC) - timedelta(days=1)
    response = post(secure, hent(since=since, token="A" * 79), pki.pinned)
    assert response.status_code == 400
    detail = fault_of(response)
    assert detail["ErrorCode"] == "IPL000002"
    assert "SideToken" in detail["Details"]
    unsigned = httpx.post(
        secure.url + PATH, content=hent(cprs=(ACCEPTED_CPR,)), headers={"content-type": SOAP12}
    )
    assert fault_of(unsigned)["ErrorCode"] == "IPL000003"


def test_soap11_and_ping_on_the_read_back_path(secure: Server, pki: Pki) -> None:
    response = post(secure, hent(cprs=(UNKNOWN_CPR,), soap11=True), pki.pinned, SOAP11)
    assert response.headers["content-type"].startswith("text/xml")
    assert [p.fejl for p in svar(response).persons] == [14]
    ping = (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>'
        f'<h1:Ping xmlns:h1="{H1}"/></s:Body></s:Envelope>'
    ).encode()
    pong = post(secure, ping, pki.pinned)
    assert pong.status_code == 200
    assert (
        etree.fromstring(pong.content).findtext(".//h1:PingResponse/h1:Status", namespaces=NS)
        == "up"
    )


def test_the_read_back_wsdl_and_its_schemas_are_served(secure: Server) -> None:
    wsdl = httpx.get(secure.url + PATH + "?wsdl").content
    assert f'location="{secure.url}{PATH}"'.encode() in wsdl
    for name in ("hent-ipl.xsd", "hent.xsd", "udb.xsd"):
        assert httpx.get(secure.url + PATH + "?xsd=" + name).status_code == 200
    assert httpx.get(secure.url + PATH + "?xsd=ipl.xsd").status_code == 404


@pytest.mark.parametrize(
    "port", ["HentKontaktJobOgUddOenskerSoap12Port", "HentKontaktJobOgUddOenskerSoapPort"]
)
def test_zeep_reads_the_wsdl_and_calls_the_read_back(secure: Server, pki: Pki, port: str) -> None:
    report(secure, pki.pinned, ACCEPTED_CPR, "Zeep read-back")
    client = zeep.Client(secure.url + PATH + "?wsdl", wsse=wsse(pki.pinned, **SHA256))
    proxy = client.bind("HentKontaktJobOgUddOenskerService", port)
    secure.sent.update({ACCEPTED_CPR, KOEBENHAVN_CPR})
    answer = proxy.HentKontaktJobOgUddOensker(
        Identifier={"SystemName": SYSTEM, "SystemTransactionID": str(uuid.uuid4())},
        Message={
            "HentKontaktJobOgUddOenskerRequest": {
                "ModtagerSystemID": SYSTEM,
                "KommuneInstitutionNummer": INSTITUTION,
                "CPRNr": [ACCEPTED_CPR, KOEBENHAVN_CPR],
            }
        },
    )
    first, second = answer.Message.HentSvar.Person
    assert first.CPRNr == ACCEPTED_CPR and first.Fejl is None
    assert first.JobOnsker.JobOnsker == "Zeep read-back"
    assert first.JobOnsker.IndberettetAf == SYSTEM
    assert isinstance(first.KommuneKontakt.Modtaget, datetime)
    assert second.CPRNr == KOEBENHAVN_CPR and second.Fejl.FejlKode == 86
    assert proxy.Ping() == "up"
