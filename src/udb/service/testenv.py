"""The vendors' test environment: slots, scenarios, enrolment and recording.

``udb testenv init`` marks a database as a test environment and gives it slots.
A slot is a test KUI of its own (in a municipality of its own) with synthetic
young people, one or more for each scenario (:data:`SCENARIOS`). ``udb testenv
enroll`` registers a vendor's system with its certificate in the next free
slot, so that no two vendors report about the same young people.

On a test-environment database :class:`Scenarios` answers reports (in place of
:func:`udb.service.reports.submit`) and :class:`~udb.service.testenv_recorder.Recorder`
keeps every request of each enrolled system in full for the verification report
(:mod:`udb.service.verification`). Most scenarios need nothing but the register
(a dead person is answered 14 as anywhere); two are the test environment's own:

* ``101``: the first attempt of each new transaction about that person is
  checked as usual and then answered 101 without storing anything, as when the
  database fails; the same transaction sent again gets its normal answer;
* ``delayed``: the first attempt of each new transaction about that person is
  answered after ``UDB_TESTENV_DELAY_S`` (:data:`DELAY_S` seconds), past the SDK's
  default timeout; sent
  again, it is answered at once (and the report is stored once).

On any other database neither class is used: the same CPR numbers are answered
like any other. The CPR numbers are synthetic (:func:`slot_persons`).

>>> [p.cpr for p in slot_persons(1, 751, 101)][:3]
['0101084900', '0101084901', '0101084902']
>>> over_25 = slot_persons(1, 751, 101)[6]
>>> over_25.cpr, over_25.scenario, birth_of(over_25)
('0101900906', '15', datetime.date(1990, 1, 1))
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from udb.domain.model import (
    ClientCertificate,
    ErrorCode,
    Institution,
    Outcome,
    Person,
    PersonStatus,
    Submission,
)
from udb.service import reports
from udb.service.register import apply_persons
from udb.storage.base import StorageError, Store, UnitOfWork
from udb.storage.records import TestEnvPerson, TestEnvSlot

log = logging.getLogger(__name__)

#: the scenarios, in the order of the published tables, and what each triggers
SCENARIOS: dict[str, str] = {
    "accepted": "accepted (lives in the slot's municipality, under 25); send it a "
    "registration time in the future to get 280, then correct it",
    "14-unknown": "14: not in the register",
    "14-dead": "14: dead",
    "14-emigrated": "14: emigrated",
    "15": "15: 25 or older",
    "86": "86: lives in another municipality",
    "101": "101 on the first attempt of each new transaction; the normal answer when the "
    "same transaction is sent again",
    "delayed": "the first attempt of each new transaction is answered after 12 s "
    "(UDB_TESTENV_DELAY_S; past the SDK's 10 s timeout); sent again, it is answered at once",
}
#: how many accepted persons each slot has
ACCEPTED_PERSONS = 3
#: slots ``udb testenv init`` makes unless told otherwise
DEFAULT_SLOTS = 10
#: how long the ``delayed`` scenario holds its first answer: past the SDK's 10 s timeout
DELAY_S = 12.0
#: the test KUI of a municipality: ``code * 1000 + 999``
KUI_SUFFIX = 999


class TestEnvError(Exception):
    """A test-environment command that cannot be done; the message says why and what to do."""

    __test__ = False  # not a test class, whatever pytest thinks of the name


@dataclass(frozen=True, slots=True)
class SlotPerson:
    cpr: str
    scenario: str
    status: PersonStatus
    #: None: not in the register (14-unknown)
    municipality_code: int | None


def _scenario_list() -> list[str]:
    return ["accepted"] * ACCEPTED_PERSONS + [s for s in SCENARIOS if s != "accepted"]


def slot_persons(slot: int, code: int, other_code: int) -> list[SlotPerson]:
    """The synthetic young people of ``slot`` (municipality ``code``; the 86 person lives
    in ``other_code``), in :data:`SCENARIOS` order.

    Each CPR number is the birth date, then ``4`` (born 2000-2036) or ``0`` (1900s),
    then ``90`` and the scenario's place: the persons under 25 are born on 1 January
    2008 plus ``slot - 1`` days, the one over 25 on 1 January 1990 plus as many.
    """
    young = date(2008, 1, 1) + timedelta(days=slot - 1)
    old = date(1990, 1, 1) + timedelta(days=slot - 1)
    persons = []
    for place, scenario in enumerate(_scenario_list()):
        born, century = (old, "0") if scenario == "15" else (young, "4")
        cpr = f"{born:%d%m%y}{century}90{place}"
        status = {"14-dead": PersonStatus.DEAD, "14-emigrated": PersonStatus.EMIGRATED}.get(
            scenario, PersonStatus.ACTIVE
        )
        municipality: int | None = code
        if scenario == "86":
            municipality = other_code
        elif scenario in ("14-unknown", "14-emigrated"):
            municipality = None
        persons.append(SlotPerson(cpr, scenario, status, municipality))
    return persons


def birth_of(person: SlotPerson) -> date:
    day, month, year = int(person.cpr[:2]), int(person.cpr[2:4]), int(person.cpr[4:6])
    return date((1900 if person.cpr[6] == "0" else 2000) + year, month, day)


@dataclass(frozen=True, slots=True)
class Enrolment:
    """What an enrolled system needs to run its scenarios."""

    system: str
    institution: int
    #: scenario → CPR numbers (``accepted`` has several)
    persons: dict[str, list[str]] = field(default_factory=dict)
    #: True if the system was enrolled before (the same answer again)
    again: bool = False


def is_test_environment(store: Store) -> bool:
    with store.unit_of_work(readonly=True) as uow:
        return uow.testenv.is_marked()


def _other_data(uow: UnitOfWork) -> list[str]:
    """What the database holds that a test environment would mix with real data."""
    found = []
    extracts = len(uow.cpr_imports.list())
    if extracts:
        found.append(f"{extracts} CPR extract(s) applied")
    if not uow.testenv.is_marked():
        systems, institutions, persons = (
            len(uow.systems.list()),
            len(uow.institutions.list()),
            uow.persons.count(),
        )
        found += [
            f"{n:,} {what}"
            for n, what in (
                (systems, "client system(s)"),
                (institutions, "institution(s)"),
                (persons, "person(s)"),
            )
            if n
        ]
    return found


def init(store: Store, now: datetime, slots: int = DEFAULT_SLOTS) -> list[TestEnvSlot]:
    """Make the database a test environment with at least ``slots`` slots (idempotent).

    Refused (:class:`TestEnvError`) on a database that holds register data from a
    CPR import, or any system, institution or person while it is not yet a test
    environment: synthetic scenarios never mix with real data.
    """
    with store.unit_of_work() as uow:
        other = _other_data(uow)
        if other:
            raise TestEnvError(
                "this database holds " + ", ".join(other) + ": a test environment is made "
                "only in an empty database (udb db migrate on a new one); nothing was changed"
            )
        uow.testenv.mark(now)
        have = len(uow.testenv.slots())
        for slot in range(have + 1, slots + 1):
            _add_slot(uow, slot, now)
        uow.commit()
    with store.unit_of_work(readonly=True) as uow:
        return uow.testenv.slots()


def _add_slot(uow: UnitOfWork, slot: int, now: datetime) -> TestEnvSlot:
    municipalities = sorted(uow.municipalities.list(), key=lambda m: m.code)
    if slot > len(municipalities):
        raise TestEnvError(
            f"every one of the {len(municipalities)} test KUIs (one per municipality) is taken"
        )
    here = municipalities[slot - 1]
    other = municipalities[slot % len(municipalities)]
    kui = Institution(here.code * 1000 + KUI_SUFFIX, here.code, f"KUI {here.name} (test)")
    uow.institutions.upsert_many([kui])
    uow.testenv.add_slot(slot, kui.number)
    persons = slot_persons(slot, here.code, other.code)
    register = [
        Person(p.cpr, birth_of(p), p.status, p.municipality_code)
        for p in persons
        if p.scenario != "14-unknown"
    ]
    apply_persons(uow, register, now)
    uow.testenv.add_persons([TestEnvPerson(p.cpr, slot, p.scenario) for p in persons])
    return TestEnvSlot(slot, kui.number, here.code)


def enroll(store: Store, name: str, certificate: ClientCertificate, now: datetime) -> Enrolment:
    """Register system ``name`` with ``certificate`` in the next free slot.

    A system enrolled before gets its enrolment again (the same certificate only).
    Refused on a database that is not a test environment, for a certificate that
    identifies another system, and for a system registered outside the test
    environment.
    """
    with store.unit_of_work() as uow:
        if not uow.testenv.is_marked():
            raise TestEnvError(
                "this database is not a test environment (udb testenv init makes one)"
            )
        slots = uow.testenv.slots()
        mine = next((s for s in slots if s.system_name == name), None)
        owner = uow.systems.by_certificate(certificate.fingerprint, now)
        if owner is not None and owner.name != name:
            raise TestEnvError(f"that certificate already identifies {owner.name}")
        if mine is not None:
            if owner is None:
                raise TestEnvError(
                    f"{name} is enrolled with another certificate: udb systems rotate {name} "
                    "--cert FILE pins a new one"
                )
            return _enrolment(uow, mine, name, again=True)
        if uow.systems.get(name) is not None:
            raise TestEnvError(f"{name} is registered, but not in the test environment")
        free = next((s for s in slots if s.system_name is None), None)
        if free is None:
            free = _add_slot(uow, len(slots) + 1, now)
        system = uow.systems.add(name, [free.institution_number], now)
        uow.systems.add_certificate(system.id, certificate)
        uow.testenv.enroll(free.slot, system.id, now)
        enrolment = _enrolment(uow, free, name, again=False)
        uow.commit()
        return enrolment


def _enrolment(uow: UnitOfWork, slot: TestEnvSlot, name: str, *, again: bool) -> Enrolment:
    persons: dict[str, list[str]] = {}
    for person in uow.testenv.persons(slot.slot):
        persons.setdefault(person.scenario, []).append(person.cpr)
    ordered = {s: sorted(persons[s]) for s in SCENARIOS if s in persons}
    return Enrolment(name, slot.institution_number, ordered, again)


def forget(store: Store, name: str) -> int:
    """Delete what was recorded of enrolled system ``name``, to run its scenarios afresh."""
    with store.unit_of_work() as uow:
        if not any(s.system_name == name for s in uow.testenv.slots()):
            raise TestEnvError(f"no enrolled system is named {name} (udb testenv list)")
        deleted = uow.testenv.forget(name)
        uow.commit()
        return deleted


class Scenarios:
    """The use case of a test environment: :func:`udb.service.reports.submit` with the
    scenarios ``101`` and ``delayed`` (see the module docstring)."""

    def __init__(
        self,
        *,
        delay: float = DELAY_S,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.delay = delay
        self.sleep = sleep

    def __call__(
        self, submission: Submission, store: Store, policy: reports.ReportPolicy
    ) -> Outcome:
        try:
            with store.unit_of_work(readonly=True) as uow:
                scenario = uow.testenv.scenario(submission.report.cpr)
        except StorageError:
            scenario = None  # the report's own unit of work answers 101 as usual
        if scenario == "101":
            # checked as usual (faults, rules) and stored nothing, as when the database fails
            answer = reports.answer_without_storing(submission, store, policy)
            if self._first_attempt(submission, store, answered_here=True):
                log.info(
                    "test environment: 101 for the first attempt (would be %s) correlation_id=%s",
                    "accepted" if answer.ok else f"rejected {int(answer.error or 0)}",
                    submission.correlation_id,
                )
                return Outcome.rejected(ErrorCode.INTERNAL)
        elif scenario == "delayed" and self._first_attempt(submission, store, answered_here=False):
            log.info(
                "test environment: answering the first attempt after %.0f s correlation_id=%s",
                self.delay,
                submission.correlation_id,
            )
            self.sleep(self.delay)
        return reports.submit(submission, store, policy)

    def _first_attempt(self, submission: Submission, store: Store, *, answered_here: bool) -> bool:
        """Remember the transaction the first time. A first attempt answered here (101)
        also has its signature remembered, as :func:`reports.submit` would; one that goes
        on to :func:`reports.submit` (delayed) must not, or it would be its own replay."""
        with store.unit_of_work() as uow:
            first = uow.testenv.first_attempt(
                submission.system_name, submission.system_transaction_id, submission.received_at
            )
            if first and answered_here and submission.signature is not None:
                signature = submission.signature
                uow.replay.remember(
                    signature.replay_key, signature.keep_until, submission.received_at
                )
            uow.commit()
            return first
