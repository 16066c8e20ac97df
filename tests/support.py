"""Helpers shared by the integration and end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from urllib.parse import quote

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


# PostgreSQL --------------------------------------------------------------------

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


@cache
def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used for tests, or None if it can (asked once per process)."""
    import psycopg

    try:
        with psycopg.connect(POSTGRES, connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"PostgreSQL not reachable at 127.0.0.1:5432: {detail}"
    return None


def require_postgres() -> None:
    """Skip without PostgreSQL, with the reason shown; in CI (CI set) fail instead."""
    import os

    import pytest

    problem = postgres_problem()
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(problem + " (PostgreSQL tests are mandatory in CI)")
    pytest.skip(problem)


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh schema in the test database; the URL of a store living in it."""
    import uuid

    import psycopg

    schema = f"udb_t_{uuid.uuid4().hex}"
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{POSTGRES}?options=" + quote(f"-c search_path={schema}", safe="")
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as conn:
            conn.execute("SET lock_timeout = '10s'")
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
