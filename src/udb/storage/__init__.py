"""Storage: the unit-of-work interface and its adapters.

:func:`open_store` is the one place where the database URL chooses an adapter,
and with it the SQL dialect. ``base`` is the interface; ``sql`` holds every
statement, written once over the dialect; ``sqlite`` and ``postgresql`` hold
only what truly differs (connections, the pool, staging, PostgreSQL's
one-statement report path); ``migrations`` the schema's history.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from udb.storage.base import IntegrityError, StorageError, Store, UnitOfWork

__all__ = ["IntegrityError", "StorageError", "Store", "UnitOfWork", "open_store"]


def open_store(url: str) -> Store:
    """Open the database at ``url``; nothing is connected until first use.

    * ``sqlite:///relative/path.sqlite3`` or ``sqlite:////absolute/path.sqlite3``
    * ``postgresql://user@host:5432/dbname`` (or ``postgres://``), libpq's URL
      with its parameters, plus ``?pool_size=N`` (at most N connections, default 10)
    """
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        prefix = "sqlite:///"
        if not url.startswith(prefix) or len(url) == len(prefix):
            raise ValueError("a SQLite URL is sqlite:///relative/path or sqlite:////absolute/path")
        from udb.storage.sqlite import SqliteStore

        return SqliteStore(unquote(url[len(prefix) :]))
    if scheme in ("postgresql", "postgres"):
        from udb.storage.postgresql import PostgresStore

        return PostgresStore(url)
    raise ValueError(
        f"unsupported database URL scheme {scheme!r};"
        " use sqlite:///PATH or postgresql://user@host:port/dbname"
    )
