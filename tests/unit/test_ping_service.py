"""The Ping use case (udb.service.ping.ping) on the in-memory store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.unit.fakes import FakeStore
from udb.domain.model import ClientCertificate, Signature
from udb.service.errors import AccessDenied, Replayed
from udb.service.ping import ping

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SYSTEM = "Vejledningssystem-Aarhus"
PINNED = "ab" * 32
SIGNATURE = Signature(PINNED, "1f" * 32, NOW + timedelta(minutes=10))


@pytest.fixture
def store() -> FakeStore:
    store = FakeStore()
    with store.unit_of_work() as uow:
        system = uow.systems.add(SYSTEM, [], NOW)
        uow.systems.add_certificate(
            system.id, ClientCertificate(PINNED, "CN=x", NOW - timedelta(days=1), NOW, NOW)
        )
        uow.commit()
    store.ops.clear()
    return store


def test_an_unsigned_ping_asks_only_the_database(store: FakeStore) -> None:
    assert ping(None, store, NOW) is True
    assert store.ops == ["ping"]


def test_a_signed_ping_from_a_pinned_certificate_is_up_once(store: FakeStore) -> None:
    assert ping(SIGNATURE, store, NOW) is True
    assert store.ops[0] == "ping"
    assert {"replay.remember", "systems.by_certificate", "commit"} <= set(store.ops)
    with pytest.raises(Replayed, match="replay refused"):
        ping(SIGNATURE, store, NOW + timedelta(minutes=1))
    other = Signature(PINNED, "2e" * 32, NOW + timedelta(minutes=10))
    assert ping(other, store, NOW) is True


def test_the_replay_key_is_kept_until_keep_until(store: FakeStore) -> None:
    assert ping(SIGNATURE, store, NOW) is True
    assert ping(SIGNATURE, store, SIGNATURE.keep_until + timedelta(seconds=1)) is True


def test_an_unpinned_certificate_is_access_denied_and_not_remembered(store: FakeStore) -> None:
    stranger = Signature("cd" * 32, "3d" * 32, NOW + timedelta(minutes=10))
    with pytest.raises(AccessDenied, match="not registered to a client system"):
        ping(stranger, store, NOW)
    with pytest.raises(AccessDenied):  # refused again as a stranger, not as a replay
        ping(stranger, store, NOW)
    assert "commit" not in store.ops


def test_a_signed_ping_of_a_disabled_system_is_access_denied(store: FakeStore) -> None:
    with store.unit_of_work() as uow:
        uow.systems.set_disabled(1, NOW)
        uow.commit()
    with pytest.raises(AccessDenied, match="the client system is disabled"):
        ping(SIGNATURE, store, NOW)
    with store.unit_of_work() as uow:
        uow.systems.set_disabled(1, None)
        uow.commit()
    assert ping(SIGNATURE, store, NOW) is True  # the refused one was not remembered


def test_a_replay_of_an_unpinned_certificate_is_refused_as_a_replay(store: FakeStore) -> None:
    assert ping(SIGNATURE, store, NOW) is True
    with store.unit_of_work() as uow:
        uow.systems.retire_certificates(1, NOW)
        uow.commit()
    with pytest.raises(Replayed):  # the same order of checks as for a report
        ping(SIGNATURE, store, NOW + timedelta(minutes=1))


def test_down_without_authentication_when_the_database_does_not_answer(store: FakeStore) -> None:
    store.fail_next(1, op="ping")
    assert ping(SIGNATURE, store, NOW) is False
    assert store.ops == ["ping"]  # nothing else was tried: down at once


@pytest.mark.parametrize("op", ["begin", "replay.remember", "systems.by_certificate", "commit"])
def test_down_when_the_database_fails_while_authenticating(store: FakeStore, op: str) -> None:
    store.fail_next(1, op=op)
    assert ping(SIGNATURE, store, NOW) is False
    assert ping(SIGNATURE, store, NOW) is True  # nothing was kept: not a replay afterwards
