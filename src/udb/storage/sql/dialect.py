"""What differs between the SQL dialects, and nothing else.

The repositories write every statement once, with ``?`` placeholders, and ask
the dialect for the few pieces that differ::

    row = db.one("SELECT id FROM client_systems WHERE name = ?", (name,))
    db.execute("UPDATE persons SET updated_at = ?", (dialect.time(now),))

A connection wrapper of each adapter takes that portable SQL
(:class:`SqlConnection`); the PostgreSQL one turns ``?`` into ``%s`` once per
statement (:func:`PostgresDialect.native`). The dialect is chosen once, by the
database URL, in :func:`udb.storage.open_store`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any, ClassVar, Protocol

#: statement parameters, positional
Params = Sequence[Any]


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...


class SqlConnection(Protocol):
    """A connection that runs portable SQL and fails with StorageError, never a driver error."""

    def execute(self, sql: str, params: Params = ()) -> Cursor: ...

    def one(self, sql: str, params: Params = ()) -> tuple[Any, ...] | None: ...

    def all(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]: ...

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...


def aware(value: datetime) -> datetime:
    """``value`` if it is timezone-aware; naive datetimes are never stored."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("only aware datetimes are stored")
    return value


class Dialect:
    """The pieces of SQL and the value encodings that differ; one instance per adapter."""

    #: the name ``Store.dialect`` reports and the migrations' type table uses
    name: ClassVar[str]
    #: row values equal, NULLs counting as equal (``(a, b) IS (c, d)`` in SQLite)
    same: ClassVar[str]
    #: row values differ, NULLs counting as equal
    differs: ClassVar[str]
    #: what a writer of the register locks first (none: the write lock is the database's)
    lock_persons: ClassVar[str | None]
    #: appended to a sub-select of rows to delete so concurrent purges skip each other's
    skip_locked: ClassVar[str]
    #: answers one row, true if the table named by the parameter exists
    table_exists: ClassVar[str]
    #: answers one row, false if another transaction holds the advisory lock named by
    #: the parameter (None: the write lock is the database's)
    try_lock_retention: ClassVar[str | None]

    def time(self, value: datetime) -> Any:
        """An aware datetime as the database stores it."""
        raise NotImplementedError

    def from_time(self, value: Any) -> datetime:
        raise NotImplementedError

    def day(self, value: date) -> Any:
        raise NotImplementedError

    def from_day(self, value: Any) -> date:
        raise NotImplementedError

    def optional_time(self, value: datetime | None) -> Any:
        return None if value is None else self.time(value)

    def from_optional_time(self, value: Any) -> datetime | None:
        return None if value is None else self.from_time(value)

    def from_optional_day(self, value: Any) -> date | None:
        return None if value is None else self.from_day(value)


class SqliteDialect(Dialect):
    """SQLite 3.35 or newer (``RETURNING``, ``FILTER``, row values).

    Times are fixed-width ISO 8601 text in UTC (``2026-11-20T08:15:00.000000Z``),
    which compares in time order; dates ISO text.
    """

    name = "sqlite"
    same = "IS"
    differs = "IS NOT"
    lock_persons = None
    skip_locked = ""
    table_exists = "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?"
    try_lock_retention = None

    def time(self, value: datetime) -> str:
        utc = aware(value).astimezone(UTC).replace(tzinfo=None)
        return utc.isoformat(timespec="microseconds") + "Z"

    def from_time(self, value: Any) -> datetime:
        return datetime.fromisoformat(str(value)[:-1]).replace(tzinfo=UTC)

    def day(self, value: date) -> str:
        return value.isoformat()

    def from_day(self, value: Any) -> date:
        return date.fromisoformat(str(value))


class PostgresDialect(Dialect):
    """PostgreSQL 13 or newer: TIMESTAMPTZ and DATE columns, read back as Python values."""

    name = "postgresql"
    same = "IS NOT DISTINCT FROM"
    differs = "IS DISTINCT FROM"
    # Register writers queue here, so the counts of an import are exact; reports
    # only read persons (and FOR KEY SHARE them): they are not held up.
    lock_persons = "LOCK TABLE persons IN SHARE ROW EXCLUSIVE MODE"
    # Instances purging at once neither wait for nor deadlock with each other,
    # nor with a report that renews an expired key.
    skip_locked = " FOR UPDATE SKIP LOCKED"
    table_exists = "SELECT to_regclass(?) IS NOT NULL"
    # Instances that start a purge at once: one takes the lock, the others skip
    # (the first key says what for, the second which schema).
    try_lock_retention = (
        "SELECT pg_try_advisory_xact_lock(?, hashtext(coalesce(current_schema(), '')))"
    )

    def time(self, value: datetime) -> datetime:
        return aware(value)

    def from_time(self, value: Any) -> datetime:
        if not isinstance(value, datetime):
            raise TypeError("a TIMESTAMPTZ column did not come back as a datetime")
        return value

    def day(self, value: date) -> date:
        return value

    def from_day(self, value: Any) -> date:
        if not isinstance(value, date):
            raise TypeError("a DATE column did not come back as a date")
        return value

    @staticmethod
    @functools.cache
    def native(sql: str) -> str:
        """Portable SQL with psycopg's placeholders: ``?`` becomes ``%s``, ``%`` is escaped.

        The portable statements hold no ``?`` or ``%`` in literals.

        >>> PostgresDialect.native("SELECT 1 WHERE a = ? AND b LIKE 'x%'")
        "SELECT 1 WHERE a = %s AND b LIKE 'x%%'"
        """
        return sql.replace("%", "%%").replace("?", "%s")


def row_of(table: str, columns: Sequence[str]) -> str:
    """``(t.a, t.b, ...)``: some columns of ``table`` as one row value.

    >>> row_of("p", ("a", "b"))
    '(p.a, p.b)'
    """
    return "(" + ", ".join(f"{table}.{c}" for c in columns) + ")"
