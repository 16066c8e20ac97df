"""Receiving a report: identify the caller, apply the rules, store, answer."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from udb.domain import cpr
from udb.domain.model import ClientSystem, ErrorCode, Outcome, Submission
from udb.domain.rules import Facts, check_report
from udb.service.errors import AccessDenied, Replayed, TransactionIdReused
from udb.storage.base import ReportRecord, StorageError, Store, UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Policy:
    """Tunable parts of the rules."""

    #: How far a registration time may lie after the moment of receipt (rule 280).
    future_tolerance: timedelta = timedelta(0)


def identify(uow: UnitOfWork, submission: Submission) -> ClientSystem:
    """The registered system that sent ``submission`` (IPL000004 otherwise).

    A signed request is from the system its certificate is pinned to, and
    ``Identifier/SystemName`` and ``ModtagerSystemID`` must both name that
    system. An unsigned request (insecure development mode only) is from the
    system named in ``SystemName``.
    """
    signature = submission.signature
    if signature is not None:
        system = uow.systems.by_certificate(
            signature.certificate_fingerprint, submission.received_at
        )
        if system is None:
            raise AccessDenied("the signing certificate is not registered to a client system")
        if submission.system_name != system.name:
            raise AccessDenied("Identifier/SystemName is not the system of the signing certificate")
    else:
        system = uow.systems.get(submission.system_name)
        if system is None:
            raise AccessDenied("SystemName is not a registered client system")
    if submission.report.modtager_system_id != system.name:
        raise AccessDenied("ModtagerSystemID must equal Identifier/SystemName")
    return system


def submit(submission: Submission, store: Store, policy: Policy) -> Outcome:
    """Answer one report: accepted, or rejected with one error code.

    Everything happens in one transaction: the report is logged with its
    outcome under its idempotency key (system, SystemTransactionID), and if it
    is accepted its blocks go to the history and, where newer, become current.
    A repeated report with the same key and content gets the stored answer and
    changes nothing; the same key with other content raises
    :class:`TransactionIdReused`. If the database fails, the transaction is
    rolled back and the answer is 101. One case cannot be told apart: the
    connection breaking during the COMMIT itself, when the database may have
    committed. That is why 101 means "send the same report again unchanged":
    the idempotency key then answers with the original outcome.
    """
    try:
        with store.unit_of_work() as uow:
            outcome = _submit(submission, uow, policy)
            uow.commit()
            return outcome
    except StorageError:
        log.exception(
            "storage failed; answering %d correlation_id=%s",
            ErrorCode.INTERNAL,
            submission.correlation_id,
        )
        return Outcome.rejected(ErrorCode.INTERNAL)


def _submit(submission: Submission, uow: UnitOfWork, policy: Policy) -> Outcome:
    signature = submission.signature
    if signature is not None and not uow.replay.remember(
        signature.replay_key, signature.keep_until, submission.received_at
    ):
        raise Replayed("the message was received before (same signature): replay refused")
    system = identify(uow, submission)
    report = submission.report
    fingerprint = report.fingerprint()
    earlier = uow.reports.find(system.id, submission.system_transaction_id)
    if earlier is None:
        code = check_report(
            Facts(
                report=report,
                person=uow.persons.get(report.cpr),
                institution=uow.institutions.get(report.institution_number),
                system=system,
                received_at=submission.received_at,
                future_tolerance=policy.future_tolerance,
            )
        )
        record = ReportRecord(
            correlation_id=submission.correlation_id,
            system_id=system.id,
            system_transaction_id=submission.system_transaction_id,
            content_sha256=fingerprint,
            cpr=report.cpr,
            institution_number=report.institution_number,
            received_at=submission.received_at,
            outcome=code,
        )
        report_id = uow.reports.log(record)
        if report_id is not None:
            if code is None:
                for block in report.blocks:
                    uow.reports.add_block(report_id, report.cpr, block)
            log.debug(
                "report %s cpr=%s blocks=%d correlation_id=%s",
                "accepted" if code is None else f"rejected {int(code)}",
                cpr.mask(report.cpr),
                len(report.blocks),
                submission.correlation_id,
            )
            return Outcome(code)
        # Another transaction logged the same key between find() and log().
        earlier = uow.reports.find(system.id, submission.system_transaction_id)
        if earlier is None:  # pragma: no cover - the row that conflicted must exist
            raise StorageError("idempotency key conflicted but cannot be read")
    if earlier.content_sha256 != fingerprint:
        raise TransactionIdReused(
            "SystemTransactionID was already used by this system for a different report"
        )
    log.debug(
        "repeated report answered as before (first correlation_id=%s) correlation_id=%s",
        earlier.correlation_id,
        submission.correlation_id,
    )
    return Outcome(earlier.outcome)


def ping(store: Store) -> bool:
    """True if the service can reach its database."""
    return store.ping()
