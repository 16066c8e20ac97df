"""The PostgreSQL adapter only: URL and pool, session settings, types, migrations."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from tests.support import NOW, SYSTEM
from udb.domain.model import Municipality
from udb.storage import IntegrityError, StorageError, Store, migrations, open_store
from udb.storage.postgresql import PostgresStore, split_url


@pytest.fixture
def database_url(postgres_url: str) -> str:
    """The shared ``store`` fixture, on PostgreSQL only."""
    return postgres_url


def test_the_url_chooses_postgresql_and_keeps_libpq_parameters(postgres_url: str) -> None:
    for scheme in ("postgresql", "postgres"):
        store = open_store(postgres_url.replace("postgresql", scheme, 1) + "&pool_size=3")
        assert isinstance(store, PostgresStore) and store.dialect == "postgresql"
        assert store.max_size == 3 and store.min_size == 1
        assert "pool_size" not in store.conninfo
        assert "options=-c%20search_path%3Dudb_t_" in store.conninfo
    assert PostgresStore(postgres_url).max_size == 10
    assert PostgresStore(postgres_url, pool_size=2).max_size == 2
    assert split_url("postgresql://h/db?pool_size=4&sslmode=disable") == (
        "postgresql://h/db?sslmode=disable",
        4,
    )


@pytest.mark.parametrize("size", ["0", "-1", "many", ""])
def test_a_bad_pool_size_is_refused(size: str) -> None:
    with pytest.raises(ValueError):
        open_store(f"postgresql://postgres@127.0.0.1/test?pool_size={size}")


def test_nothing_connects_before_first_use() -> None:
    store = PostgresStore("postgresql://postgres@127.0.0.1:1/test")  # nothing listens there
    assert store._pool is None
    store.close()


def test_sessions_are_durable_in_utc_and_wait_for_locks_bounded(store: Store) -> None:
    with store.unit_of_work(readonly=True) as uow:
        session = uow._session  # type: ignore[attr-defined]  # BEGIN goes with the first statement
        settings = {
            name: session.one(f"SHOW {name}")[0]
            for name in (
                "synchronous_commit",
                "TimeZone",
                "lock_timeout",
                "transaction_isolation",
                "transaction_read_only",
            )
        }
    assert settings == {
        "synchronous_commit": "on",
        "TimeZone": "UTC",
        "lock_timeout": "5s",
        "transaction_isolation": "repeatable read",
        "transaction_read_only": "on",
    }
    with store.unit_of_work() as uow:
        session = uow._session  # type: ignore[attr-defined]
        assert session.one("SHOW transaction_isolation")[0] == "read committed"


def test_times_are_timestamptz_and_come_back_aware_in_utc(store: Store, postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        types = dict(
            conn.execute(
                "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = current_schema()"
                " AND column_name IN ('created_at', 'registered_at', 'birth_date', 'keep_until')"
            ).fetchall()
        )
    assert types["client_systems.created_at"] == "timestamp with time zone"
    assert types["current_blocks.registered_at"] == "timestamp with time zone"
    assert types["replay_cache.keep_until"] == "timestamp with time zone"
    assert types["persons.birth_date"] == "date"
    with store.unit_of_work() as uow:
        system = uow.systems.get(SYSTEM)
        assert system is not None
        (created,) = uow._session.one(  # type: ignore[attr-defined]
            "SELECT created_at FROM client_systems WHERE id = ?", (system.id,)
        )
    assert created == NOW and created.utcoffset() == timedelta(0)
    with pytest.raises(ValueError), store.unit_of_work() as uow:
        uow.replay.remember("k", datetime(2026, 1, 1), NOW)  # naive: refused, as in SQLite


def test_one_connection_per_unit_of_work_returned_at_exit(store: Store) -> None:
    assert isinstance(store, PostgresStore)
    with store.unit_of_work() as first, store.unit_of_work() as second:
        a, b = first._session.conn, second._session.conn  # type: ignore[union-attr]
        assert a is not b
        first.municipalities.upsert_many([Municipality(990, "Prøvekommune")])
        # not committed: the other transaction does not see it
        assert 990 not in second.municipalities.codes()
        first.commit()
        assert 990 in second.municipalities.codes()  # READ COMMITTED: now it does
    stats = store.pool().get_stats()
    assert stats["pool_size"] - stats["pool_available"] == 0  # all given back


def test_commit_after_a_failed_statement_is_refused(store: Store) -> None:
    with store.unit_of_work() as uow:
        with pytest.raises(StorageError):
            uow.municipalities.upsert_many([Municipality(1000, "out of range")])
        with pytest.raises(StorageError, match="undone"):
            uow.commit()
    with store.unit_of_work() as uow:
        assert 1000 not in uow.municipalities.codes()


def test_driver_errors_never_escape_and_name_no_values(store: Store) -> None:
    with pytest.raises(IntegrityError) as raised, store.unit_of_work() as uow:
        uow.municipalities.upsert_many([Municipality(5, "Secret A"), Municipality(5, "Secret B")])
    assert not isinstance(raised.value, psycopg.Error)
    assert isinstance(raised.value.__cause__, psycopg.errors.UniqueViolation)
    assert str(raised.value) == "constraint violated: municipalities_pkey"
    with pytest.raises(StorageError) as failed, store.unit_of_work() as uow:
        uow.municipalities.upsert_many([Municipality(1000, "Secret C")])  # CHECK fails: 1000
    assert "Secret" not in str(failed.value) and "1000" not in str(failed.value)


def test_a_new_schema_is_empty_until_migrated(postgres_url: str) -> None:
    store = open_store(postgres_url)
    try:
        assert store.schema_version() == 0
        assert not store.ping()
        assert list(store.migrate()) == list(range(1, migrations.latest_version() + 1))
        assert store.ping()
        assert list(store.migrate()) == []
    finally:
        store.close()


def _applied_versions(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]


def test_instances_migrating_at_once_apply_each_migration_once(postgres_url: str) -> None:
    stores = [open_store(postgres_url) for _ in range(4)]
    start = threading.Barrier(len(stores))
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def migrate(store: Store) -> None:
        start.wait()
        try:
            results.append(list(store.migrate()))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for store in stores:
        store.close()
    assert errors == []
    every = sorted(v for applied in results for v in applied)
    assert every == list(range(1, migrations.latest_version() + 1))  # each once, by someone
    assert _applied_versions(postgres_url) == every


def test_processes_migrating_at_once_all_succeed(postgres_url: str) -> None:
    command = [sys.executable, "-m", "udb", "db", "migrate", "--database", postgres_url]
    children = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(3)
    ]
    outputs = [(child.communicate(timeout=60)[0], child.returncode) for child in children]
    assert [code for _, code in outputs] == [0, 0, 0], outputs
    assert _applied_versions(postgres_url) == list(range(1, migrations.latest_version() + 1))


def test_the_pool_size_bounds_the_connections(postgres_url: str) -> None:
    store = PostgresStore(postgres_url + "&pool_size=1", timeout=0.3)
    try:
        store.migrate()
        with store.unit_of_work():
            started = datetime.now(UTC)
            with pytest.raises(StorageError, match="no connection in time"), store.unit_of_work():
                pass
            assert datetime.now(UTC) - started < timedelta(seconds=2)
    finally:
        store.close()
