"""``udb requests``: the support lookup, from the request log.

Every request the service answered (report, Ping, or refused with a fault)
left one record (:class:`udb.storage.records.RequestRecord`) without personal
data. ``udb requests show CORRELATION_ID`` answers "why was my request
refused?" from the CorrelationID a vendor quotes; ``udb requests list`` finds
requests by system, outcome and time.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import click

from udb.cli.common import database_option, open_migrated
from udb.contract.faults import BY_CODE
from udb.domain.clock import utc_now
from udb.domain.model import ErrorCode
from udb.storage.records import RequestRecord

#: what ``--outcome`` takes besides a FejlKode and an IPL code
OUTCOMES = ("accepted", "rejected", "fault", "up", "down", "answered")
_DURATION = re.compile(r"^(\d+)\s*([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class OutcomeFilter(click.ParamType[tuple[str | None, str | None], object]):
    """``accepted``, ``rejected``, ``fault``, ``up``, ``down``, ``answered``, a FejlKode (``14``) or
    an IPL ErrorCode (``IPL000002``): as (outcome, code) filters."""

    name = "outcome"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[str | None, str | None]:
        text = str(value).strip()
        if text.lower() in OUTCOMES:
            return text.lower(), None
        if text.upper() in BY_CODE:
            return "fault", text.upper()
        if not (text.isascii() and text.isdigit() and int(text) in set(ErrorCode)):
            codes = ", ".join(str(int(c)) for c in ErrorCode)
            self.fail(
                f"{text!r} is not an outcome: give one of {', '.join(OUTCOMES)}, a FejlKode "
                f"({codes}) or an IPL code (IPL000001 to IPL000006)",
                param,
                ctx,
            )
        return "rejected", str(int(text))


class SinceTime(click.ParamType[datetime, object]):
    """An ISO 8601 time (UTC unless it says otherwise) or a duration back from now
    (``30m``, ``1h``, ``7d``)."""

    name = "time"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        text = str(value).strip()
        match = _DURATION.match(text)
        if match:
            amount, unit = int(match[1]), _UNITS[match[2]]
            return utc_now() - timedelta(**{unit: amount})
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            self.fail(
                f"{text!r} is neither an ISO time (2026-12-01T09:00) nor a duration (30m, 1h, 7d)",
                param,
                ctx,
            )
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


@click.group()
def requests() -> None:
    """The request log: what became of each request, by its CorrelationID."""


@requests.command("show")
@click.argument("correlation_id")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of lines.")
@database_option
def requests_show(correlation_id: str, as_json: bool, database_url: str) -> None:
    """Everything the request log holds about request CORRELATION_ID.

    CORRELATION_ID is what the answer carried (the X-Correlation-ID header, the
    CorrelationID of a response or fault) and what a vendor quotes.
    """
    store = open_migrated(database_url)
    try:
        with store.unit_of_work(readonly=True) as uow:
            record = uow.requests.find(correlation_id.strip())
    finally:
        store.close()
    if record is None:
        raise click.ClickException(
            f"no request with CorrelationID {correlation_id.strip()!r} in the request log: "
            "check the ID (the answer's X-Correlation-ID), and whether it is older than the "
            "log keeps"
        )
    if as_json:
        click.echo(json.dumps(as_dict(record), ensure_ascii=False))
        return
    for label, value in lines(record):
        click.echo(f"{label:<15}{value}")


@requests.command("list")
@click.option("--system", "system_name", metavar="NAME", help="Only requests from this system.")
@click.option(
    "--outcome",
    type=OutcomeFilter(),
    metavar="CODE",
    help="accepted, rejected, fault, up, down, answered (a read-back), a FejlKode "
    "(14, 15, 86, 101, 280) or an IPL code (IPL000001 ...).",
)
@click.option(
    "--since",
    type=SinceTime(),
    metavar="TIME",
    help="Only requests received at or after TIME: ISO 8601 (UTC unless it says) or a "
    "duration back from now (30m, 1h, 7d).",
)
@click.option(
    "--limit",
    type=click.IntRange(1, 10_000),
    default=50,
    show_default=True,
    help="At most this many, newest first.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@database_option
def requests_list(
    system_name: str | None,
    outcome: tuple[str | None, str | None] | None,
    since: datetime | None,
    limit: int,
    as_json: bool,
    database_url: str,
) -> None:
    """The requests that match every filter given, newest first."""
    wanted, code = outcome or (None, None)
    store = open_migrated(database_url)
    try:
        with store.unit_of_work(readonly=True) as uow:
            records = uow.requests.list(
                system_name=system_name, outcome=wanted, code=code, since=since, limit=limit
            )
    finally:
        store.close()
    if as_json:
        for record in records:
            click.echo(json.dumps(as_dict(record), ensure_ascii=False))
        return
    if not records:
        click.echo("no requests match", err=True)
        return
    for r in records:
        institution = "-" if r.institution_number is None else r.institution_number
        click.echo(
            f"{_time(r.received_at)}  {r.correlation_id}  {r.operation:<12}  {r.summary:<17}  "
            f"{r.system_name or '-'}  {institution}"
        )


def as_dict(record: RequestRecord) -> dict[str, object]:
    """The record as JSON values (``--json``): the fields of its log line and the time."""
    return {
        "received_at": _time(record.received_at),
        **record.log_fields(),
        "duration_ms": round(record.duration_ms, 1),
        "details": record.details,
        "meaning": meaning(record),
    }


def meaning(record: RequestRecord) -> str | None:
    """What the code means: the FejlTekst of a rejection, the ErrorMessage of a fault."""
    if record.code is None:
        return None
    if record.outcome == "rejected" and record.code.isdigit():
        try:
            return ErrorCode(int(record.code)).text
        except ValueError:
            return None
    spec = BY_CODE.get(record.code)
    return None if spec is None else f"{spec.reason}: {spec.error_message}"


def lines(record: RequestRecord) -> list[tuple[str, object]]:
    r = record
    rows: list[tuple[str, object]] = [
        ("CorrelationID", r.correlation_id),
        ("received", _time(r.received_at)),
        ("operation", "(not read)" if r.operation == "-" else r.operation),
        ("outcome", r.summary + (" (repeated answer)" if r.repeated else "")),
    ]
    explained = meaning(r)
    if explained:
        rows.append(("meaning", explained))
    if r.details:
        rows.append(("details", r.details))
    rows += [
        ("system", r.system_name or "-"),
        ("institution", "-" if r.institution_number is None else r.institution_number),
        ("cpr", r.masked_cpr or "-"),
        ("status", f"HTTP {r.http_status}, SOAP {r.soap_version}"),
        ("duration", f"{r.duration_ms:.1f} ms"),
    ]
    return rows


def _time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
