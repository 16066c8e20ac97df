"""Register data staged with ``COPY``, outside the write transaction.

A register file is streamed with ``COPY`` into ``register_staging``, a regular
UNLOGGED table (not written to the WAL: staged rows are scratch data that a
crash may lose), under a random token, in a transaction of its own that locks
no other table: reports go on meanwhile. Being a regular table, the staged rows
are visible to the later unit of work whichever pooled connection it gets;
:meth:`udb.storage.sql.persons.SqlPersons.apply_staged` then works set-wise over
the token's rows, in a short transaction, and deletes them. The table is
created on first use (``CREATE UNLOGGED TABLE IF NOT EXISTS``), outside the
migration history: it holds no data between imports.
"""

from __future__ import annotations

from collections.abc import Iterable

from udb.domain.model import Person
from udb.storage.postgresql.session import Session
from udb.storage.sql.dialect import PostgresDialect, SqlConnection
from udb.storage.sql.persons import PERSON_COLUMNS, STAGING, person_values

DIALECT = PostgresDialect()
#: staged rows older than this were abandoned (the process died): removed when staging
_ABANDONED_AFTER = "1 day"
#: analyse the staged rows above this many, so the planner joins them sensibly
_ANALYZE_FROM = 1000
#: an advisory lock key: creating the staging table (two instances may do it at once)
_CREATE_LOCK = 0x0DB0_0002


def _ensure_table(db: SqlConnection) -> None:
    row = db.one(DIALECT.table_exists, (STAGING,))
    if row is not None and row[0]:
        return
    db.execute(
        "SELECT pg_advisory_xact_lock(?, hashtext(coalesce(current_schema(), '')))",
        (_CREATE_LOCK,),
    )
    # The column types are those of persons, so a value persons refuses is refused here.
    db.execute(
        f"CREATE UNLOGGED TABLE IF NOT EXISTS {STAGING} (token TEXT NOT NULL,"
        " cpr CHAR(10) NOT NULL, birth_date DATE NOT NULL, status TEXT NOT NULL,"
        " municipality_code INTEGER, cpr_status CHAR(2), replaced_by CHAR(10),"
        " staged_at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (token, cpr))"
    )


def stage(
    db: SqlConnection, persons: Iterable[Person], token: str, *, replaces: str | None = None
) -> int:
    """COPY ``persons`` into the staging table under ``token``, in ``db``'s open transaction.

    ``replaces`` is the token this thread staged before: its rows go, and so do
    rows abandoned by a process that died. The number of persons staged is returned.
    """
    if not isinstance(db, Session):
        raise TypeError("COPY needs a PostgreSQL session")
    _ensure_table(db)
    db.execute(
        f"DELETE FROM {STAGING} WHERE token = ?"
        f" OR staged_at < now() - interval '{_ABANDONED_AFTER}'",
        (replaces or "",),
    )
    count = db.copy(
        f"COPY {STAGING} (token, {PERSON_COLUMNS}) FROM STDIN",
        ((token, *person_values(p, DIALECT)) for p in persons),
    )
    if count >= _ANALYZE_FROM:
        db.execute(f"ANALYZE {STAGING}")
    return count
