"""A report in two statements: the intake (every lookup) and the record (every write).

The repositories would ask one question per statement (about twelve round
trips a report); here the unit of work of :mod:`udb.storage.postgresql`
answers :meth:`~udb.storage.base.UnitOfWork.receive` and
:meth:`~udb.storage.base.UnitOfWork.record_and_commit` with one statement each,
using data-modifying CTEs, and without BEGIN or COMMIT: the intake only reads
(it asks whether the signature is known), and the record remembers the
signature, logs the report and keeps its blocks in one statement, which
commits when it ends. Two round trips a report. Inside a transaction already
begun, the intake remembers the signature itself, as the repositories do.
``tests/integration/test_intake.py`` holds them to the repositories' answers.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from udb.domain.model import Block, ClientSystem, Institution
from udb.storage.base import IntegrityError, SignatureSeen, StorageError
from udb.storage.postgresql.session import Session
from udb.storage.records import Arrival, Intake, ReportRecord
from udb.storage.sql.dialect import PostgresDialect, aware
from udb.storage.sql.persons import PERSON_COLUMNS, person_of
from udb.storage.sql.repositories import (
    KEY_TAKEN,
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


#: remembers a signature unless a live entry has it: one row if remembered (a CTE)
REMEMBER = (
    "INSERT INTO replay_cache (signature_sha256, keep_until) VALUES (%(key)s, %(keep_until)s)"
    " ON CONFLICT (signature_sha256) DO UPDATE SET keep_until = excluded.keep_until"
    " WHERE replay_cache.keep_until <= %(now)s RETURNING 1"
)


def _receive_sql(signed: bool, replay: bool, remember: bool = True) -> str:
    """The intake of one report in one statement (:func:`receive`).

    With ``remember``, remembers the signature in the replay cache (a
    data-modifying CTE, which runs whether or not it is read); without, only asks
    whether a live entry has it (the record remembers it). Reads the caller's system with its
    institutions, the report already logged under the idempotency key, the
    person and the institution: each a LEFT JOIN on a one-row relation, so the
    statement always yields exactly one row.
    """
    remembered = f"r AS ({REMEMBER}), "
    unknown = (
        "NOT EXISTS (SELECT 1 FROM replay_cache"
        " WHERE signature_sha256 = %(key)s AND keep_until > %(now)s)"
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
        + (remembered if replay and remember else "")
        + system
        + " SELECT "
        + (("EXISTS (SELECT 1 FROM r)" if remember else unknown) if replay else "true")
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


#: by (signed, with a replay key, remembering it)
_RECEIVE = {
    (signed, replay, remember): _receive_sql(signed, replay, remember)
    for signed in (True, False)
    for replay in (True, False)
    for remember in (True, False)
}


def receive(
    db: Session, arrival: Arrival, replay_cache: SqlReplayCache, *, remember: bool = True
) -> Intake:
    """One statement: every lookup and, with ``remember``, the replay cache's insert (in
    the transaction); without, the statement runs alone, before any BEGIN, and only reads
    (see :func:`_receive_sql`)."""
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
    sql = _RECEIVE[(signed, replay, remember)]
    row = db.native_one(sql, params) if remember else db.alone(sql, params, retry=True)
    if row is None:  # pragma: no cover - the statement always yields one row
        raise StorageError("PostgreSQL failed: the intake query returned no row")
    if replay and remember:
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
    db: Session,
    record: ReportRecord,
    blocks: Sequence[Block],
    reports: SqlReports,
    *,
    alone: bool = False,
    replay: tuple[str, datetime, datetime] | None = None,
) -> int | None:
    """One statement: the report log's row, the history and the merge rule for each block.

    In the transaction; or ``alone``, committed when it ends (:meth:`Session.alone`),
    and then with ``replay`` (key, keep until, now) it also remembers the signature: if
    a live entry has it already, nothing is written and :class:`SignatureSeen` is raised.
    """
    params: list[Any] = []
    if replay is not None:
        key, keep_until, now = replay
        params.extend((key, aware(keep_until), aware(now)))
    params.extend(report_values(record, DIALECT))
    if blocks:
        for block in blocks:
            params.extend(block_values(block, DIALECT))
        params.extend((record.cpr, record.cpr))
    sql = _record_sql(len(blocks), replay is not None)
    if not alone:
        row = db.native_one(sql, params)
    else:
        row = db.alone(sql, params, retry=False)
        if replay is not None:
            if row is None or not row[0]:
                raise SignatureSeen(REPLAY_RACED)
            row = row[1:]
    report_id = None if row is None else row[0]
    if report_id is not None:
        return int(report_id)
    if not alone:
        reports.raise_unless_key_taken(record)
    elif db.alone(_KEY_TAKEN, (record.system_id, record.system_transaction_id), retry=True) is None:
        raise IntegrityError("constraint violated: report_log_correlation_id_key")
    return None


#: why :class:`SignatureSeen` was raised
REPLAY_RACED = "the signature was remembered by another request meanwhile"
_KEY_TAKEN = DIALECT.native(KEY_TAKEN)
_RECORD_VALUES = "(%s::text, %s::text, %s::text, %s::bigint, %s::text, %s::timestamptz)"
_LOG_VALUES = (
    "%s::text, %s::bigint, %s::text, %s::text, %s::text, %s::bigint, %s::timestamptz, %s::integer"
)
#: :data:`REMEMBER` with positional parameters (key, keep until, now: their order in it)
_REMEMBER_POSITIONAL = re.sub(r"%\(\w+\)s", "%s", REMEMBER)


@functools.cache
def _record_sql(blocks: int, remember: bool = False) -> str:
    """Log a report and keep its blocks: one statement, so one round trip.

    The history rows, and the merge rule (:func:`udb.domain.merge.supersedes`)
    as a conditional upsert of each current block, are written only if the log
    row was (``FROM l``); a key already used writes nothing and yields NULL.
    With ``remember`` the signature is remembered first (``r``), the log row
    written only if it was (``WHERE EXISTS``), and the statement always yields one
    row: (remembered, the report's id or NULL, the blocks made current).
    """
    if remember:
        log = (
            f"WITH r AS ({_REMEMBER_POSITIONAL}),"
            f" l AS (INSERT INTO report_log ({REPORT_COLUMNS}) SELECT {_LOG_VALUES}"
            " WHERE EXISTS (SELECT 1 FROM r) ON CONFLICT DO NOTHING RETURNING id)"
        )
        result = " SELECT EXISTS (SELECT 1 FROM r), (SELECT id FROM l)"
    else:
        log = (
            f"WITH l AS (INSERT INTO report_log ({REPORT_COLUMNS})"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id)"
        )
        result = " SELECT id FROM l"
    if blocks == 0:
        return log + result
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
        + (
            result + ", (SELECT count(*) FROM c)"
            if remember
            else " SELECT l.id, (SELECT count(*) FROM c) FROM l"
        )
    )
