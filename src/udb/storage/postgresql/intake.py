"""A report in two statements: the intake (every lookup) and the record (every write).

The repositories would ask one question per statement (about twelve round
trips a report); here the unit of work of :mod:`udb.storage.postgresql`
answers :meth:`~udb.storage.base.UnitOfWork.receive` and
:meth:`~udb.storage.base.UnitOfWork.record` with one statement each, using
data-modifying CTEs. ``tests/integration/test_intake.py`` holds them to the
repositories' answers.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from udb.domain.model import Block, ClientSystem, Institution
from udb.storage.base import StorageError
from udb.storage.postgresql.session import Session
from udb.storage.records import Arrival, Intake, ReportRecord
from udb.storage.sql.dialect import PostgresDialect, aware
from udb.storage.sql.persons import PERSON_COLUMNS, person_of
from udb.storage.sql.repositories import (
    REPORT_COLUMNS,
    SqlReplayCache,
    SqlReports,
    block_values,
    report_of,
    report_values,
)

DIALECT = PostgresDialect()


def _prefixed(table: str, columns: str) -> str:
    return ", ".join(f"{table}.{c.strip()}" for c in columns.split(","))


def _receive_sql(signed: bool, replay: bool) -> str:
    """The intake of one report in one statement (:func:`receive`).

    Remembers the signature in the replay cache (a data-modifying CTE, which
    runs whether or not it is read) and reads the caller's system with its
    institutions, the report already logged under the idempotency key, the
    person and the institution: each a LEFT JOIN on a one-row relation, so the
    statement always yields exactly one row.
    """
    remember = (
        "r AS (INSERT INTO replay_cache (signature_sha256, keep_until)"
        " VALUES (%(key)s, %(keep_until)s)"
        " ON CONFLICT (signature_sha256) DO UPDATE SET keep_until = excluded.keep_until"
        " WHERE replay_cache.keep_until <= %(now)s RETURNING 1), "
    )
    system = (
        "s AS (SELECT s.id, s.name, s.disabled_at FROM client_certificates c"
        " JOIN client_systems s ON s.id = c.system_id WHERE c.fingerprint = %(fingerprint)s"
        " AND (c.retires_at IS NULL OR c.retires_at > %(now)s))"
        if signed
        else "s AS (SELECT id, name, disabled_at FROM client_systems WHERE name = %(name)s)"
    )
    return (
        "WITH "
        + (remember if replay else "")
        + system
        + " SELECT "
        + ("EXISTS (SELECT 1 FROM r)" if replay else "true")
        + ", s.id, s.name, ARRAY(SELECT institution_number FROM system_institutions"
        " WHERE system_id = s.id), s.disabled_at, "
        + _prefixed("l", REPORT_COLUMNS)
        + ", "
        + _prefixed("p", PERSON_COLUMNS)
        + ", i.number, i.municipality_code, i.name"
        " FROM (SELECT 1) AS one"
        " LEFT JOIN s ON true"
        " LEFT JOIN report_log l ON l.system_id = s.id AND l.system_transaction_id = %(stid)s"
        " LEFT JOIN persons p ON p.cpr = %(cpr)s"
        " LEFT JOIN institutions i ON i.number = %(institution)s"
    )


#: by (signed, with a replay key)
_RECEIVE = {
    (signed, replay): _receive_sql(signed, replay)
    for signed in (True, False)
    for replay in (True, False)
}


def receive(db: Session, arrival: Arrival, replay_cache: SqlReplayCache) -> Intake:
    """One statement: the replay cache's insert and every lookup (see :func:`_receive_sql`)."""
    signed = arrival.certificate_fingerprint is not None
    keep_until = arrival.keep_until
    replay = arrival.replay_key is not None and keep_until is not None
    params: dict[str, Any] = {
        "fingerprint": arrival.certificate_fingerprint,
        "name": arrival.system_name,
        "now": aware(arrival.received_at),
        "stid": arrival.system_transaction_id,
        "cpr": arrival.cpr,
        "institution": arrival.institution_number,
    }
    if arrival.replay_key is not None and keep_until is not None:
        params["key"] = arrival.replay_key
        params["keep_until"] = aware(keep_until)
    row = db.native_one(_RECEIVE[(signed, replay)], params)
    if row is None:  # pragma: no cover - the statement always yields one row
        raise StorageError("PostgreSQL failed: the intake query returned no row")
    if replay:
        replay_cache.maybe_purge(arrival.received_at)
    first_seen, system_id, system_name, institutions, disabled_at = row[0:5]
    system = (
        None
        if system_id is None
        else ClientSystem(
            system_id, system_name, frozenset(institutions), DIALECT.from_optional_time(disabled_at)
        )
    )
    earlier = None if row[5] is None else report_of(row[5:13], DIALECT)
    person = None if row[13] is None else person_of(row[13:19], DIALECT)
    institution = None if row[19] is None else Institution(*row[19:22])
    return Intake(bool(first_seen), system, earlier, person, institution)


def record(
    db: Session, record: ReportRecord, blocks: Sequence[Block], reports: SqlReports
) -> int | None:
    """One statement: the report log's row, the history and the merge rule for each block."""
    params: list[Any] = list(report_values(record, DIALECT))
    if blocks:
        for block in blocks:
            params.extend(block_values(block, DIALECT))
        params.extend((record.cpr, record.cpr))
    row = db.native_one(_record_sql(len(blocks)), params)
    report_id = None if row is None else row[0]
    if report_id is not None:
        return int(report_id)
    reports.raise_unless_key_taken(record)
    return None


_RECORD_VALUES = "(%s::text, %s::text, %s::text, %s::bigint, %s::text, %s::timestamptz)"


@functools.cache
def _record_sql(blocks: int) -> str:
    """Log a report and keep its blocks: one statement, so one round trip.

    The history rows, and the merge rule (:func:`udb.domain.merge.supersedes`)
    as a conditional upsert of each current block, are written only if the log
    row was (``FROM l``); a key already used writes nothing and yields NULL.
    """
    log = (
        f"WITH l AS (INSERT INTO report_log ({REPORT_COLUMNS})"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id)"
    )
    if blocks == 0:
        return log + " SELECT id FROM l"
    values = ", ".join([_RECORD_VALUES] * blocks)
    return (
        log + f", b (kind, navn, mail, telefon, tekst, registered_at) AS (VALUES {values}),"
        " h AS (INSERT INTO block_history (report_id, cpr, kind, navn, mail, telefon, tekst,"
        " registered_at) SELECT l.id, %s, b.kind, b.navn, b.mail, b.telefon, b.tekst,"
        " b.registered_at FROM l, b RETURNING id, kind, registered_at),"
        " c AS (INSERT INTO current_blocks (cpr, kind, history_id, registered_at)"
        " SELECT %s, h.kind, h.id, h.registered_at FROM h"
        " ON CONFLICT (cpr, kind) DO UPDATE"
        " SET history_id = excluded.history_id, registered_at = excluded.registered_at"
        " WHERE excluded.registered_at >= current_blocks.registered_at RETURNING 1)"
        " SELECT l.id, (SELECT count(*) FROM c) FROM l"
    )
