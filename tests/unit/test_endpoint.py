"""The transport-independent SOAP endpoint over a real SQLite store."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from lxml import etree

from tests.unit.xmlsamples import (
    CPR,
    INSTITUTION,
    MAIL,
    NAME,
    PING_XML,
    SOAP11_CT,
    SOAP12_CT,
    SYSTEM,
    request,
)
from udb import ns, safexml
from udb.api.endpoint import Endpoint, Reply
from udb.config import Security
from udb.domain.model import Institution, Municipality, Person, PersonStatus
from udb.service.reports import ReportPolicy
from udb.storage import Store, open_store
from udb.storage.sqlite import SqliteStore

RECEIVED = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
CLOCK = datetime(2026, 11, 26, 10, 0, 1, tzinfo=UTC)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "t.sqlite3"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    store = open_store("sqlite:///" + str(db_path))
    store.migrate()
    with store.unit_of_work() as uow:
        uow.municipalities.upsert_many([Municipality(751, "Aarhus")])
        uow.institutions.upsert_many([Institution(INSTITUTION, 751, "KUI Aarhus")])
        uow.systems.add(SYSTEM, [INSTITUTION], RECEIVED)
        uow.persons.upsert_many(
            [Person(CPR, date(2008, 3, 15), PersonStatus.ACTIVE, 751)], RECEIVED
        )
        uow.commit()
    yield store
    store.close()


def _ids() -> Iterator[str]:
    for n in itertools.count(1):
        yield f"00000000-0000-4000-8000-{n:012d}"


@pytest.fixture
def endpoint(store: Store) -> Endpoint:
    ids = _ids()
    return Endpoint(
        store,
        ReportPolicy(),
        security=Security(required=False),  # unsigned requests: see test_secure_by_default
        clock=lambda: CLOCK,
        new_id=lambda: next(ids),
    )


def _body(reply: Reply) -> etree._Element:
    """The single child of the reply's SOAP Body."""
    root = safexml.parse(reply.body)
    (body,) = root
    (child,) = body
    return child


def _fault(reply: Reply) -> dict[str, str | None]:
    (detailer,) = safexml.parse(reply.body).iter(ns.qname(ns.IPL, "ServiceFaultDetailer"))
    return {etree.QName(e).localname: e.text for e in detailer}


def _envelope_ns(reply: Reply) -> str | None:
    return etree.QName(safexml.parse(reply.body)).namespace


def _ok(reply: Reply) -> str | None:
    return _body(reply).findtext(f".//{{{ns.UDB}}}Ok")


@pytest.mark.parametrize(
    ("content_type", "soap11", "expected_type"),
    [
        ("application/soap+xml; charset=utf-8", False, SOAP12_CT),
        ('application/soap+xml; action="x"', False, SOAP12_CT),
        ("application/soap+xml", False, SOAP12_CT),
        ("Application/SOAP+XML; charset=UTF-8", False, SOAP12_CT),
        ("text/xml", True, SOAP11_CT),
        ("text/xml; charset=utf-8", True, SOAP11_CT),
    ],
)
def test_accepted_content_types(
    endpoint: Endpoint, content_type: str, soap11: bool, expected_type: str
) -> None:
    reply = endpoint.post(request(soap11=soap11), content_type, RECEIVED)
    assert (reply.status, reply.content_type) == (200, expected_type)
    assert _envelope_ns(reply) == (ns.SOAP11_ENV if soap11 else ns.SOAP12_ENV)
    assert _ok(reply) == "true"


@pytest.mark.parametrize("content_type", [None, "", "application/json", "text/plain", "soap+xml"])
def test_unsupported_content_type_is_a_soap12_input_error(
    endpoint: Endpoint, content_type: str | None
) -> None:
    reply = endpoint.post(request(), content_type, RECEIVED)
    assert (reply.status, reply.content_type) == (400, SOAP12_CT)
    assert _envelope_ns(reply) == ns.SOAP12_ENV
    fault = _fault(reply)
    assert fault["ErrorCode"] == "IPL000002"
    assert "Content-Type" in (fault["Details"] or "")


@pytest.mark.parametrize(("content_type", "soap11"), [(SOAP12_CT, True), (SOAP11_CT, False)])
def test_envelope_of_the_other_version_is_an_input_error(
    endpoint: Endpoint, content_type: str, soap11: bool
) -> None:
    reply = endpoint.post(request(soap11=soap11), content_type, RECEIVED)
    # answered in the version the Content-Type asked for; SOAP 1.1 faults are HTTP 500
    assert reply.status == (400 if content_type == SOAP12_CT else 500)
    assert reply.content_type == content_type
    assert _fault(reply)["ErrorCode"] == "IPL000002"


@pytest.mark.parametrize("content_type", [SOAP12_CT, SOAP11_CT])
def test_ping_up(endpoint: Endpoint, content_type: str) -> None:
    body = PING_XML.encode()
    if content_type == SOAP11_CT:
        body = body.replace(ns.SOAP12_ENV.encode(), ns.SOAP11_ENV.encode())
    reply = endpoint.post(body, content_type, RECEIVED)
    assert (reply.status, reply.content_type) == (200, content_type)
    assert _body(reply).findtext(ns.qname(ns.IPL, "Status")) == "up"


def _replace_by_directory(store: Store, db_path: Path) -> None:
    store.close()
    for path in db_path.parent.glob(db_path.name + "*"):
        path.unlink()
    db_path.mkdir()


def _drop_schema_migrations(store: Store, db_path: Path) -> None:
    assert isinstance(store, SqliteStore)
    store.connection().execute("DROP TABLE schema_migrations")


@pytest.mark.parametrize("breaking", [_replace_by_directory, _drop_schema_migrations])
def test_ping_down_when_the_database_is_unusable(
    endpoint: Endpoint, store: Store, db_path: Path, breaking: object
) -> None:
    assert store.ping() is True
    breaking(store, db_path)  # type: ignore[operator]
    assert store.ping() is False
    reply = endpoint.post(PING_XML.encode(), SOAP12_CT, RECEIVED)
    assert reply.status == 200
    assert _body(reply).findtext(ns.qname(ns.IPL, "Status")) == "down"


def test_unexpected_exception_is_an_internal_error_without_its_message(
    endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret 0101901234")

    monkeypatch.setattr(endpoint, "submit", explode)
    reply = endpoint.post(request(), SOAP12_CT, RECEIVED)
    assert (reply.status, reply.content_type) == (500, SOAP12_CT)
    fault = _fault(reply)
    assert fault["ErrorCode"] == "IPL000001"
    assert fault["CorrelationID"] == reply.correlation_id
    assert "Details" not in fault
    assert b"secret" not in reply.body
    assert b"0101901234" not in reply.body
    (value,) = safexml.parse(reply.body).iter(ns.qname(ns.SOAP12_ENV, "Value"))
    assert value.text == "s:Receiver"


def test_unexpected_exception_in_soap11_is_server_fault(
    endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret 0101901234")

    monkeypatch.setattr(endpoint, "submit", explode)
    reply = endpoint.post(request(soap11=True), SOAP11_CT, RECEIVED)
    assert reply.status == 500
    assert safexml.parse(reply.body).findtext(".//faultcode") == "s:Server"
    assert b"0101901234" not in reply.body


SECRET_CPR = "0101901234"
SECRET_NAME = "Hemmelig Navnesen " * 6
SECRET_MAIL = "hemmelig.navnesen@" + "x" * 100 + ".dk"


@pytest.mark.parametrize(
    "edit",
    [
        {
            "replace": {
                "CPRNr": SECRET_CPR + "5",
                "KontaktNavn": SECRET_NAME,
                "KontaktMail": SECRET_MAIL,
            }
        },
        {"replace": {"CPRNr": SECRET_CPR[:9], "KontaktNavn": SECRET_NAME}},
        {"replace": {"KontaktMail": f"<udb:x{SECRET_CPR}>{SECRET_CPR}</udb:x{SECRET_CPR}>"}},
        {"replace": {"KontaktNavn": f"{SECRET_NAME}</udb:KontaktNavn><!-- {SECRET_CPR}"}},
        {"replace": {"KontaktNavn": f"&x{SECRET_CPR};"}},
    ],
    ids=["invalid-values", "short-cpr", "fake-element", "malformed", "entity"],
)
@pytest.mark.parametrize(("content_type", "soap11"), [(SOAP12_CT, False), (SOAP11_CT, True)])
def test_invalid_request_never_echoes_submitted_values(
    endpoint: Endpoint, edit: dict[str, object], content_type: str, soap11: bool
) -> None:
    reply = endpoint.post(request(soap11=soap11, **edit), content_type, RECEIVED)  # type: ignore[arg-type]
    assert reply.status == (500 if soap11 else 400)
    fault = _fault(reply)
    assert fault["ErrorCode"] == "IPL000002"
    assert fault["Details"]
    text = reply.body.decode("utf-8")
    for secret in (SECRET_CPR, SECRET_CPR[:9], "Hemmelig", "hemmelig", CPR, NAME, MAIL):
        assert secret not in text


def test_schema_details_list_each_violation(endpoint: Endpoint) -> None:
    edit = {"CPRNr": SECRET_CPR[:9], "KontaktNavn": SECRET_NAME}
    reply = endpoint.post(request(replace=edit), SOAP12_CT, RECEIVED)
    assert reply.status == 400
    assert _fault(reply)["Details"] == (
        "line 15, column 11: element CPRNr: value must be exactly 10 digits 0-9; "
        "line 18, column 13: element KontaktNavn: value is longer than the maximum length 100"
    )


def test_overflowing_registration_time_is_an_input_error(endpoint: Endpoint) -> None:
    edit = {"JobRegistreringstid": "0001-01-01T00:00:00+14:00"}
    reply = endpoint.post(request(replace=edit), SOAP12_CT, RECEIVED)
    assert reply.status == 400
    assert _fault(reply)["ErrorCode"] == "IPL000002"


def test_each_exchange_gets_a_fresh_correlation_id(endpoint: Endpoint) -> None:
    first = endpoint.post(request(), SOAP12_CT, RECEIVED)
    second = endpoint.post(request(), SOAP12_CT, RECEIVED)
    fault = endpoint.post(b"not xml", SOAP12_CT, RECEIVED)
    ids = [first.correlation_id, second.correlation_id, fault.correlation_id]
    assert ids == [
        "00000000-0000-4000-8000-000000000001",
        "00000000-0000-4000-8000-000000000002",
        "00000000-0000-4000-8000-000000000003",
    ]
    for reply in (first, second):
        assert _body(reply).findtext(ns.qname(ns.IPL, "CorrelationID")) == reply.correlation_id
        assert _ok(reply) == "true"  # the repeat gets the original answer
    assert _fault(fault)["CorrelationID"] == fault.correlation_id


def test_fault_timestamp_comes_from_the_clock(endpoint: Endpoint) -> None:
    reply = endpoint.post(b"<a>", SOAP12_CT, RECEIVED)
    assert _fault(reply)["Timestamp"] == "2026-11-26T11:00:01.000+01:00"


def test_business_rejection_is_answered_not_faulted(endpoint: Endpoint) -> None:
    reply = endpoint.post(request(replace={"CPRNr": "3112991234"}), SOAP12_CT, RECEIVED)
    assert reply.status == 200
    assert _ok(reply) == "false"
    assert _body(reply).findtext(f".//{{{ns.UDB}}}FejlKode") == "14"


def test_access_denied_for_unknown_system(endpoint: Endpoint) -> None:
    edit = {"SystemName": "Ukendt", "ModtagerSystemID": "Ukendt"}
    reply = endpoint.post(request(replace=edit), SOAP12_CT, RECEIVED)
    assert reply.status == 400
    assert _fault(reply)["ErrorCode"] == "IPL000004"


def test_too_large(endpoint: Endpoint) -> None:
    reply = endpoint.too_large(SOAP11_CT, 65536, RECEIVED)
    assert (reply.status, reply.content_type) == (413, SOAP11_CT)
    assert _fault(reply)["ErrorCode"] == "IPL000006"


def test_secure_by_default_an_unsigned_request_is_ipl000003(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = open_store("sqlite:///" + str(tmp_path / "secure.sqlite3"))
    store.migrate()
    reply = Endpoint(store, ReportPolicy(), clock=lambda: CLOCK).post(
        request(), SOAP12_CT, received_at=RECEIVED
    )
    store.close()
    assert reply.status == 400
    assert b"<ErrorCode>IPL000003</ErrorCode>" in reply.body
    assert b"no WS-Security header" in reply.body
