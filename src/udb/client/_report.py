"""The report as a value: checked against the contract when it is made.

A :class:`Report` that constructs renders to a request the service's schema
accepts; one that breaks a rule of ``udb.xsd`` raises :class:`ReportError` at
once, naming the field and the rule, never the value::

    >>> from datetime import datetime
    >>> from zoneinfo import ZoneInfo
    >>> when = datetime(2026, 11, 20, 9, 15, tzinfo=ZoneInfo("Europe/Copenhagen"))
    >>> Report("1503084232", 751001, job=JobWish("Tømrer", when))  # doctest: +ELLIPSIS
    Report(cpr='150308-****', institution=751001, contact=None, job=JobWish(registered_at=...), ...)
    >>> Report("150308-4232", 751001)
    Traceback (most recent call last):
    ...
    udb.client.ReportError: Report.cpr (CPRNr): must be exactly 10 digits 0-9, without a hyphen

The rules (interface.md section 2, ``udb.xsd``):

==================  ===========================  ===============================================
field               element                      rule
==================  ===========================  ===============================================
Report.cpr          CPRNr                        exactly 10 ASCII digits (no modulus-11 check)
Report.institution  KommuneInstitutionNummer     int from 1 to 2147483647 (xs:int, > 0)
Contact.name        KontaktNavn                  str, 1 to 100 characters, not only whitespace
Contact.mail        KontaktMail                  str, 1 to 100 characters, not only whitespace
Contact.phone       KontaktTelefon               optional str, 1 to 10 digits 0-9
JobWish.text        JobOnsker                    str, 1 to 200 characters, not only whitespace
EducationWish.text  UddannelsesOnsker            str, 1 to 200 characters, not only whitespace
\\*.registered_at    \\*Registreringstid            timezone-aware datetime, years 0001-9999 in UTC
==================  ===========================  ===============================================

Every text must consist of characters XML 1.0 allows (no control characters
other than tab, line feed and carriage return). "Not only whitespace" is
Python's :meth:`str.isspace`, slightly stricter than the schema's ``\\S``
(which lets a no-break space through).

**Registration times must be timezone-aware.** A naive ``datetime`` is refused
rather than guessed at: the wire format would read it as Danish local time,
but in Python a naive value is as often UTC or the machine's local time, and a
wrong guess turns into error 280 or a block that is wrongly older or newer.
Write ``datetime(..., tzinfo=ZoneInfo("Europe/Copenhagen"))`` for Danish wall
clock time, or ``datetime.now(UTC)``.

The ``repr`` of these values shows no personal data: the CPR number is masked
and names, e-mail addresses, phone numbers and free texts are left out, so a
report that ends up in a log line or a traceback discloses nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from udb.client._exceptions import ReportError
from udb.domain import cpr as _cpr

__all__ = ["Contact", "EducationWish", "JobWish", "Report"]

#: largest xs:int
INT_MAX = 2_147_483_647

#: any character outside XML 1.0's Char production
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_PHONE = re.compile(r"[0-9]{1,10}")


def check_text(owner: str, name: str, element: str, value: object, maximum: int) -> None:
    """A non-blank string of at most ``maximum`` characters, all allowed in XML."""
    where = f"{owner}.{name}"
    if not isinstance(value, str):
        raise ReportError(where, f"must be a str, not {type(value).__name__}", element=element)
    if not value or value.isspace():
        raise ReportError(
            where, "must contain at least one character that is not whitespace", element=element
        )
    if len(value) > maximum:
        raise ReportError(
            where,
            f"is longer than the maximum length {maximum} (it has {len(value)} characters)",
            element=element,
        )
    bad = _NOT_XML_CHAR.search(value)
    if bad is not None:
        raise ReportError(
            where,
            f"character {bad.start() + 1} is a control character that XML does not allow",
            element=element,
        )


def _check_time(owner: str, element: str, value: object) -> None:
    where = f"{owner}.registered_at"
    if not isinstance(value, datetime):
        raise ReportError(where, f"must be a datetime, not {type(value).__name__}", element=element)
    if value.tzinfo is None or value.utcoffset() is None:
        raise ReportError(
            where,
            "must be timezone-aware, e.g. datetime(..., tzinfo=ZoneInfo('Europe/Copenhagen')) "
            "or datetime.now(UTC)",
            element=element,
        )
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ReportError(
            where, "must fall within the years 0001-9999 in UTC", element=element
        ) from None


@dataclass(frozen=True, slots=True)
class Contact:
    """KommuneKontakt: the young person's contact person in the home municipality.

    ``Contact("Mette Sørensen", "mette@example.dk", registered_at, phone="4520304050")``;
    ``phone`` is optional and written as digits only.
    """

    name: str = field(repr=False)
    mail: str = field(repr=False)
    registered_at: datetime
    phone: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        check_text("Contact", "name", "KontaktNavn", self.name, 100)
        check_text("Contact", "mail", "KontaktMail", self.mail, 100)
        if self.phone is not None and not isinstance(self.phone, str):
            raise ReportError(
                "Contact.phone",
                f"must be a str or None, not {type(self.phone).__name__}",
                element="KontaktTelefon",
            )
        if self.phone is not None and not _PHONE.fullmatch(self.phone):
            raise ReportError(
                "Contact.phone",
                "must be 1 to 10 digits 0-9, e.g. 12345678 (no spaces, no +45)",
                element="KontaktTelefon",
            )
        _check_time("Contact", "KontaktRegistreringstid", self.registered_at)


@dataclass(frozen=True, slots=True)
class JobWish:
    """JobOnsker: the young person's job wish (free text) and when it was registered."""

    text: str = field(repr=False)
    registered_at: datetime

    def __post_init__(self) -> None:
        check_text("JobWish", "text", "JobOnsker", self.text, 200)
        _check_time("JobWish", "JobRegistreringstid", self.registered_at)


@dataclass(frozen=True, slots=True)
class EducationWish:
    """UddannelsesOnsker: the young person's education wish and when it was registered."""

    text: str = field(repr=False)
    registered_at: datetime

    def __post_init__(self) -> None:
        check_text("EducationWish", "text", "UddannelsesOnsker", self.text, 200)
        _check_time("EducationWish", "UddannelseRegistreringstid", self.registered_at)


@dataclass(frozen=True, slots=True, repr=False)
class Report:
    """One report about one young person (IndberetningKontaktJobOgUddOenskerRequest).

    ``cpr`` is the young person's CPR number (10 digits), ``institution`` the
    institution number of the KUI of their home municipality. Each block is
    optional: an absent block means "no change" for that block. The calling
    system (``ModtagerSystemID``) is the client's ``system_name``.
    """

    cpr: str
    institution: int
    contact: Contact | None = None
    job: JobWish | None = None
    education: EducationWish | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.cpr, str) or not _cpr.is_cpr_form(self.cpr):
            raise ReportError(
                "Report.cpr", "must be exactly 10 digits 0-9, without a hyphen", element="CPRNr"
            )
        number = self.institution
        if isinstance(number, bool) or not isinstance(number, int):
            raise ReportError(
                "Report.institution",
                f"must be an int, not {type(number).__name__}",
                element="KommuneInstitutionNummer",
            )
        if not 1 <= number <= INT_MAX:
            raise ReportError(
                "Report.institution",
                f"must be a whole number from 1 to {INT_MAX}",
                element="KommuneInstitutionNummer",
            )
        for name, cls, value in (
            ("contact", Contact, self.contact),
            ("job", JobWish, self.job),
            ("education", EducationWish, self.education),
        ):
            if value is not None and not isinstance(value, cls):
                kind = type(value).__name__
                raise ReportError(f"Report.{name}", f"must be a {cls.__name__} or None, not {kind}")

    def __repr__(self) -> str:
        return (
            f"Report(cpr={_cpr.mask(self.cpr)!r}, institution={self.institution!r}, "
            f"contact={self.contact!r}, job={self.job!r}, education={self.education!r})"
        )
