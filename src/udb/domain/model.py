"""Values of the report service.

These mirror the contract (interface.md sections 2 and 3) without any XML:
the SOAP layer turns a request into a :class:`Submission`, the use case
answers with an :class:`Outcome`.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime


class PersonStatus(enum.Enum):
    """A person's standing in the CPR register, as far as UDB is concerned.

    Only ACTIVE persons live in Denmark. The CPR office's status codes map
    onto these (:meth:`from_cpr_code`); UNREGISTERED is a person that a full
    extract no longer holds.
    """

    ACTIVE = "active"
    DEAD = "dead"
    EMIGRATED = "emigrated"
    DISAPPEARED = "disappeared"
    GREENLAND = "greenland"
    NO_RESIDENCE = "no_residence"
    CANCELLED = "cancelled"
    REPLACED = "replaced"
    UNREGISTERED = "unregistered"

    @property
    def lives_in_denmark(self) -> bool:
        return self is PersonStatus.ACTIVE

    @classmethod
    def from_cpr_code(cls, code: str) -> PersonStatus:
        """The status for a CPR status code (cpr-extract.md, "Person status").

        Raises ``KeyError`` for a code the CPR office does not use.
        """
        return _CPR_CODES[code]


_CPR_CODES = {
    "01": PersonStatus.ACTIVE,  # Danish register
    "03": PersonStatus.ACTIVE,  # Danish register, special road code
    "05": PersonStatus.GREENLAND,
    "07": PersonStatus.GREENLAND,
    "20": PersonStatus.NO_RESIDENCE,  # number for tax purposes only
    "30": PersonStatus.CANCELLED,
    "50": PersonStatus.REPLACED,  # deleted as a duplicate; see the current number
    "60": PersonStatus.REPLACED,  # changed; see the current number
    "70": PersonStatus.DISAPPEARED,
    "80": PersonStatus.EMIGRATED,
    "90": PersonStatus.DEAD,
}


@dataclass(frozen=True, slots=True)
class Person:
    """A young person as UDB knows them from the CPR register."""

    cpr: str
    birth_date: date
    status: PersonStatus
    municipality_code: int | None
    #: the CPR office's two-digit status code, when the person came from an extract
    cpr_status: str | None = None
    #: the current number of a person whose number was changed or deleted (50/60)
    replaced_by: str | None = None

    @property
    def resident(self) -> bool:
        """Lives in Denmark with a home municipality (else rule 14 answers)."""
        return self.status.lives_in_denmark and self.municipality_code is not None


@dataclass(frozen=True, slots=True)
class Municipality:
    code: int
    name: str


@dataclass(frozen=True, slots=True)
class Institution:
    """A KUI institution; it belongs to exactly one municipality."""

    number: int
    municipality_code: int
    name: str


@dataclass(frozen=True, slots=True)
class ClientSystem:
    """A registered calling system and the institution numbers it may report for.

    A disabled system (``disabled_at`` set) keeps its history but may not call
    the service: its requests are refused as from an unknown caller.
    """

    id: int
    name: str
    institutions: frozenset[int] = field(default_factory=frozenset)
    disabled_at: datetime | None = None

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None


@dataclass(frozen=True, slots=True)
class ClientCertificate:
    """A certificate pinned to a client system: it identifies that system."""

    fingerprint: str  # SHA-256 of the DER, lowercase hex
    subject: str
    not_before: datetime
    not_after: datetime
    added_at: datetime
    #: set when the certificate was rotated out: it identifies the system until then
    retires_at: datetime | None = None

    def identifies_at(self, moment: datetime) -> bool:
        return self.retires_at is None or moment < self.retires_at


class BlockKind(enum.Enum):
    """The three independent parts of a report."""

    KONTAKT = "kontakt"
    JOB = "job"
    UDDANNELSE = "uddannelse"


@dataclass(frozen=True, slots=True)
class ContactBlock:
    """KommuneKontakt: the contact person in the home municipality."""

    navn: str
    mail: str
    telefon: int | None
    registreringstid: datetime

    kind = BlockKind.KONTAKT


@dataclass(frozen=True, slots=True)
class JobWishBlock:
    """JobOnsker: the young person's job wish."""

    tekst: str
    registreringstid: datetime

    kind = BlockKind.JOB


@dataclass(frozen=True, slots=True)
class EducationWishBlock:
    """UddannelsesOnsker: the young person's education wish."""

    tekst: str
    registreringstid: datetime

    kind = BlockKind.UDDANNELSE


Block = ContactBlock | JobWishBlock | EducationWishBlock


@dataclass(frozen=True, slots=True)
class ReportContent:
    """The business request (IndberetningKontaktJobOgUddOenskerRequest).

    Registration times are aware datetimes in UTC: the SOAP layer has already
    read a value without offset as Danish local time (:func:`udb.domain.clock.to_instant`).
    An absent block means "no change" for that block.
    """

    modtager_system_id: str
    cpr: str
    institution_number: int
    kontakt: ContactBlock | None = None
    job: JobWishBlock | None = None
    uddannelse: EducationWishBlock | None = None

    @property
    def blocks(self) -> tuple[Block, ...]:
        return tuple(b for b in (self.kontakt, self.job, self.uddannelse) if b is not None)

    def fingerprint(self) -> str:
        """SHA-256 over the report's content, for idempotency.

        Two reports with the same values have the same fingerprint however the
        XML spelled them (prefixes, whitespace between elements, the zone in
        which a time was written).
        """

        def instant(value: datetime) -> str:
            return value.astimezone(UTC).isoformat()

        doc = {
            "modtager": self.modtager_system_id,
            "cpr": self.cpr,
            "institution": self.institution_number,
            "kontakt": None
            if self.kontakt is None
            else [
                self.kontakt.navn,
                self.kontakt.mail,
                self.kontakt.telefon,
                instant(self.kontakt.registreringstid),
            ],
            "job": None
            if self.job is None
            else [self.job.tekst, instant(self.job.registreringstid)],
            "uddannelse": None
            if self.uddannelse is None
            else [self.uddannelse.tekst, instant(self.uddannelse.registreringstid)],
        }
        raw = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Signature:
    """What WS-Security established about a signed request."""

    #: SHA-256 fingerprint of the signing certificate: it identifies the caller
    certificate_fingerprint: str
    #: key of the replay cache (a hash of the signature value) and how long to keep it
    replay_key: str
    keep_until: datetime


@dataclass(frozen=True, slots=True)
class Submission:
    """One received report with the IPL wrapper's facts around it."""

    system_name: str
    system_transaction_id: str
    report: ReportContent
    received_at: datetime
    correlation_id: str
    #: None only for an unsigned request in insecure development mode
    signature: Signature | None = None


class ErrorKind(enum.Enum):
    HARD = "hard"
    SOFT = "soft"


class ErrorCode(enum.IntEnum):
    """Business error codes (FejlKode), interface.md section 4."""

    UNKNOWN_PERSON = 14
    AGE_LIMIT = 15
    NOT_AUTHORISED = 86
    INTERNAL = 101
    FUTURE_REGISTRATION = 280

    @property
    def text(self) -> str:
        """FejlTekst, verbatim (101 keeps the Danish description's spelling)."""
        return _TEXTS[self]

    @property
    def kind(self) -> ErrorKind:
        return ErrorKind.SOFT if self is ErrorCode.FUTURE_REGISTRATION else ErrorKind.HARD


_TEXTS = {
    ErrorCode.UNKNOWN_PERSON: "Den unge findes ikke i Ungedatabasen",
    ErrorCode.AGE_LIMIT: "Aldersgrænse overskredet",
    ErrorCode.NOT_AUTHORISED: "Bruger må ikke indberette oplysninger om dette CPR-nummer",
    ErrorCode.INTERNAL: "exeption - UDB",
    ErrorCode.FUTURE_REGISTRATION: (
        "Registreringstid for kontakt, uddannelses- eller jobønsker må ikke fremdateres"
    ),
}


@dataclass(frozen=True, slots=True)
class Outcome:
    """The business answer (IndberetningSvar): accepted, or one error code.

    ``repeated`` says that the answer was given before, to the same transaction
    (idempotency); it is not part of the answer and does not take part in equality.
    """

    error: ErrorCode | None = None
    repeated: bool = field(default=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.error is None

    @classmethod
    def accepted(cls) -> Outcome:
        return cls(None)

    @classmethod
    def rejected(cls, code: ErrorCode) -> Outcome:
        return cls(code)
