"""The storage interface: repositories inside a unit of work.

A unit of work is one database transaction. It rolls back unless
:meth:`UnitOfWork.commit` is called, and every failure of the database
underneath surfaces as :class:`StorageError`, whatever the driver::

    with store.unit_of_work() as uow:
        system = uow.systems.get("Vejledningssystem-Aarhus")
        ...
        uow.commit()

Adapters (:mod:`udb.storage.sqlite`, and the in-memory fake of the tests)
implement this interface; :func:`udb.storage.open_store` picks one by URL.
"""

from __future__ import annotations

import abc
import builtins
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from types import TracebackType

from udb.domain.model import (
    Block,
    BlockKind,
    ClientCertificate,
    ClientSystem,
    Institution,
    Municipality,
    Person,
)
from udb.domain.readback import HeldBlock
from udb.storage.operator import RequestLog, Retention, Statistics, TestEnvironment
from udb.storage.records import (
    ApplyCounts,
    Arrival,
    CprImportRecord,
    Intake,
    PersonView,
    RegisterCounts,
    ReportRecord,
    StagedRegister,
)


class StorageError(Exception):
    """The database failed: unreachable, locked too long, full, or refused a write.

    The message never carries personal data; the driver's exception is chained
    as ``__cause__`` for the operator's log.
    """


class IntegrityError(StorageError):
    """A write broke a constraint (an unknown institution number, say)."""


class SignatureSeen(Exception):
    """The signature was remembered by another unit of work after this one read it as
    new (:meth:`UnitOfWork.receive`): a replay racing its original. Nothing was written."""


class Municipalities(abc.ABC):
    @abc.abstractmethod
    def upsert_many(self, municipalities: Iterable[Municipality]) -> ApplyCounts: ...

    @abc.abstractmethod
    def codes(self) -> set[int]: ...

    @abc.abstractmethod
    def list(self) -> list[Municipality]:
        """Every municipality, by code."""


class Institutions(abc.ABC):
    @abc.abstractmethod
    def get(self, number: int) -> Institution | None: ...

    @abc.abstractmethod
    def upsert_many(self, institutions: Iterable[Institution]) -> ApplyCounts: ...

    @abc.abstractmethod
    def numbers(self) -> set[int]: ...

    @abc.abstractmethod
    def list(self) -> list[Institution]:
        """Every institution, by number."""


class Systems(abc.ABC):
    @abc.abstractmethod
    def get(self, name: str) -> ClientSystem | None: ...

    @abc.abstractmethod
    def add(self, name: str, institutions: Iterable[int], now: datetime) -> ClientSystem:
        """Register ``name`` (if new) and authorise it for ``institutions``."""

    @abc.abstractmethod
    def list(self) -> list[ClientSystem]: ...

    @abc.abstractmethod
    def set_disabled(self, system_id: int, at: datetime | None) -> None:
        """Disable the system as of ``at``, or enable it again (``None``)."""

    @abc.abstractmethod
    def remove(self, system_id: int) -> None:
        """Delete the system, its certificates and institutions (IntegrityError: it has reports)."""

    @abc.abstractmethod
    def add_certificate(self, system_id: int, certificate: ClientCertificate) -> None:
        """Pin ``certificate`` to the system (IntegrityError if it is pinned to any)."""

    @abc.abstractmethod
    def retire_certificates(self, system_id: int, at: datetime) -> int:
        """Let the system's current certificates identify it only until ``at``."""

    @abc.abstractmethod
    def certificates(self, system_id: int) -> builtins.list[ClientCertificate]: ...

    @abc.abstractmethod
    def by_certificate(self, fingerprint: str, now: datetime) -> ClientSystem | None:
        """The system the certificate identifies at ``now`` (None: not pinned, or retired)."""


class ReplayCache(abc.ABC):
    @abc.abstractmethod
    def remember(self, key: str, keep_until: datetime, now: datetime) -> bool:
        """Record ``key``; False if it was recorded before and is still kept (a replay)."""

    @abc.abstractmethod
    def count(self, now: datetime) -> int:
        """How many signatures are still kept at ``now`` (for the operator's metrics)."""


class Persons(abc.ABC):
    @abc.abstractmethod
    def get(self, cpr: str) -> Person | None: ...

    @abc.abstractmethod
    def apply_register(
        self, persons: Iterable[Person], *, full: bool, now: datetime
    ) -> RegisterCounts:
        """Bring the register in line with ``persons`` (each CPR number at most once).

        Persons equal to what is stored are left untouched. With ``full`` the
        input is the complete register: every stored person not in it becomes
        :attr:`~udb.domain.model.PersonStatus.UNREGISTERED` (their contact and
        wish data stay). ``persons`` is consumed as a stream.
        """

    @abc.abstractmethod
    def apply_staged(self, staged: StagedRegister, *, full: bool, now: datetime) -> RegisterCounts:
        """:meth:`apply_register` for data staged before the unit of work began.

        A large register file is staged outside the write transaction
        (:meth:`Store.stage_register`), so the transaction that changes the
        register is short: set-wise statements over the staged rows.
        """

    def upsert_many(self, persons: Iterable[Person], now: datetime) -> ApplyCounts:
        """Add or update ``persons`` (an incremental :meth:`apply_register`)."""
        counts = self.apply_register(persons, full=False, now=now)
        return ApplyCounts(
            counts.added, counts.changed + counts.made_non_resident, counts.unchanged
        )

    @abc.abstractmethod
    def view(self, cpr: str) -> PersonView | None: ...

    @abc.abstractmethod
    def count(self) -> int:
        """How many persons the register holds (in any status)."""


class Reports(abc.ABC):
    @abc.abstractmethod
    def find(self, system_id: int, system_transaction_id: str) -> ReportRecord | None:
        """The report logged under this idempotency key, if any."""

    @abc.abstractmethod
    def log(self, record: ReportRecord) -> int | None:
        """Log a received report; its id, or ``None`` if the key is already used.

        ``None`` means that another transaction logged the same
        (system, SystemTransactionID) first; the caller reads that record with
        :meth:`find` and answers as it was answered.
        """

    @abc.abstractmethod
    def add_block(self, report_id: int, cpr: str, block: Block) -> bool:
        """Keep ``block`` in the history; make it current if it supersedes the current one.

        Answers whether it became current (:func:`udb.domain.merge.supersedes`).
        """

    @abc.abstractmethod
    def count_for_system(self, system_id: int) -> int:
        """How many reports the system has sent (the log keeps them all)."""


class CprImports(abc.ABC):
    """The CPR extract files applied to the register."""

    @abc.abstractmethod
    def add(self, record: CprImportRecord) -> None: ...

    @abc.abstractmethod
    def find(self, file_sha256: str) -> CprImportRecord | None: ...

    @abc.abstractmethod
    def latest_production_date(self) -> date | None: ...

    @abc.abstractmethod
    def list(self) -> list[CprImportRecord]:
        """All applied files, oldest first."""


class ReadBack(abc.ABC):
    """What the read-back service (HentKontaktJobOgUddOensker) reads, and its token key."""

    @abc.abstractmethod
    def persons(self, cprs: Sequence[str]) -> dict[str, Person]:
        """The register's persons among ``cprs`` (absent: not in the register)."""

    @abc.abstractmethod
    def current(self, cprs: Sequence[str]) -> dict[str, dict[BlockKind, HeldBlock]]:
        """The current blocks of each of ``cprs`` that has any, with their source."""

    @abc.abstractmethod
    def changed(
        self,
        *,
        municipality_code: int,
        born_after: date,
        since: datetime,
        until: datetime,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> builtins.list[tuple[str, datetime]]:
        """One page of a changes listing: ``(cpr, latest receipt)``, at most ``limit``.

        The persons living in Denmark in ``municipality_code``, born after
        ``born_after``, whose latest receipt of a current block lies in
        ``(since, until]``; ordered by (latest receipt, CPR number), starting after
        ``after`` (the last person of the previous page).
        """

    @abc.abstractmethod
    def token_key(self) -> bytes:
        """The key that seals paging tokens, made on first use (shared by every instance)."""


class UnitOfWork(abc.ABC):
    """One transaction over all repositories."""

    municipalities: Municipalities
    institutions: Institutions
    systems: Systems
    persons: Persons
    reports: Reports
    cpr_imports: CprImports
    replay: ReplayCache
    requests: RequestLog
    statistics: Statistics
    retention: Retention
    testenv: TestEnvironment
    readback: ReadBack

    def __enter__(self) -> UnitOfWork:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()

    def receive(self, arrival: Arrival) -> Intake:
        """Read what the rules need, and whether the signature is new (replay cache).

        The signature is remembered by the time the unit of work commits
        (:meth:`commit` or :meth:`record_and_commit`), and not if it rolls back.
        Adapters may do this in one round trip and remember the signature with the
        commit (PostgreSQL does); this default asks the repositories one by one and
        remembers the signature at once.
        """
        first_seen = True
        if arrival.replay_key is not None and arrival.keep_until is not None:
            first_seen = self.replay.remember(
                arrival.replay_key, arrival.keep_until, arrival.received_at
            )
        if arrival.certificate_fingerprint is not None:
            system = self.systems.by_certificate(
                arrival.certificate_fingerprint, arrival.received_at
            )
        else:
            system = self.systems.get(arrival.system_name)
        earlier = None
        if system is not None:
            earlier = self.reports.find(system.id, arrival.system_transaction_id)
        return Intake(
            first_seen=first_seen,
            system=system,
            earlier=earlier,
            person=self.persons.get(arrival.cpr),
            institution=self.institutions.get(arrival.institution_number),
        )

    def record(self, record: ReportRecord, blocks: Sequence[Block]) -> int | None:
        """Log a report and keep its ``blocks`` (:meth:`Reports.log`, :meth:`Reports.add_block`).

        The report's id, or ``None`` (nothing written) if its key is already used.
        Adapters may do this in one round trip (PostgreSQL does).
        """
        report_id = self.reports.log(record)
        if report_id is not None:
            for block in blocks:
                self.reports.add_block(report_id, record.cpr, block)
        return report_id

    def record_and_commit(self, record: ReportRecord, blocks: Sequence[Block]) -> int | None:
        """:meth:`record`, then :meth:`commit`: a report's last step.

        Adapters may write and commit in one round trip (PostgreSQL does: the
        signature remembered, the report logged and its blocks kept by one
        statement, committed at once). Raises :class:`SignatureSeen`, with
        nothing written, if another unit of work remembered the signature after
        :meth:`receive` read it as new.
        """
        report_id = self.record(record, blocks)
        self.commit()
        return report_id

    @abc.abstractmethod
    def commit(self) -> None:
        """Make the transaction's writes durable (:class:`SignatureSeen`: see
        :meth:`record_and_commit`)."""

    @abc.abstractmethod
    def rollback(self) -> None:
        """Discard uncommitted writes (a no-op after :meth:`commit`)."""


class Store(abc.ABC):
    """A database: the factory of units of work."""

    #: Name of the SQL dialect ("sqlite", later "postgresql").
    dialect: str

    @abc.abstractmethod
    def unit_of_work(self, *, readonly: bool = False) -> UnitOfWork:
        """A new unit of work; ``readonly`` ones take no write lock and may not write."""

    @abc.abstractmethod
    def stage_register(self, persons: Iterable[Person]) -> StagedRegister:
        """Stage ``persons`` (streamed) for :meth:`Persons.apply_staged`, holding no write lock.

        Staging again replaces what this thread staged before.
        """

    @abc.abstractmethod
    def migrate(self) -> Sequence[int]:
        """Bring the schema up to date; the migration versions applied now."""

    @abc.abstractmethod
    def schema_version(self) -> int:
        """The newest migration applied (0 for an empty database)."""

    @abc.abstractmethod
    def ping(self) -> bool:
        """True if the database answers and holds the current schema."""

    @abc.abstractmethod
    def close(self) -> None: ...
