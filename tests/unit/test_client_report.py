"""The client's Report agrees with the contract: what constructs, the service accepts;
what the schema refuses, the Report refuses first, naming the field and never the value."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from lxml import etree

from tests.support import AARHUS_KUI, EXAMPLES, SYSTEM
from tests.unit.clientsupport import CPR, sample_report
from udb import ns
from udb.client import Contact, EducationWish, JobWish, Report, ReportError
from udb.client._wire import report_envelope, xs_datetime
from udb.domain import model
from udb.soap import envelope, messages
from udb.soap.faults import InvalidRequest
from udb.soap.version import SoapVersion

DK = ZoneInfo("Europe/Copenhagen")
AT = datetime(2026, 11, 20, 9, 15, tzinfo=DK)
STID = "7d1c5e2a-4b3f-4c8d-9e6a-1f2b3c4d5e01"


def render(report: Report) -> bytes:
    return report_envelope(report, system_name=SYSTEM, transaction_id=STID)


def served(body: bytes) -> model.ReportContent:
    """What the service reads from ``body``: schema validation, then the values.

    Raises :class:`InvalidRequest` (IPL000002) where the service would.
    """
    request = envelope.read(body, SoapVersion.SOAP12)
    assert messages.read_identifier(request.payload) == messages.Identifier(SYSTEM, STID)
    return messages.read_report(request.payload, body)


def expected(report: Report) -> model.ReportContent:
    """The domain report the service should read for ``report``."""
    c, j, e = report.contact, report.job, report.education
    return model.ReportContent(
        modtager_system_id=SYSTEM,
        cpr=report.cpr,
        institution_number=report.institution,
        kontakt=None
        if c is None
        else model.ContactBlock(
            c.name,
            c.mail,
            None if c.phone is None else int(c.phone),
            c.registered_at.astimezone(UTC),
        ),
        job=None if j is None else model.JobWishBlock(j.text, j.registered_at.astimezone(UTC)),
        uddannelse=None
        if e is None
        else model.EducationWishBlock(e.text, e.registered_at.astimezone(UTC)),
    )


def with_text(body: bytes, local: str, text: str) -> bytes:
    """``body`` with the text of its innermost UDB element ``local`` replaced.

    (``JobOnsker`` and ``UddannelsesOnsker`` name both a block and the text inside it.)
    """
    root = etree.fromstring(body)
    node = root.findall(f".//{{{ns.UDB}}}{local}")[-1]
    node.text = text
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


# The example ---------------------------------------------------------------------------


def test_the_rendering_is_the_documented_example() -> None:
    """docs/examples/request.xml and the client's rendering of the same report read the same."""
    example = (EXAMPLES / "request.xml").read_bytes()
    report = Report(
        "1503084232",
        751001,
        contact=Contact("Mette Sørensen", "mette.sorensen@example.dk", AT, phone="4520304050"),
        job=JobWish("Tømrer eller anden byggebranche", datetime(2026, 11, 20, 9, 20, tzinfo=DK)),
        education=EducationWish(
            "Erhvervsuddannelse (EUD), bygge og anlæg", datetime(2026, 11, 20, 9, 20, tzinfo=DK)
        ),
    )
    ours = render(report)
    assert served(ours) == served(example)

    def shape(data: bytes) -> list[tuple[str, str | None]]:
        root = etree.fromstring(data)
        return [(str(e.tag), e.prefix) for e in root.iter() if isinstance(e.tag, str)]

    assert shape(ours) == shape(example)  # the same elements, order and prefixes
    assert ours.startswith(b"<?xml version='1.0' encoding='utf-8'?>")


def test_absent_blocks_are_not_written() -> None:
    body = render(Report(CPR, AARHUS_KUI, job=JobWish("Kok", AT)))
    assert b"KommuneKontakt" not in body and b"UddannelsesOnsker" not in body
    assert served(body) == expected(Report(CPR, AARHUS_KUI, job=JobWish("Kok", AT)))
    body = render(Report(CPR, AARHUS_KUI, contact=Contact("A", "a@b.dk", AT)))
    assert b"KontaktTelefon" not in body
    assert served(body).kontakt == model.ContactBlock("A", "a@b.dk", None, AT.astimezone(UTC))


# Agreement with the schema -------------------------------------------------------------

_CHARS = (
    "abcxyzæøåÆØÅ0123456789@.-_ "
    "\t\n\r<>&\"'"  # whitespace the schema knows, and XML's special characters
    "\u00a0\u0085\u2028\u3000"  # whitespace Python knows and the schema does not
    "\ud7ff\ue000\ufffd😀𝔘"  # the edges of XML's characters, characters outside the BMP
)
_WHITE = " \t\n\r\u00a0\u3000"
_NOT_XML = "\x00\x01\x08\x0b\x1f\ufffe\udc00"


def _text(rng: random.Random, maximum: int) -> str:
    """Mostly valid text, now and then blank, too long or with a character XML lacks."""
    length = rng.choice([1, 2, maximum - 1, maximum, rng.randint(1, maximum)])
    text = "".join(rng.choice(_CHARS) for _ in range(length))
    trouble = rng.random()
    if trouble < 0.02:
        return ""
    if trouble < 0.04:
        return "".join(rng.choice(_WHITE) for _ in range(length))
    if trouble < 0.06:
        return text + "x" * (maximum + 1 - len(text))
    if trouble < 0.08:
        return text[:-1] + rng.choice(_NOT_XML)
    return text


def _time(rng: random.Random) -> Any:
    year = rng.choice([1, 2, 1850, 1970, 2026, 2026, 2026, 9998, 9999])
    value = datetime(
        year,
        rng.randint(1, 12),
        rng.randint(1, 28),
        rng.randint(0, 23),
        rng.randint(0, 59),
        rng.randint(0, 59),
        rng.choice([0, 1, 500000, 999999]),
    )
    zone = rng.choice(
        [
            None if rng.random() < 0.2 else UTC,
            UTC,
            DK,
            timezone(timedelta(hours=14)),
            timezone(-timedelta(hours=14)),
            timezone(timedelta(hours=23, minutes=59)),  # Python allows it, the schema does not
            timezone(timedelta(minutes=50, seconds=20)),
            timezone(-timedelta(hours=5, minutes=30)),
        ]
    )
    return value if zone is None else value.replace(tzinfo=zone)


def _maybe(rng: random.Random, make: Callable[[], Any]) -> Any:
    try:
        return make() if rng.random() < 0.7 else None
    except ReportError:
        return "refused"


def test_every_report_that_constructs_is_accepted_by_the_service() -> None:
    """A seeded random walk along every boundary of the contract."""
    rng = random.Random(20261126)
    built = refused = 0
    for _ in range(1500):
        cpr = rng.choice([CPR, "0000000000", "9999999999"] * 5 + ["123456789", "15030842a2"])
        number = rng.choice([1, 2, AARHUS_KUI, 2**31 - 1] * 5 + [0, -1, 2**31])
        phone = rng.choice([None, "0", "4520304050", "9999999999"] * 5 + ["1" * 11, "", "-1"])
        contact = _maybe(
            rng,
            lambda phone=phone: Contact(_text(rng, 100), _text(rng, 100), _time(rng), phone=phone),
        )
        job = _maybe(rng, lambda: JobWish(_text(rng, 200), _time(rng)))
        education = _maybe(rng, lambda: EducationWish(_text(rng, 200), _time(rng)))
        if "refused" in (contact, job, education):
            refused += 1
            continue
        try:
            report = Report(cpr, number, contact=contact, job=job, education=education)
        except ReportError:
            refused += 1
            continue
        built += 1
        assert served(render(report)) == expected(report)
    assert built > 200 and refused > 200  # both sides of the boundaries were walked


GOOD: list[tuple[str, Callable[[], Report]]] = [
    ("100 characters", lambda: Report(CPR, 1, contact=Contact("n" * 100, "m" * 100, AT))),
    ("200 characters", lambda: Report(CPR, 1, job=JobWish("j" * 200, AT))),
    ("astral characters count one", lambda: Report(CPR, 1, job=JobWish("😀" * 200, AT))),
    ("spaces around", lambda: Report(CPR, 1, education=EducationWish(" \t x \r\n", AT))),
    ("largest xs:int", lambda: Report(CPR, 2**31 - 1)),
    ("10-digit phone", lambda: Report(CPR, 1, contact=Contact("n", "m", AT, "9999999999"))),
    ("1-digit phone", lambda: Report(CPR, 1, contact=Contact("n", "m", AT, "0"))),
    ("first instant", lambda: Report(CPR, 1, job=JobWish("j", datetime(1, 1, 1, tzinfo=UTC)))),
    (
        "last instant",
        lambda: Report(CPR, 1, job=JobWish("j", datetime(9999, 12, 31, 23, 59, 59, 999999, UTC))),
    ),
    (
        "an offset in seconds is written in UTC",
        lambda: Report(CPR, 1, job=JobWish("j", datetime(1850, 6, 1, 12, tzinfo=DK))),
    ),
]


@pytest.mark.parametrize("make", [m for _, m in GOOD], ids=[n for n, _ in GOOD])
def test_boundary_values_are_accepted_by_both(make: Callable[[], Report]) -> None:
    report = make()
    assert served(render(report)) == expected(report)


# (what the Report is given, the field it names; the element and text the schema is given)
BAD: list[tuple[Callable[[], object], str, str, str]] = [
    (lambda: Report("123456789", 1), "Report.cpr", "CPRNr", "123456789"),
    (lambda: Report("12345678901", 1), "Report.cpr", "CPRNr", "12345678901"),
    (lambda: Report("150308-423", 1), "Report.cpr", "CPRNr", "150308-423"),
    (lambda: Report("１５０３０８４２３２", 1), "Report.cpr", "CPRNr", "１５０３０８４２３２"),
    (lambda: Report(CPR, 0), "Report.institution", "KommuneInstitutionNummer", "0"),
    (lambda: Report(CPR, -1), "Report.institution", "KommuneInstitutionNummer", "-1"),
    (lambda: Report(CPR, 2**31), "Report.institution", "KommuneInstitutionNummer", str(2**31)),
    (lambda: Contact("", "m", AT), "Contact.name", "KontaktNavn", ""),
    (lambda: Contact(" \t\r\n", "m", AT), "Contact.name", "KontaktNavn", " \t\r\n"),
    (lambda: Contact("n" * 101, "m", AT), "Contact.name", "KontaktNavn", "n" * 101),
    (lambda: Contact("n", "m" * 101, AT), "Contact.mail", "KontaktMail", "m" * 101),
    (lambda: Contact("n", "   ", AT), "Contact.mail", "KontaktMail", "   "),
    (lambda: Contact("n", "m", AT, ""), "Contact.phone", "KontaktTelefon", ""),
    (lambda: Contact("n", "m", AT, "12345678901"), "Contact.phone", "KontaktTelefon", "1" * 11),
    (lambda: Contact("n", "m", AT, "+4512345678"), "Contact.phone", "KontaktTelefon", "+45123"),
    (lambda: Contact("n", "m", AT, "-1"), "Contact.phone", "KontaktTelefon", "-1"),
    (lambda: JobWish("j" * 201, AT), "JobWish.text", "JobOnsker", "j" * 201),
    (lambda: JobWish("\n", AT), "JobWish.text", "JobOnsker", "\n"),
    (lambda: EducationWish("u" * 201, AT), "EducationWish.text", "UddannelsesOnsker", "u" * 201),
    (lambda: EducationWish("", AT), "EducationWish.text", "UddannelsesOnsker", ""),
    (
        lambda: JobWish("j", datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1)))),
        "JobWish.registered_at",
        "JobRegistreringstid",
        "0001-01-01T00:00:00+01:00",
    ),
    (
        lambda: JobWish("j", datetime(9999, 12, 31, 23, tzinfo=timezone(-timedelta(hours=1)))),
        "JobWish.registered_at",
        "JobRegistreringstid",
        "9999-12-31T23:00:00-01:00",
    ),
]


@pytest.mark.parametrize(("make", "field", "element", "text"), BAD, ids=[b[1] for b in BAD])
def test_boundary_violations_are_refused_by_both(
    make: Callable[[], object], field: str, element: str, text: str
) -> None:
    with pytest.raises(ReportError) as caught:
        make()
    assert caught.value.field == field
    assert caught.value.element == element
    assert str(caught.value).startswith(f"{field} ({element}): ")
    with pytest.raises(InvalidRequest):
        served(with_text(render(sample_report()), element, text))


# What the Report refuses beyond the schema's words ---------------------------------------


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: Contact("n", "m", datetime(2026, 11, 20, 9, 15)), "Contact.registered_at"),
        (lambda: JobWish("j", "2026-11-20T09:15:00"), "JobWish.registered_at"),
        (lambda: JobWish("a\x00b", AT), "JobWish.text"),
        (lambda: Contact("n\udc00", "m", AT), "Contact.name"),
        (lambda: Contact(42, "m", AT), "Contact.name"),
        (lambda: Contact("n", "m", AT, 4520304050), "Contact.phone"),
        (lambda: Report(1503084232, 1), "Report.cpr"),
        (lambda: Report(CPR, True), "Report.institution"),
        (lambda: Report(CPR, "751001"), "Report.institution"),
        (lambda: Report(CPR, 1, contact=JobWish("j", AT)), "Report.contact"),
    ],
)
def test_values_the_wire_cannot_carry_are_refused(make: Callable[[], object], field: str) -> None:
    with pytest.raises(ReportError) as caught:
        make()
    assert caught.value.field == field
    assert isinstance(caught.value, ValueError)


def test_a_naive_time_is_refused_with_advice() -> None:
    with pytest.raises(ReportError, match=r"timezone-aware.*Europe/Copenhagen"):
        JobWish("j", datetime(2026, 11, 20, 9, 15))


def test_reports_are_frozen_and_replace_checks_again() -> None:
    import dataclasses

    report = sample_report()
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.cpr = "0101014230"  # type: ignore[misc]
    with pytest.raises(ReportError):
        dataclasses.replace(report, institution=0)
    assert dataclasses.replace(report, job=None).job is None


def test_no_personal_data_in_reprs_or_errors() -> None:
    report = sample_report()
    shown = repr(report)
    assert CPR not in shown and "150308-****" in shown
    for secret in ("Mette", "mette.sorensen", "4520304050", "Tømrer", "Erhvervsuddannelse"):
        assert secret not in shown
    for make in (
        lambda: Report("15030842321", 1),
        lambda: Contact("Mette Sørensen" * 10, "m", AT),
        lambda: Contact("n", "m", AT, "45203040501"),
    ):
        with pytest.raises(ReportError) as caught:
            make()
        assert "1503084232" not in str(caught.value)
        assert "Mette" not in str(caught.value) and "4520304050" not in str(caught.value)


def test_xs_datetime_keeps_offsets_the_schema_can_write() -> None:
    assert xs_datetime(AT) == "2026-11-20T09:15:00+01:00"
    assert xs_datetime(datetime(2026, 7, 1, 9, tzinfo=DK)) == "2026-07-01T09:00:00+02:00"
    plus14 = datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=14)))
    assert xs_datetime(plus14) == "2026-01-01T00:00:00+14:00"
    plus15 = datetime(2026, 1, 1, 15, tzinfo=timezone(timedelta(hours=15)))
    assert xs_datetime(plus15) == "2026-01-01T00:00:00Z"
    with pytest.raises(ValueError):
        xs_datetime(datetime(2026, 1, 1))
