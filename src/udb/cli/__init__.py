"""The ``udb`` command line.

Every command takes ``--database URL`` (default ``sqlite:///./udb.sqlite3``,
or the environment variable ``UDB_DATABASE_URL``).
"""

from __future__ import annotations

import click

from udb import __version__
from udb.cli.cpr import cpr
from udb.cli.db import db
from udb.cli.demo import demo
from udb.cli.devcerts import dev_certs
from udb.cli.register import institutions, municipalities, persons
from udb.cli.serve import serve
from udb.cli.systems import systems
from udb.client.cli.send import send
from udb.client.cli.send_batch import send_batch


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="udb")
def main() -> None:
    """UDB reporting service IndberetningKontaktJobOgUddOensker v1."""


main.add_command(serve)
main.add_command(municipalities)
main.add_command(institutions)
main.add_command(persons)
main.add_command(systems)
main.add_command(demo)
main.add_command(cpr)
main.add_command(dev_certs)
main.add_command(db)
main.add_command(send)
main.add_command(send_batch)

__all__ = ["main"]
