"""Pinned client certificates and the replay cache."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support import NOW, SYSTEM
from udb.domain.model import ClientCertificate
from udb.storage import IntegrityError, Store

CERT = ClientCertificate(
    "aa" * 32,
    "CN=Vejledningssystem-Aarhus",
    NOW - timedelta(days=1),
    NOW + timedelta(days=365),
    NOW,
)
NEW = ClientCertificate(
    "bb" * 32, "CN=Vejledningssystem-Aarhus 2", NOW, NOW + timedelta(days=730), NOW
)


def test_a_pinned_certificate_identifies_its_system(store: Store) -> None:
    with store.unit_of_work() as uow:
        system = uow.systems.get(SYSTEM)
        assert system is not None
        uow.systems.add_certificate(system.id, CERT)
        uow.commit()
    with store.unit_of_work(readonly=True) as uow:
        found = uow.systems.by_certificate(CERT.fingerprint, NOW)
        assert found is not None and found.name == SYSTEM and found.institutions
        assert uow.systems.by_certificate("cc" * 32, NOW) is None
        assert uow.systems.certificates(found.id) == [CERT]


def test_a_certificate_is_pinned_to_one_system_only(store: Store) -> None:
    with store.unit_of_work() as uow:
        other = uow.systems.add("Andet-System", [751001], NOW)
        system = uow.systems.get(SYSTEM)
        assert system is not None
        uow.systems.add_certificate(system.id, CERT)
        with pytest.raises(IntegrityError):
            uow.systems.add_certificate(other.id, CERT)


def test_rotation_keeps_the_old_certificate_during_the_overlap(store: Store) -> None:
    overlap_end = NOW + timedelta(days=30)
    with store.unit_of_work() as uow:
        system = uow.systems.get(SYSTEM)
        assert system is not None
        uow.systems.add_certificate(system.id, CERT)
        assert uow.systems.retire_certificates(system.id, overlap_end) == 1
        uow.systems.add_certificate(system.id, NEW)
        uow.commit()
    with store.unit_of_work(readonly=True) as uow:
        assert uow.systems.by_certificate(CERT.fingerprint, NOW + timedelta(days=29)) is not None
        assert uow.systems.by_certificate(CERT.fingerprint, overlap_end) is None
        assert uow.systems.by_certificate(NEW.fingerprint, overlap_end) is not None


def test_the_replay_cache_refuses_a_key_until_it_expires(store: Store) -> None:
    later = NOW + timedelta(minutes=10)
    with store.unit_of_work() as uow:
        assert uow.replay.remember("k1", later, NOW)
        assert not uow.replay.remember("k1", later, NOW + timedelta(minutes=9))
        assert uow.replay.remember("k1", later + timedelta(minutes=10), later)  # expired: new again
        assert uow.replay.remember("k2", later, NOW)
        uow.commit()
