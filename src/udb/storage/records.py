"""The records the storage interface reads and writes besides the domain's values
(:mod:`udb.storage.base` is the interface)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from udb.domain.model import (
    Block,
    BlockKind,
    ClientSystem,
    ErrorCode,
    Institution,
    Person,
)


@dataclass(frozen=True, slots=True)
class ReportRecord:
    """One received report in the report log (also its idempotency key)."""

    correlation_id: str
    system_id: int
    system_transaction_id: str
    content_sha256: str
    cpr: str
    institution_number: int
    received_at: datetime
    outcome: ErrorCode | None


@dataclass(frozen=True, slots=True)
class Arrival:
    """What to look up for one incoming report (:meth:`UnitOfWork.receive`)."""

    #: the caller: its certificate's SHA-256 fingerprint when signed, else its SystemName
    certificate_fingerprint: str | None
    system_name: str
    system_transaction_id: str
    cpr: str
    institution_number: int
    received_at: datetime
    #: the signature's replay key and how long to keep it (None: unsigned)
    replay_key: str | None = None
    keep_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Intake:
    """What the database knows about an incoming report (:meth:`UnitOfWork.receive`)."""

    #: False if the signature was received before (a replay); True when unsigned
    first_seen: bool
    #: the system the certificate (signed) or the SystemName (unsigned) identifies
    system: ClientSystem | None
    #: the report already logged under (system, SystemTransactionID)
    earlier: ReportRecord | None
    person: Person | None
    institution: Institution | None


@dataclass(frozen=True, slots=True)
class StoredBlock:
    """A block as stored, with its source."""

    block: Block
    received_at: datetime
    system_name: str
    system_transaction_id: str
    correlation_id: str


@dataclass(frozen=True, slots=True)
class PersonView:
    """The operator's view of one person."""

    person: Person
    current: dict[BlockKind, StoredBlock]
    history_count: int
    report_count: int


@dataclass(frozen=True, slots=True)
class ApplyCounts:
    """What an import did."""

    added: int = 0
    changed: int = 0
    unchanged: int = 0


@dataclass(frozen=True, slots=True)
class RegisterCounts:
    """What applying register data did to the persons.

    Each person counts once: ``made_non_resident`` are persons who lived in
    Denmark before and do not now (dead, emigrated, moved out, no longer in the
    register ...); ``changed`` are the other persons whose data changed.
    ``unregistered`` (full imports only) are persons the file no longer holds;
    they are counted in ``made_non_resident`` or ``changed`` as well.
    """

    added: int = 0
    changed: int = 0
    made_non_resident: int = 0
    unchanged: int = 0
    unregistered: int = 0


@dataclass(frozen=True, slots=True)
class StagedRegister:
    """Register data staged by :meth:`Store.stage_register`, ready to apply.

    The staging area belongs to the thread that staged it: apply it from a unit
    of work of the same thread.
    """

    token: str
    persons: int


@dataclass(frozen=True, slots=True)
class CprImportRecord:
    """One applied CPR extract file."""

    file_name: str
    file_sha256: str
    kind: str  # "full" or "incremental"
    task_number: str
    production_date: date
    previous_production_date: date | None
    persons: int
    counts: RegisterCounts
    warnings: int
    forced: bool
    applied_at: datetime


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request: when, which, what came of it, who (as far as it was established).

    Made by the endpoint (:mod:`udb.service.requests`), kept in ``request_log``
    (:class:`udb.storage.operator.RequestLog`). No personal data: the CPR number only masked.
    """

    received_at: datetime
    correlation_id: str
    #: "Indberetning", "Hent" (a read-back), "Ping", or ``UNREAD`` (refused before its
    #: operation was known)
    operation: str
    #: "accepted", "rejected", "fault", "up" or "down"; "answered" (a read-back)
    outcome: str
    #: the FejlKode of a rejection ("14"), the ErrorCode of a fault ("IPL000002"), else None
    code: str | None
    #: a fault's Details (by contract without submitted values), else None
    details: str | None
    http_status: int
    soap_version: str
    duration_ms: float
    #: the calling system's name (SystemName of a read request), if it got that far
    system_name: str | None = None
    institution_number: int | None = None
    #: the CPR number masked to its first six digits (``150308-****``)
    masked_cpr: str | None = None
    #: the answer was given before, to the same transaction (idempotency)
    repeated: bool = False

    @property
    def summary(self) -> str:
        """``accepted``, ``rejected 14``, ``fault IPL000002``, ``up``: for the log line."""
        return self.outcome if self.code is None else f"{self.outcome} {self.code}"

    def log_fields(self) -> dict[str, object]:
        """The record as the fields of a structured log line (``extra=``)."""
        return {
            "correlation_id": self.correlation_id,
            "operation": self.operation,
            "outcome": self.outcome,
            "code": self.code,
            "status": self.http_status,
            "soap": self.soap_version,
            "duration_ms": round(self.duration_ms, 1),
            "system": self.system_name,
            "institution": self.institution_number,
            "cpr": self.masked_cpr,
            "repeated": self.repeated,
        }


@dataclass(frozen=True, slots=True)
class IntervalCount:
    """Reports logged in ``[start, end)``: all of them, and those rejected."""

    start: datetime
    end: datetime
    reports: int
    rejected: int


@dataclass(frozen=True, slots=True)
class MunicipalityCount:
    """Reports logged for the institutions of one municipality, and those rejected.

    ``code`` and ``name`` are None for institution numbers the register does not hold.
    """

    code: int | None
    name: str | None
    reports: int
    rejected: int


#: what a purge deletes, in the order it deletes it (:class:`RetentionCounts` fields)
RETENTION_KINDS = (
    "replay_entries",
    "requests",
    "report_blocks",
    "reports",
    "persons_over_25",
    "persons_gone",
)


@dataclass(frozen=True, slots=True)
class RetentionCutoffs:
    """What is old enough to delete (:mod:`udb.service.retention` works them out)."""

    #: replay-cache entries kept until this time or before have expired
    now: datetime
    #: persons born on or before this day turned 25 long enough ago
    born_by: date
    #: persons not living in Denmark (or not in the register) since before this time
    gone_before: datetime
    #: report-log and request records received before this time
    logs_before: datetime


@dataclass(frozen=True, slots=True)
class RetentionCounts:
    """What a purge deleted (or, in a dry run, would delete), per kind.

    ``persons_*`` count persons whose contact person and wishes (current and
    history) went; ``report_blocks`` the no longer current history rows that went
    with their old reports; the others count rows.
    """

    replay_entries: int = 0
    requests: int = 0
    report_blocks: int = 0
    reports: int = 0
    persons_over_25: int = 0
    persons_gone: int = 0

    def as_dict(self) -> dict[str, int]:
        return {kind: getattr(self, kind) for kind in RETENTION_KINDS}

    @property
    def total(self) -> int:
        return sum(self.as_dict().values())


@dataclass(frozen=True, slots=True)
class RetentionRun:
    """One recorded purge (``udb retention history``)."""

    id: int
    started_at: datetime
    #: None while it runs, or if it was interrupted
    finished_at: datetime | None
    dry_run: bool
    counts: RetentionCounts
    duration_ms: float | None
    #: why it stopped before it was done (None: it finished, or it is still running)
    error: str | None = None


@dataclass(frozen=True, slots=True)
class TestEnvSlot:
    """A place in the test environment: a test KUI and its scenario persons, enrolled
    by at most one client system (``udb testenv enroll``)."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    slot: int
    institution_number: int
    municipality_code: int
    system_name: str | None = None
    enrolled_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TestEnvPerson:
    """A synthetic young person of the test environment and the scenario it triggers."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    cpr: str
    slot: int
    scenario: str


@dataclass(frozen=True, slots=True)
class TestEnvRequest:
    """One request of an enrolled system, in full (the test environment's data is
    synthetic), with what the service found in it, for the verification report."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    system_name: str
    received_at: datetime
    correlation_id: str
    operation: str
    outcome: str
    code: str | None
    details: str | None
    soap_version: str
    certificate_fingerprint: str | None
    uses_sha1: bool
    timestamp_created: datetime | None
    system_transaction_id: str | None
    cpr: str | None
    content_sha256: str | None
    #: the blocks the report carried (:class:`~udb.domain.model.BlockKind` values)
    blocks: tuple[str, ...]
    repeated: bool
    body: str
