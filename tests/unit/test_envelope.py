"""Reading request envelopes: parse (version, parts found), then the checked payload."""

from __future__ import annotations

import pytest

from tests.unit.wssamples import NOW, signed
from tests.unit.xmlsamples import (
    CPR,
    PING_XML,
    REQUEST_XML,
    SOAP11_ENV,
    SOAP12_ENV,
    request,
    request_text,
    security_header,
    unknown_header,
)
from udb import ns, wssecurity
from udb.soap import envelope, faults
from udb.soap.faults import SCHEMA, InvalidRequest
from udb.soap.version import SoapVersion

V12, V11 = SoapVersion.SOAP12, SoapVersion.SOAP11
REPORT = ns.qname(ns.IPL, "IndberetningKontaktJobOgUddOenskerRequest")


def refused(data: bytes | str, version: SoapVersion = V12) -> str:
    """The single reason a refused envelope was given."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    with pytest.raises(InvalidRequest) as caught:
        envelope.read(data, version)
    assert faults.spec_for(caught.value) is SCHEMA
    (violation,) = caught.value.violations
    return violation.reason


@pytest.mark.parametrize(("version", "soap11"), [(V12, False), (V11, True)])
def test_request_is_read_in_both_versions(version: SoapVersion, soap11: bool) -> None:
    env = envelope.read(request(soap11=soap11), version)
    assert env.version is version
    assert env.payload.tag == REPORT
    assert env.header is not None
    assert len(env.header) == 0


def test_header_is_optional() -> None:
    env = envelope.read(request_text().replace("  <s:Header/>\n", "").encode(), V12)
    assert env.header is None
    assert env.payload.tag == REPORT


def test_ping_is_read() -> None:
    assert envelope.read(PING_XML.encode(), V12).payload.tag == ns.qname(ns.IPL, "Ping")


@pytest.mark.parametrize(
    ("soap11", "version", "sent", "asked"),
    [(True, V12, "1.1", "1.2"), (False, V11, "1.2", "1.1")],
    ids=["1.1-envelope-as-1.2", "1.2-envelope-as-1.1"],
)
def test_envelope_version_must_match_content_type(
    soap11: bool, version: SoapVersion, sent: str, asked: str
) -> None:
    reason = refused(request(soap11=soap11), version)
    assert f"SOAP {sent} envelope" in reason
    assert f"SOAP {asked} content type" in reason
    assert version.content_type.split(";")[0] in reason


@pytest.mark.parametrize(
    "document",
    [
        "<Envelope/>",
        f'<s:Envelope xmlns:s="urn:{CPR}"><s:Body/></s:Envelope>',
        f'<s:Body xmlns:s="{SOAP12_ENV}"><x/></s:Body>',
        f'<s:Header xmlns:s="{SOAP12_ENV}"/>',
        REQUEST_XML.replace("s:Envelope", "s:Umschlag"),
    ],
    ids=["no-namespace", "other-namespace", "body-as-root", "header-as-root", "other-name"],
)
def test_not_an_envelope(document: str) -> None:
    reason = refused(document)
    assert reason == "the document is not a SOAP envelope"
    assert CPR not in reason


def _envelope(body: str, header: str = "") -> str:
    return f'<s:Envelope xmlns:s="{SOAP12_ENV}">{header}<s:Body>{body}</s:Body></s:Envelope>'


PING = f'<v1:Ping xmlns:v1="{ns.IPL}"/>'


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (_envelope(""), "the Body must hold exactly one element"),
        (_envelope("<!-- only a comment -->"), "the Body must hold exactly one element"),
        (_envelope(PING + PING), "the Body must hold exactly one element"),
        (_envelope(f"{CPR}{PING}"), "text is not allowed in Body"),
        (_envelope(f"{PING}{CPR}"), "text is not allowed in Body"),
        (
            f'<s:Envelope xmlns:s="{SOAP12_ENV}"><s:Header/></s:Envelope>',
            "the envelope must hold an optional Header and then one Body",
        ),
        (
            f'<s:Envelope xmlns:s="{SOAP12_ENV}"><s:Body>{PING}</s:Body><s:Header/></s:Envelope>',
            "the envelope must hold an optional Header and then one Body",
        ),
        (
            f'<s:Envelope xmlns:s="{SOAP12_ENV}"><s:Body>{PING}</s:Body><s:Body/></s:Envelope>',
            "the envelope must hold an optional Header and then one Body",
        ),
        (
            f'<s:Envelope xmlns:s="{SOAP12_ENV}"><x/><s:Body>{PING}</s:Body></s:Envelope>',
            "the envelope must hold an optional Header and then one Body",
        ),
        (
            f'<s:Envelope xmlns:s="{SOAP12_ENV}">{CPR}<s:Body>{PING}</s:Body></s:Envelope>',
            "text is not allowed in Envelope",
        ),
    ],
    ids=[
        "empty-body",
        "comment-only-body",
        "two-elements",
        "text-before",
        "text-after",
        "no-body",
        "header-after-body",
        "two-bodies",
        "other-element",
        "text-in-envelope",
    ],
)
def test_envelope_shape(document: str, expected: str) -> None:
    reason = refused(document)
    assert reason == expected
    assert CPR not in reason


@pytest.mark.parametrize(
    ("version", "soap11", "value"),
    [(V12, False, "1"), (V12, False, "true"), (V11, True, "1")],
)
def test_must_understand_header_is_refused(version: SoapVersion, soap11: bool, value: str) -> None:
    data = request(soap11=soap11, header=unknown_header(value))
    reason = refused(data, version)
    assert reason == (
        "header block Routing is marked mustUnderstand but is not supported by this service"
    )


@pytest.mark.parametrize(("version", "soap11"), [(V12, False), (V11, True)])
def test_the_ws_security_header_is_understood(version: SoapVersion, soap11: bool) -> None:
    data = request(soap11=soap11, header=security_header("1"))
    parsed = envelope.parse(data, version)
    assert parsed.signed
    assert [e.tag for e in parsed.security_headers] == [envelope.SECURITY]
    assert envelope.read(data, version).payload.tag == REPORT
    assert not envelope.parse(request(soap11=soap11), version).signed


@pytest.mark.parametrize(("version", "soap11"), [(V12, False), (V11, True)])
@pytest.mark.parametrize("value", ["0", "false"])
def test_header_not_marked_must_understand_is_ignored(
    version: SoapVersion, soap11: bool, value: str
) -> None:
    env = envelope.read(request(soap11=soap11, header=security_header(value)), version)
    assert env.header is not None
    assert env.payload.tag == REPORT


def test_must_understand_of_the_other_soap_version_does_not_count() -> None:
    header = security_header("1").replace(
        's:mustUnderstand="1"', f'xmlns:o11="{SOAP11_ENV}" o11:mustUnderstand="1"'
    )
    env = envelope.read(request(header=header), V12)
    assert env.payload.tag == REPORT


def test_comments_are_allowed_everywhere() -> None:
    text = (
        request_text()
        .replace("<s:Header/>", "<!-- h --><s:Header><!-- in header --></s:Header><!-- h -->")
        .replace("<s:Body>", "<s:Body><!-- before payload -->")
        .replace("</s:Body>", "<!-- after payload --></s:Body>")
        .replace("<udb:CPRNr>", "<!-- before CPR --><udb:CPRNr>")
    )
    text = text.replace("?>\n", "?>\n<!-- prolog -->\n", 1) + "<!-- epilog -->\n"
    env = envelope.read(text.encode("utf-8"), V12)
    assert env.payload.tag == REPORT


def test_schema_violation_of_payload_is_invalid_request() -> None:
    with pytest.raises(InvalidRequest) as caught:
        envelope.read(request(replace={"CPRNr": "12345"}), V12)
    (violation,) = caught.value.violations
    assert violation.reason == "element CPRNr: value must be exactly 10 digits 0-9"
    assert "12345" not in str(caught.value)


def test_malformed_xml_is_invalid_request_without_the_input() -> None:
    data = request(replace={"KontaktNavn": "Mette & Co"})
    with pytest.raises(InvalidRequest) as caught:
        envelope.read(data, V12)
    (violation,) = caught.value.violations
    assert violation.reason.startswith("the request is not well-formed XML")
    assert "Mette" not in violation.reason
    assert violation.line == 18


def test_dtd_is_invalid_request() -> None:
    data = (
        b'<?xml version="1.0"?><!DOCTYPE s:Envelope [<!ENTITY e "x">]>'
        + request().split(b"?>", 1)[1]
    )
    reason = refused(data)
    assert reason == "a document type declaration (DTD) is not allowed"


# parse: the parts found once, nothing else refused ----------------------------------------


@pytest.mark.parametrize(("version", "soap11"), [(V12, False), (V11, True)])
def test_parse_finds_the_parts_once(version: SoapVersion, soap11: bool) -> None:
    data = request(soap11=soap11, header=security_header("1"))
    parsed = envelope.parse(data, version)
    root = parsed.envelope
    env = version.envelope_ns
    assert (parsed.version, parsed.source, root.getparent()) == (version, data, None)
    assert parsed.headers == (root.find(ns.qname(env, "Header")),)
    assert parsed.bodies == (root.find(ns.qname(env, "Body")),)
    assert parsed.security_headers == (parsed.headers[0][0],)


def test_parse_leaves_the_structure_to_verification_and_the_payload_check() -> None:
    body = f"<s:Body>{PING}</s:Body>"
    document = (
        f'<s:Envelope xmlns:s="{SOAP12_ENV}">{CPR}{body}<s:Header/><s:Header/>{body}</s:Envelope>'
    )
    parsed = envelope.parse(document.encode(), V12)
    assert (len(parsed.headers), len(parsed.bodies), parsed.signed) == (2, 2, False)
    message = wssecurity.verify(parsed, policy=wssecurity.SecurityPolicy(), now=NOW)
    assert isinstance(message, wssecurity.UnsignedMessage) and message.body is None
    with pytest.raises(InvalidRequest) as caught:
        envelope.checked_payload(parsed, message)
    assert caught.value.violations[0].reason == "text is not allowed in Envelope"


def test_a_security_header_in_any_header_makes_the_request_signed() -> None:
    document = (
        f'<s:Envelope xmlns:s="{SOAP12_ENV}"><s:Header/>'
        f"{security_header('1')}<s:Body>{PING}</s:Body></s:Envelope>"
    )
    parsed = envelope.parse(document.encode(), V12)
    assert parsed.signed
    with pytest.raises(wssecurity.SecurityError, match="more than one Header"):
        wssecurity.verify(parsed, policy=wssecurity.SecurityPolicy(), now=NOW)


# checked_payload: the verified Body only --------------------------------------------------


@pytest.mark.parametrize(("version", "soap11"), [(V12, False), (V11, True)])
def test_the_checked_payload_is_the_verified_one(version: SoapVersion, soap11: bool) -> None:
    parsed = envelope.parse(signed(soap11=soap11), version)
    message = wssecurity.verify(parsed, policy=wssecurity.SecurityPolicy(), now=NOW)
    assert isinstance(message, wssecurity.VerifiedMessage)
    checked = envelope.checked_payload(parsed, message)
    assert checked.payload is message.payload
    assert checked.header is parsed.headers[0]
    assert (checked.version, checked.source) == (version, parsed.source)


def test_a_verified_body_is_still_checked_against_the_schema() -> None:
    parsed = envelope.parse(signed(envelope=request(replace={"CPRNr": "12345"})), V12)
    message = wssecurity.verify(parsed, policy=wssecurity.SecurityPolicy(), now=NOW)
    with pytest.raises(InvalidRequest) as caught:
        envelope.checked_payload(parsed, message)
    (violation,) = caught.value.violations
    assert violation.reason == "element CPRNr: value must be exactly 10 digits 0-9"
