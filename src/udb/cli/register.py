"""Register commands: municipalities, institutions and persons."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from udb.cli.common import (
    database_option,
    open_migrated,
    refuse_test_environment,
    report_import,
)
from udb.domain.clock import DANISH_TZ, utc_now
from udb.domain.model import BlockKind, ContactBlock, Institution, Municipality
from udb.service.register import import_institutions, import_municipalities, import_persons
from udb.storage.records import PersonView, StoredBlock

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
_JSON = click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")


def _table(titles: Sequence[str], rows: Sequence[Sequence[object]], right: int) -> None:
    """Print a plain table; the first ``right`` columns are numbers (right-aligned)."""
    table = Table(show_edge=False, box=None, pad_edge=False)
    for n, title in enumerate(titles):
        table.add_column(title, justify="right" if n < right else "left")
    for row in rows:
        table.add_row(*(str(v) for v in row))
    Console(file=sys.stdout, width=200).print(table)


@click.group()
def municipalities() -> None:
    """Reference data: the municipalities (kommuner)."""


@municipalities.command("import")
@click.argument("file", type=_FILE)
@database_option
def municipalities_import(file: Path, database_url: str) -> None:
    """Import FILE.csv with the header municipality_code,name.

    Fields are separated by commas, semicolons or tabs (as the header is).
    """
    store = open_migrated(database_url)
    try:
        report_import(import_municipalities(store, file), "municipalities")
    finally:
        store.close()


def _municipalities(database_url: str) -> list[Municipality]:
    store = open_migrated(database_url)
    try:
        with store.unit_of_work(readonly=True) as uow:
            return uow.municipalities.list()
    finally:
        store.close()


@municipalities.command("list")
@_JSON
@database_option
def municipalities_list(as_json: bool, database_url: str) -> None:
    """List the municipalities by code."""
    found = _municipalities(database_url)
    if as_json:
        data = [{"municipality_code": m.code, "name": m.name} for m in found]
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    elif not found:
        click.echo("no municipalities (`udb db migrate` loads the 98 of Denmark)")
    else:
        _table(("code", "name"), [(m.code, m.name) for m in found], right=1)


@click.group()
def institutions() -> None:
    """Reference data: KUI institutions and their municipalities."""


@institutions.command("import")
@click.argument("file", type=_FILE)
@database_option
def institutions_import(file: Path, database_url: str) -> None:
    """Import FILE.csv with the header institution_number,municipality_code,name.

    Fields are separated by commas, semicolons or tabs (as the header is); the
    municipality of each institution must be known.
    """
    store = open_migrated(database_url)
    try:
        report_import(import_institutions(store, file), "institutions")
    finally:
        store.close()


@institutions.command("list")
@_JSON
@database_option
def institutions_list(as_json: bool, database_url: str) -> None:
    """List the institutions by number, with their municipalities."""
    store = open_migrated(database_url)
    try:
        with store.unit_of_work(readonly=True) as uow:
            found: list[Institution] = uow.institutions.list()
            names = {m.code: m.name for m in uow.municipalities.list()}
    finally:
        store.close()
    if as_json:
        data = [
            {
                "institution_number": i.number,
                "municipality_code": i.municipality_code,
                "municipality": names.get(i.municipality_code),
                "name": i.name,
            }
            for i in found
        ]
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    elif not found:
        click.echo("no institutions (`udb institutions import FILE.csv` adds them)")
    else:
        rows = [
            (i.number, i.municipality_code, names.get(i.municipality_code, "?"), i.name)
            for i in found
        ]
        _table(("number", "code", "municipality", "name"), rows, right=2)


@click.group()
def persons() -> None:
    """The register of young people."""


@persons.command("import")
@click.argument("file", type=_FILE)
@database_option
def persons_import(file: Path, database_url: str) -> None:
    """Import FILE.csv with the header cpr,status,municipality_code.

    Fields are separated by commas, semicolons or tabs (as the header is).
    status is one of active (lives in Denmark: needs a municipality_code),
    dead, emigrated, disappeared, greenland, no_residence, cancelled,
    replaced, unregistered (each answered 14). The birth date is taken from
    the CPR number. A municipality the table does not know is imported with a
    warning. The same register path as an incremental CPR extract.
    """
    store = open_migrated(database_url)
    refuse_test_environment(store, "a persons file")
    try:
        result = import_persons(store, file, utc_now())
    finally:
        store.close()
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    report_import(result, "persons")


def _local(value: datetime) -> str:
    """A stored instant as Danish local time with offset."""
    return value.astimezone(DANISH_TZ).isoformat()


def _block_json(stored: StoredBlock | None) -> dict[str, object] | None:
    if stored is None:
        return None
    block = stored.block
    data: dict[str, object]
    if isinstance(block, ContactBlock):
        data = {"navn": block.navn, "mail": block.mail, "telefon": block.telefon}
    else:
        data = {"tekst": block.tekst}
    data["registreringstid"] = _local(block.registreringstid)
    data["source"] = {
        "system": stored.system_name,
        "system_transaction_id": stored.system_transaction_id,
        "correlation_id": stored.correlation_id,
        "received_at": _local(stored.received_at),
    }
    return data


def view_json(view: PersonView) -> dict[str, object]:
    person = view.person
    return {
        "cpr": person.cpr,
        "birth_date": person.birth_date.isoformat(),
        "status": person.status.value,
        "municipality_code": person.municipality_code,
        "cpr_status": person.cpr_status,
        "replaced_by": person.replaced_by,
        "kontakt": _block_json(view.current.get(BlockKind.KONTAKT)),
        "job": _block_json(view.current.get(BlockKind.JOB)),
        "uddannelse": _block_json(view.current.get(BlockKind.UDDANNELSE)),
        "history_count": view.history_count,
        "report_count": view.report_count,
    }


@persons.command("show")
@click.argument("cpr")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@database_option
def persons_show(cpr: str, as_json: bool, database_url: str) -> None:
    """Show what UDB holds about one person (CPR number).

    This is an operator command: its output contains personal data (CPR
    number, contact person's name, e-mail and phone). Do not paste it into
    tickets or logs.
    """
    store = open_migrated(database_url)
    try:
        with store.unit_of_work(readonly=True) as uow:
            view = uow.persons.view(cpr)
    finally:
        store.close()
    if view is None:
        raise click.ClickException("no person with that CPR number in the register")
    if as_json:
        click.echo(json.dumps(view_json(view), ensure_ascii=False, indent=2))
        return
    person = view.person
    click.echo(f"CPR:               {person.cpr}")
    click.echo(f"Birth date:        {person.birth_date.isoformat()}")
    code = f" (CPR status {person.cpr_status})" if person.cpr_status else ""
    click.echo(f"Status:            {person.status.value}{code}")
    if person.replaced_by:
        click.echo(f"Current number:    {person.replaced_by}")
    click.echo(f"Municipality code: {person.municipality_code or '-'}")
    for kind, title in (
        (BlockKind.KONTAKT, "Contact"),
        (BlockKind.JOB, "Job wish"),
        (BlockKind.UDDANNELSE, "Education"),
    ):
        stored = view.current.get(kind)
        if stored is None:
            click.echo(f"{title + ':':19}(none)")
            continue
        block = stored.block
        if isinstance(block, ContactBlock):
            phone = "-" if block.telefon is None else str(block.telefon)
            value = f"{block.navn} <{block.mail}> tel. {phone}"
        else:
            value = block.tekst
        click.echo(f"{title + ':':19}{value}")
        click.echo(
            f"{'':19}registered {_local(block.registreringstid)},"
            f" received {_local(stored.received_at)}"
        )
        click.echo(
            f"{'':19}from {stored.system_name} transaction {stored.system_transaction_id}"
            f" (correlation {stored.correlation_id})"
        )
    click.echo(f"History entries:   {view.history_count}")
    click.echo(f"Logged reports:    {view.report_count}")
