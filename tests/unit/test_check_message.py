"""``udb check-message`` against a corpus of broken messages, each named.

Every message is built from the signed sample request of the WS-Security tests
(:mod:`tests.unit.wssamples`, certificates valid around :data:`NOW`), broken in
one way (or a few independent ways), and checked through the command with
click's CliRunner: the exact lines and the exit status. Then the same messages
go to the service's endpoint (SQLite, the test client's certificate pinned): its
answer is the first problem the checker lists, in the same words.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from tests.support import SYSTEM, seeded_store
from tests.unit import wssamples as ws
from tests.unit.wssamples import NOW, mutated, part, resigned, signed
from tests.unit.xmlsamples import PING_XML, SOAP11_CT, SOAP12_CT, position, request
from udb import ns, safexml
from udb.api.check import check
from udb.api.endpoint import Endpoint
from udb.cli import main
from udb.config import Security
from udb.service.reports import ReportPolicy
from udb.storage import Store
from udb.wssecurity.certs import fingerprint, pinned

HOUR = timedelta(hours=1)
OK_REPORT = (
    "OK: the service would refuse nothing here before its register, which decides 14, 86 "
    "and 15, and whether the certificate is pinned to SystemName (IPL000004)"
)
OK_PING = (
    "OK: the service would answer this Ping (up, or down without its database) if the "
    "certificate is pinned to a client system (else IPL000004)"
)
TEXT_280 = "Registreringstid for kontakt, uddannelses- eller jobønsker må ikke fremdateres"
NOT_VALID = (
    "note: ModtagerSystemID, the CPR number and the registration times are checked once "
    "the Body is valid"
)


def where(data: bytes, needle: str) -> str:
    """``line L, column C`` of ``needle``'s first occurrence in ``data``."""
    line, column = position(data.decode("utf-8"), needle)
    return f"line {line}, column {column}"


def good() -> bytes:
    return signed()


def signed_report(**replace: str) -> bytes:
    return signed(envelope=request(replace=replace))


def _body_changed(root: etree._Element) -> None:
    job = root.find(f".//{{{ns.UDB}}}JobOnsker/{{{ns.UDB}}}JobOnsker")
    assert job is not None
    job.text = "Maler"


def _signature_value_broken(root: etree._Element) -> None:
    value = part(root, "SignatureValue")
    raw = bytearray(base64.b64decode("".join((value.text or "").split())))
    raw[10] ^= 0x01
    value.text = base64.b64encode(bytes(raw)).decode("ascii")


def _body_reference_removed(root: etree._Element) -> None:
    for reference in part(root, "SignedInfo").iter(ns.qname(ns.DS, "Reference")):
        if reference.get("URI") == "#BodyRef":
            reference.getparent().remove(reference)  # type: ignore[union-attr]


def _timestamp_removed(root: etree._Element) -> None:
    timestamp = part(root, "Timestamp")
    timestamp.getparent().remove(timestamp)  # type: ignore[union-attr]


def _schema_broken_after_signing(root: etree._Element) -> None:
    (name,) = root.iter(ns.qname(ns.UDB, "KontaktNavn"))
    name.text = "x" * 101


@dataclass(frozen=True)
class Case:
    name: str
    message: Callable[[], bytes]
    #: the lines expected; a callable gets the message (for line and column)
    lines: Callable[[bytes], list[str]]
    at: datetime = NOW
    content_type: str | None = SOAP12_CT
    cert: Callable[[], ws.Identity] | None = None
    #: the endpoint's answer is the checker's first problem (False: the register decides)
    service_agrees: bool = True

    @property
    def exit_code(self) -> int:
        return 0 if self.lines(self.message())[-1].startswith("OK") else 1


CORPUS = [
    Case("good", good, lambda _: [OK_REPORT], service_agrees=False),
    Case(
        "good-soap11",
        lambda: signed(soap11=True),
        lambda _: [OK_REPORT],
        content_type=SOAP11_CT,
        service_agrees=False,
    ),
    Case(
        "good-ping",
        lambda: signed(envelope=PING_XML.encode()),
        lambda _: [OK_PING],
        service_agrees=False,
    ),
    Case(
        "no-content-type-given",
        lambda: signed(soap11=True),
        lambda _: [
            "note: no --content-type given: SOAP 1.1 (text/xml) assumed from the envelope's "
            "namespace",
            OK_REPORT,
        ],
        content_type=None,
        service_agrees=False,
    ),
    Case(
        "sha1-is-a-warning",
        lambda: signed(digest="sha1"),
        lambda _: [
            "warning: the signature uses SHA-1: the service accepts it unless its operator turns "
            "SHA-1 off (UDB_WSSE_ALLOW_SHA1=false), and logs each use; sign with RSA-SHA256",
            OK_REPORT,
        ],
        service_agrees=False,
    ),
    Case(
        "ping-with-content",
        lambda: signed(envelope=PING_XML.replace("/>", ">up</v1:Ping>", 1).encode()),
        lambda data: [f"IPL000002 {where(data, '<v1:Ping')}: element Ping: must be empty"],
    ),
    Case(
        "not-well-formed",
        lambda: good().replace(b"</s:Envelope>", b""),
        lambda data: [
            f"IPL000002 line {_last_line(data)}, column 1: the request is not well-formed XML: "
            "an element is not closed"
        ],
    ),
    Case(
        "soap11-envelope-with-soap12-content-type",
        lambda: signed(soap11=True),
        lambda _: [
            "IPL000002 line 2, column 1: a SOAP 1.1 envelope was sent with the SOAP 1.2 content "
            "type application/soap+xml"
        ],
    ),
    Case(
        "soap12-envelope-with-soap11-content-type",
        good,
        lambda _: [
            "IPL000002 line 2, column 1: a SOAP 1.2 envelope was sent with the SOAP 1.1 content "
            "type text/xml"
        ],
        content_type=SOAP11_CT,
    ),
    Case(
        "unsupported-content-type",
        good,
        lambda _: [
            "IPL000002 line 1, column 1: unsupported Content-Type; send application/soap+xml "
            "(SOAP 1.2) or text/xml (SOAP 1.1)"
        ],
        content_type="application/json",
    ),
    Case(
        "schema-violations",
        lambda: signed_report(KontaktNavn="x" * 101, KontaktTelefon="45 20 30 40"),
        lambda data: [
            f"IPL000002 {where(data, '<udb:KontaktNavn')}: element KontaktNavn: value is longer "
            "than the maximum length 100",
            f"IPL000002 {where(data, '<udb:KontaktTelefon')}: element KontaktTelefon: value must "
            "be a number of at most 10 digits 0-9",
            NOT_VALID,
        ],
    ),
    Case(
        "cpr-number-of-nine-digits",
        lambda: signed_report(CPRNr="150308123"),
        lambda data: [
            f"IPL000002 {where(data, '<udb:CPRNr')}: element CPRNr: value must be exactly "
            "10 digits 0-9",
            NOT_VALID,
        ],
    ),
    Case(
        "cpr-number-without-a-date",
        lambda: signed_report(CPRNr="3102081234"),
        lambda _: [
            "14 Den unge findes ikke i Ungedatabasen (CPRNr 310208-****: its first six digits "
            "are no date, so no register holds it)"
        ],
    ),
    Case(
        "system-name-is-not-modtager-system-id",
        lambda: signed_report(ModtagerSystemID="Vejledningssystem-Odense"),
        lambda _: ["IPL000004 ModtagerSystemID must equal Identifier/SystemName"],
    ),
    Case(
        "registration-time-after-at",
        lambda: signed_report(CPRNr="1503084232", JobRegistreringstid="2026-11-26T13:00:01"),
        lambda _: [f"280 {TEXT_280} (JobRegistreringstid after 2026-11-26T13:00:00+01:00)"],
    ),
    Case(
        "unsigned",
        lambda: request(),
        lambda _: [
            "IPL000003 the request has no WS-Security header: sign it with the system's certificate"
        ],
    ),
    Case(
        "timestamp-missing",
        lambda: mutated(good(), _timestamp_removed),
        lambda _: ["IPL000003 the Timestamp is missing"],
    ),
    Case(
        "no-reference-to-the-body",
        lambda: resigned(good(), _body_reference_removed),
        lambda _: ["IPL000003 the Body is not signed"],
    ),
    Case(
        "body-changed-after-signing",
        lambda: mutated(good(), _body_changed),
        lambda _: ["IPL000003 the signature does not verify"],
    ),
    Case(
        "signature-value-broken",
        lambda: mutated(good(), _signature_value_broken),
        lambda _: ["IPL000003 the signature does not verify"],
    ),
    Case(
        "timestamp-expired-at",
        good,
        lambda _: ["IPL000003 the Timestamp has expired"],
        at=NOW + HOUR,
    ),
    Case(
        "timestamp-created-in-the-future",
        good,
        lambda _: ["IPL000003 the Timestamp is not yet valid (Created is in the future)"],
        at=NOW - HOUR,
    ),
    Case(
        "certificate-expired",
        lambda: signed(identity=ws.expired_client()),
        lambda _: ["IPL000003 the signing certificate is expired"],
    ),
    Case(
        "certificate-not-yet-valid",
        lambda: signed(identity=ws.future_client()),
        lambda _: ["IPL000003 the signing certificate is not yet valid"],
    ),
    Case(
        "certificate-other-than-cert",
        lambda: signed(identity=ws.self_signed()),
        lambda _: [
            "IPL000004 the signing certificate is not registered to a client system (the "
            f"message's certificate has SHA-256 {_short(ws.self_signed())}…, --cert's "
            f"{_short(ws.client())}…)"
        ],
        cert=ws.client,
    ),
    Case(
        "body-too-large",
        lambda: good() + b"<!--" + b"x" * 65536 + b"-->",
        lambda _: ["IPL000006 the request body is larger than 65536 bytes"],
        service_agrees=False,  # the HTTP layer refuses it before the endpoint
    ),
    Case(
        "signature-broken-and-schema-violated",
        lambda: mutated(good(), _schema_broken_after_signing),
        lambda data: [
            "IPL000003 the signature does not verify",
            f"IPL000002 {where(data, '<udb:KontaktNavn')}: element KontaktNavn: value is longer "
            "than the maximum length 100",
            NOT_VALID,
        ],
    ),
    Case(
        "expired-unpinned-wrong-name-no-date-future-time",
        lambda: signed(
            identity=ws.self_signed(),
            envelope=request(
                replace={
                    "ModtagerSystemID": "Vejledningssystem-Odense",
                    "CPRNr": "3102081234",
                    "KontaktRegistreringstid": "2026-11-27T09:00:00+01:00",
                    "UddannelseRegistreringstid": "2026-11-27T09:00:00",
                }
            ),
        ),
        lambda _: [
            "IPL000003 the Timestamp has expired",
            "IPL000004 the signing certificate is not registered to a client system (the "
            f"message's certificate has SHA-256 {_short(ws.self_signed())}…, --cert's "
            f"{_short(ws.client())}…)",
            "IPL000004 ModtagerSystemID must equal Identifier/SystemName",
            "14 Den unge findes ikke i Ungedatabasen (CPRNr 310208-****: its first six digits "
            "are no date, so no register holds it)",
            f"280 {TEXT_280} (KontaktRegistreringstid, UddannelseRegistreringstid after "
            "2026-11-26T14:00:00+01:00)",
        ],
        at=NOW + HOUR,
        cert=ws.client,
    ),
]


def _short(identity: ws.Identity) -> str:
    return fingerprint(identity.certificate)[:16]


def _last_line(data: bytes) -> int:
    return data.count(b"\n") + 1


def _args(case: Case, message: Path, tmp_path: Path) -> list[str]:
    args = ["check-message", str(message), "--at", case.at.isoformat()]
    if case.content_type is not None:
        args += ["--content-type", case.content_type]
    if case.cert is not None:
        pem = tmp_path / "pinned.pem"
        pem.write_bytes(case.cert().cert_pem)
        args += ["--cert", str(pem)]
    return args


@pytest.mark.parametrize("case", CORPUS, ids=[case.name for case in CORPUS])
def test_check_message_names_each_problem_in_the_services_words(case: Case, tmp_path: Path) -> None:
    data = case.message()
    path = tmp_path / "message.xml"
    path.write_bytes(data)
    result = CliRunner().invoke(main, _args(case, path, tmp_path))
    assert result.output.splitlines() == case.lines(data)
    assert result.exit_code == case.exit_code


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = seeded_store("sqlite:///" + str(tmp_path / "check.sqlite3"))
    with store.unit_of_work() as uow:
        system = uow.systems.get(SYSTEM)
        assert system is not None
        uow.systems.add_certificate(system.id, pinned(ws.client().certificate, NOW))
        uow.commit()
    yield store
    store.close()


def _answer(body: bytes) -> tuple[str, str]:
    """The endpoint's ErrorCode and Details, or FejlKode and FejlTekst."""
    root = safexml.parse(body)
    detailer = root.find(f".//{{{ns.IPL}}}ServiceFaultDetailer")
    if detailer is not None:
        return detailer.findtext(f"{{{ns.IPL}}}ErrorCode") or "", (
            detailer.findtext(f"{{{ns.IPL}}}Details") or ""
        )
    return root.findtext(f".//{{{ns.UDB}}}FejlKode") or "", (
        root.findtext(f".//{{{ns.UDB}}}FejlTekst") or ""
    )


AGREEING = [case for case in CORPUS if case.service_agrees]


@pytest.mark.parametrize("case", AGREEING, ids=[case.name for case in AGREEING])
def test_the_service_answers_the_first_problem_the_checker_lists(case: Case, store: Store) -> None:
    data = case.message()
    content_type = case.content_type or SOAP12_CT
    pinned_certificate = case.cert().certificate if case.cert is not None else None
    found = check(data, at=case.at, content_type=content_type, certificate=pinned_certificate)
    first = found.problems[0]
    endpoint = Endpoint(store, ReportPolicy(), security=Security(), clock=lambda: case.at)
    code, text = _answer(endpoint.post(data, content_type, case.at).body)
    assert code == first.code
    assert first.text.startswith(text) or text.startswith(first.text)
