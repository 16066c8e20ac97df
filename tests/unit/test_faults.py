"""The IPL fault table and the fault envelopes built from it."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest
from lxml import etree

import udb.contract
from tests.unit.xmlsamples import FAULT_EXAMPLE_XML
from udb import ns, safexml
from udb.contract.violations import Violation
from udb.service.errors import AccessDenied, Replayed, ServiceError, TransactionIdReused
from udb.soap import faults
from udb.soap.faults import FaultCode, FaultSpec
from udb.soap.version import SoapVersion
from udb.wssecurity import SecurityError

V12, V11 = SoapVersion.SOAP12, SoapVersion.SOAP11
CORRELATION_ID = "3e5f08f7-53c0-4f9e-9743-b83cb8c65f42"
NOW = datetime(2026, 11, 26, 9, 15, 2, 118000, tzinfo=UTC)
DETAILS = "line 14, column 52: element KontaktNavn: value is longer than the maximum length 100"

# ipl-conventions.md, "Faults"
TABLE = [
    ("IPL000001", "Receiver", 500, "Internal error"),
    ("IPL000002", "Sender", 400, "Input error"),
    ("IPL000003", "Sender", 400, "Security error"),
    ("IPL000004", "Sender", 400, "Access denied"),
    ("IPL000005", "Sender", 400, "Input error"),
    ("IPL000006", "Sender", 413, "Input error"),
]


@cache
def contract_schema() -> etree.XMLSchema:
    path = Path(udb.contract.__file__).parent / "files" / "ipl.xsd"
    return etree.XMLSchema(etree.parse(str(path)))


def _spec(code: str) -> FaultSpec:
    (spec,) = [s for s in faults.ALL if s.error_code == code]
    return spec


def test_table_has_every_code_once() -> None:
    assert [s.error_code for s in faults.ALL] == [row[0] for row in TABLE]


@pytest.mark.parametrize(("error_code", "code", "http", "reason"), TABLE)
def test_table_row(error_code: str, code: str, http: int, reason: str) -> None:
    spec = _spec(error_code)
    assert (spec.code.value, spec.http_status, spec.reason) == (code, http, reason)
    assert faults.qualified(spec.code, V12) == code
    assert faults.http_status(spec, V12) == http


@pytest.mark.parametrize(("error_code", "code", "http", "reason"), TABLE)
def test_soap11_codes_and_status(error_code: str, code: str, http: int, reason: str) -> None:
    spec = _spec(error_code)
    assert faults.qualified(spec.code, V11) == {"Sender": "Client", "Receiver": "Server"}[code]
    assert faults.http_status(spec, V11) == (413 if http == 413 else 500)


def test_error_messages_of_the_live_platform() -> None:
    example = safexml.parse(FAULT_EXAMPLE_XML.encode("utf-8"))
    assert faults.SCHEMA.error_message == example.findtext(f".//{{{ns.IPL}}}ErrorMessage")
    assert "CorrelationID" in faults.INTERNAL.error_message


@pytest.mark.parametrize(
    ("exc", "error_code"),
    [
        (faults.InvalidRequest([Violation(1, 1, "x")]), "IPL000002"),
        (faults.BodyTooLarge("too large"), "IPL000006"),
        (SecurityError("the signature does not verify"), "IPL000003"),
        (Replayed("again"), "IPL000003"),
        (AccessDenied("no"), "IPL000004"),
        (TransactionIdReused("again"), "IPL000005"),
        (ServiceError("other"), "IPL000001"),
        (RuntimeError("secret 0101901234"), "IPL000001"),
        (KeyError("x"), "IPL000001"),
    ],
)
def test_spec_for(exc: BaseException, error_code: str) -> None:
    assert faults.spec_for(exc).error_code == error_code


def test_details_of_unexpected_errors_are_never_passed_on() -> None:
    assert faults.details_for(RuntimeError("secret 0101901234")) is None
    assert faults.details_for(ServiceError("secret 0101901234")) is None
    assert faults.details_for(AccessDenied("SystemName is not registered")) == (
        "SystemName is not registered"
    )
    assert faults.details_for(SecurityError("the Timestamp has expired")) == (
        "the Timestamp has expired"
    )
    assert faults.details_for(faults.BodyTooLarge("over 65536 bytes")) == "over 65536 bytes"


def test_one_table_maps_exceptions_to_faults() -> None:
    assert {cls.__name__: spec.error_code for cls, spec in faults.FAULTS.items()} == {
        "InvalidRequest": "IPL000002",
        "BadSideToken": "IPL000002",
        "SecurityError": "IPL000003",
        "Replayed": "IPL000003",
        "AccessDenied": "IPL000004",
        "TransactionIdReused": "IPL000005",
        "BodyTooLarge": "IPL000006",
    }
    with pytest.raises(TypeError):
        faults.FAULTS[KeyError] = faults.SCHEMA  # type: ignore[index]


def test_a_subclass_gets_its_ancestors_fault() -> None:
    class Expired(SecurityError):
        pass

    assert faults.spec_for(Expired("the Timestamp has expired")) is faults.SECURITY


def test_invalid_request_details_list_every_violation() -> None:
    exc = faults.InvalidRequest([Violation(3, 7, "a"), Violation(9, 1, "b")])
    assert faults.details_for(exc) == "line 3, column 7: a; line 9, column 1: b"


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (NOW, "2026-11-26T10:15:02.118+01:00"),
        (
            datetime(2026, 7, 1, 10, 0, 0, 123456, tzinfo=UTC),
            "2026-07-01T12:00:00.123+02:00",
        ),
        (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), "2026-03-29T03:00:00.000+02:00"),
        (datetime(2026, 10, 25, 0, 59, 59, tzinfo=UTC), "2026-10-25T02:59:59.000+02:00"),
        (datetime(2026, 10, 25, 1, 0, tzinfo=UTC), "2026-10-25T02:00:00.000+01:00"),
    ],
)
def test_timestamp_is_danish_local_time_with_offset(now: datetime, expected: str) -> None:
    assert faults.timestamp(now) == expected


def _build(version: SoapVersion, spec: FaultSpec, details: str | None) -> etree._Element:
    data = faults.build(version, spec, correlation_id=CORRELATION_ID, now=NOW, details=details)
    assert data.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    return safexml.parse(data)


def _detailer(root: etree._Element) -> etree._Element:
    (detailer,) = root.iter(ns.qname(ns.IPL, "ServiceFaultDetailer"))
    return detailer


@pytest.mark.parametrize("version", list(SoapVersion))
@pytest.mark.parametrize("spec", faults.ALL, ids=lambda s: s.error_code)
@pytest.mark.parametrize("details", [None, DETAILS])
def test_built_fault_detail_is_valid(
    version: SoapVersion, spec: FaultSpec, details: str | None
) -> None:
    detailer = _detailer(_build(version, spec, details))
    schema = contract_schema()
    assert schema.validate(detailer), schema.error_log
    d = f"{{{ns.IPL}}}"
    assert detailer.findtext(f"{d}CorrelationID") == CORRELATION_ID
    assert detailer.findtext(f"{d}Timestamp") == "2026-11-26T10:15:02.118+01:00"
    assert detailer.findtext(f"{d}ErrorCode") == spec.error_code
    assert detailer.findtext(f"{d}ErrorMessage") == spec.error_message
    assert detailer.findtext(f"{d}Details") == details


def _shape(root: etree._Element) -> list[str]:
    """Element names in document order, and the xml:lang of each element that has one."""
    names = []
    for element in root.iter():
        if isinstance(element.tag, str):
            lang = element.get(ns.qname(ns.XML, "lang"))
            names.append(element.tag + (f"@{lang}" if lang else ""))
    return names


def test_soap12_fault_has_the_shape_of_the_example() -> None:
    example = safexml.parse(FAULT_EXAMPLE_XML.encode("utf-8"))
    built = _build(V12, faults.SCHEMA, DETAILS)
    assert _shape(built) == _shape(example)
    for tag in ("Value", "Text"):
        (ours,) = built.iter(ns.qname(ns.SOAP12_ENV, tag))
        (theirs,) = example.iter(ns.qname(ns.SOAP12_ENV, tag))
        assert ours.text == theirs.text
    for name in ("ErrorCode", "ErrorMessage", "Details", "Timestamp"):
        qname = ns.qname(ns.IPL, name)
        assert _detailer(built).findtext(qname) == _detailer(example).findtext(qname)


@pytest.mark.parametrize(
    ("spec", "code"), [(faults.SCHEMA, "Sender"), (faults.INTERNAL, "Receiver")]
)
def test_soap12_fault_code_is_a_qname_in_the_envelope_namespace(spec: FaultSpec, code: str) -> None:
    (value,) = _build(V12, spec, None).iter(ns.qname(ns.SOAP12_ENV, "Value"))
    prefix, local = value.text.split(":")  # type: ignore[union-attr]
    assert value.nsmap[prefix] == ns.SOAP12_ENV
    assert local == code


@pytest.mark.parametrize(("spec", "code"), [(faults.SCHEMA, "Client"), (faults.INTERNAL, "Server")])
def test_soap11_fault(spec: FaultSpec, code: str) -> None:
    root = _build(V11, spec, "why")
    assert root.tag == ns.qname(ns.SOAP11_ENV, "Envelope")
    (fault,) = root.iter(ns.qname(ns.SOAP11_ENV, "Fault"))
    assert [child.tag for child in fault] == ["faultcode", "faultstring", "detail"]
    prefix, local = fault.findtext("faultcode").split(":")  # type: ignore[union-attr]
    assert (fault.nsmap[prefix], local) == (ns.SOAP11_ENV, code)
    assert fault.findtext("faultstring") == spec.reason
    detail = fault.find("detail")
    assert detail is not None
    assert [child.tag for child in detail] == [ns.qname(ns.IPL, "ServiceFaultDetailer")]


def test_details_are_escaped() -> None:
    detailer = _detailer(_build(V12, faults.SCHEMA, "a <b> & c"))
    assert detailer.findtext(ns.qname(ns.IPL, "Details")) == "a <b> & c"


def test_fault_code_enum() -> None:
    assert {c.value for c in FaultCode} == {"Sender", "Receiver"}
