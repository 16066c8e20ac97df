"""PostgreSQL failing: error 101 writes nothing, locks and outages fail fast, and it recovers.

The PostgreSQL counterparts of the SQLite-only tests in test_storage_failure.py
and test_store.py (fault injection with a trigger, an unreachable or locked
database).
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from tests.integration.test_storage_failure import CPR, submission
from tests.support import seeded_store
from udb.domain.model import ErrorCode
from udb.service.reports import ReportPolicy, submit
from udb.storage import StorageError, Store
from udb.storage.postgresql import PostgresStore


@pytest.fixture
def database_url(postgres_url: str) -> str:
    """The shared ``store`` fixture, on PostgreSQL only; its own application_name."""
    return f"{postgres_url}&application_name=udb_t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def admin(database_url: str) -> Iterator[psycopg.Connection]:  # type: ignore[type-arg]
    with psycopg.connect(database_url + "_admin", autocommit=True) as conn:
        yield conn


def counts(admin: psycopg.Connection) -> tuple[int, ...]:  # type: ignore[type-arg]
    return tuple(
        admin.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
        for table in ("report_log", "block_history", "current_blocks")
    )


@pytest.mark.parametrize("table", ["report_log", "block_history", "current_blocks"])
def test_a_failing_write_answers_101_and_leaves_nothing_half_written(
    store: Store,
    admin: psycopg.Connection,  # type: ignore[type-arg]
    table: str,
) -> None:
    admin.execute(
        "CREATE FUNCTION udb_t_fail() RETURNS trigger LANGUAGE plpgsql AS"
        " $$ BEGIN RAISE EXCEPTION 'injected storage failure'; END $$"
    )
    admin.execute(
        f"CREATE TRIGGER fail BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION udb_t_fail()"
    )
    before = counts(admin)
    outcome = submit(submission("tx-1"), store, ReportPolicy())
    assert outcome.error is ErrorCode.INTERNAL
    assert counts(admin) == before
    # Sent again unchanged while the failure lasts: still 101, still nothing.
    assert submit(submission("tx-1"), store, ReportPolicy()).error is ErrorCode.INTERNAL
    assert counts(admin) == before
    admin.execute(f"DROP TRIGGER fail ON {table}")
    # The failure is gone: the same report is now accepted and stored once.
    assert submit(submission("tx-1"), store, ReportPolicy()).ok
    assert submit(submission("tx-1"), store, ReportPolicy()).ok
    assert counts(admin) == (before[0] + 1, before[1] + 2, before[2] + 2)


def test_an_unreachable_server_answers_101_within_5_seconds() -> None:
    gone = PostgresStore("postgresql://postgres@127.0.0.1:1/test")  # connection refused
    try:
        started = time.monotonic()
        assert submit(submission("tx-2"), gone, ReportPolicy()).error is ErrorCode.INTERNAL
        assert time.monotonic() - started < 5
        started = time.monotonic()
        assert not gone.ping()
        assert time.monotonic() - started < 2
    finally:
        gone.close()
    quick = PostgresStore("postgresql://postgres@127.0.0.1:1/test", timeout=0.2)
    try:
        with pytest.raises(StorageError) as raised, quick.unit_of_work():
            pass
        assert not isinstance(raised.value, psycopg.Error)
        assert "no connection in time" in str(raised.value)
    finally:
        quick.close()


def test_a_server_that_never_answers_fails_within_5_seconds() -> None:
    """A host that accepts the connection and then says nothing (hung, or half down)."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    store = PostgresStore(f"postgresql://postgres@127.0.0.1:{silent.getsockname()[1]}/test")
    try:
        started = time.monotonic()
        assert submit(submission("tx-3"), store, ReportPolicy()).error is ErrorCode.INTERNAL
        assert time.monotonic() - started < 5
        assert not store.ping()
    finally:
        store.close()
        silent.close()


def test_a_locked_table_is_a_storage_error_and_it_recovers(
    database_url: str,
    admin: psycopg.Connection,  # type: ignore[type-arg]
) -> None:
    store = seeded_store(database_url)
    store.lock_timeout = 0.2  # type: ignore[attr-defined]
    store.close()  # the next connections take the new setting
    try:
        with admin.transaction():
            admin.execute("LOCK TABLE report_log IN ACCESS EXCLUSIVE MODE")
            with pytest.raises(StorageError) as raised, store.unit_of_work() as uow:
                uow.reports.find(1, "tx-4")
            assert "lock" in str(raised.value).lower()
            assert submit(submission("tx-4"), store, ReportPolicy()).error is ErrorCode.INTERNAL
        assert submit(submission("tx-4"), store, ReportPolicy()).ok  # and it recovers
    finally:
        store.close()


def test_broken_connections_are_replaced_after_an_outage(
    store: Store,
    database_url: str,
    admin: psycopg.Connection,  # type: ignore[type-arg]
) -> None:
    """Every connection of the pool killed (a server restart): the next reports succeed."""
    name = database_url.rsplit("application_name=", 1)[1]
    with ThreadPoolExecutor(8) as pool:  # several connections in the pool
        warm = pool.map(lambda i: submit(submission(f"warm-{i}"), store, ReportPolicy()), range(40))
        assert all(o.ok for o in warm)
    killed = admin.execute(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s",
        (name,),
    ).fetchone()
    assert killed is not None and killed[0] >= 1
    started = time.monotonic()
    assert submit(submission("after"), store, ReportPolicy()).ok
    # each broken connection is not tried in turn: the first failed check replaces them all
    assert time.monotonic() - started < 2
    assert store.ping()
    with store.unit_of_work(readonly=True) as uow:
        view = uow.persons.view(CPR)
    assert view is not None and view.report_count == 41


def test_a_connection_lost_inside_a_unit_of_work_is_101_and_discarded(
    store: Store,
    admin: psycopg.Connection,  # type: ignore[type-arg]
) -> None:
    with store.unit_of_work() as uow:
        uow.systems.list()
        pid = uow._session.conn.info.backend_pid  # type: ignore[attr-defined]
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        time.sleep(0.1)
        with pytest.raises(StorageError):
            uow.systems.list()
    assert submit(submission("tx-5"), store, ReportPolicy()).ok
