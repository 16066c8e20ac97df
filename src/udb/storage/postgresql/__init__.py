"""PostgreSQL adapter: the pool and its sessions, the store, register staging with COPY,
and the one-statement report path; every other statement is the shared SQL of
:mod:`udb.storage.sql`."""

from udb.storage.postgresql.session import Session, describe, split_url, translated
from udb.storage.postgresql.store import PostgresStore, PostgresUnitOfWork

__all__ = ["PostgresStore", "PostgresUnitOfWork", "Session", "describe", "split_url", "translated"]
