"""``udb retention``: delete what the service no longer needs, and see what was deleted.

The policy (:mod:`udb.service.retention`) is read from ``UDB_RETENTION_AFTER_25_DAYS``,
``UDB_RETENTION_GONE_DAYS`` and ``UDB_RETENTION_LOG_DAYS``; ``udb serve`` runs the same
purge at start and then once a day (``udb retention schedule``, a process beside its workers).
"""

from __future__ import annotations

import json
import logging
import logging.config
import os
import signal
import subprocess
import sys
import time
from typing import Any

import click

from udb.cli.common import database_option, open_migrated
from udb.cli.params import WholeNumber
from udb.config import ConfigError, Settings
from udb.logs import LOG_LEVELS, logging_config
from udb.service.retention import PurgeRunning, RetentionPolicy, history, purge
from udb.storage import open_store
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


def start_scheduled(log_level: str) -> subprocess.Popen[bytes]:
    """Start ``udb retention schedule`` beside the workers, before any of them is forked.

    ``udb serve``'s supervisor calls this before granian starts. The purges run in
    a process of their own, not in a thread of the supervisor: granian forks a
    worker from the supervisor at start and whenever one is replaced, and a fork
    copies whatever the supervisor has open at that moment. A child process
    started from a supervisor thread while a worker was being forked left the
    child's exec-status pipe open in the new worker, and the thread waited for
    that worker to exit (seen under load: the second purge came only when the
    server stopped). Started once, here, nothing is open across a fork. The
    schedule reads its settings from the environment the supervisor set
    (:meth:`Settings.to_env`), logs to the same stream, and ends when the
    supervisor ends. On a shared PostgreSQL every instance tries; one purges, the
    others find it running and skip.
    """
    command = [
        *(sys.executable, "-m", "udb", "retention", "schedule"),
        *("--log-level", log_level, "--exit-with", str(os.getpid())),
    ]
    return subprocess.Popen(command, stdin=subprocess.DEVNULL)  # noqa: S603 (our own command)


def stop_scheduled(process: subprocess.Popen[bytes]) -> None:
    """End the schedule (a purge under way stops between two short transactions)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_scheduled(store_url: str, policy: RetentionPolicy, log: logging.Logger) -> None:
    """One purge, its result logged in one line; a failure is logged, never raised."""
    try:
        store = open_store(store_url)
    except Exception as exc:  # an unreachable database: try again next time
        log.error("retention purge could not open the database: %s", first_line(exc))
        return
    try:
        result = purge(store, policy)
    except PurgeRunning:
        log.info("retention purge skipped: another instance or command is purging")
        return
    except Exception as exc:
        log.error("retention purge failed: %s", first_line(exc))
        return
    finally:
        store.close()
    deleted = ", ".join(f"{kind} {n}" for kind, n in result.counts.as_dict().items())
    log.info("retention purge %s deleted: %s", result.run_id, deleted)


def first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


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


@retention.command("schedule")
@click.option("--log-level", type=click.Choice(LOG_LEVELS), default="info", show_default=True)
@click.option(
    "--exit-with",
    "parent",
    type=int,
    default=None,
    hidden=True,
    help="End when the process of this id (udb serve's supervisor) is no longer the parent.",
)
@database_option
def schedule_command(log_level: str, parent: int | None, database_url: str) -> None:
    """Purge now and then every UDB_RETENTION_INTERVAL_S seconds (default a day), until
    stopped or until the process that started it ends; one log line per purge.

    udb serve runs this beside its workers unless --no-retention. To purge apart from
    the instances, serve them all with --no-retention and run this once, as a service
    of its own.
    """
    try:
        settings = Settings.from_env(database_url=database_url)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    logging.config.dictConfig(logging_config(log_level, settings.log_format))
    log = logging.getLogger("udb.retention")
    interval = settings.retention_interval.total_seconds()
    state = {"purging": False, "stop": False}

    def on_term(signum: int, frame: object) -> None:
        # a purge under way finishes (and is recorded as done) before the process ends
        state["stop"] = True
        if not state["purging"]:
            raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    while not state["stop"] and (parent is None or os.getppid() == parent):
        state["purging"] = True
        run_scheduled(settings.database_url, policy_of(settings), log)
        state["purging"] = False
        next_run = time.monotonic() + interval
        while time.monotonic() < next_run and not state["stop"]:
            if parent is not None and os.getppid() != parent:  # its server has ended
                return
            time.sleep(min(1.0, max(0.0, next_run - time.monotonic())))


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
