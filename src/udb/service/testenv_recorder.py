"""What the test environment keeps of every request of an enrolled system, in full (its
data is synthetic), for the verification report (:mod:`udb.service.verification`): the
endpoint hands each request over as an :class:`Exchange`, :class:`Recorder` keeps it."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

from udb.domain.model import Submission
from udb.service.requests import RequestRecord
from udb.storage.base import StorageError, Store, UnitOfWork
from udb.storage.records import TestEnvRequest

log = logging.getLogger(__name__)

_SYSTEM_NAME = re.compile(rb"<(?:[\w.-]+:)?SystemName>\s*([^<]{1,100}?)\s*</")


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request in full, as the endpoint saw it, for :class:`Recorder`."""

    body: bytes
    record: RequestRecord
    submission: Submission | None
    certificate_fingerprint: str | None = None
    uses_sha1: bool = False
    created: datetime | None = None


class Recorder:
    """Keeps every request of each enrolled system in full (the data is synthetic).

    The request's system is the one the report names (read), else the one its
    verified certificate identifies, else the ``SystemName`` found in the body; a
    request of no enrolled system is not kept. Runs after the answer has gone out;
    a failure is logged and never reaches the caller.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def __call__(self, exchange: Exchange) -> None:
        try:
            self._record(exchange)
        except StorageError as exc:
            log.error(
                "test environment: request not recorded: %s correlation_id=%s",
                exc,
                exchange.record.correlation_id,
            )

    def _record(self, exchange: Exchange) -> None:
        record = exchange.record
        submission = exchange.submission
        with self.store.unit_of_work() as uow:
            name = self._system_of(uow, exchange)
            if name is None or not any(s.system_name == name for s in uow.testenv.slots()):
                return
            report = None if submission is None else submission.report
            uow.testenv.record(
                TestEnvRequest(
                    system_name=name,
                    received_at=record.received_at,
                    correlation_id=record.correlation_id,
                    operation=record.operation,
                    outcome=record.outcome,
                    code=record.code,
                    details=record.details,
                    soap_version=record.soap_version,
                    certificate_fingerprint=exchange.certificate_fingerprint,
                    uses_sha1=exchange.uses_sha1,
                    timestamp_created=exchange.created,
                    system_transaction_id=None
                    if submission is None
                    else submission.system_transaction_id,
                    cpr=None if report is None else report.cpr,
                    content_sha256=None if report is None else report.fingerprint(),
                    blocks=() if report is None else tuple(b.kind.value for b in report.blocks),
                    repeated=record.repeated,
                    body=exchange.body.decode("utf-8", "replace"),
                )
            )
            uow.commit()

    @staticmethod
    def _system_of(uow: UnitOfWork, exchange: Exchange) -> str | None:
        if exchange.submission is not None:
            return exchange.submission.system_name
        if exchange.certificate_fingerprint is not None:
            system = uow.systems.by_certificate(
                exchange.certificate_fingerprint, exchange.record.received_at
            )
            if system is not None:
                return system.name
        found = _SYSTEM_NAME.search(exchange.body[:65536])
        return None if found is None else found.group(1).decode("utf-8", "replace")
