"""Two service instances (two stores, two pools) on one PostgreSQL schema at once.

Nothing in one instance's memory is needed by the other: the merge rule, the
idempotency key and the replay cache hold through the database alone.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from tests.integration.test_concurrency import CPR, job
from tests.support import NOW
from udb.service.reports import ReportPolicy, submit
from udb.storage import Store, open_store


@pytest.fixture
def database_url(postgres_url: str) -> str:
    """The shared ``store`` fixture, on PostgreSQL only."""
    return postgres_url


@pytest.fixture
def other(store: Store, database_url: str) -> Iterator[Store]:
    """A second instance on the database of ``store``."""
    second = open_store(database_url)
    yield second
    second.close()


def test_conflicting_reports_at_two_instances(store: Store, other: Store) -> None:
    submissions = [job(f"tx-{i}", f"wish {i}", minutes_ago=100 - i) for i in range(60)]
    order = sorted(range(60), key=lambda i: (i * 37) % 60)  # unrelated to registration time
    # each report at both instances at once, as a retry racing its original
    sends = [(s, submissions[i]) for i in order for s in (store, other)]
    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(lambda sent: submit(sent[1], sent[0], ReportPolicy()), sends))
    assert all(o.ok for o in outcomes)
    for instance in (store, other):
        with instance.unit_of_work(readonly=True) as uow:
            view = uow.persons.view(CPR)
        assert view is not None
        assert view.report_count == 60 and view.history_count == 60
        assert next(iter(view.current.values())).block.tekst == "wish 59"  # type: ignore[union-attr]


def test_one_signature_is_accepted_once_across_instances(store: Store, other: Store) -> None:
    start = threading.Barrier(8)

    def remember(instance: Store) -> bool:
        start.wait()
        with instance.unit_of_work() as uow:
            fresh = uow.replay.remember("sig", NOW + timedelta(minutes=5), NOW)
            uow.commit()
        return fresh

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(remember, [store, other] * 4))
    assert answers.count(True) == 1
