"""Reading the service's answers in the end-to-end tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx
from lxml import etree

from tests.support import EXAMPLES

IPL = "http://ipl.stil.dk/services/udb/indberetningkontaktjoboguddoensker/v1.0"
UDB = "http://www.udb.stil.dk/indberetningkontaktjoboguddoensker/v1"
NS = {"v1": IPL, "udb": UDB}


def example(name: str) -> bytes:
    return (EXAMPLES / name).read_bytes()


def with_stid(body: bytes, stid: str | None = None) -> bytes:
    """The example with a fresh (or given) SystemTransactionID."""
    stid = stid or str(uuid.uuid4())
    root = etree.fromstring(body)
    node = root.find(".//v1:SystemTransactionID", NS)
    assert node is not None
    node.text = stid
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


@dataclass(frozen=True)
class Answer:
    ok: bool
    code: int | None
    text: str | None
    correlation_id: str
    system_name: str
    system_transaction_id: str


def answer(response: httpx.Response) -> Answer:
    assert response.status_code == 200, response.text
    root = etree.fromstring(response.content)
    svar = root.find(".//udb:IndberetningSvar", NS)
    assert svar is not None, response.text
    code = svar.findtext("udb:Fejl/udb:FejlKode", namespaces=NS)
    return Answer(
        ok=svar.findtext("udb:Ok", namespaces=NS) == "true",
        code=None if code is None else int(code),
        text=svar.findtext("udb:Fejl/udb:FejlTekst", namespaces=NS),
        correlation_id=root.findtext(".//v1:CorrelationID", namespaces=NS) or "",
        system_name=root.findtext(".//v1:Identifier/v1:SystemName", namespaces=NS) or "",
        system_transaction_id=root.findtext(
            ".//v1:Identifier/v1:SystemTransactionID", namespaces=NS
        )
        or "",
    )


@dataclass(frozen=True)
class Fault:
    code: str
    reason: str
    error_code: str
    error_message: str
    details: str
    correlation_id: str


def fault(response: httpx.Response) -> Fault:
    root = etree.fromstring(response.content)
    env = root.nsmap.get(root.prefix)
    detailer = root.find(".//v1:ServiceFaultDetailer", NS)
    assert detailer is not None, response.text
    if env == "http://www.w3.org/2003/05/soap-envelope":
        code = root.findtext(".//s:Code/s:Value", namespaces={"s": env}) or ""
        reason = root.findtext(".//s:Reason/s:Text", namespaces={"s": env}) or ""
    else:
        code = root.findtext(".//faultcode") or ""
        reason = root.findtext(".//faultstring") or ""
    return Fault(
        code=code,
        reason=reason,
        error_code=detailer.findtext("v1:ErrorCode", namespaces=NS) or "",
        error_message=detailer.findtext("v1:ErrorMessage", namespaces=NS) or "",
        details=detailer.findtext("v1:Details", namespaces=NS) or "",
        correlation_id=detailer.findtext("v1:CorrelationID", namespaces=NS) or "",
    )
