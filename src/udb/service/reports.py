"""Receiving a report: identify the caller, apply the rules, store, answer."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from udb.domain import cpr
from udb.domain.model import (
    Block,
    ClientSystem,
    ErrorCode,
    Outcome,
    ReportContent,
    Submission,
)
from udb.domain.rules import Facts, check_report
from udb.service.errors import (
    NOT_PINNED,
    REPLAY_REFUSED,
    SYSTEM_DISABLED,
    AccessDenied,
    Replayed,
    TransactionIdReused,
)
from udb.storage.base import SignatureSeen, StorageError, Store, UnitOfWork
from udb.storage.records import Arrival, ReportRecord

log = logging.getLogger(__name__)

RECIPIENT_MISMATCH = "ModtagerSystemID must equal Identifier/SystemName"


@dataclass(frozen=True, slots=True)
class ReportPolicy:
    """Tunable parts of the rules."""

    #: How far a registration time may lie after the moment of receipt (rule 280).
    future_tolerance: timedelta = timedelta(0)


def identify(submission: Submission, found: ClientSystem | None) -> ClientSystem:
    """The registered system that sent ``submission`` (IPL000004 otherwise).

    ``found`` is the system that storage found for the caller
    (:meth:`~udb.storage.base.UnitOfWork.receive`): a signed request is from the
    system its certificate is pinned to, and ``Identifier/SystemName`` and
    ``ModtagerSystemID`` must both name that system. An unsigned request
    (insecure development mode only) is from the system named in ``SystemName``.
    A disabled system (``udb systems disable``) is refused either way.
    """
    system = identify_caller(submission.system_name, found, signed=submission.signature is not None)
    check_recipient(submission.report, system.name)
    return system


def identify_caller(system_name: str, found: ClientSystem | None, *, signed: bool) -> ClientSystem:
    """The registered, enabled system that ``found`` and ``Identifier/SystemName`` name.

    Shared by every use case that authenticates a caller (a report, a read):
    see :func:`identify`. IPL000004 otherwise.
    """
    if signed:
        if found is None:
            raise AccessDenied(NOT_PINNED)
        if system_name != found.name:
            raise AccessDenied("Identifier/SystemName is not the system of the signing certificate")
    elif found is None:
        raise AccessDenied("SystemName is not a registered client system")
    if found.disabled:
        raise AccessDenied(SYSTEM_DISABLED)
    return found


def check_recipient(report: ReportContent, system_name: str) -> None:
    """IPL000004 unless ``ModtagerSystemID`` names ``system_name``, the calling system."""
    if report.modtager_system_id != system_name:
        raise AccessDenied(RECIPIENT_MISMATCH)


def arrival(submission: Submission) -> Arrival:
    """What storage must look up for ``submission``."""
    signature = submission.signature
    report = submission.report
    return Arrival(
        certificate_fingerprint=None if signature is None else signature.certificate_fingerprint,
        system_name=submission.system_name,
        system_transaction_id=submission.system_transaction_id,
        cpr=report.cpr,
        institution_number=report.institution_number,
        received_at=submission.received_at,
        replay_key=None if signature is None else signature.replay_key,
        keep_until=None if signature is None else signature.keep_until,
    )


def submit(submission: Submission, store: Store, policy: ReportPolicy) -> Outcome:
    """Answer one report: accepted, or rejected with one error code.

    One unit of work reads what the rules need (:meth:`UnitOfWork.receive`),
    decides, and logs the report with its outcome under its idempotency key
    (system, SystemTransactionID), its blocks going to the history and, where
    newer, becoming current: written and committed at once
    (:meth:`UnitOfWork.record_and_commit`; PostgreSQL: the intake and the record
    are one statement each, two round trips a report). A repeated report with
    the same key and content gets the stored answer and changes nothing; the
    same key with other content raises :class:`TransactionIdReused`. If the
    database fails, nothing is kept and the answer is 101. One case cannot be
    told apart: the connection breaking during the commit itself, when the
    database may have committed. That is why 101 means "send the same report
    again unchanged": the idempotency key then answers with the original outcome.
    """
    try:
        with store.unit_of_work() as uow:
            decision = _decide(submission, uow, policy)
            if decision.record is None:  # a repeat: remember the signature, nothing else
                uow.commit()
                return decision.outcome
            report_id = uow.record_and_commit(decision.record, decision.blocks)
        if report_id is not None:
            log.debug(
                "report %s cpr=%s blocks=%d correlation_id=%s",
                "accepted"
                if decision.outcome.error is None
                else f"rejected {decision.outcome.error}",
                cpr.mask(submission.report.cpr),
                len(decision.blocks),
                submission.correlation_id,
            )
            return decision.outcome
        # Another transaction logged the same key between receive() and the record.
        with store.unit_of_work(readonly=True) as uow:
            earlier = uow.reports.find(decision.record.system_id, submission.system_transaction_id)
        if earlier is None:  # pragma: no cover - the row that conflicted must exist
            raise StorageError("idempotency key conflicted but cannot be read")
        return _as_before(earlier, submission)
    except SignatureSeen:
        raise Replayed(REPLAY_REFUSED) from None
    except StorageError:
        log.exception(
            "storage failed; answering %d correlation_id=%s",
            ErrorCode.INTERNAL,
            submission.correlation_id,
        )
        return Outcome.rejected(ErrorCode.INTERNAL)


def answer_without_storing(submission: Submission, store: Store, policy: ReportPolicy) -> Outcome:
    """What :func:`submit` would answer now, with nothing written.

    Raises what :func:`submit` raises (a replay, an unknown caller, a reused
    transaction id). The test environment uses it to answer 101 for a report
    that was checked in full and then not stored, as when the database fails.
    """
    try:
        with store.unit_of_work() as uow:
            return _decide(submission, uow, policy).outcome  # never committed: rolled back
    except StorageError:
        return Outcome.rejected(ErrorCode.INTERNAL)


@dataclass(frozen=True, slots=True)
class _Decision:
    """What :func:`_decide` found: the answer and, for a new report, what to record."""

    outcome: Outcome
    #: the report log's row to write (None: a repeat, answered as before)
    record: ReportRecord | None = None
    blocks: tuple[Block, ...] = ()


def _decide(submission: Submission, uow: UnitOfWork, policy: ReportPolicy) -> _Decision:
    intake = uow.receive(arrival(submission))
    if not intake.first_seen:
        raise Replayed(REPLAY_REFUSED)
    system = identify(submission, intake.system)
    report = submission.report
    if intake.earlier is not None:
        return _Decision(_as_before(intake.earlier, submission))
    code = check_report(
        Facts(
            report=report,
            person=intake.person,
            institution=intake.institution,
            system=system,
            received_at=submission.received_at,
            future_tolerance=policy.future_tolerance,
        )
    )
    record = ReportRecord(
        correlation_id=submission.correlation_id,
        system_id=system.id,
        system_transaction_id=submission.system_transaction_id,
        content_sha256=report.fingerprint(),
        cpr=report.cpr,
        institution_number=report.institution_number,
        received_at=submission.received_at,
        outcome=code,
    )
    return _Decision(Outcome(code), record, report.blocks if code is None else ())


def _as_before(earlier: ReportRecord, submission: Submission) -> Outcome:
    """The stored answer for a repeated key, or IPL000005 if the content differs."""
    if earlier.content_sha256 != submission.report.fingerprint():
        raise TransactionIdReused(
            "SystemTransactionID was already used by this system for a different report"
        )
    log.debug(
        "repeated report answered as before (first correlation_id=%s) correlation_id=%s",
        earlier.correlation_id,
        submission.correlation_id,
    )
    return Outcome(earlier.outcome, repeated=True)
