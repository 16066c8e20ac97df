"""Integration tests run against every storage adapter (SQLite for now)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import seeded_store, sqlite_url
from udb.storage import Store

BACKENDS = ["sqlite"]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return sqlite_url(tmp_path)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A migrated store holding Aarhus, its KUI 751001, one system and one young person."""
    store = seeded_store(database_url)
    yield store
    store.close()
