"""A clearly synthetic demo data set.

* the 98 municipalities come with the schema (migration 0004);
* one made-up KUI institution per municipality, numbered ``code * 1000 + 1``
  (751001 is the KUI of Aarhus, 101001 that of København);
* two client systems, ``Vejledningssystem-Aarhus`` (institution 751001, the
  system of the wire examples) and ``Vejledningssystem-Koebenhavn`` (101001);
* made-up young people that produce every answer of the service.

Every CPR number here is invented for the demo.

The demo is loaded only into a database that holds nothing but the demo
(:func:`other_data`): no client system but the two above, no institution but
the demo's KUIs (named ``... (demo)``), no person but the demo's and no CPR
extract applied. The municipalities come with the schema and do not count;
neither do the reports, certificates and replay entries of the two demo
systems (``make run`` loads the demo again at every start, after the example
requests of the last run).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from udb.domain import cpr as cprnr
from udb.domain.model import Institution, Municipality, Person, PersonStatus
from udb.service.register import apply_persons
from udb.storage.base import Store, UnitOfWork

AARHUS, KOEBENHAVN = 751, 101
AARHUS_SYSTEM = "Vejledningssystem-Aarhus"
KOEBENHAVN_SYSTEM = "Vejledningssystem-Koebenhavn"


@dataclass(frozen=True, slots=True)
class DemoPerson:
    cpr: str
    status: PersonStatus
    municipality_code: int | None
    answer: str


#: The demo's young people and what a report from Vejledningssystem-Aarhus
#: (institution 751001) about them gets.
PERSONS: tuple[DemoPerson, ...] = (
    DemoPerson("1503084232", PersonStatus.ACTIVE, AARHUS, "accepted (born 2008, lives in Aarhus)"),
    DemoPerson(
        "1503081234",
        PersonStatus.ACTIVE,
        AARHUS,
        "15: the wire example's number; digit 7 = 1 makes it 15 March 1908",
    ),
    DemoPerson("0101014230", PersonStatus.ACTIVE, AARHUS, "15: turned 25 on 1 January 2026"),
    DemoPerson("0707074236", PersonStatus.DEAD, AARHUS, "14: dead"),
    DemoPerson("0808084234", PersonStatus.EMIGRATED, None, "14: emigrated"),
    DemoPerson("0909094236", PersonStatus.DISAPPEARED, None, "14: disappeared"),
    DemoPerson("1010104238", PersonStatus.ACTIVE, KOEBENHAVN, "86: lives in København"),
    DemoPerson("0202854232", PersonStatus.ACTIVE, KOEBENHAVN, "86 (not 15): København, born 1985"),
)

#: Not in the register: answered 14.
UNKNOWN_CPR = "2002104230"


def institutions(municipalities: Iterable[Municipality]) -> list[Institution]:
    """The demo's made-up KUI of each municipality: ``code * 1000 + 1``."""
    return [Institution(m.code * 1000 + 1, m.code, f"KUI {m.name} (demo)") for m in municipalities]


def persons() -> list[Person]:
    found = []
    for p in PERSONS:
        born = cprnr.birth_date(p.cpr)
        if born is None:  # pragma: no cover - guarded by the tests
            raise ValueError("demo CPR number without a birth date")
        found.append(Person(p.cpr, born, p.status, p.municipality_code))
    return found


SYSTEMS = (AARHUS_SYSTEM, KOEBENHAVN_SYSTEM)


def is_demo_institution(institution: Institution) -> bool:
    """One of the demo's made-up KUIs (:func:`institutions`)."""
    return (
        institution.number == institution.municipality_code * 1000 + 1
        and institution.name.endswith(" (demo)")
    )


def other_data(uow: UnitOfWork) -> list[str]:
    """What the database holds besides the demo data set, as "2 client systems", ...

    Empty when the database is empty or holds only the demo (see the module docstring).
    """
    systems = sum(1 for s in uow.systems.list() if s.name not in SYSTEMS)
    institutions = sum(1 for i in uow.institutions.list() if not is_demo_institution(i))
    demo_persons = sum(1 for p in PERSONS if uow.persons.get(p.cpr) is not None)
    persons = uow.persons.count() - demo_persons
    extracts = len(uow.cpr_imports.list())
    found = [
        (systems, "client system(s)"),
        (institutions, "institution(s)"),
        (persons, "person(s)"),
        (extracts, "CPR extract(s) applied"),
    ]
    return [f"{n:,} {what}" for n, what in found if n]


@dataclass(frozen=True, slots=True)
class LoadedDemo:
    municipalities: int
    institutions: int


def load(store: Store, now: datetime) -> LoadedDemo:
    """Load the demo data set (again): all or nothing, idempotent."""
    with store.unit_of_work() as uow:
        municipalities = uow.municipalities.list()
        kuis = institutions(municipalities)
        uow.institutions.upsert_many(kuis)
        uow.systems.add(AARHUS_SYSTEM, [AARHUS * 1000 + 1], now)
        uow.systems.add(KOEBENHAVN_SYSTEM, [KOEBENHAVN * 1000 + 1], now)
        apply_persons(uow, persons(), now)
        uow.commit()
    return LoadedDemo(len(municipalities), len(kuis))
