"""Register commands: municipalities, institutions and persons."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click

from udb.cli.common import database_option, open_migrated, report_import
from udb.domain.clock import DANISH_TZ, utc_now
from udb.domain.model import BlockKind, ContactBlock
from udb.service.register import import_institutions, import_municipalities, import_persons
from udb.storage.base import PersonView, StoredBlock

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group()
def municipalities() -> None:
    """Reference data: the municipalities (kommuner)."""


@municipalities.command("import")
@click.argument("file", type=_FILE)
@database_option
def municipalities_import(file: Path, database_url: str) -> None:
    """Import FILE.csv with the header municipality_code,name."""
    store = open_migrated(database_url)
    try:
        report_import(import_municipalities(store, file), "municipalities")
    finally:
        store.close()


@click.group()
def institutions() -> None:
    """Reference data: KUI institutions and their municipalities."""


@institutions.command("import")
@click.argument("file", type=_FILE)
@database_option
def institutions_import(file: Path, database_url: str) -> None:
    """Import FILE.csv with the header institution_number,municipality_code,name."""
    store = open_migrated(database_url)
    try:
        report_import(import_institutions(store, file), "institutions")
    finally:
        store.close()


@click.group()
def persons() -> None:
    """The register of young people."""


@persons.command("import")
@click.argument("file", type=_FILE)
@database_option
def persons_import(file: Path, database_url: str) -> None:
    """Import FILE.csv with the header cpr,status,municipality_code.

    status is one of active, dead, emigrated, disappeared; the birth date is
    taken from the CPR number. The simple register input until CPR extract
    import exists.
    """
    store = open_migrated(database_url)
    try:
        report_import(import_persons(store, file, utc_now()), "persons")
    finally:
        store.close()


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
