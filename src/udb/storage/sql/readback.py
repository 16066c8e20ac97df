"""The read-back's statements (:class:`udb.storage.base.ReadBack`), written once.

A current block's source is the report it came with: ``current_blocks`` ->
``block_history`` -> ``report_log`` (received_at) -> ``client_systems`` (name).
"""

from __future__ import annotations

import builtins
import secrets
from collections.abc import Sequence
from datetime import UTC, date, datetime

from udb.domain.model import BlockKind, Person
from udb.domain.readback import HeldBlock
from udb.storage import base
from udb.storage.sql.persons import _RESIDENT, PERSON_COLUMNS, block_of, person_of
from udb.storage.sql.repositories import SqlRepository

_SOURCE = (
    " FROM current_blocks c"
    " JOIN block_history h ON h.id = c.history_id"
    " JOIN report_log r ON r.id = h.report_id"
)


def _marks(n: int) -> str:
    return ", ".join("?" * n)


class SqlReadBack(SqlRepository, base.ReadBack):
    def persons(self, cprs: Sequence[str]) -> dict[str, Person]:
        wanted = list(dict.fromkeys(cprs))
        if not wanted:
            return {}
        rows = self.db.all(
            f"SELECT {PERSON_COLUMNS} FROM persons WHERE cpr IN ({_marks(len(wanted))})", wanted
        )
        return {str(row[0]).strip(): person_of(row, self.d) for row in rows}

    def current(self, cprs: Sequence[str]) -> dict[str, dict[BlockKind, HeldBlock]]:
        wanted = list(dict.fromkeys(cprs))
        if not wanted:
            return {}
        rows = self.db.all(
            "SELECT c.cpr, h.kind, h.navn, h.mail, h.telefon, h.tekst, h.registered_at,"
            f" r.received_at, s.name{_SOURCE}"
            " JOIN client_systems s ON s.id = r.system_id"
            f" WHERE c.cpr IN ({_marks(len(wanted))})",
            wanted,
        )
        found: dict[str, dict[BlockKind, HeldBlock]] = {}
        for row in rows:
            kind = BlockKind(row[1])
            block = block_of(kind, row[2:7], self.d)
            held = HeldBlock(block, self.d.from_time(row[7]), row[8])
            found.setdefault(str(row[0]).strip(), {})[kind] = held
        return found

    def changed(
        self,
        *,
        municipality_code: int,
        born_after: date,
        since: datetime,
        until: datetime,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> builtins.list[tuple[str, datetime]]:
        last, last_cpr = after if after is not None else (since, "")
        d = self.d
        rows = self.db.all(
            f"SELECT p.cpr, max(r.received_at){_SOURCE}"
            " JOIN persons p ON p.cpr = c.cpr"
            f" WHERE p.municipality_code = ? AND {_RESIDENT.format(t='p')} AND p.birth_date > ?"
            " GROUP BY p.cpr"
            " HAVING max(r.received_at) > ? AND max(r.received_at) <= ?"
            " AND (max(r.received_at) > ? OR (max(r.received_at) = ? AND p.cpr > ?))"
            " ORDER BY 2, 1 LIMIT ?",
            (
                municipality_code,
                d.day(born_after),
                d.time(since),
                d.time(until),
                d.time(last),
                d.time(last),
                last_cpr,
                limit,
            ),
        )
        return [(str(row[0]).strip(), d.from_time(row[1])) for row in rows]

    def token_key(self) -> bytes:
        row = self.db.one("SELECT hmac_key FROM readback_keys WHERE id = 1")
        if row is None:
            self.db.execute(
                "INSERT INTO readback_keys (id, hmac_key, created_at) VALUES (1, ?, ?)"
                " ON CONFLICT (id) DO NOTHING",
                (secrets.token_hex(32), self.d.time(datetime.now(UTC))),
            )
            row = self.db.one("SELECT hmac_key FROM readback_keys WHERE id = 1")
        if row is None:  # pragma: no cover - inserted or found just above
            raise base.StorageError("the read-back key cannot be read")
        return bytes.fromhex(str(row[0]))
