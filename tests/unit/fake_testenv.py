"""The fake store's :class:`~udb.storage.operator.TestEnvironment` (bound in
:mod:`tests.unit.fakes`), keeping what the SQL adapter keeps (migration 0008)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

from udb.storage import operator
from udb.storage.records import TestEnvPerson, TestEnvRequest, TestEnvSlot

if TYPE_CHECKING:
    from tests.unit.fakes import FakeUnitOfWork


@dataclass
class TestEnvData:
    __test__ = False  # not a test class, whatever pytest thinks of the name
    marked: bool = False
    slots: dict[int, TestEnvSlot] = field(default_factory=dict)
    persons: dict[str, TestEnvPerson] = field(default_factory=dict)
    attempts: set[tuple[str, str]] = field(default_factory=set)
    requests: dict[str, TestEnvRequest] = field(default_factory=dict)

    def copy(self) -> TestEnvData:
        return TestEnvData(
            self.marked,
            dict(self.slots),
            dict(self.persons),
            set(self.attempts),
            dict(self.requests),
        )


class FakeTestEnvironment(operator.TestEnvironment):
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow

    def _data(self, op: str, *, write: bool = False) -> TestEnvData:
        return self.uow.data(op, write=write).testenv

    def is_marked(self) -> bool:
        return self._data("testenv.is_marked").marked

    def mark(self, now: datetime) -> None:
        self._data("testenv.mark", write=True).marked = True

    def add_slot(self, slot: int, institution_number: int) -> None:
        data = self.uow.data("testenv.add_slot", write=True)
        code = data.institutions[institution_number].municipality_code
        data.testenv.slots.setdefault(slot, TestEnvSlot(slot, institution_number, code))

    def slots(self) -> builtins.list[TestEnvSlot]:
        return [s for _, s in sorted(self._data("testenv.slots").slots.items())]

    def add_persons(self, persons: Sequence[TestEnvPerson]) -> None:
        data = self._data("testenv.add_persons", write=True)
        for p in persons:
            data.persons.setdefault(p.cpr, p)

    def persons(self, slot: int | None = None) -> builtins.list[TestEnvPerson]:
        found = [p for p in self._data("testenv.persons").persons.values()]
        return sorted(
            (p for p in found if slot is None or p.slot == slot),
            key=lambda p: (p.slot, p.scenario, p.cpr),
        )

    def scenario(self, cpr: str) -> str | None:
        person = self._data("testenv.scenario").persons.get(cpr)
        return None if person is None else person.scenario

    def enroll(self, slot: int, system_id: int, now: datetime) -> None:
        data = self.uow.data("testenv.enroll", write=True)
        name = next(s.name for s in data.systems.values() if s.id == system_id)
        data.testenv.slots[slot] = replace(
            data.testenv.slots[slot], system_name=name, enrolled_at=now
        )

    def first_attempt(self, system_name: str, system_transaction_id: str, now: datetime) -> bool:
        attempts = self._data("testenv.first_attempt", write=True).attempts
        key = (system_name, system_transaction_id)
        if key in attempts:
            return False
        attempts.add(key)
        return True

    def record(self, request: TestEnvRequest) -> None:
        self._data("testenv.record", write=True).requests.setdefault(
            request.correlation_id, request
        )

    def requests(self, system_name: str) -> builtins.list[TestEnvRequest]:
        kept = self._data("testenv.requests").requests.values()
        return [r for r in kept if r.system_name == system_name]

    def forget(self, system_name: str) -> int:
        data = self._data("testenv.forget", write=True)
        gone = [k for k, r in data.requests.items() if r.system_name == system_name]
        for key in gone:
            del data.requests[key]
        data.attempts = {a for a in data.attempts if a[0] != system_name}
        return len(gone)
