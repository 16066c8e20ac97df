"""How an accepted report changes what UDB holds (interface.md section 5).

The three blocks are independent. For each block present, the stored value is
replaced only if the incoming registration time is newer than the stored one;
for equal times the later arrival wins. An older block is still accepted and
kept in the history, but does not become current.

Storage adapters apply this rule inside the database (a conditional upsert),
so that it also holds when two service instances store blocks for the same
person at the same moment; this function is the rule in plain Python, used by
the in-memory unit of work and by the tests that hold the adapters to it.
"""

from __future__ import annotations

from datetime import datetime


def supersedes(incoming: datetime, current: datetime | None) -> bool:
    """True if a block registered at ``incoming`` replaces one registered at ``current``."""
    return current is None or incoming >= current
