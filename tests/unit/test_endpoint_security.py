"""The request path's authentication at the endpoint: every operation alike, faults from one table.

The endpoint requires WS-Security here (as ``udb serve`` does by default), on a
seeded SQLite store with the test client's certificate pinned to the system.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from lxml import etree

from tests.support import SYSTEM, seeded_store
from tests.unit import wssamples as ws
from tests.unit.wssamples import NOW, mutated, signed
from tests.unit.xmlsamples import PING_XML, SOAP11_CT, SOAP12_CT, request
from udb import ns, safexml
from udb.api.endpoint import Endpoint, Reply
from udb.config import Security
from udb.service.reports import ReportPolicy
from udb.storage import Store
from udb.storage.base import StorageError
from udb.wssecurity.certs import pinned

PING = PING_XML.encode()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = seeded_store("sqlite:///" + str(tmp_path / "secure.sqlite3"))
    with store.unit_of_work() as uow:
        system = uow.systems.get(SYSTEM)
        assert system is not None
        uow.systems.add_certificate(system.id, pinned(ws.client().certificate, NOW))
        uow.commit()
    yield store
    store.close()


def endpoint(store: Store, *, required: bool = True) -> Endpoint:
    return Endpoint(store, ReportPolicy(), security=Security(required=required), clock=lambda: NOW)


def post(endpoint: Endpoint, body: bytes, content_type: str = SOAP12_CT) -> Reply:
    return endpoint.post(body, content_type, NOW)


def fault(reply: Reply) -> dict[str, str | None]:
    (detailer,) = safexml.parse(reply.body).iter(ns.qname(ns.IPL, "ServiceFaultDetailer"))
    return {etree.QName(e).localname: e.text for e in detailer}


def status_of(reply: Reply) -> str | None:
    assert reply.status == 200, reply.body
    return safexml.parse(reply.body).findtext(f".//{{{ns.IPL}}}Status")


# Ping: the same authentication as a report ------------------------------------------------


@pytest.mark.parametrize("soap11", [False, True])
def test_a_signed_ping_from_the_pinned_certificate_is_up(store: Store, soap11: bool) -> None:
    body = PING.replace(ns.SOAP12_ENV.encode(), ns.SOAP11_ENV.encode()) if soap11 else PING
    reply = post(endpoint(store), signed(envelope=body), SOAP11_CT if soap11 else SOAP12_CT)
    assert status_of(reply) == "up"


@pytest.mark.parametrize("required", [True, False], ids=["secure", "insecure-dev-mode"])
def test_a_signed_ping_with_an_unpinned_certificate_is_access_denied(
    store: Store, required: bool
) -> None:
    reply = post(
        endpoint(store, required=required), signed(envelope=PING, identity=ws.self_signed())
    )
    assert reply.status == 400
    f = fault(reply)
    assert f["ErrorCode"] == "IPL000004"
    assert f["Details"] == "the signing certificate is not registered to a client system"


def test_a_replayed_signed_ping_is_a_security_error(store: Store) -> None:
    service = endpoint(store)
    body = signed(envelope=PING)
    assert status_of(post(service, body)) == "up"
    replay = post(service, body)
    assert replay.status == 400
    assert fault(replay)["ErrorCode"] == "IPL000003"
    assert "replay refused" in (fault(replay)["Details"] or "")


def test_a_ping_and_a_report_share_the_replay_cache(store: Store) -> None:
    service = endpoint(store)
    report = signed()
    assert post(service, report).status == 200
    assert fault(post(service, report))["ErrorCode"] == "IPL000003"
    ping = signed(envelope=PING)
    assert status_of(post(service, ping)) == "up"
    assert fault(post(service, ping))["ErrorCode"] == "IPL000003"


def test_an_unsigned_ping_is_refused_when_signatures_are_required(store: Store) -> None:
    f = fault(post(endpoint(store), PING))
    assert f["ErrorCode"] == "IPL000003"
    assert f["Details"] == (
        "the request has no WS-Security header: sign it with the system's certificate"
    )


def test_an_unsigned_ping_answers_in_insecure_dev_mode(store: Store) -> None:
    assert status_of(post(endpoint(store, required=False), PING)) == "up"


class _Unreachable:
    """A store whose database does not answer (as in an outage)."""

    def ping(self) -> bool:
        return False

    def unit_of_work(self, **options: object) -> object:
        raise StorageError("the database is unreachable")


def test_a_signed_ping_answers_down_when_the_database_is_unreachable() -> None:
    service = endpoint(_Unreachable())  # type: ignore[arg-type]
    assert status_of(post(service, signed(envelope=PING))) == "down"
    assert status_of(post(service, signed(envelope=PING, identity=ws.self_signed()))) == "down"


# The order of the steps: signed requests are verified before their structure is checked ----


def _second_body(root: etree._Element) -> None:
    body = root[1]
    body.addprevious(copy.deepcopy(body))


def test_a_second_body_is_signature_wrapping_when_signed_and_an_input_error_when_not(
    store: Store,
) -> None:
    service = endpoint(store, required=False)
    wrapped = fault(post(service, mutated(signed(), _second_body)))
    assert (wrapped["ErrorCode"], wrapped["Details"]) == (
        "IPL000003",
        "the envelope must have exactly one Body",
    )
    unsigned = fault(post(service, mutated(request(), _second_body)))
    assert unsigned["ErrorCode"] == "IPL000002"
    assert "the envelope must hold an optional Header and then one Body" in (
        unsigned["Details"] or ""
    )


def test_an_unsigned_invalid_request_is_an_input_error_even_where_signatures_are_required(
    store: Store,
) -> None:
    f = fault(post(endpoint(store), request(replace={"CPRNr": "12345"})))
    assert f["ErrorCode"] == "IPL000002"
    assert "CPRNr" in (f["Details"] or "")


def test_a_signed_request_with_its_security_header_removed_is_unsigned(store: Store) -> None:
    def strip(root: etree._Element) -> None:
        security = root[0][0]
        root[0].remove(security)

    f = fault(post(endpoint(store), mutated(signed(), strip)))
    assert f["ErrorCode"] == "IPL000003"
    assert "no WS-Security header" in (f["Details"] or "")


def test_a_signed_request_with_an_invalid_payload_is_refused_after_verification(
    store: Store,
) -> None:
    body = signed(envelope=request(replace={"CPRNr": "12345"}))
    assert fault(post(endpoint(store), body))["ErrorCode"] == "IPL000002"
    tampered = body.replace(b"Mette", b"Mitte")
    assert fault(post(endpoint(store), tampered))["ErrorCode"] == "IPL000003"


# One log line per request -----------------------------------------------------------------


def test_one_log_line_per_request(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="udb.api.endpoint")
    service = endpoint(store)
    ping = post(service, signed(envelope=PING))
    later = NOW + timedelta(seconds=1)  # the same key signs: another Timestamp, another signature
    refused = post(service, signed(envelope=PING, identity=ws.self_signed(), created=later))
    lines = [r.getMessage() for r in caplog.records if r.name == "udb.api.endpoint"]
    assert len(lines) == 2
    assert lines[0].startswith("Ping up status=200 soap=1.2 ")
    assert lines[0].endswith(f"ms correlation_id={ping.correlation_id}")
    assert lines[1].startswith("Ping fault IPL000004 status=400 soap=1.2 ")
    assert lines[1].endswith(f"correlation_id={refused.correlation_id}")
