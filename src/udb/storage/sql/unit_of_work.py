"""The unit of work and the schema migrations, shared by the SQL adapters.

An adapter opens a connection and a transaction its own way (SQLite: the
thread's connection and ``BEGIN IMMEDIATE``; PostgreSQL: a pooled connection
and a deferred ``BEGIN``) and then binds the repositories of
:mod:`udb.storage.sql.repositories` to it with :meth:`SqlUnitOfWork.bind`.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from datetime import UTC, datetime

from udb.storage import migrations
from udb.storage.base import StorageError, UnitOfWork
from udb.storage.sql.dialect import Dialect, Params, SqlConnection
from udb.storage.sql.persons import SqlPersons, Stage
from udb.storage.sql.readback import SqlReadBack
from udb.storage.sql.repositories import (
    SqlCprImports,
    SqlInstitutions,
    SqlMunicipalities,
    SqlReplayCache,
    SqlReports,
)
from udb.storage.sql.requests import SqlRequestLog
from udb.storage.sql.retention import SqlRetention
from udb.storage.sql.statistics import SqlStatistics
from udb.storage.sql.systems import SqlSystems
from udb.storage.sql.testenv import SqlTestEnvironment

_SCHEMA_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL, applied_at {timestamp} NOT NULL)"
)


class SqlUnitOfWork(UnitOfWork):
    """Every repository over one connection, inside one transaction."""

    replay: SqlReplayCache
    reports: SqlReports

    def bind(self, db: SqlConnection, dialect: Dialect, stage: Stage) -> None:
        self.municipalities = SqlMunicipalities(db, dialect)
        self.institutions = SqlInstitutions(db, dialect)
        self.systems = SqlSystems(db, dialect)
        self.persons = SqlPersons(db, dialect, stage)
        self.reports = SqlReports(db, dialect)
        self.cpr_imports = SqlCprImports(db, dialect)
        self.replay = SqlReplayCache(db, dialect)
        self.requests = SqlRequestLog(db, dialect)
        self.statistics = SqlStatistics(db, dialect)
        self.retention = SqlRetention(db, dialect)
        self.testenv = SqlTestEnvironment(db, dialect)
        self.readback = SqlReadBack(db, dialect)


def schema_version(db: SqlConnection, dialect: Dialect) -> int:
    """The newest migration applied (0 for an empty database)."""
    exists = db.one(dialect.table_exists, ("schema_migrations",))
    if exists is None or not exists[0]:
        return 0
    row = db.one("SELECT max(version) FROM schema_migrations")
    return int(row[0] or 0) if row else 0


def apply_migrations(
    db: SqlConnection, dialect: Dialect, begin: Sequence[tuple[str, Params]]
) -> list[int]:
    """Apply every migration not applied yet, each in its own transaction.

    ``begin`` are the statements that open a migration's transaction and take
    the lock that serialises migrating processes (SQLite: ``BEGIN IMMEDIATE``;
    PostgreSQL: ``BEGIN`` and an advisory lock). Answers the versions applied now.
    """
    applied: list[int] = []
    create = _SCHEMA_TABLE.format_map(migrations.DIALECT_TYPES[dialect.name])
    for migration in migrations.load():
        for statement, params in begin:
            db.execute(statement, params)
        try:
            db.execute(create)
            done = db.one("SELECT 1 FROM schema_migrations WHERE version = ?", (migration.version,))
            if done is None:
                for statement in migration.statements(dialect.name):
                    db.execute(statement)
                db.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, dialect.time(datetime.now(UTC))),
                )
                applied.append(migration.version)
            db.execute("COMMIT")
        except BaseException:
            with suppress(StorageError):  # a broken connection has no transaction left
                db.execute("ROLLBACK")
            raise
    return applied
