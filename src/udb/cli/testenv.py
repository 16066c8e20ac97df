"""``udb testenv``: the vendors' test environment (docs/test-environment.md).

``init`` makes a database a test environment, ``enroll`` registers a vendor's
system in a slot of its own and prints its test KUI and scenario persons,
``report`` judges what the system did (:mod:`udb.service.verification`).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from udb.cli.common import database_option, open_migrated
from udb.cli.params import WholeNumber
from udb.cli.testenv_report import FORMATS, render
from udb.contract import faults as ipl
from udb.domain.clock import utc_now
from udb.service import testenv as service
from udb.service.verification import FaultCodes, verify_system
from udb.wssecurity.certs import CertificateError, pinned, read_certificate

#: what the verification report looks for, from the contract's fault table
FAULT_CODES = FaultCodes(
    sender=frozenset(s.error_code for s in ipl.ALL if s.code is ipl.FaultCode.SENDER),
    transaction_reused=ipl.TRANSACTION_REUSED.error_code,
)


@click.group()
def testenv() -> None:
    """The vendors' test environment: synthetic persons, scenarios, verification report."""


@testenv.command("init")
@click.option(
    "--slots",
    type=WholeNumber(1, 98, "a number of test KUIs"),
    default=service.DEFAULT_SLOTS,
    show_default=True,
    help="Make at least this many slots (a test KUI and its persons each); "
    "enrolment adds more when they run out.",
)
@database_option
def init_command(slots: int, database_url: str) -> None:
    """Make the database a test environment: test KUIs and synthetic young people for
    every scenario (docs/test-environment.md). Refused on a database with other data."""
    store = open_migrated(database_url)
    try:
        made = service.init(store, utc_now(), slots)
    except service.TestEnvError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.close()
    taken = sum(1 for s in made if s.system_name is not None)
    click.echo(
        f"test environment ready: {len(made)} slot(s), {taken} enrolled; "
        "udb testenv enroll NAME --cert FILE.pem registers a vendor's system"
    )
    click.echo(
        "udb serve on this database applies the scenarios and keeps every request of an "
        "enrolled system in full: synthetic data only, never real personal data"
    )


@testenv.command("enroll")
@click.argument("name")
@click.option(
    "--cert",
    "cert_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="The PEM certificate the system signs with.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the enrolment as one JSON object.")
@database_option
def enroll_command(name: str, cert_file: Path, as_json: bool, database_url: str) -> None:
    """Register system NAME with its certificate in a test KUI of its own and print the
    institution number and the CPR number of each scenario."""
    if not name.strip() or len(name) > 100:
        raise click.BadParameter("must be 1 to 100 characters, not only spaces", param_hint="NAME")
    try:
        certificate = read_certificate(cert_file.read_bytes())
    except CertificateError as exc:
        raise click.BadParameter(str(exc), param_hint="--cert") from None
    now = utc_now()
    store = open_migrated(database_url)
    try:
        enrolment = service.enroll(store, name, pinned(certificate, now), now)
    except service.TestEnvError as exc:
        raise click.ClickException(str(exc) + "; nothing was changed") from None
    finally:
        store.close()
    persons = enrolment.persons
    if as_json:
        shown: dict[str, object] = {"accepted": persons.get("accepted", [])}
        shown |= {"14": persons["14-dead"][0]}
        shown |= {s: persons[s][0] for s in ("15", "86", "101", "delayed")}
        shown |= {s: persons[s][0] for s in ("14-unknown", "14-emigrated")}
        click.echo(
            json.dumps(
                {"system": enrolment.system, "institution": enrolment.institution, "persons": shown}
            )
        )
        return
    click.echo(
        f"{enrolment.system} {'was enrolled before' if enrolment.again else 'is enrolled'}: "
        f"report for institution {enrolment.institution} (KommuneInstitutionNummer)"
    )
    click.echo(f"  {'CPR number':<12} scenario")
    for scenario, cprs in persons.items():
        for cpr in cprs:
            click.echo(f"  {cpr:<12} {service.SCENARIOS[scenario]}")
    click.echo(f"then: udb testenv report {enrolment.system}")


@testenv.command("list")
@click.option("--persons", "with_persons", is_flag=True, help="Also list each slot's persons.")
@database_option
def list_command(with_persons: bool, database_url: str) -> None:
    """The slots: test KUI, municipality, and the system enrolled in each."""
    store = open_migrated(database_url)
    try:
        with store.unit_of_work(readonly=True) as uow:
            if not uow.testenv.is_marked():
                raise click.ClickException(
                    "this database is not a test environment (udb testenv init makes one)"
                )
            slots = uow.testenv.slots()
            persons = uow.testenv.persons() if with_persons else []
    finally:
        store.close()
    click.echo(f"{'slot':>4}  {'institution':>11}  {'municipality':>12}  system")
    for slot in slots:
        click.echo(
            f"{slot.slot:>4}  {slot.institution_number:>11}  {slot.municipality_code:>12}  "
            f"{slot.system_name or '(free)'}"
        )
        for person in (p for p in persons if p.slot == slot.slot):
            click.echo(f"{'':>6}{person.cpr}  {service.SCENARIOS[person.scenario]}")


@testenv.command("report")
@click.argument("name")
@click.option(
    "--format",
    "form",
    type=click.Choice(FORMATS),
    default="md",
    show_default=True,
    help="json, md (Markdown) or html (one page).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the report to this file (default: standard output).",
)
@database_option
def report_command(name: str, form: str, out: Path | None, database_url: str) -> None:
    """Judge what enrolled system NAME did, check by check; exit 0 when it is ready,
    1 when not."""
    store = open_migrated(database_url)
    try:
        report = verify_system(store, name, utc_now(), FAULT_CODES)
    except service.TestEnvError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.close()
    text = render(report, form)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"{report.system}: {report.verdict}; the report is in {out}")
    raise SystemExit(0 if report.verdict == "ready" else 1)


@testenv.command("forget")
@click.argument("name")
@database_option
def forget_command(name: str, database_url: str) -> None:
    """Delete the requests kept of enrolled system NAME, to run its scenarios afresh
    (its reports stay in the register)."""
    store = open_migrated(database_url)
    try:
        deleted = service.forget(store, name)
    except service.TestEnvError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.close()
    click.echo(f"{name}: {deleted} request(s) forgotten; the next report starts afresh")
