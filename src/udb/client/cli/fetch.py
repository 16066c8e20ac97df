"""``udb fetch --institution N (--cpr CPR ... | --since TIME) --out FILE``: what UDB holds.

With ``--cpr`` (repeated) UDB's current blocks for those persons, asked for in requests
of 100; with ``--since`` every young person of the institution's municipality whose
data UDB received after TIME (ISO 8601; without an offset Danish local time), page by
page. FILE (``.csv`` or ``.jsonl``) gets one row per person in the columns of
``udb send-batch`` plus, per block, who reported it and when UDB received it, and the
person's status and Fejl (:mod:`udb.client.batch.readback`). The file appears complete
or not at all, and is not overwritten without ``--force``.

After ``--since`` the command prints the listing's ``AendretTil``: give it as
``--since`` next time and no change is missed or listed twice. The terminal shows
counts only, never a CPR number.

Exit status: 0 written (whatever UDB answered for each person); 2 a usage problem, or
the read failed (nothing written).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from udb.client import FetchedPerson, UdbError
from udb.client.batch.fields import parse_time
from udb.client.batch.readback import FETCH_COLUMNS, RowWriter, fetched_row, status_of, utc_time
from udb.client.batch.rows import Format, format_of
from udb.client.cli.advice import read_failure
from udb.client.cli.settings import Failure, Network, connection_options, resolve
from udb.domain import cpr as cprnr

#: the largest KUI institution number (xs:int)
INSTITUTIONS = click.IntRange(1, 2_147_483_647)


class _Time(click.ParamType[datetime, object]):
    """An ISO 8601 date and time; without an offset, Danish local time."""

    name = "TIME"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_time(str(value).strip())
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def output_format(out: Path, fmt: Format | None) -> Format:
    """The format of ``--out`` by ``--format`` or its ending."""
    found = fmt or format_of(out)
    if found is None:
        raise click.UsageError("say --format csv or --format jsonl (--out ends in neither)")
    return found


def check_out(out: Path, force: bool) -> None:
    if not out.parent.is_dir():
        raise Failure(f"the directory of --out does not exist: {out.parent}")
    if out.exists() and not force:
        raise Failure(f"{out} already exists: add --force to replace it, or choose another --out")


@click.command("fetch")
@click.option(
    "--institution",
    type=INSTITUTIONS,
    required=True,
    metavar="N",
    help="KUI institution number the system reads for.",
)
@click.option(
    "--cpr",
    "cprs",
    multiple=True,
    metavar="CPR",
    help="A CPR number (10 digits) to read; repeat for more.",
)
@click.option(
    "--since",
    type=_Time(),
    metavar="TIME",
    help="Read every person whose data changed after TIME (ISO 8601; without an "
    "offset Danish local time).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    metavar="FILE",
    help="Where the persons are written (.csv or .jsonl).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl"]),
    help="The format of --out (default: by its ending).",
)
@click.option("--force", is_flag=True, help="Replace --out if it exists.")
@connection_options
def fetch(
    institution: int,
    cprs: tuple[str, ...],
    since: datetime | None,
    out: Path,
    fmt: Format | None,
    force: bool,
    config_file: Path | None,
    **options: Any,
) -> None:
    """Read what UDB holds for the persons given by --cpr, or changed --since TIME.

    Exit status 0 written, 2 a usage problem or a failed read (nothing written).
    """  # fmt: skip
    if bool(cprs) == (since is not None):
        raise click.UsageError("give either --cpr (one or more) or --since, not both")
    for number, cpr in enumerate(cprs, start=1):
        if not cprnr.is_cpr_form(cpr.strip()):
            raise click.BadParameter(
                f"value {number} must be exactly 10 digits 0-9, without a hyphen",
                param_hint="'--cpr'",
            )
    fmt = output_format(out, fmt)
    check_out(out, force)
    connection = resolve(options, config_file)
    network = click.get_current_context().find_object(Network)
    counts: Counter[str] = Counter()
    until: datetime | None = None
    try:
        with connection.open(network) as client, RowWriter(out, fmt, FETCH_COLUMNS) as writer:
            if since is None:
                persons: Iterator[FetchedPerson] = iter(
                    client.fetch(institution, [c.strip() for c in cprs])
                )
                _write(persons, writer, institution, counts)
            else:
                changes = client.changes(institution, since)
                _write(changes, writer, institution, counts)
                until = changes.until
    except UdbError as error:
        raise Failure(f"{read_failure(error)}; nothing was written") from None
    except OSError as exc:
        raise Failure(f"cannot write {out}: {exc.strerror}; nothing was written") from None
    except KeyboardInterrupt:
        raise Failure("interrupted; nothing was written") from None
    _summarise(out, counts)
    if until is not None:
        click.echo(
            f"complete up to {utc_time(until)} (AendretTil): give --since {utc_time(until)} "
            "next time"
        )


def _write(
    persons: Iterator[FetchedPerson], writer: RowWriter, institution: int, counts: Counter[str]
) -> None:
    for person in persons:
        writer.write(fetched_row(person, institution))
        counts[status_of(person)] += 1


def _summarise(out: Path, counts: Counter[str]) -> None:
    total = sum(counts.values())
    order = ("found", "unknown", "not-allowed", "over-age", "refused")
    parts = [f"{counts[s]} {s}" for s in order if counts[s]]
    click.echo(f"{total} person(s) written to {out}" + (f": {', '.join(parts)}" if parts else ""))
