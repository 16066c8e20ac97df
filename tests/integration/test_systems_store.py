"""Client systems disabled, enabled and removed; the counts and lists the operator commands read."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from tests.integration.test_intake import CERT, SIGNED, UNSIGNED, both_ways, record
from tests.support import AARHUS_KUI, NOW, SYSTEM
from udb.domain.model import ClientSystem, Institution
from udb.storage import IntegrityError, Store


def system(store: Store, name: str = SYSTEM) -> ClientSystem:
    with store.unit_of_work(readonly=True) as uow:
        found = uow.systems.get(name)
    assert found is not None
    return found


def set_disabled(store: Store, at: datetime | None) -> None:
    system_id = system(store).id
    with store.unit_of_work() as uow:
        uow.systems.set_disabled(system_id, at)
        uow.commit()


def test_a_disabled_system_keeps_everything_and_says_since_when(store: Store) -> None:
    system_id = system(store).id
    with store.unit_of_work() as uow:
        uow.systems.add_certificate(system_id, CERT)
        assert uow.record(record(), ()) is not None
        uow.commit()
    set_disabled(store, NOW)
    found = system(store)
    assert found.disabled and found.disabled_at == NOW
    assert found.institutions == frozenset({AARHUS_KUI})
    with store.unit_of_work(readonly=True) as uow:
        assert [s.disabled_at for s in uow.systems.list()] == [NOW]
        by_cert = uow.systems.by_certificate(CERT.fingerprint, NOW)
        assert by_cert is not None and by_cert.disabled_at == NOW
        assert uow.systems.certificates(found.id) == [CERT]
        assert uow.reports.count_for_system(found.id) == 1
    set_disabled(store, None)
    assert not system(store).disabled


def test_the_intake_tells_a_disabled_system_signed_and_unsigned(store: Store) -> None:
    """PostgreSQL's one-statement intake reads disabled_at as the repositories do."""
    system_id = system(store).id
    with store.unit_of_work() as uow:
        uow.systems.add_certificate(system_id, CERT)
        uow.commit()
    set_disabled(store, NOW - timedelta(hours=1))
    with store.unit_of_work() as uow:
        unsigned = both_ways(uow, UNSIGNED).system
        signed = both_ways(uow, replace(SIGNED, system_name="ignored")).system
    assert unsigned is not None and unsigned.disabled_at == NOW - timedelta(hours=1)
    assert signed is not None and signed.disabled_at == NOW - timedelta(hours=1)


def test_remove_takes_certificates_and_institutions_along(store: Store) -> None:
    with store.unit_of_work() as uow:
        other = uow.systems.add("Andet-System", [AARHUS_KUI, 101001], NOW)
        uow.systems.add_certificate(other.id, CERT)
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.reports.count_for_system(other.id) == 0
        uow.systems.remove(other.id)
        uow.commit()
    with store.unit_of_work(readonly=True) as uow:
        assert uow.systems.get("Andet-System") is None
        assert uow.systems.by_certificate(CERT.fingerprint, NOW) is None
        assert [s.name for s in uow.systems.list()] == [SYSTEM]
    system_id = system(store).id
    with store.unit_of_work() as uow:  # the certificate may be pinned anew
        uow.systems.add_certificate(system_id, CERT)
        uow.commit()


def test_a_system_with_reports_cannot_be_removed(store: Store) -> None:
    with store.unit_of_work() as uow:
        assert uow.record(record(), ()) is not None
        uow.commit()
    system_id = system(store).id
    with store.unit_of_work() as uow, pytest.raises(IntegrityError):
        uow.systems.remove(system_id)
    assert system(store).name == SYSTEM


def test_institutions_list_and_persons_count(store: Store) -> None:
    with store.unit_of_work(readonly=True) as uow:
        assert uow.institutions.list() == [
            Institution(101001, 101, "KUI København"),
            Institution(AARHUS_KUI, 751, "KUI Aarhus"),
        ]
        assert uow.persons.count() == 1
