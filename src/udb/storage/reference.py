"""What a reference-data upsert must do, worked out once for every adapter.

Reference tables (municipalities, institutions) are small: the adapters read
the whole table, let :func:`plan` compare it with the input, and execute the
planned inserts and updates with their own placeholders.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from udb.storage.records import ApplyCounts

Row = tuple[Any, ...]


@dataclass(slots=True)
class Plan:
    #: ``(key, *values)`` rows to insert
    inserts: list[Row] = field(default_factory=list)
    #: ``(*values, key)`` rows to update (the key last, for ``WHERE key = ?``)
    updates: list[Row] = field(default_factory=list)
    unchanged: int = 0

    @property
    def counts(self) -> ApplyCounts:
        return ApplyCounts(len(self.inserts), len(self.updates), self.unchanged)


def plan(existing: Mapping[Any, Row], rows: Iterable[Row]) -> Plan:
    """Insert new keys, update changed rows, leave equal ones alone.

    ``existing`` maps each stored key to its values; each input row is
    ``(key, *values)``.

    >>> p = plan({1: ("a",), 2: ("b",)}, [(1, "a"), (2, "B"), (3, "c")])
    >>> (p.inserts, p.updates, p.counts)
    ([(3, 'c')], [('B', 2)], ApplyCounts(added=1, changed=1, unchanged=1))
    """
    result = Plan()
    for row in rows:
        old = existing.get(row[0])
        if old is None:
            result.inserts.append(row)
        elif old != tuple(row[1:]):
            result.updates.append((*row[1:], row[0]))
        else:
            result.unchanged += 1
    return result
