"""An in-memory :class:`~udb.storage.base.Store` for unit tests.

It honours :mod:`udb.storage.base` as the SQLite adapter does:

* a unit of work starts (``__enter__``) from a copy of the committed data and
  only :meth:`FakeUnitOfWork.commit` publishes that copy; leaving the ``with``
  block without it discards everything (rollback);
* a commit of a unit of work that wrote something fails with
  :class:`StorageError` if another unit of work committed since it began
  (a serialization failure), so no commit ever loses another one's writes;
* the report log's idempotency key (system, SystemTransactionID) is unique
  across all units of work: :meth:`Reports.log` answers ``None`` when it is used,
  and :meth:`Reports.find` also sees reports committed by others (read committed);
* ``correlation_id`` is unique and the foreign keys of the schema are checked,
  raising :class:`IntegrityError`;
* :meth:`Reports.add_block` keeps every block in the history and makes it
  current only if :func:`udb.domain.merge.supersedes` says so.

Two test switches: :meth:`FakeStore.fail_next` makes the next N operations
raise :class:`StorageError` (to provoke error 101), and :meth:`FakeStore.before`
runs a callback just before an operation (to stage a race). Every operation is
named in :attr:`FakeStore.ops`: ``begin``, ``commit``, ``<repository>.<method>``.
"""

from __future__ import annotations

import builtins
import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import TypeVar

from tests.unit.fake_retention import FakeRetention
from tests.unit.fake_testenv import FakeTestEnvironment, TestEnvData
from udb.domain.merge import supersedes
from udb.domain.model import (
    Block,
    BlockKind,
    ClientCertificate,
    ClientSystem,
    Institution,
    Municipality,
    Person,
    PersonStatus,
)
from udb.domain.readback import HeldBlock
from udb.storage import base, operator
from udb.storage.base import IntegrityError, StorageError
from udb.storage.records import (
    ApplyCounts,
    IntervalCount,
    MunicipalityCount,
    ReportRecord,
    RequestRecord,
    RetentionRun,
    StoredBlock,
)


@dataclass
class Data:
    """Everything the store holds; values are immutable, so copying the containers suffices."""

    municipalities: dict[int, Municipality] = field(default_factory=dict)
    institutions: dict[int, Institution] = field(default_factory=dict)
    systems: dict[str, ClientSystem] = field(default_factory=dict)
    persons: dict[str, Person] = field(default_factory=dict)
    reports: dict[int, ReportRecord] = field(default_factory=dict)
    #: Every accepted block in arrival order: (report id, CPR number, block).
    history: list[tuple[int, str, Block]] = field(default_factory=list)
    #: (CPR number, kind) -> index into ``history``.
    current: dict[tuple[str, BlockKind], int] = field(default_factory=dict)
    cpr_imports: list[base.CprImportRecord] = field(default_factory=list)
    certificates: dict[str, tuple[int, ClientCertificate]] = field(default_factory=dict)
    replay: dict[str, datetime] = field(default_factory=dict)
    #: CorrelationID -> the request's record, in arrival order
    requests: dict[str, RequestRecord] = field(default_factory=dict)
    #: CPR number -> when the register last changed the person (persons.updated_at)
    updated: dict[str, datetime] = field(default_factory=dict)
    runs: list[RetentionRun] = field(default_factory=list)
    #: the test environment (tests/unit/fake_testenv.py): marked, slots, persons, ...
    testenv: TestEnvData = field(default_factory=TestEnvData)
    #: the read-back's token key (made on first use)
    readback_key: bytes | None = None

    def copy(self) -> Data:
        return Data(
            dict(self.municipalities),
            dict(self.institutions),
            dict(self.systems),
            dict(self.persons),
            dict(self.reports),
            list(self.history),
            dict(self.current),
            list(self.cpr_imports),
            dict(self.certificates),
            dict(self.replay),
            dict(self.requests),
            dict(self.updated),
            list(self.runs),
            self.testenv.copy(),
            self.readback_key,
        )


class FakeStore(base.Store):
    dialect = "memory"

    def __init__(self) -> None:
        self.committed = Data()
        self.version = 0
        self.ops: list[str] = []
        self._ids = itertools.count(1)  # like a sequence: never rolled back
        self._fail_op: str | None = None
        self._fail_skip = 0
        self._fail_left = 0
        self._hooks: dict[str, Callable[[], object]] = {}
        self.closed = False
        self.staged: dict[str, list[Person]] = {}

    def stage_register(self, persons: Iterable[Person]) -> base.StagedRegister:
        self._op("store.stage_register")
        token = f"staged-{next(self._ids)}"
        self.staged = {token: list(persons)}
        return base.StagedRegister(token, len(self.staged[token]))

    # test switches ---------------------------------------------------------

    def fail_next(self, n: int = 1, *, op: str | None = None, skip: int = 0) -> None:
        """Make the next ``n`` operations (named ``op``, if given) raise StorageError.

        ``skip`` lets that many matching operations succeed first.
        """
        self._fail_op, self._fail_skip, self._fail_left = op, skip, n

    def before(self, op: str, callback: Callable[[], object]) -> None:
        """Run ``callback`` once, just before the next operation named ``op``."""
        self._hooks[op] = callback

    def _op(self, name: str) -> None:
        self.ops.append(name)
        hook = self._hooks.pop(name, None)
        if hook is not None:
            hook()
        if self._fail_left and self._fail_op in (None, name):
            if self._fail_skip:
                self._fail_skip -= 1
            else:
                self._fail_left -= 1
                raise StorageError(f"injected failure at {name}")

    def next_id(self) -> int:
        return next(self._ids)

    # Store -------------------------------------------------------------------

    def unit_of_work(self, *, readonly: bool = False) -> FakeUnitOfWork:
        return FakeUnitOfWork(self)

    def migrate(self) -> Sequence[int]:
        return []

    def schema_version(self) -> int:
        from udb.storage.migrations import latest_version

        return latest_version()

    def ping(self) -> bool:
        try:
            self._op("ping")
        except StorageError:
            return False
        return not self.closed

    def close(self) -> None:
        self.closed = True


class FakeUnitOfWork(base.UnitOfWork):
    def __init__(self, store: FakeStore) -> None:
        self.store = store
        self._work: Data | None = None
        self._base_version = 0
        self._dirty = False
        self.municipalities = _Municipalities(self)
        self.institutions = _Institutions(self)
        self.systems = _Systems(self)
        self.persons = _Persons(self)
        self.reports = _Reports(self)
        self.cpr_imports = _CprImports(self)
        self.replay = _ReplayCache(self)
        self.requests = _RequestLog(self)
        self.statistics = _Statistics(self)
        self.retention = FakeRetention(self)
        self.testenv = FakeTestEnvironment(self)
        self.readback = _ReadBack(self)

    def __enter__(self) -> FakeUnitOfWork:
        if self.store.closed:
            raise StorageError("store is closed")
        self.store._op("begin")
        self._work = self.store.committed.copy()
        self._base_version = self.store.version
        self._dirty = False
        return self

    def data(self, op: str, *, write: bool = False) -> Data:
        if self._work is None:
            raise RuntimeError(f"{op} outside an open unit of work")
        self.store._op(op)
        if write:
            self.wrote()
        return self._work

    def wrote(self) -> None:
        self._dirty = True

    def commit(self) -> None:
        if self._work is None:
            raise RuntimeError("commit outside an open unit of work")
        self.store._op("commit")
        if self._dirty:
            if self.store.version != self._base_version:
                raise StorageError("serialization failure: another unit of work committed")
            self.store.committed = self._work
            self.store.version += 1
        self._work = None

    def rollback(self) -> None:
        self._work = None


class _Repo:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow


K = TypeVar("K")
V = TypeVar("V")


def _upsert(table: dict[K, V], items: Iterable[tuple[K, V]]) -> ApplyCounts:
    added = changed = unchanged = 0
    for key, value in items:
        old = table.get(key)
        if old is None:
            added += 1
        elif old != value:
            changed += 1
        else:
            unchanged += 1
        table[key] = value
    return ApplyCounts(added, changed, unchanged)


class _Municipalities(_Repo, base.Municipalities):
    def upsert_many(self, municipalities: Iterable[Municipality]) -> ApplyCounts:
        data = self.uow.data("municipalities.upsert_many", write=True)
        return _upsert(data.municipalities, ((m.code, m) for m in municipalities))

    def codes(self) -> set[int]:
        return set(self.uow.data("municipalities.codes").municipalities)

    def list(self) -> builtins.list[Municipality]:
        found = self.uow.data("municipalities.list").municipalities
        return [found[code] for code in sorted(found)]


class _Institutions(_Repo, base.Institutions):
    def get(self, number: int) -> Institution | None:
        return self.uow.data("institutions.get").institutions.get(number)

    def upsert_many(self, institutions: Iterable[Institution]) -> ApplyCounts:
        data = self.uow.data("institutions.upsert_many", write=True)
        items = list(institutions)
        if any(i.municipality_code not in data.municipalities for i in items):
            raise IntegrityError("constraint violated: unknown municipality")
        return _upsert(data.institutions, ((i.number, i) for i in items))

    def numbers(self) -> set[int]:
        return set(self.uow.data("institutions.numbers").institutions)

    def list(self) -> builtins.list[Institution]:
        found = self.uow.data("institutions.list").institutions
        return [found[number] for number in sorted(found)]


class _Systems(_Repo, base.Systems):
    def get(self, name: str) -> ClientSystem | None:
        return self.uow.data("systems.get").systems.get(name)

    def add(self, name: str, institutions: Iterable[int], now: datetime) -> ClientSystem:
        data = self.uow.data("systems.add", write=True)
        numbers = frozenset(institutions)
        if not numbers <= data.institutions.keys():
            raise IntegrityError("constraint violated: unknown institution")
        old = data.systems.get(name)
        if old is None:
            system = ClientSystem(self.uow.store.next_id(), name, numbers)
        else:
            system = replace(old, institutions=old.institutions | numbers)
        data.systems[name] = system
        return system

    def list(self) -> list[ClientSystem]:
        systems = self.uow.data("systems.list").systems
        return [systems[name] for name in sorted(systems)]

    def set_disabled(self, system_id: int, at: datetime | None) -> None:
        data = self.uow.data("systems.set_disabled", write=True)
        for name, system in list(data.systems.items()):
            if system.id == system_id:
                data.systems[name] = replace(system, disabled_at=at)

    def remove(self, system_id: int) -> None:
        data = self.uow.data("systems.remove", write=True)
        if any(r.system_id == system_id for r in data.reports.values()):
            raise IntegrityError("constraint violated: the system has logged reports")
        data.systems = {n: s for n, s in data.systems.items() if s.id != system_id}
        data.certificates = {k: v for k, v in data.certificates.items() if v[0] != system_id}

    def add_certificate(self, system_id: int, certificate: ClientCertificate) -> None:
        data = self.uow.data("systems.add_certificate", write=True)
        if certificate.fingerprint in data.certificates:
            raise IntegrityError("constraint violated: certificate already pinned")
        data.certificates[certificate.fingerprint] = (system_id, certificate)

    def retire_certificates(self, system_id: int, at: datetime) -> int:
        data = self.uow.data("systems.retire_certificates", write=True)
        retired = 0
        for key, (owner, cert) in list(data.certificates.items()):
            if owner == system_id and cert.identifies_at(at):
                data.certificates[key] = (owner, replace(cert, retires_at=at))
                retired += 1
        return retired

    def certificates(self, system_id: int) -> builtins.list[ClientCertificate]:
        data = self.uow.data("systems.certificates")
        return [c for owner, c in data.certificates.values() if owner == system_id]

    def by_certificate(self, fingerprint: str, now: datetime) -> ClientSystem | None:
        data = self.uow.data("systems.by_certificate")
        found = data.certificates.get(fingerprint)
        if found is None or not found[1].identifies_at(now):
            return None
        return next((s for s in data.systems.values() if s.id == found[0]), None)


class _ReplayCache(_Repo, base.ReplayCache):
    def remember(self, key: str, keep_until: datetime, now: datetime) -> bool:
        data = self.uow.data("replay.remember", write=True)
        kept = data.replay.get(key)
        if kept is not None and kept > now:
            return False
        data.replay[key] = keep_until
        return True

    def count(self, now: datetime) -> int:
        kept = self.uow.data("replay.count").replay
        return sum(1 for until in kept.values() if until > now)


class _RequestLog(_Repo, operator.RequestLog):
    def add(self, record: RequestRecord) -> None:
        data = self.uow.data("requests.add", write=True)
        data.requests.setdefault(record.correlation_id, record)

    def find(self, correlation_id: str) -> RequestRecord | None:
        return self.uow.data("requests.find").requests.get(correlation_id)

    def list(
        self,
        *,
        system_name: str | None = None,
        outcome: str | None = None,
        code: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> builtins.list[RequestRecord]:
        records = self.uow.data("requests.list").requests.values()
        found = [
            r
            for r in records
            if (system_name is None or r.system_name == system_name)
            and (outcome is None or r.outcome == outcome)
            and (code is None or r.code == code)
            and (since is None or r.received_at >= since)
        ]
        found.reverse()  # newest first: arrival order reversed, then stable by time
        found.sort(key=lambda r: r.received_at, reverse=True)
        return found[: max(0, min(limit, self.MAX_LIST))]


class _Persons(_Repo, base.Persons):
    def get(self, cpr: str) -> Person | None:
        return self.uow.data("persons.get").persons.get(cpr)

    def apply_staged(
        self, staged: base.StagedRegister, *, full: bool, now: datetime
    ) -> base.RegisterCounts:
        persons = self.uow.store.staged.pop(staged.token)
        return self.apply_register(persons, full=full, now=now)

    def apply_register(
        self, persons: Iterable[Person], *, full: bool, now: datetime
    ) -> base.RegisterCounts:
        data = self.uow.data("persons.apply_register", write=True)
        added = changed = made_non_resident = unchanged = unregistered = 0
        seen: set[str] = set()
        for person in persons:
            seen.add(person.cpr)
            old = data.persons.get(person.cpr)
            if old is None:
                added += 1
            elif old == person:
                unchanged += 1
            elif old.resident and not person.resident:
                made_non_resident += 1
            else:
                changed += 1
            if old != person:
                data.updated[person.cpr] = now
            data.persons[person.cpr] = person
        if full:
            for cpr, old in list(data.persons.items()):
                if cpr not in seen and old.status is not PersonStatus.UNREGISTERED:
                    unregistered += 1
                    if old.resident:
                        made_non_resident += 1
                    else:
                        changed += 1
                    data.persons[cpr] = replace(old, status=PersonStatus.UNREGISTERED)
                    data.updated[cpr] = now
        return base.RegisterCounts(added, changed, made_non_resident, unchanged, unregistered)

    def count(self) -> int:
        return len(self.uow.data("persons.count").persons)

    def view(self, cpr: str) -> base.PersonView | None:
        data = self.uow.data("persons.view")
        person = data.persons.get(cpr)
        if person is None:
            return None
        current = {
            kind: stored_block(data, index)
            for (who, kind), index in data.current.items()
            if who == cpr
        }
        return base.PersonView(
            person,
            current,
            history_count=sum(1 for _, who, _ in data.history if who == cpr),
            report_count=sum(1 for r in data.reports.values() if r.cpr == cpr),
        )


def stored_block(data: Data, index: int) -> StoredBlock:
    """History entry ``index`` with its source, as :class:`StoredBlock`."""
    report_id, _, block = data.history[index]
    record = data.reports[report_id]
    (system_name,) = (s.name for s in data.systems.values() if s.id == record.system_id)
    return StoredBlock(
        block,
        received_at=record.received_at,
        system_name=system_name,
        system_transaction_id=record.system_transaction_id,
        correlation_id=record.correlation_id,
    )


class _CprImports(_Repo, base.CprImports):
    def add(self, record: base.CprImportRecord) -> None:
        self.uow.data("cpr_imports.add", write=True).cpr_imports.append(record)

    def find(self, file_sha256: str) -> base.CprImportRecord | None:
        found = self.uow.data("cpr_imports.find").cpr_imports
        return next((r for r in found if r.file_sha256 == file_sha256), None)

    def latest_production_date(self) -> date | None:
        found = self.uow.data("cpr_imports.latest").cpr_imports
        return max((r.production_date for r in found), default=None)

    def list(self) -> list[base.CprImportRecord]:
        return list(self.uow.data("cpr_imports.list").cpr_imports)


class _Reports(_Repo, base.Reports):
    def find(self, system_id: int, system_transaction_id: str) -> ReportRecord | None:
        data = self.uow.data("reports.find")
        key = (system_id, system_transaction_id)
        for source in (data, self.uow.store.committed):  # read committed
            for record in source.reports.values():
                if (record.system_id, record.system_transaction_id) == key:
                    return record
        return None

    def log(self, record: ReportRecord) -> int | None:
        data = self.uow.data("reports.log")
        if record.system_id not in {s.id for s in data.systems.values()}:
            raise IntegrityError("constraint violated: unknown system")
        logged = [*data.reports.values(), *self.uow.store.committed.reports.values()]
        key = (record.system_id, record.system_transaction_id)
        if any((r.system_id, r.system_transaction_id) == key for r in logged):
            return None  # the unique index is shared by all units of work
        if any(r.correlation_id == record.correlation_id for r in logged):
            raise IntegrityError("constraint violated: correlation_id not unique")
        report_id = self.uow.store.next_id()
        data.reports[report_id] = record
        self.uow.wrote()
        return report_id

    def count_for_system(self, system_id: int) -> int:
        data = self.uow.data("reports.count_for_system")
        return sum(1 for r in data.reports.values() if r.system_id == system_id)

    def add_block(self, report_id: int, cpr: str, block: Block) -> bool:
        data = self.uow.data("reports.add_block", write=True)
        if report_id not in data.reports or cpr not in data.persons:
            raise IntegrityError("constraint violated: unknown report or person")
        data.history.append((report_id, cpr, block))
        index = len(data.history) - 1
        key = (cpr, block.kind)
        old = data.current.get(key)
        current = None if old is None else data.history[old][2].registreringstid
        if supersedes(block.registreringstid, current):
            data.current[key] = index
            return True
        return False


class _ReadBack(_Repo, base.ReadBack):
    def persons(self, cprs: Sequence[str]) -> dict[str, Person]:
        data = self.uow.data("readback.persons")
        return {cpr: data.persons[cpr] for cpr in cprs if cpr in data.persons}

    def _current(self, data: Data, cpr: str) -> dict[BlockKind, HeldBlock]:
        found = {}
        for (who, kind), index in data.current.items():
            if who == cpr:
                report_id, _, block = data.history[index]
                report = data.reports[report_id]
                system = next(s for s in data.systems.values() if s.id == report.system_id)
                found[kind] = HeldBlock(block, report.received_at, system.name)
        return found

    def current(self, cprs: Sequence[str]) -> dict[str, dict[BlockKind, HeldBlock]]:
        data = self.uow.data("readback.current")
        found = {cpr: self._current(data, cpr) for cpr in dict.fromkeys(cprs)}
        return {cpr: blocks for cpr, blocks in found.items() if blocks}

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
        data = self.uow.data("readback.changed")
        start = after if after is not None else (since, "")
        listed = []
        for person in data.persons.values():
            if person.municipality_code != municipality_code or not person.resident:
                continue
            if person.birth_date <= born_after:
                continue
            blocks = self._current(data, person.cpr)
            if not blocks:
                continue
            latest = max(b.received_at for b in blocks.values())
            if since < latest <= until and (latest, person.cpr) > start:
                listed.append((person.cpr, latest))
        return sorted(listed, key=lambda row: (row[1], row[0]))[:limit]

    def token_key(self) -> bytes:
        data = self.uow.data("readback.token_key")
        if data.readback_key is None:
            data.readback_key = b"fake-key-" * 4
            self.uow.wrote()
        return data.readback_key


class _Statistics(_Repo, operator.Statistics):
    def _reports(self, op: str, since: datetime) -> builtins.list[ReportRecord]:
        return [r for r in self.uow.data(op).reports.values() if r.received_at >= since]

    def answers(self, since: datetime) -> dict[int | None, int]:
        outcomes = (
            None if r.outcome is None else int(r.outcome)
            for r in self._reports("statistics.answers", since)
        )
        return dict(Counter(outcomes))

    def requests(self, since: datetime) -> dict[tuple[str, str | None], int]:
        records = self.uow.data("statistics.requests").requests.values()
        return dict(Counter((r.outcome, r.code) for r in records if r.received_at >= since))

    def intervals(self, boundaries: Sequence[datetime]) -> builtins.list[IntervalCount]:
        if list(boundaries) != sorted(boundaries):
            raise ValueError("interval boundaries must ascend")
        reports = self._reports("statistics.intervals", boundaries[0]) if boundaries else []
        counts = []
        for start, end in itertools.pairwise(boundaries):
            inside = [r for r in reports if start <= r.received_at < end]
            rejected = sum(1 for r in inside if r.outcome is not None)
            counts.append(IntervalCount(start, end, len(inside), rejected))
        return counts

    def municipalities(self, since: datetime) -> builtins.list[MunicipalityCount]:
        data = self.uow.data("statistics.municipalities")
        totals: Counter[int | None] = Counter()
        rejected: Counter[int | None] = Counter()
        for record in self._reports("statistics.municipalities", since):
            institution = data.institutions.get(record.institution_number)
            code = None if institution is None else institution.municipality_code
            totals[code] += 1
            rejected[code] += record.outcome is not None

        def name(code: int | None) -> str | None:
            return None if code is None else data.municipalities[code].name

        return [
            MunicipalityCount(code, name(code), totals[code], rejected[code])
            for code in sorted(totals, key=lambda c: (c is None, c or 0))
        ]
