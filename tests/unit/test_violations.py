"""Schema violations: plain English, the element's name and start tag, never the value."""

from __future__ import annotations

import re

import pytest

from tests.unit.xmlsamples import (
    CPR,
    MAIL,
    NAME,
    UDB_NS,
    minified,
    position,
    request_text,
)
from udb import contract, ns, safexml
from udb.contract.violations import Violation

DATETIME_REASON = (
    "element KontaktRegistreringstid: value must be a date and time like 2026-11-20T09:15:00 "
    "or 2026-11-20T09:15:00+01:00 (4-digit year, optional fraction and zone offset)"
)


def violations(text: str) -> list[Violation]:
    source = text.encode("utf-8")
    body = safexml.parse(source).find(ns.qname(ns.SOAP12_ENV, "Body"))
    assert body is not None
    return contract.validate(body[0], source)


def assert_plain(reason: str, *values: str) -> None:
    """No libxml2 jargon, no namespaces, no quotation, and none of ``values``."""
    assert not re.search(r"[{}']|SCHEMAV|facet|Element '|xmlns|http", reason), reason
    for value in values:
        assert value not in reason


# (case id, text edit, element whose start tag is meant, submitted value, expected reason)
VALUE_CASES = [
    (
        "name-too-long",
        {"replace": {"KontaktNavn": "Navnesen" * 12 + "Hemme"}},
        "KontaktNavn",
        "Navnesen" * 12 + "Hemme",
        "element KontaktNavn: value is longer than the maximum length 100",
    ),
    (
        "name-blank",
        {"replace": {"KontaktNavn": "   "}},
        "KontaktNavn",
        None,
        "element KontaktNavn: value must contain at least one character that is not whitespace",
    ),
    (
        "cpr-9-digits",
        {"replace": {"CPRNr": "010190123"}},
        "CPRNr",
        "010190123",
        "element CPRNr: value must be exactly 10 digits 0-9",
    ),
    (
        "cpr-letters",
        {"replace": {"CPRNr": "01019012ab"}},
        "CPRNr",
        "01019012ab",
        "element CPRNr: value must be exactly 10 digits 0-9",
    ),
    (
        "institution-0",
        {"replace": {"KommuneInstitutionNummer": "0"}},
        "KommuneInstitutionNummer",
        None,
        "element KommuneInstitutionNummer: value is less than the minimum 1",
    ),
    (
        "institution-abc",
        {"replace": {"KommuneInstitutionNummer": "abc"}},
        "KommuneInstitutionNummer",
        "abc",
        "element KommuneInstitutionNummer: value must be a whole number from 1 to 2147483647",
    ),
    (
        "phone-11-digits",
        {"replace": {"KontaktTelefon": "45203040509"}},
        "KontaktTelefon",
        "45203040509",
        "element KontaktTelefon: value has more than 10 digits",
    ),
    (
        "phone-plus",
        {"replace": {"KontaktTelefon": "+4512345678"}},
        "KontaktTelefon",
        "4512345678",
        "element KontaktTelefon: value must be a number of at most 10 digits 0-9",
    ),
    (
        "date-only",
        {"replace": {"KontaktRegistreringstid": "2026-11-20"}},
        "KontaktRegistreringstid",
        None,
        DATETIME_REASON,
    ),
    (
        "date-garbage",
        {"replace": {"KontaktRegistreringstid": "Mette-11-20T09:15:00"}},
        "KontaktRegistreringstid",
        "Mette",
        DATETIME_REASON,
    ),
    (
        "missing-mail",
        {"remove": ["KontaktMail"]},
        "KontaktTelefon",
        None,
        "element KontaktTelefon: not expected here; expected KontaktMail",
    ),
    (
        "missing-last",
        {"remove": ["KontaktRegistreringstid"]},
        "KommuneKontakt",
        None,
        "element KommuneKontakt: a required child element is missing; "
        "expected KontaktRegistreringstid",
    ),
]


@pytest.mark.parametrize(
    ("edit", "element", "value", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in VALUE_CASES],
)
def test_one_violation_names_element_and_start_tag(
    edit: dict[str, object], element: str, value: str | None, expected: str
) -> None:
    text = request_text(**edit)  # type: ignore[arg-type]
    (violation,) = violations(text)
    assert violation.reason == expected
    assert (violation.line, violation.column) == position(text, f"<udb:{element}>")
    assert_plain(violation.reason, *([value] if value else []), CPR, NAME, MAIL)


FAKE = "0101901234"

# (case id, old text, new text, start tag meant, expected reason)
STRUCTURE_CASES = [
    (
        "unexpected-element",
        "<udb:KontaktTelefon>",
        f"<udb:KontaktMail>{MAIL}</udb:KontaktMail><udb:KontaktTelefon>",
        ("<udb:KontaktMail>", 2),
        "element KontaktMail: not expected here; expected KontaktTelefon, KontaktRegistreringstid",
    ),
    (
        "element-not-in-contract",
        "<udb:KontaktMail>",
        f"<udb:x{FAKE}>{FAKE}</udb:x{FAKE}><udb:KontaktMail>",
        (f"<udb:x{FAKE}>", 1),
        "an element not in the contract: not expected here; expected KontaktMail",
    ),
    (
        "foreign-namespace-element",
        "<udb:KontaktMail>",
        f'<p:x{FAKE} xmlns:p="urn:{FAKE}">{FAKE}</p:x{FAKE}><udb:KontaktMail>',
        (f"<p:x{FAKE} ", 1),
        "an element not in the contract: not expected here; expected KontaktMail",
    ),
    (
        "attribute-on-simple-element",
        "<udb:CPRNr>",
        f'<udb:CPRNr x{FAKE}="{FAKE}">',
        ("<udb:CPRNr ", 1),
        "element CPRNr: attributes are not allowed here",
    ),
    (
        "attribute-on-block",
        "<udb:KommuneKontakt>",
        f'<udb:KommuneKontakt a="{FAKE}">',
        ("<udb:KommuneKontakt ", 1),
        "element KommuneKontakt: attributes are not allowed here",
    ),
    (
        "foreign-attribute",
        "<v1:Identifier>",
        f'<v1:Identifier xmlns:z="urn:z" z:a="{FAKE}">',
        ("<v1:Identifier ", 1),
        "element Identifier: attributes are not allowed here",
    ),
    (
        "text-in-element-only",
        "<udb:KommuneKontakt>",
        f"<udb:KommuneKontakt>{FAKE}",
        ("<udb:KommuneKontakt>", 1),
        "element KommuneKontakt: text is not allowed here, only child elements",
    ),
    (
        "child-in-simple-element",
        f"<udb:CPRNr>{CPR}",
        f"<udb:CPRNr><udb:x{FAKE}/>",
        ("<udb:CPRNr>", 1),
        "element CPRNr: child elements are not allowed here, only text",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "start", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in STRUCTURE_CASES],
)
def test_structure_violation(old: str, new: str, start: tuple[str, int], expected: str) -> None:
    text = request_text().replace(old, new, 1)
    (violation,) = violations(text)
    assert violation.reason == expected
    assert (violation.line, violation.column) == position(text, *start)
    assert_plain(violation.reason, FAKE, CPR, NAME, MAIL)
    assert FAKE not in str(violation)


def test_several_violations_are_listed_in_document_order() -> None:
    text = request_text(
        replace={
            "CPRNr": "01019012",
            "KontaktNavn": "x" * 101,
            "KontaktTelefon": "+45",
            "JobRegistreringstid": "i går",
            "UddannelsesOnsker": "u" * 201,
        }
    )
    found = violations(text)
    expected = [
        ("CPRNr", "value must be exactly 10 digits 0-9"),
        ("KontaktNavn", "value is longer than the maximum length 100"),
        ("KontaktTelefon", "value must be a number of at most 10 digits 0-9"),
        ("JobRegistreringstid", "value must be a date and time like"),
        ("UddannelsesOnsker", "value is longer than the maximum length 200"),
    ]
    assert len(found) == len(expected)
    for violation, (element, reason) in zip(found, expected, strict=True):
        assert violation.reason.startswith(f"element {element}: {reason}")
        occurrence = 2 if element == "UddannelsesOnsker" else 1  # block and leaf share the name
        assert (violation.line, violation.column) == position(text, f"<udb:{element}>", occurrence)
        assert_plain(violation.reason, "01019012", "i går", "x" * 10, "u" * 10)
    assert [v.line for v in found] == sorted(v.line for v in found)


def test_minified_request_gives_distinct_columns_for_repeated_names() -> None:
    text = minified(
        request_text(replace={"JobOnsker": "j" * 201, "UddannelsesOnsker": "u" * 201})
    ).replace("<udb:UddannelsesOnsker>", '<udb:UddannelsesOnsker a="1">', 1)
    assert "\n" not in text
    found = violations(text)
    assert [(v.line, v.column, v.reason) for v in found] == [
        (
            1,
            position(text, "<udb:JobOnsker>", 2)[1],
            "element JobOnsker: value is longer than the maximum length 200",
        ),
        (
            1,
            position(text, "<udb:UddannelsesOnsker ")[1],
            "element UddannelsesOnsker: attributes are not allowed here",
        ),
        (
            1,
            position(text, "<udb:UddannelsesOnsker>")[1],
            "element UddannelsesOnsker: value is longer than the maximum length 200",
        ),
    ]
    assert len({v.column for v in found}) == 3


def test_start_tag_over_several_lines_is_located_where_it_begins() -> None:
    text = request_text().replace("<v1:Identifier>", f"{FAKE}<v1:Identifier>", 1)
    (violation,) = violations(text)
    assert violation.reason == (
        "element IndberetningKontaktJobOgUddOenskerRequest: text is not allowed here, "
        "only child elements"
    )
    assert (violation.line, violation.column) == position(
        text, "<v1:IndberetningKontaktJobOgUddOenskerRequest"
    )


def test_elements_in_a_default_namespace_are_located() -> None:
    text = (
        request_text(replace={"CPRNr": "0101", "KontaktNavn": " "})
        .replace("udb:", "")
        .replace("xmlns:udb=", "xmlns=")
    )
    found = violations(text)
    assert [(v.line, v.column) for v in found] == [
        position(text, "<CPRNr>"),
        position(text, "<KontaktNavn>"),
    ]
    assert found[0].reason == "element CPRNr: value must be exactly 10 digits 0-9"


@pytest.mark.parametrize("separator", ["\u2028", "\x85", "\r"], ids=["LS", "NEL", "CR"])
def test_characters_that_are_no_line_break_for_libxml2_do_not_shift_lines(
    separator: str,
) -> None:
    text = request_text(
        replace={"KontaktNavn": f"Mette{separator}Sørensen", "UddannelsesOnsker": "u" * 201}
    )
    (violation,) = violations(text)
    # the line as libxml2 counts it (LF only), the column on that line
    lf_text = text.replace("\r", " ").replace("\x85", " ").replace("\u2028", " ")
    assert (violation.line, violation.column) == position(lf_text, "<udb:UddannelsesOnsker>", 2)


def test_crlf_line_endings() -> None:
    text = request_text(replace={"CPRNr": "12"}).replace("\n", "\r\n")
    (violation,) = violations(text)
    assert (violation.line, violation.column) == position(text, "<udb:CPRNr>")


def test_columns_count_characters_not_bytes() -> None:
    text = minified(request_text(replace={"UddannelseRegistreringstid": "nu"}))
    (violation,) = violations(text)
    assert violation.column == position(text, "<udb:UddannelseRegistreringstid>")[1]
    assert violation.column < text.encode("utf-8").index(b"<udb:UddannelseRegistreringstid>")


def test_unknown_operation_is_reported_without_its_name() -> None:
    text = (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>'
        f'<p:Get{FAKE} xmlns:p="{UDB_NS}"/></s:Body></s:Envelope>'
    )
    (violation,) = violations(text)
    assert violation.reason == "an element not in the contract: not an operation of this service"
    assert (violation.line, violation.column) == position(text, f"<p:Get{FAKE}")


def test_violation_string_form() -> None:
    assert str(Violation(14, 52, "element KontaktNavn: x")) == (
        "line 14, column 52: element KontaktNavn: x"
    )
