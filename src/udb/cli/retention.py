"""``udb retention``: delete what the service no longer needs, and see what was deleted.

The policy (:mod:`udb.service.retention`) is read from ``UDB_RETENTION_AFTER_25_DAYS``,
``UDB_RETENTION_GONE_DAYS`` and ``UDB_RETENTION_LOG_DAYS``; ``udb serve`` runs the same
purge at start and then once a day.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import click

from udb.cli.common import database_option, open_migrated
from udb.cli.params import WholeNumber
from udb.config import ConfigError, Settings
from udb.service.retention import PurgeRunning, RetentionPolicy, history, purge
from udb.storage.records import RETENTION_KINDS, RetentionCounts, RetentionRun

#: the exit status of a purge that found another one running (EX_TEMPFAIL: try later)
EXIT_RUNNING = 75

#: what each kind counts, as the text output says it
LABELS = {
    "persons_over_25": "persons past 25 (contact person and wishes)",
    "persons_gone": "persons gone from Denmark or the register",
    "reports": "report-log records",
    "report_blocks": "history rows of those reports",
    "requests": "request records",
    "replay_entries": "expired replay-cache entries",
}


def start_scheduled(settings: Settings) -> threading.Thread:
    """Purge now and then every ``settings.retention_interval``, in a daemon thread.

    ``udb serve``'s supervisor calls this. Each purge is ``udb retention purge`` as
    a child process: granian forks its workers from the supervisor (at start, and
    whenever one is restarted), so the supervisor itself holds no database
    connection or lock a fork could copy. The child reads the settings from the
    environment the supervisor set (:meth:`Settings.to_env`). On a shared
    PostgreSQL every instance tries; one purges, the others find it running and skip.
    """
    interval = settings.retention_interval.total_seconds()
    thread = threading.Thread(target=_every, args=(interval,), name="udb-retention", daemon=True)
    thread.start()
    return thread


def _every(interval: float) -> None:
    log = logging.getLogger("udb.retention")
    while True:
        run_scheduled(log)
        time.sleep(interval)


def run_scheduled(log: logging.Logger) -> None:
    """One ``udb retention purge --json`` as a child process, its result logged in one line."""
    command = [sys.executable, "-m", "udb", "retention", "purge", "--json"]
    try:
        done = _run_to_files(command)
    except OSError as exc:
        log.error("retention purge could not start: %s", exc.strerror)
        return
    if done.returncode == 0:
        try:
            result = json.loads(done.stdout)
            deleted = ", ".join(f"{kind} {n}" for kind, n in result["counts"].items())
            log.info("retention purge %s deleted: %s", result["run"], deleted)
        except (ValueError, KeyError, TypeError, AttributeError):
            log.error("retention purge answered something unreadable")
    elif done.returncode == EXIT_RUNNING:
        log.info("retention purge skipped: another instance or command is purging")
    else:
        lines = done.stderr.strip().splitlines()
        log.error("retention purge failed: %s", lines[-1] if lines else f"exit {done.returncode}")


def _run_to_files(command: list[str]) -> subprocess.CompletedProcess[str]:
    """Run ``command`` to its end, its output through temporary files, not pipes.

    granian forks a worker whenever it starts or replaces one, from whichever
    thread, while this thread may be waiting on a purge. A pipe's write end open
    in the supervisor at that moment would live on in the worker, and waiting for
    the pipe's end of file would wait for that worker to exit (seen: a purge that
    finished at once was read only when the server stopped). A file has no end
    of file to wait for: the purge is done when its process has exited.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        returncode = subprocess.call(command, stdout=out, stderr=err)  # noqa: S603 (our own command)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(
            command,
            returncode,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
        )


class PurgeSkipped(click.ClickException):
    exit_code = EXIT_RUNNING


def policy_of(settings: Settings) -> RetentionPolicy:
    """The retention policy the settings give (``UDB_RETENTION_*``)."""
    return RetentionPolicy(
        after_25=settings.retention_after_25,
        gone=settings.retention_gone,
        logs=settings.retention_logs,
    )


@click.group()
def retention() -> None:
    """Delete what the service no longer needs (data minimisation), and its record."""


@retention.command("purge")
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@database_option
def purge_command(dry_run: bool, as_json: bool, database_url: str) -> None:
    """Delete contact persons and wishes of persons past 25 or gone, old records, and
    expired replay-cache entries, in short transactions; record the purge.

    How long data is kept: UDB_RETENTION_AFTER_25_DAYS (default 0),
    UDB_RETENTION_GONE_DAYS (90), UDB_RETENTION_LOG_DAYS (400). Exit status 75 if
    another purge is running (nothing was done).
    """
    try:
        policy = policy_of(Settings.from_env(database_url=database_url))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    store = open_migrated(database_url)
    try:
        result = purge(store, policy, dry_run=dry_run)
    except PurgeRunning:
        raise PurgeSkipped(
            "another purge is running (another instance or command started it); this one "
            "changed nothing: see udb retention history and try again when it is done"
        ) from None
    finally:
        store.close()
    if as_json:
        click.echo(
            json.dumps(
                {
                    "run": result.run_id,
                    "dry_run": result.dry_run,
                    "counts": result.counts.as_dict(),
                    "duration_ms": round(result.duration_ms, 1),
                }
            )
        )
        return
    seconds = result.duration_ms / 1000
    if dry_run:
        click.echo(f"dry run {result.run_id}: nothing changed; a purge now would delete")
    else:
        click.echo(f"purge {result.run_id} deleted, in {seconds:.1f} s")
    _print_counts(result.counts)


def _print_counts(counts: RetentionCounts) -> None:
    for kind in RETENTION_KINDS:
        click.echo(f"  {LABELS[kind]:<46} {getattr(counts, kind):>9}")


@retention.command("history")
@click.option(
    "--limit",
    type=WholeNumber(1, 10000, "a number of purges"),
    default=20,
    show_default=True,
    help="Show this many of the newest purges.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per purge.")
@database_option
def history_command(limit: int, as_json: bool, database_url: str) -> None:
    """The purges recorded, newest first: when, dry run or not, what each deleted."""
    store = open_migrated(database_url)
    try:
        runs = history(store, limit)
    finally:
        store.close()
    if as_json:
        for run in runs:
            click.echo(json.dumps(_as_json(run)))
        return
    if not runs:
        click.echo("no purge recorded yet (udb retention purge, or udb serve, runs one)")
        return
    short = ("replay", "requests", "history", "reports", "past 25", "gone")
    click.echo(
        f"{'run':>5}  {'started (UTC)':<20} {'kind':<8}"
        + "".join(f"{name:>9}" for name in short)
        + "  took     status"
    )
    for run in runs:
        took = "" if run.duration_ms is None else f"{run.duration_ms / 1000:.1f} s"
        click.echo(
            f"{run.id:>5}  {run.started_at.strftime('%Y-%m-%d %H:%M:%S'):<20} "
            f"{'dry run' if run.dry_run else 'purge':<8}"
            + "".join(f"{getattr(run.counts, kind):>9}" for kind in RETENTION_KINDS)
            + f"  {took:<8} {_status(run)}"
        )


def _status(run: RetentionRun) -> str:
    if run.error is not None:
        return f"failed: {run.error}"
    return "done" if run.finished_at is not None else "running or interrupted"


def _as_json(run: RetentionRun) -> dict[str, Any]:
    return {
        "run": run.id,
        "started_at": run.started_at.isoformat(),
        "finished_at": None if run.finished_at is None else run.finished_at.isoformat(),
        "dry_run": run.dry_run,
        "counts": run.counts.as_dict(),
        "duration_ms": None if run.duration_ms is None else round(run.duration_ms, 1),
        "error": run.error,
    }
