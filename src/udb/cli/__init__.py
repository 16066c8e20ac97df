"""The ``udb`` command line.

Every command takes ``--database URL`` (default ``sqlite:///./udb.sqlite3``,
or the environment variable ``UDB_DATABASE_URL``). An error is one line on
stderr and exit status 1 (2 for a usage error); an exception no command
expected is one line too (:class:`Commands`), its traceback shown only with
``UDB_DEBUG=1``.
"""

from __future__ import annotations

import errno
import os
from typing import Any

import click

from udb import __version__
from udb.cli.check_message import check_message
from udb.cli.cpr import cpr
from udb.cli.db import db
from udb.cli.demo import demo
from udb.cli.devcerts import dev_certs
from udb.cli.register import institutions, municipalities, persons
from udb.cli.requests import requests
from udb.cli.retention import retention
from udb.cli.serve import serve
from udb.cli.systems import systems
from udb.cli.testenv import testenv
from udb.client.cli.fetch import fetch
from udb.client.cli.reconcile import reconcile
from udb.client.cli.send import send
from udb.client.cli.send_batch import send_batch
from udb.logs import redact
from udb.storage import StorageError

#: set (to anything but 0 or empty) to let an unexpected exception show its traceback
DEBUG_VARIABLE = "UDB_DEBUG"


class Commands(click.Group):
    """A group whose commands never show a traceback, unless ``UDB_DEBUG=1``.

    An exception that no command turned into a message becomes one line: its
    type and its message's first line, with CPR numbers masked
    (:func:`udb.logs.redact`), and how to see more. click's own exceptions
    (usage errors, ``Abort``, exit) and a closed pipe are left to click.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, EOFError):
            raise
        except OSError as exc:
            if exc.errno == errno.EPIPE or _debug():
                raise
            raise click.ClickException(_unexpected(exc)) from None
        except StorageError as exc:
            if _debug():
                raise
            raise click.ClickException(f"the database failed: {redact(_first_line(exc))}") from None
        except Exception as exc:
            if _debug():
                raise
            raise click.ClickException(_unexpected(exc)) from None


def _debug() -> bool:
    return os.environ.get(DEBUG_VARIABLE, "").strip() not in ("", "0")


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else ""


def _unexpected(exc: BaseException) -> str:
    message = redact(_first_line(exc))
    return (
        f"unexpected {type(exc).__name__}"
        + (f": {message}" if message else "")
        + f" (run again with {DEBUG_VARIABLE}=1 to see the traceback, and report it)"
    )


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
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
main.add_command(requests)
main.add_command(retention)
main.add_command(testenv)
main.add_command(send)
main.add_command(send_batch)
main.add_command(fetch)
main.add_command(reconcile)
main.add_command(check_message)

__all__ = ["Commands", "main"]
