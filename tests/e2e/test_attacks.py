"""The XML attack corpus (tests/attacks/, see its README) against one secure server.

Every attack gets its documented fault, leaks nothing, stores nothing, and the
server stays up with bounded memory.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psutil
import pytest
import xmlsec
from lxml import etree

from tests.e2e.conftest import SOAP11, SOAP12, Server, start_server, stop_server, udb
from tests.e2e.soap import NS, answer, example, fault, with_stid
from tests.support import REPO
from udb import ns
from udb.wssecurity import sign
from udb.wssecurity.certs import make_dev_certificates

ATTACKS = REPO / "tests" / "attacks"
SYSTEM = "Vejledningssystem-Aarhus"
GOOD_CPR = "1503084232"  # Aarhus: a report about this person is accepted
EVIL_CPR = "1010104238"  # lives in København; the wrapping attacks smuggle it in
SUBMITTED_CPRS = (GOOD_CPR, EVIL_CPR)
LIMIT = 64 * 1024
RSS_LIMIT = 200 * 1024 * 1024
WSU_ID = ns.qname(ns.WSU, "Id")
S12 = "http://www.w3.org/2003/05/soap-envelope"
ENVELOPED = xmlsec.constants.TransformEnveloped.href
DSIG = {"ds": ns.DS}


@dataclass
class Secure:
    server: Server
    key: bytes
    cert: bytes
    workers: frozenset[int]

    def sign(self, body: bytes, created: datetime | None = None) -> bytes:
        return sign(body, key_pem=self.key, cert_pem=self.cert, created=created)


def _workers(server: Server) -> list[psutil.Process]:
    return psutil.Process(server.process.pid).children(recursive=True)


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secure]:
    """One server requiring WS-Security, with a pinned development client certificate."""
    pki = tmp_path_factory.mktemp("attack-pki")
    make_dev_certificates(pki, system_name=SYSTEM)
    server = start_server(
        tmp_path_factory.mktemp("attacks"), "--trust-anchors", str(pki / "ca.pem"), secure=True
    )
    try:
        udb(
            "systems", "add", SYSTEM, "--institution", "751001",
            "--cert", str(pki / "client.pem"), database_url=server.database_url,
        )  # fmt: skip
        workers = frozenset(p.pid for p in _workers(server))
        yield Secure(
            server,
            (pki / "client-key.pem").read_bytes(),
            (pki / "client.pem").read_bytes(),
            workers,
        )
    finally:
        stop_server(server)


# --- generated attacks ------------------------------------------------------------------


def _oversize(envelope_ns: str = S12) -> bytes:
    """A 1 MB request: the example with a KontaktNavn of a million letters."""
    body = example("request.xml").replace(b"Mette S\xc3\xb8rensen", b"A" * 1_000_000)
    return body.replace(S12.encode(), envelope_ns.encode())


def _signed_tree(s: Secure, created: datetime | None = None) -> etree._Element:
    return etree.fromstring(s.sign(with_stid(example("request.xml")), created))


def _parts(root: etree._Element) -> tuple[etree._Element, etree._Element, etree._Element]:
    """Header, Body and the Security header of a signed envelope."""
    header, body = root.find("s:Header", {"s": S12}), root.find("s:Body", {"s": S12})
    assert header is not None and body is not None
    security = header.find(ns.qname(ns.WSSE, "Security"))
    assert security is not None
    return header, body, security


def _evil(body: etree._Element, keep_id: bool = False) -> etree._Element:
    """A copy of the signed Body about EVIL_CPR, unsigned."""
    evil = copy.deepcopy(body)
    if not keep_id:
        del evil.attrib[WSU_ID]
    cpr = evil.find(".//udb:CPRNr", NS)
    stid = evil.find(".//v1:SystemTransactionID", NS)
    assert cpr is not None and stid is not None
    cpr.text, stid.text = EVIL_CPR, str(uuid.uuid4())
    return evil


def _bytes(root: etree._Element) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def wrap_body_into_header(s: Secure) -> bytes:
    root = _signed_tree(s)
    header, body, _ = _parts(root)
    evil = _evil(body)
    header.append(body)
    root.append(evil)
    return _bytes(root)


def wrap_body_in_security(s: Secure) -> bytes:
    root = _signed_tree(s)
    _, body, security = _parts(root)
    evil = _evil(body)
    etree.SubElement(security, "{urn:attacker}Wrapper").append(body)
    root.append(evil)
    return _bytes(root)


def wrap_evil_body_first(s: Secure) -> bytes:
    root = _signed_tree(s)
    _, body, _ = _parts(root)
    root.insert(root.index(body), _evil(body))
    return _bytes(root)


def wrap_duplicate_id(s: Secure) -> bytes:
    root = _signed_tree(s)
    _, body, security = _parts(root)
    evil = _evil(body, keep_id=True)  # the evil Body carries wsu:Id="BodyRef" as well
    etree.SubElement(security, "{urn:attacker}Wrapper").append(body)
    root.append(evil)
    return _bytes(root)


def _node_soap_tree(s: Secure) -> etree._Element:
    """A report signed in node-soap's default shape: plain ``Id="_0"`` on the Body and
    ``Id="_1"`` on the Timestamp, transforms enveloped-signature then exclusive C14N."""
    root = _signed_tree(s)
    _, body, security = _parts(root)
    timestamp = security.find(ns.qname(ns.WSU, "Timestamp"))
    signature = security.find(ns.qname(ns.DS, "Signature"))
    assert timestamp is not None and signature is not None
    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_memory(s.key, xmlsec.constants.KeyDataFormatPem)
    for element, value in ((body, "_0"), (timestamp, "_1")):
        uri = "#" + element.attrib.pop(WSU_ID)
        element.set("Id", value)
        reference = signature.find(f"ds:SignedInfo/ds:Reference[@URI='{uri}']", DSIG)
        transforms = signature.find(f"ds:SignedInfo/ds:Reference[@URI='{uri}']/ds:Transforms", DSIG)
        assert reference is not None and transforms is not None
        reference.set("URI", "#" + value)
        transforms.insert(0, etree.Element(ns.qname(ns.DS, "Transform"), Algorithm=ENVELOPED))
        context.register_id(element, "Id")
    context.sign(signature)
    return root


def node_soap_wrap_duplicate_plain_id(s: Secure) -> bytes:
    root = _node_soap_tree(s)
    _, body, security = _parts(root)
    evil = _evil(body, keep_id=True)  # the evil Body carries the plain Id="_0" as well
    etree.SubElement(security, "{urn:attacker}Wrapper").append(body)
    root.append(evil)
    return _bytes(root)


def node_soap_wrap_wsu_id_against_plain_id(s: Secure) -> bytes:
    root = _node_soap_tree(s)
    header, body, _ = _parts(root)
    evil = _evil(body, keep_id=True)
    del evil.attrib["Id"]
    evil.set(WSU_ID, "_0")  # the signed Body's plain Id, as wsu:Id on the evil one
    header.append(body)
    root.append(evil)
    return _bytes(root)


def node_soap_enveloped_after_c14n(s: Secure) -> bytes:
    root = _node_soap_tree(s)
    transforms = root.find(".//ds:SignedInfo/ds:Reference/ds:Transforms", DSIG)
    assert transforms is not None
    transforms.append(transforms[0])  # exclusive C14N, then enveloped-signature
    return _bytes(root)


def timestamp_not_referenced(s: Secure) -> bytes:
    root = _signed_tree(s)
    reference = root.find(".//ds:SignedInfo/ds:Reference[@URI='#TimestampRef']", {"ds": ns.DS})
    assert reference is not None
    reference.getparent().remove(reference)  # type: ignore[union-attr]
    return _bytes(root)


def expired_timestamp(s: Secure) -> bytes:
    return _bytes(_signed_tree(s, created=datetime.now(UTC) - timedelta(hours=2)))


def replay(s: Secure) -> bytes:
    body = s.sign(with_stid(example("request.xml")))
    assert answer(s.server.post(body)).ok  # the first delivery is genuine
    return body


GENERATED: dict[str, Callable[[Secure], bytes]] = {
    "oversize-content-length": lambda s: _oversize(),
    "oversize-content-length-soap11": lambda s: _oversize(
        "http://schemas.xmlsoap.org/soap/envelope/"
    ),
    "oversize-chunked": lambda s: _oversize(),
    "wrap-body-into-header": wrap_body_into_header,
    "wrap-body-in-security-header": wrap_body_in_security,
    "wrap-evil-body-first": wrap_evil_body_first,
    "wrap-duplicate-body-id": wrap_duplicate_id,
    "timestamp-not-referenced": timestamp_not_referenced,
    "expired-timestamp": expired_timestamp,
    "replay": replay,
    "node-soap-wrap-duplicate-plain-id": node_soap_wrap_duplicate_plain_id,
    "node-soap-wrap-wsu-id-against-plain-id": node_soap_wrap_wsu_id_against_plain_id,
    "node-soap-enveloped-after-c14n": node_soap_enveloped_after_c14n,
}

# name (a file in tests/attacks/ or a key of GENERATED), Content-Type, ErrorCode, HTTP status
CORPUS: list[tuple[str, str, str, int]] = [
    ("xxe-external-entity.xml", SOAP12, "IPL000002", 400),
    ("xxe-parameter-entity.xml", SOAP12, "IPL000002", 400),
    ("external-dtd.xml", SOAP12, "IPL000002", 400),
    ("billion-laughs.xml", SOAP12, "IPL000002", 400),
    ("quadratic-blowup.xml", SOAP12, "IPL000002", 400),
    ("dtd-no-entities.xml", SOAP12, "IPL000002", 400),
    ("deep-nesting.xml", SOAP12, "IPL000002", 400),
    ("invalid-utf8.xml", SOAP12, "IPL000002", 400),
    ("utf16-no-bom.xml", SOAP12, "IPL000002", 400),
    ("huge-attribute.xml", SOAP12, "IPL000002", 400),
    ("soap11-envelope-as-soap12.xml", SOAP12, "IPL000002", 400),
    ("soap12-envelope-as-soap11.xml", SOAP11, "IPL000002", 500),
    ("oversize-content-length", SOAP12, "IPL000006", 413),
    ("oversize-content-length-soap11", SOAP11, "IPL000006", 413),
    ("oversize-chunked", SOAP12, "IPL000006", 413),
    ("wrap-body-into-header", SOAP12, "IPL000003", 400),
    ("wrap-body-in-security-header", SOAP12, "IPL000003", 400),
    ("wrap-evil-body-first", SOAP12, "IPL000003", 400),
    ("wrap-duplicate-body-id", SOAP12, "IPL000003", 400),
    ("timestamp-not-referenced", SOAP12, "IPL000003", 400),
    ("expired-timestamp", SOAP12, "IPL000003", 400),
    ("replay", SOAP12, "IPL000003", 400),
    ("node-soap-wrap-duplicate-plain-id", SOAP12, "IPL000003", 400),
    ("node-soap-wrap-wsu-id-against-plain-id", SOAP12, "IPL000003", 400),
    ("node-soap-enveloped-after-c14n", SOAP12, "IPL000003", 400),
]


def _passwd_lines() -> list[bytes]:
    path = Path("/etc/passwd")
    lines = path.read_bytes().splitlines() if path.exists() else []
    return [line.strip() for line in lines if line.strip()]


def _post(s: Secure, name: str, content_type: str) -> httpx.Response:
    if name in GENERATED:
        body = GENERATED[name](s)
    else:
        body = (ATTACKS / name).read_bytes()
        assert len(body) < LIMIT, "a committed attack file must stay under the body limit"
    if name == "oversize-chunked":
        chunks = (body[i : i + 16384] for i in range(0, len(body), 16384))
        return httpx.post(
            s.server.endpoint, content=chunks, headers={"content-type": content_type}, timeout=10
        )
    return s.server.post(body, content_type)


@pytest.mark.parametrize(
    ("name", "content_type", "error_code", "status"), CORPUS, ids=[case[0] for case in CORPUS]
)
def test_an_attack_gets_its_fault(
    secure: Secure, name: str, content_type: str, error_code: str, status: int
) -> None:
    response = _post(secure, name, content_type)
    f = fault(response)
    assert (f.error_code, response.status_code) == (error_code, status), f.details
    assert f.code in ("s:Sender", "s:Client"), f.code
    assert "root:" not in f.details
    for cpr in SUBMITTED_CPRS:
        assert cpr not in f.details and cpr.encode() not in response.content
    for line in _passwd_lines():
        assert line not in response.content
    if error_code == "IPL000002":  # a DTD is refused before any entity or external subset
        assert len(response.content) < 4096


def test_the_node_soap_shape_unchanged_is_accepted(secure: Secure) -> None:
    """The control for the node-soap attacks: their message, untouched, is served."""
    assert answer(secure.server.post(_bytes(_node_soap_tree(secure)))).ok


def test_every_attack_file_is_in_the_table_and_the_readme() -> None:
    files = {p.name for p in ATTACKS.iterdir() if p.name != "README.md"}
    listed = {name for name, *_ in CORPUS}
    assert files <= listed and listed - files <= set(GENERATED)
    readme = (ATTACKS / "README.md").read_text(encoding="utf-8")
    for name in listed:
        assert f"`{name}`" in readme, name


def test_the_server_survives_the_corpus_unharmed(secure: Secure) -> None:
    """Run last in the module (after the corpus): up, accepting, nothing stored, memory bounded."""
    server = secure.server
    ping = server.post(secure.sign(example("ping.xml")))
    assert b"<v1:Status>up</v1:Status>" in ping.content, ping.text
    assert answer(server.post(secure.sign(with_stid(example("request.xml"))))).ok
    assert server.process.poll() is None, "the server process died"
    workers = _workers(server)
    assert {p.pid for p in workers} == secure.workers, "a worker died and was restarted"
    rss = {p.pid: p.memory_info().rss for p in workers}
    sizes = ", ".join(f"{value / 2**20:.1f} MiB" for value in rss.values())
    print(f"server worker RSS after the corpus: {sizes}")
    assert workers and sum(rss.values()) < RSS_LIMIT, rss
    shown = udb("persons", "show", EVIL_CPR, "--json", database_url=server.database_url)
    assert json.loads(shown.stdout)["report_count"] == 0
