"""Integration tests run against every storage adapter: SQLite and PostgreSQL.

Each PostgreSQL test gets a fresh schema ``udb_t_<uuid>`` in the database
``test`` at 127.0.0.1:5432 (selected by ``options=-c search_path=...`` in the
URL), dropped afterwards. If PostgreSQL does not answer, its tests are skipped
with the reason, unless the environment variable ``CI`` is set: then they fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import postgres_schema, require_postgres, seeded_store, sqlite_url
from udb.storage import Store

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """The URL of a fresh, empty (not migrated) schema, dropped afterwards."""
    require_postgres()
    with postgres_schema() as url:
        yield url


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return sqlite_url(tmp_path)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A migrated store holding Aarhus, its KUI 751001, one system and one young person."""
    store = seeded_store(database_url)
    yield store
    store.close()
