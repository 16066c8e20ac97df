"""The client systems in SQL, written once: names, the institutions each may report for,
the certificates pinned to them, and whether a system is disabled."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from udb.domain.model import ClientCertificate, ClientSystem
from udb.storage import base
from udb.storage.base import IntegrityError
from udb.storage.sql.repositories import SqlRepository


class SqlSystems(SqlRepository, base.Systems):
    #: the columns of client_systems a ClientSystem is read from (see :meth:`_system`)
    COLUMNS = "id, name, disabled_at"

    def get(self, name: str) -> ClientSystem | None:
        row = self.db.one(f"SELECT {self.COLUMNS} FROM client_systems WHERE name = ?", (name,))
        return None if row is None else self._system(row)

    def _system(self, row: Sequence[Any]) -> ClientSystem:
        """The system of a row of :attr:`COLUMNS`, with its institutions."""
        numbers = self.db.all(
            "SELECT institution_number FROM system_institutions WHERE system_id = ?", (row[0],)
        )
        disabled_at = self.d.from_optional_time(row[2])
        return ClientSystem(row[0], row[1], frozenset(r[0] for r in numbers), disabled_at)

    def add(self, name: str, institutions: Iterable[int], now: datetime) -> ClientSystem:
        self.db.execute(
            "INSERT INTO client_systems (name, created_at) VALUES (?, ?)"
            " ON CONFLICT (name) DO NOTHING",
            (name, self.d.time(now)),
        )
        row = self.db.one(f"SELECT {self.COLUMNS} FROM client_systems WHERE name = ?", (name,))
        if row is None:  # pragma: no cover - inserted or already there
            raise IntegrityError("constraint violated: the client system was not stored")
        numbers = [(row[0], n) for n in institutions]
        if numbers:
            self.db.many(
                "INSERT INTO system_institutions (system_id, institution_number) VALUES (?, ?)"
                " ON CONFLICT DO NOTHING",
                numbers,
            )
        return self._system(row)

    def list(self) -> builtins.list[ClientSystem]:
        rows = self.db.all(f"SELECT {self.COLUMNS} FROM client_systems ORDER BY name")
        return [self._system(row) for row in rows]

    def set_disabled(self, system_id: int, at: datetime | None) -> None:
        self.db.execute(
            "UPDATE client_systems SET disabled_at = ? WHERE id = ?",
            (self.d.optional_time(at), system_id),
        )

    def remove(self, system_id: int) -> None:
        # certificates and institutions go by ON DELETE CASCADE; logged reports refuse it
        self.db.execute("DELETE FROM client_systems WHERE id = ?", (system_id,))

    def add_certificate(self, system_id: int, certificate: ClientCertificate) -> None:
        c, d = certificate, self.d
        self.db.execute(
            "INSERT INTO client_certificates (fingerprint, system_id, subject, not_before,"
            " not_after, added_at, retires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                c.fingerprint,
                system_id,
                c.subject,
                d.time(c.not_before),
                d.time(c.not_after),
                d.time(c.added_at),
                d.optional_time(c.retires_at),
            ),
        )

    def retire_certificates(self, system_id: int, at: datetime) -> int:
        stamp = self.d.time(at)
        cursor = self.db.execute(
            "UPDATE client_certificates SET retires_at = ?"
            " WHERE system_id = ? AND (retires_at IS NULL OR retires_at > ?)",
            (stamp, system_id, stamp),
        )
        return int(cursor.rowcount)

    def certificates(self, system_id: int) -> builtins.list[ClientCertificate]:
        d = self.d
        rows = self.db.all(
            "SELECT fingerprint, subject, not_before, not_after, added_at, retires_at"
            " FROM client_certificates WHERE system_id = ? ORDER BY added_at, fingerprint",
            (system_id,),
        )
        return [
            ClientCertificate(
                r[0],
                r[1],
                d.from_time(r[2]),
                d.from_time(r[3]),
                d.from_time(r[4]),
                d.from_optional_time(r[5]),
            )
            for r in rows
        ]

    def by_certificate(self, fingerprint: str, now: datetime) -> ClientSystem | None:
        row = self.db.one(
            "SELECT s.id, s.name, s.disabled_at FROM client_certificates c"
            " JOIN client_systems s ON s.id = c.system_id"
            " WHERE c.fingerprint = ? AND (c.retires_at IS NULL OR c.retires_at > ?)",
            (fingerprint, self.d.time(now)),
        )
        return None if row is None else self._system(row)
