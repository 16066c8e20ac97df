"""Interop proof: zeep signs with its own WS-Security plugin, the secure service answers.

A vendor's view of the service (:mod:`tests.e2e.interop`): certificates from
``udb dev-certs``, the client certificate pinned with ``udb systems add ... --cert``,
a real ``udb serve`` that requires signatures, the WSDL loaded from the running
server, and zeep's stock ``zeep.wsse.signature.BinarySignature`` doing the
signing (python-xmlsec under it). Nothing from ``udb.wssecurity`` is used on the client side.

What zeep needs besides ``BinarySignature`` (both are zeep's documented
extension points, the ``wsse`` plugin protocol ``apply``/``verify``, and are
the usual zeep recipe, python-zeep issues #996 and #997):

* a ``wsu:Timestamp``. ``BinarySignature`` signs a Timestamp it finds in the
  Security header but never adds one, and the service's policy
  (ipl-conventions.md, "WS-Security header") requires a signed Timestamp.
  ``Timestamp`` below adds it before ``BinarySignature`` signs; the two are
  chained with ``zeep.wsse.Compose``.
* no verification of the answer. zeep's wsse plugins also *verify* every
  response with the same certificate; the service's answers are not signed
  (the conventions specify signatures on requests only), so the stock plugin
  fails on every answer, even an accepted one (shown by a test below).
  ``RequestSignature`` is ``BinarySignature`` with ``verify`` turned off.

zeep's output is then accepted as it is: Signature first, then the
BinarySecurityToken, then the Timestamp in the Security header; ``id-<uuid>``
wsu:Ids; the wsu namespace declared on each element; KeyInfo as
SecurityTokenReference/Reference to the token; SignatureValue in lines of 64.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import xmlsec
import zeep
from lxml import etree
from zeep.exceptions import Fault, SignatureVerificationFailed
from zeep.wsse import BinarySignature, Compose
from zeep.wsse import utils as wsse_utils

from tests.e2e.conftest import Server
from tests.e2e.interop import (
    ACCEPTED_CPR,
    INSTITUTION,
    IPL,
    KOEBENHAVN_CPR,
    SYSTEM,
    UNKNOWN_CPR,
    Certs,
    Pki,
    find,
    make_pki,
    secure_server,
    show,
)

WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DS = "http://www.w3.org/2000/09/xmldsig#"
SERVICE = "IndberetningKontaktJobOgUddOenskerService"
SOAP12_PORT = "IndberetningKontaktJobOgUddOenskerSoap12Port"
SOAP11_PORT = "IndberetningKontaktJobOgUddOenskerSoapPort"
PORTS = [SOAP12_PORT, SOAP11_PORT]
SHA256 = {
    "signature_method": xmlsec.constants.TransformRsaSha256,
    "digest_method": xmlsec.constants.TransformSha256,
}


# zeep plugins -----------------------------------------------------------------


class Timestamp:
    """zeep wsse plugin: a ``wsu:Timestamp`` (Created, Expires) in the Security header.

    Put before ``BinarySignature``, which then signs it together with the Body.
    """

    def __init__(self, lifetime: timedelta = timedelta(minutes=5)) -> None:
        self.lifetime = lifetime

    def apply(self, envelope: Any, headers: Any) -> tuple[Any, Any]:
        created = datetime.now(UTC)
        security = wsse_utils.get_security_header(envelope)
        security.append(
            wsse_utils.WSU.Timestamp(
                wsse_utils.WSU.Created(wsse_utils.get_timestamp(created, zulu_timestamp=True)),
                wsse_utils.WSU.Expires(
                    wsse_utils.get_timestamp(created + self.lifetime, zulu_timestamp=True)
                ),
            )
        )
        return envelope, headers

    def verify(self, envelope: Any) -> Any:
        return envelope


class RequestSignature(BinarySignature):
    """zeep's ``BinarySignature``, signing requests only: the service's answers are unsigned."""

    def verify(self, envelope: Any) -> Any:
        return envelope


def wsse(certs: Certs, **methods: Any) -> Compose:
    """Timestamp, then zeep's BinarySignature with this client certificate."""
    return Compose([Timestamp(), RequestSignature(str(certs.key), str(certs.cert), **methods)])


# fixtures ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("zeep-pki"))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def secure(
    request: pytest.FixtureRequest, pki: Pki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server that requires signatures, on the demo data, with the pinned certificate."""
    with secure_server(pki, tmp_path_factory.mktemp("zeep-secure"), request.param) as server:
        yield server


class RecordingTransport(zeep.Transport):
    """zeep's transport, keeping each envelope exactly as zeep posts it (signed)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[bytes] = []

    def post_xml(self, address: str, envelope: Any, headers: Any) -> Any:
        self.sent.append(etree.tostring(envelope))
        return super().post_xml(address, envelope, headers)


def service(
    server: Server, wsse: Any, port: str = SOAP12_PORT, transport: zeep.Transport | None = None
) -> Any:
    """A zeep service proxy built from the WSDL the running server serves."""
    client = zeep.Client(server.endpoint + "?wsdl", wsse=wsse, transport=transport)
    return client.bind(SERVICE, port)


def report(server: Server, cpr: str, job: str, stid: str | None = None) -> dict[str, Any]:
    """Keyword arguments of the report operation: a contact person and a job wish."""
    registered = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
    contact = {"navn": "Zeep Kontaktperson", "mail": "zeep.kontakt@example.dk"}
    server.sent.update({cpr, contact["navn"], contact["mail"], job})  # never in the server log
    return {
        "Identifier": {"SystemName": SYSTEM, "SystemTransactionID": stid or str(uuid.uuid4())},
        "Message": {
            "IndberetningKontaktJobOgUddOenskerRequest": {
                "ModtagerSystemID": SYSTEM,
                "CPRNr": cpr,
                "KommuneInstitutionNummer": INSTITUTION,
                "KommuneKontakt": {
                    "KontaktNavn": contact["navn"],
                    "KontaktMail": contact["mail"],
                    "KontaktRegistreringstid": registered,
                },
                "JobOnsker": {"JobOnsker": job, "JobRegistreringstid": registered},
            }
        },
    }


def ipl_fault(raised: pytest.ExceptionInfo[Fault]) -> dict[str, str]:
    """The ServiceFaultDetailer of a fault zeep raised, as text by element name."""
    detail = raised.value.detail
    assert detail is not None
    detailer = detail.find(f"{{{IPL}}}ServiceFaultDetailer")
    assert detailer is not None, etree.tostring(detail)
    return {etree.QName(child).localname: child.text or "" for child in detailer}


def assert_zeeps_own_shape(sent: bytes) -> None:
    """What zeep posted is BinarySignature's own layout, not the service's signer's."""
    root = etree.fromstring(sent)
    security = root.find(f"*/{{{WSSE}}}Security")
    assert security is not None
    assert [etree.QName(child).localname for child in security] == [
        "Signature",
        "BinarySecurityToken",
        "Timestamp",
    ]
    body = root.find(f"{{{root.nsmap[root.prefix]}}}Body")
    assert body is not None and body.get(f"{{{WSU}}}Id", "").startswith("id-")
    methods = security.xpath(".//ds:SignatureMethod/@Algorithm", namespaces={"ds": DS})
    assert methods == ["http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"]


# accepted and rejected answers --------------------------------------------------


@pytest.mark.parametrize("port", PORTS)
def test_zeep_signed_report_is_accepted_and_stored(secure: Server, pki: Pki, port: str) -> None:
    job = f"Smed via zeep {port} {uuid.uuid4().hex[:8]}"
    stid = str(uuid.uuid4())
    before = show(secure, ACCEPTED_CPR)
    transport = RecordingTransport()
    proxy = service(secure, wsse(pki.pinned, **SHA256), port, transport)
    answer = proxy.IndberetningKontaktJobOgUddOensker(**report(secure, ACCEPTED_CPR, job, stid))
    assert_zeeps_own_shape(transport.sent[-1])
    assert answer.Message.IndberetningSvar.Ok is True
    assert answer.Message.IndberetningSvar.Fejl is None
    assert (answer.Identifier.SystemName, answer.Identifier.SystemTransactionID) == (SYSTEM, stid)
    after = show(secure, ACCEPTED_CPR)
    assert after["report_count"] == before["report_count"] + 1
    assert after["history_count"] == before["history_count"] + 2
    assert after["job"]["tekst"] == job
    assert after["kontakt"]["navn"] == "Zeep Kontaktperson"
    assert after["job"]["source"] == {
        "system": SYSTEM,
        "system_transaction_id": stid,
        "correlation_id": answer.CorrelationID,
        "received_at": after["job"]["source"]["received_at"],
    }
    log = secure.log()
    soap = "1.1" if port == SOAP11_PORT else "1.2"
    assert any(
        f"Indberetning accepted status=200 soap={soap}" in line
        and f"correlation_id={answer.CorrelationID}" in line
        for line in log.splitlines()
    )
    assert "SHA-1 signature accepted" not in log


@pytest.mark.parametrize("port", PORTS)
@pytest.mark.parametrize(
    ("cpr", "code", "text"),
    [
        (UNKNOWN_CPR, 14, "Den unge findes ikke i Ungedatabasen"),
        (KOEBENHAVN_CPR, 86, "Bruger må ikke indberette oplysninger om dette CPR-nummer"),
    ],
)
def test_zeep_signed_report_is_rejected_with_the_business_error(
    secure: Server, pki: Pki, port: str, cpr: str, code: int, text: str
) -> None:
    before = find(secure, cpr)
    answer = service(secure, wsse(pki.pinned, **SHA256), port).IndberetningKontaktJobOgUddOensker(
        **report(secure, cpr, f"Rejected wish {uuid.uuid4().hex[:8]}")
    )
    svar = answer.Message.IndberetningSvar
    assert (svar.Ok, svar.Fejl.FejlKode, svar.Fejl.FejlTekst) == (False, code, text)
    assert uuid.UUID(answer.CorrelationID)
    after = find(secure, cpr)
    if code == 14:
        assert before is None and after is None  # unknown, and still unknown
        return
    assert before is not None and after is not None
    # logged with its outcome, but nothing of it is kept
    assert (after["job"], after["kontakt"]) == (before["job"], before["kontakt"])
    assert after["history_count"] == before["history_count"]
    assert after["report_count"] == before["report_count"] + 1


@pytest.mark.parametrize("port", PORTS)
def test_zeep_signed_ping_answers_up(secure: Server, pki: Pki, port: str) -> None:
    assert service(secure, wsse(pki.pinned, **SHA256), port).Ping() == "up"


def test_zeeps_default_rsa_sha1_is_accepted_and_logged(secure: Server, pki: Pki) -> None:
    """zeep signs with RSA-SHA1 / SHA-1 unless told otherwise; the default policy allows it."""
    job = f"SHA-1 wish {uuid.uuid4().hex[:8]}"
    answer = service(secure, wsse(pki.pinned)).IndberetningKontaktJobOgUddOensker(
        **report(secure, ACCEPTED_CPR, job)
    )
    assert answer.Message.IndberetningSvar.Ok is True
    assert show(secure, ACCEPTED_CPR)["job"]["tekst"] == job
    assert any(
        "SHA-1 signature accepted (certificate " in line
        and f"correlation_id={answer.CorrelationID}" in line
        for line in secure.log().splitlines()
    )


# refusals ---------------------------------------------------------------------


@pytest.mark.parametrize("port", PORTS)
def test_zeep_signing_with_an_unpinned_certificate_is_access_denied(
    secure: Server, pki: Pki, port: str
) -> None:
    before = show(secure, ACCEPTED_CPR)
    proxy = service(secure, wsse(pki.stranger, **SHA256), port)
    with pytest.raises(Fault) as raised:
        proxy.IndberetningKontaktJobOgUddOensker(**report(secure, ACCEPTED_CPR, "Stranger wish"))
    assert raised.value.message == "Access denied"
    assert raised.value.code.partition(":")[2] == ("Client" if port == SOAP11_PORT else "Sender")
    detailer = ipl_fault(raised)
    assert detailer["ErrorCode"] == "IPL000004"
    assert "not registered" in detailer["Details"]
    assert uuid.UUID(detailer["CorrelationID"])
    after = show(secure, ACCEPTED_CPR)
    assert (after["job"], after["report_count"]) == (before["job"], before["report_count"])


def test_zeep_signing_with_a_certificate_of_an_untrusted_ca_is_a_security_error(
    secure: Server, pki: Pki
) -> None:
    proxy = service(secure, wsse(pki.untrusted, **SHA256))
    with pytest.raises(Fault) as raised:
        proxy.IndberetningKontaktJobOgUddOensker(**report(secure, ACCEPTED_CPR, "Untrusted wish"))
    assert raised.value.message == "Security error"
    detailer = ipl_fault(raised)
    assert detailer["ErrorCode"] == "IPL000003"
    assert "trust anchor" in detailer["Details"]


def test_zeep_without_a_timestamp_is_a_security_error(secure: Server, pki: Pki) -> None:
    """zeep's BinarySignature alone signs only the Body: the policy wants a signed Timestamp."""
    proxy = service(secure, RequestSignature(str(pki.pinned.key), str(pki.pinned.cert), **SHA256))
    with pytest.raises(Fault) as raised:
        proxy.Ping()
    detailer = ipl_fault(raised)
    assert detailer["ErrorCode"] == "IPL000003"
    assert "Timestamp is missing" in detailer["Details"]


def test_zeeps_stock_plugin_cannot_verify_the_unsigned_answer(secure: Server, pki: Pki) -> None:
    """Why ``RequestSignature`` turns verification off: the request is accepted, the answer
    carries no signature, and zeep's stock ``BinarySignature.verify`` refuses it."""
    job = f"Stock plugin wish {uuid.uuid4().hex[:8]}"
    stock = Compose(
        [Timestamp(), BinarySignature(str(pki.pinned.key), str(pki.pinned.cert), **SHA256)]
    )
    with pytest.raises(SignatureVerificationFailed):
        service(secure, stock).IndberetningKontaktJobOgUddOensker(
            **report(secure, ACCEPTED_CPR, job)
        )
    assert show(secure, ACCEPTED_CPR)["job"]["tekst"] == job  # the service did accept it
