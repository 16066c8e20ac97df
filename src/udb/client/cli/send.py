"""``udb send FILE``: send one report, given as a JSON object, and print the answer.

The object has the fields of a ``udb send-batch`` row (:mod:`udb.client.batch.fields`)::

    {"cpr": "1503084232", "institution": 751001,
     "job": "Tømrer", "job_tid": "2026-11-20T09:20:00+01:00"}

An error is written to standard error as what went wrong, the identifiers
to quote (masked CPR number, CorrelationID, SystemTransactionID) and one line
saying whether the report was stored and what to do
(:mod:`udb.client.cli.advice`)::

    error: TLSHandshakeError: the TLS handshake with udb.example.dk:443 failed: the server ...
      CPR number:          150308-****
      CorrelationID:       -
      SystemTransactionID: 6f2d1c9e-8a34-4f0b-b1de-2c5a9e7b4d21
      not stored: the TLS handshake failed, so nothing reached the service; give the TLS ...

Exit status: 0 accepted; 1 rejected with a hard or soft FejlKode (14, 15, 86,
280); 2 for everything that is no answer about the report: a usage or
settings problem, an invalid report (nothing sent), no answer (transport), a
fault, or 101 after the client's retries (the report was not stored; send it
again unchanged with ``--transaction-id``).
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Any

import click

from udb.client import (
    FaultError,
    ReportError,
    Result,
    TLSHandshakeError,
    UdbError,
    UnexpectedResponse,
)
from udb.client.batch.fields import object_row
from udb.client.batch.results import error_fields
from udb.client.cli.advice import error_advice, result_advice
from udb.client.cli.settings import Failure, Network, connection_options, resolve
from udb.domain import cpr as cprnr

#: a report is well under 2 KiB; a larger file is not one report
_MAX_BYTES = 1 << 20


@click.command("send")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option(
    "--transaction-id",
    metavar="ID",
    help="SystemTransactionID (default: a new UUID4). Give the one of an earlier try to "
    "send a report again whose answer did not come.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the answer as one JSON object.")
@connection_options
def send(
    file: Path, transaction_id: str | None, as_json: bool, config_file: Path | None, **options: Any
) -> None:
    """Send the report in FILE (a JSON object; - for standard input) and print the answer.

    Exit status 0 accepted, 1 rejected (14, 15, 86, 280), 2 no answer about the
    report: usage, invalid report, transport failure, fault, or 101.
    """
    connection = resolve(options, config_file)
    row = object_row(_read(file))
    if row.report is None:
        if as_json:
            problems = [{"field": p.column, "reason": p.reason} for p in row.problems]
            click.echo(json.dumps({"outcome": "invalid", "problems": problems}, ensure_ascii=False))
        else:
            for problem in row.problems:
                where = f"{problem.column}: " if problem.column else ""
                click.echo(f"  {where}{problem.reason}", err=True)
        raise Failure(f"{len(row.problems)} problem(s) in the report; nothing was sent")
    report = row.report
    stid = transaction_id if transaction_id is not None else str(uuid.uuid4())
    masked = cprnr.mask(report.cpr)
    network = click.get_current_context().find_object(Network)
    try:
        with connection.open(network) as client:
            result = client.send(report, transaction_id=stid)
    except ReportError as error:
        if error.element == "SystemTransactionID":
            raise click.BadParameter(
                f"{error.reason}; nothing was sent", param_hint="'--transaction-id'"
            ) from None
        _print_error(error, masked, stid, as_json)
        click.get_current_context().exit(2)
    except UdbError as error:
        _print_error(error, masked, stid, as_json)
        click.get_current_context().exit(2)
    except KeyboardInterrupt:
        raise Failure(
            "interrupted: the report may have reached the service; send it again unchanged "
            f"with --transaction-id {stid}"
        ) from None
    _print_result(result, masked, as_json)
    if not result.accepted:
        click.get_current_context().exit(2 if result.retryable else 1)


def _read(file: Path) -> str:
    try:
        if str(file) == "-":
            data = sys.stdin.buffer.read(_MAX_BYTES + 1)
        else:
            with file.open("rb") as handle:
                data = handle.read(_MAX_BYTES + 1)
    except OSError as exc:
        raise Failure(f"cannot read {file}: {exc.strerror}") from None
    if len(data) > _MAX_BYTES:
        raise Failure(f"{file} is larger than {_MAX_BYTES} bytes: not one report")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Failure(f"{file} is not UTF-8 text") from None


def _print_result(result: Result, masked: str, as_json: bool) -> None:
    if as_json:
        click.echo(
            json.dumps(
                {
                    "cpr": masked,
                    "outcome": "accepted" if result.accepted else "rejected",
                    "accepted": result.accepted,
                    "code": None if result.code is None else int(result.code),
                    "text": result.text,
                    "kind": None if result.kind is None else result.kind.value,
                    "retryable": result.retryable,
                    "correlation_id": result.correlation_id,
                    "system_transaction_id": result.system_transaction_id,
                    "attempts": result.attempts,
                    "advice": result_advice(result),
                    "error": None,
                },
                ensure_ascii=False,
            )
        )
        return
    if result.accepted:
        click.echo("accepted")
    else:
        kind = "retry" if result.retryable else (result.kind.value if result.kind else "hard")
        click.echo(f"rejected: {result.code} {result.text} ({kind})")
    _print_fields(masked, result.correlation_id, result.system_transaction_id, result.attempts)
    click.echo(f"  {result_advice(result)}")


def _print_fields(masked: str, correlation_id: str | None, stid: str, attempts: int) -> None:
    click.echo(f"  CPR number:          {masked}")
    click.echo(f"  CorrelationID:       {correlation_id or '-'}")
    click.echo(f"  SystemTransactionID: {stid}")
    if attempts > 1:
        click.echo(f"  attempts:            {attempts}")


def _print_error(error: UdbError, masked: str, stid: str, as_json: bool) -> None:
    code, text, correlation_id = error_fields(error)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "cpr": masked,
                    "outcome": "error",
                    "accepted": False,
                    "code": None,
                    "text": None,
                    "kind": None,
                    "retryable": error.retryable,
                    "correlation_id": correlation_id or None,
                    "system_transaction_id": stid,
                    "attempts": error.attempts,
                    "may_be_stored": error.may_be_stored,
                    "advice": _error_advice(error, stid),
                    "error": {
                        "type": type(error).__name__,
                        "error_code": error.error_code if isinstance(error, FaultError) else None,
                        "http_status": (
                            error.http_status
                            if isinstance(error, FaultError | UnexpectedResponse)
                            else None
                        ),
                        "message": text,
                        "tls_problem": (
                            error.problem if isinstance(error, TLSHandshakeError) else None
                        ),
                    },
                },
                ensure_ascii=False,
            )
        )
        return
    click.echo(f"error: {code}: {text}", err=True)
    click.echo(f"  CPR number:          {masked}", err=True)
    click.echo(f"  CorrelationID:       {correlation_id or '-'}", err=True)
    click.echo(f"  SystemTransactionID: {stid}", err=True)
    if error.attempts > 1:
        click.echo(f"  attempts:            {error.attempts}", err=True)
    click.echo(f"  {_error_advice(error, stid)}", err=True)


def _error_advice(error: UdbError, stid: str) -> str:
    return error_advice(error, f"send it again unchanged with --transaction-id {stid}")
