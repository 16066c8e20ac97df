"""Helpers shared by the integration and end-to-end tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from udb.domain.model import Institution, Municipality, Person, PersonStatus
from udb.storage import Store, open_store

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "docs" / "examples"
SHARED = REPO.parent / "shared"

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SYSTEM = "Vejledningssystem-Aarhus"
AARHUS_KUI = 751001


def sqlite_url(tmp_path: Path, name: str = "udb.sqlite3") -> str:
    return "sqlite:///" + str(tmp_path / name)


def seeded_store(url: str) -> Store:
    """A migrated store with Aarhus, its KUI, one system and one young person."""
    store = open_store(url)
    store.migrate()
    with store.unit_of_work() as uow:
        uow.municipalities.upsert_many(
            [Municipality(751, "Aarhus"), Municipality(101, "København")]
        )
        uow.institutions.upsert_many(
            [Institution(AARHUS_KUI, 751, "KUI Aarhus"), Institution(101001, 101, "KUI København")]
        )
        uow.systems.add(SYSTEM, [AARHUS_KUI], NOW)
        uow.persons.upsert_many(
            [Person("1503084232", date(2008, 3, 15), PersonStatus.ACTIVE, 751)], NOW
        )
        uow.commit()
    return store
