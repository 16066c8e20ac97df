"""Interop proof: node-soap, a second real client, signs at its default settings and is served.

``tests/node/send.mjs`` makes one call with node-soap 1.13 (``tests/node/package.json``
and its lock file; ``make node`` installs them) and ``new soap.WSSecurityCert(key,
cert, password)``, nothing else set: RSA-SHA256 and SHA-256, a Timestamp of 10
minutes, plain ``Id="_0"`` attributes (xml-crypto's default ``idMode``) and the
transforms enveloped-signature then exclusive C14N on each Reference. The server
is the vendor's set-up of :mod:`tests.e2e.interop`, on SQLite and PostgreSQL.

What a Node program sees: answers parsed by node-soap from the WSDL, with
``Ok`` as the string ``"true"``/``"false"`` and ``FejlKode`` as a string; faults
as ``error.root.Envelope.Body.Fault`` in the shape of their SOAP version.

Without ``node`` the tests are skipped, with the reason, unless ``CI`` is set:
then they fail, as they do when node is present and ``make node`` was not run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree

from tests.e2e.conftest import SOAP11, SOAP12, Server
from tests.e2e.interop import (
    ACCEPTED_CPR,
    INSTITUTION,
    KOEBENHAVN_CPR,
    OVER_25_CPR,
    SYSTEM,
    UNKNOWN_CPR,
    Certs,
    Pki,
    find,
    make_pki,
    secure_server,
    show,
)

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
SCRIPT = NODE_DIR / "send.mjs"
VERSIONS = ["1.2", "1.1"]
DS = "http://www.w3.org/2000/09/xmldsig#"
ENVELOPED = DS + "enveloped-signature"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPE_NS = {
    "1.2": "http://www.w3.org/2003/05/soap-envelope",
    "1.1": "http://schemas.xmlsoap.org/soap/envelope/",
}


def _node() -> str:
    """The ``node`` executable; skip (fail in CI) without it, fail without node-soap."""
    node = shutil.which("node")
    if node is None:
        reason = "node is not installed (apt-get install nodejs npm, then make node)"
        if os.environ.get("CI"):
            pytest.fail(reason + "; the node-soap tests are mandatory in CI")
        pytest.skip(reason)
    if not (NODE_DIR / "node_modules" / "soap" / "package.json").is_file():
        pytest.fail("node-soap is not installed in tests/node: run make node (npm ci)")
    return node


# fixtures ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def node() -> str:
    return _node()


@pytest.fixture(scope="module")
def pki(node: str, tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("node-pki"))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def secure(
    request: pytest.FixtureRequest, pki: Pki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server that requires signatures, on the demo data, with the pinned certificate."""
    with secure_server(pki, tmp_path_factory.mktemp("node-secure"), request.param) as server:
        yield server


# the client -------------------------------------------------------------------


def send(
    node: str, server: Server, certs: Certs, version: str, operation: str, args: dict[str, Any]
) -> dict[str, Any]:
    """One call by ``send.mjs``: ``{"result": ...}`` or ``{"fault": ..., "status": ...}``,
    each with ``request``, the signed XML node-soap sent."""
    done = subprocess.run(
        [
            *(node, str(SCRIPT), server.endpoint + "?wsdl", server.endpoint),
            *(str(certs.key), str(certs.cert), version),
        ],
        input=json.dumps({"operation": operation, "args": args}),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=NODE_DIR,
        env={**os.environ, "NODE_NO_WARNINGS": "1"},
    )
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)
    assert isinstance(output, dict)
    return output


def report(
    server: Server, cpr: str, job: str, stid: str | None = None, *, future: bool = False
) -> dict[str, Any]:
    """The report operation's arguments, as node-soap takes them: a contact and a job wish."""
    registered = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
    if future:
        registered += timedelta(days=1)
    contact = {"navn": "Node Kontaktperson", "mail": "node.kontakt@example.dk"}
    server.sent.update({cpr, contact["navn"], contact["mail"], job})  # never in the server log
    when = registered.isoformat().replace("+00:00", "Z")
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
                    "KontaktRegistreringstid": when,
                },
                "JobOnsker": {"JobOnsker": job, "JobRegistreringstid": when},
            }
        },
    }


def fault_detail(output: dict[str, Any], version: str) -> dict[str, Any]:
    """The ServiceFaultDetailer of a fault node-soap parsed; checks the fault's shape."""
    assert "fault" in output, output.get("result")
    fault = output["fault"]
    if version == "1.2":
        assert output["status"] == 400
        assert fault["Code"]["Value"].partition(":")[2] == "Sender"
        detail = fault["Detail"]["ServiceFaultDetailer"]
        assert fault["Reason"]["Text"]["$value"] == _REASONS[detail["ErrorCode"]]
    else:
        assert output["status"] == 500
        assert fault["faultcode"].partition(":")[2] == "Client"
        detail = fault["detail"]["ServiceFaultDetailer"]
        assert fault["faultstring"] == _REASONS[detail["ErrorCode"]]
    assert isinstance(detail, dict)
    assert uuid.UUID(detail["CorrelationID"])
    return detail


_REASONS = {
    "IPL000003": "Security error",
    "IPL000004": "Access denied",
    "IPL000005": "Input error",
}


def assert_node_soaps_default_shape(request: str, version: str) -> None:
    """What node-soap sent is its own default signature, the one the service used to refuse."""
    root = etree.fromstring(request.encode("utf-8"))
    assert etree.QName(root).namespace == ENVELOPE_NS[version]
    body = root.find(f"{{{ENVELOPE_NS[version]}}}Body")
    assert body is not None and body.get("Id") == "_0"  # plain Id, no wsu:Id
    assert [name for name in body.attrib if name != "Id"] == []
    transforms = root.xpath(
        "//ds:Reference/ds:Transforms/ds:Transform/@Algorithm", namespaces={"ds": DS}
    )
    assert transforms == [ENVELOPED, EXC_C14N] * 2
    methods = root.xpath("//ds:SignatureMethod/@Algorithm", namespaces={"ds": DS})
    assert methods == ["http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"]


# accepted and rejected answers --------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_node_soap_default_signature_is_accepted_and_stored(
    node: str, secure: Server, pki: Pki, version: str
) -> None:
    job = f"Smed via node-soap {version} {uuid.uuid4().hex[:8]}"
    stid = str(uuid.uuid4())
    before = show(secure, ACCEPTED_CPR)
    output = send(
        node, secure, pki.pinned, version, "IndberetningKontaktJobOgUddOensker",
        report(secure, ACCEPTED_CPR, job, stid),
    )  # fmt: skip
    assert_node_soaps_default_shape(output["request"], version)
    answer = output["result"]
    assert answer["Message"]["IndberetningSvar"] == {"Ok": "true"}  # a string, not a boolean
    assert answer["Identifier"] == {"SystemName": SYSTEM, "SystemTransactionID": stid}
    after = show(secure, ACCEPTED_CPR)
    assert after["report_count"] == before["report_count"] + 1
    assert after["job"]["tekst"] == job
    assert after["kontakt"]["navn"] == "Node Kontaktperson"
    assert after["job"]["source"]["system_transaction_id"] == stid
    assert after["job"]["source"]["correlation_id"] == answer["CorrelationID"]
    assert any(
        f"Indberetning accepted status=200 soap={version}" in line
        and f"correlation_id={answer['CorrelationID']}" in line
        for line in secure.log().splitlines()
    )


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("cpr", "future", "code", "text"),
    [
        (UNKNOWN_CPR, False, "14", "Den unge findes ikke i Ungedatabasen"),
        (KOEBENHAVN_CPR, False, "86", "Bruger må ikke indberette oplysninger om dette CPR-nummer"),
        (OVER_25_CPR, False, "15", "Aldersgrænse overskredet"),
        (ACCEPTED_CPR, True, "280", "Registreringstid for kontakt, uddannelses- eller "
         "jobønsker må ikke fremdateres"),
    ],
    ids=["14", "86", "15", "280"],
)  # fmt: skip
def test_node_soap_report_is_rejected_with_the_business_error(
    node: str, secure: Server, pki: Pki, version: str, cpr: str, future: bool, code: str, text: str
) -> None:
    before = find(secure, cpr)
    job = f"Rejected node wish {uuid.uuid4().hex[:8]}"
    output = send(
        node, secure, pki.pinned, version, "IndberetningKontaktJobOgUddOensker",
        report(secure, cpr, job, future=future),
    )  # fmt: skip
    svar = output["result"]["Message"]["IndberetningSvar"]
    assert svar["Ok"] == "false"  # the string "false": truthy in JavaScript
    assert (svar["Fejl"]["FejlKode"], svar["Fejl"]["FejlTekst"]) == (code, text)
    after = find(secure, cpr)
    if before is None:
        assert after is None  # unknown, and still unknown
        return
    assert after is not None
    assert (after["job"], after["kontakt"]) == (before["job"], before["kontakt"])


@pytest.mark.parametrize("version", VERSIONS)
def test_node_soap_ping_answers_up(node: str, secure: Server, pki: Pki, version: str) -> None:
    output = send(node, secure, pki.pinned, version, "Ping", {})
    assert output["result"] == {"Status": "up"}


# faults -------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_node_soap_with_an_unpinned_certificate_gets_an_access_denied_fault(
    node: str, secure: Server, pki: Pki, version: str
) -> None:
    before = show(secure, ACCEPTED_CPR)
    output = send(
        node, secure, pki.stranger, version, "IndberetningKontaktJobOgUddOensker",
        report(secure, ACCEPTED_CPR, "Stranger node wish"),
    )  # fmt: skip
    detail = fault_detail(output, version)
    assert detail["ErrorCode"] == "IPL000004"
    assert "not registered" in detail["Details"]
    after = show(secure, ACCEPTED_CPR)
    assert (after["job"], after["report_count"]) == (before["job"], before["report_count"])


def test_node_soap_with_a_certificate_of_an_untrusted_ca_gets_a_security_fault(
    node: str, secure: Server, pki: Pki
) -> None:
    output = send(node, secure, pki.untrusted, "1.2", "Ping", {})
    detail = fault_detail(output, "1.2")
    assert detail["ErrorCode"] == "IPL000003"
    assert "trust anchor" in detail["Details"]


def test_node_soap_reusing_a_transaction_id_for_another_report_gets_ipl000005(
    node: str, secure: Server, pki: Pki
) -> None:
    stid = str(uuid.uuid4())
    operation = "IndberetningKontaktJobOgUddOensker"
    first = send(
        node,
        secure,
        pki.pinned,
        "1.1",
        operation,
        report(secure, ACCEPTED_CPR, f"First node wish {stid[:8]}", stid),
    )
    assert first["result"]["Message"]["IndberetningSvar"]["Ok"] == "true"
    other = report(secure, ACCEPTED_CPR, "Another wish", stid)
    detail = fault_detail(send(node, secure, pki.pinned, "1.1", operation, other), "1.1")
    assert detail["ErrorCode"] == "IPL000005"


@pytest.mark.parametrize("version", VERSIONS)
def test_an_identical_signed_message_is_a_replay_a_resend_signed_anew_is_answered(
    node: str, secure: Server, pki: Pki, version: str
) -> None:
    """The vendor guide's rule: resend a report (same SystemTransactionID) signed anew."""
    stid = str(uuid.uuid4())
    args = report(secure, ACCEPTED_CPR, f"Resent node wish {uuid.uuid4().hex[:8]}", stid)
    operation = "IndberetningKontaktJobOgUddOensker"
    first = send(node, secure, pki.pinned, version, operation, args)
    assert first["result"]["Message"]["IndberetningSvar"]["Ok"] == "true"
    count = show(secure, ACCEPTED_CPR)["report_count"]
    replayed = httpx.post(
        secure.endpoint,
        content=first["request"].encode("utf-8"),
        headers={"content-type": SOAP12 if version == "1.2" else SOAP11},
        timeout=10,
    )
    assert replayed.status_code == (400 if version == "1.2" else 500)
    assert b"IPL000003" in replayed.content and b"replay refused" in replayed.content
    # node-soap's Timestamp counts whole seconds and RSA signatures are deterministic: the
    # same report signed again within the same second is the same signature, a replay.
    created = datetime.fromisoformat(_created(first["request"]))
    time.sleep(max(0.0, (created + timedelta(seconds=1.1) - datetime.now(UTC)).total_seconds()))
    again = send(node, secure, pki.pinned, version, operation, args)
    assert _signature_value(again["request"]) != _signature_value(first["request"])
    assert again["result"]["Message"]["IndberetningSvar"] == {"Ok": "true"}
    assert show(secure, ACCEPTED_CPR)["report_count"] == count  # answered as before, not stored


def _created(request: str) -> str:
    found = etree.fromstring(request.encode("utf-8")).xpath("//*[local-name()='Created']/text()")
    assert isinstance(found, list) and len(found) == 1
    return str(found[0])


def _signature_value(request: str) -> str:
    found = etree.fromstring(request.encode("utf-8")).xpath(
        "//ds:SignatureValue/text()", namespaces={"ds": DS}
    )
    assert isinstance(found, list) and len(found) == 1
    return str(found[0])
