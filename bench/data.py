"""What the benchmarks run on: a workspace, a database, the people reported on, certificates.

:func:`workspace` is a temporary directory; :func:`database` an empty
database in it (SQLite) or a fresh PostgreSQL schema; :func:`prepare` fills it
with the demo data set (``udb demo``) and N synthetic young people of Aarhus
(:func:`udb.synthetic.synthetic_persons`, born 2005-2010, stored through the
storage API), and with ``signed`` makes development certificates and pins the
client certificate to Vejledningssystem-Aarhus. It refuses a PostgreSQL whose
commits are not durable (:func:`durability`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import quote

from bench.servers import UDB
from bench.wire import Signer
from udb import demo
from udb.domain.clock import utc_now
from udb.domain.model import Person
from udb.storage import open_store
from udb.synthetic import synthetic_persons
from udb.wssecurity.certs import DevCertificates, make_dev_certificates

#: the PostgreSQL database the benchmark makes its schema in (the tests' database)
POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
#: the synthetic young people's birth dates
BORN_FROM, BORN_TO = date(2005, 1, 1), date(2010, 12, 31)


@contextlib.contextmanager
def workspace(keep: bool) -> Iterator[Path]:
    """A temporary directory, removed at the end unless ``keep``."""
    directory = Path(tempfile.mkdtemp(prefix="udb-bench-"))
    try:
        yield directory
    finally:
        if keep:
            print(f"\nkept {directory} (database, server logs, cprs.txt, certs)")
        else:
            shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def database(kind: str, directory: Path, *, keep: bool) -> Iterator[str]:
    """The URL of an empty database: a SQLite file in ``directory`` or a fresh schema.

    The PostgreSQL schema (``udb_bench_<hex>`` in the database ``test``, as the
    tests' ``postgres_schema()``) is dropped at the end, unless ``keep``.
    """
    if kind == "sqlite":
        yield "sqlite:///" + str(directory / "udb.sqlite3")
        return
    import psycopg

    schema = f"udb_bench_{os.urandom(8).hex()}"
    try:
        with psycopg.connect(POSTGRES, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
    except psycopg.Error as exc:
        raise SystemExit(f"PostgreSQL at {POSTGRES}: {exc}".strip()) from None
    try:
        yield f"{POSTGRES}?options=" + quote(f"-c search_path={schema}", safe="")
    finally:
        if keep:
            print(f"kept PostgreSQL schema {schema} (DROP SCHEMA {schema} CASCADE)")
        else:
            with psycopg.connect(POSTGRES, autocommit=True) as conn:
                conn.execute("SET lock_timeout = '10s'")
                conn.execute(f"DROP SCHEMA {schema} CASCADE")


def durability(database_url: str) -> str:
    """How commits reach the disk; raises SystemExit if they would not be durable."""
    if database_url.startswith("sqlite:"):
        return (
            f"SQLite {sqlite3.sqlite_version}, WAL, synchronous=FULL "
            "(set by udb's SQLite adapter on every connection)"
        )
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:

        def show(name: str) -> str:
            row = conn.execute(f"SHOW {name}").fetchone()
            return str(row[0]) if row else "?"

        version, sync, fsync = show("server_version"), show("synchronous_commit"), show("fsync")
        method = show("wal_sync_method")
    if sync not in ("on", "remote_apply", "remote_write") or fsync != "on":
        raise SystemExit(
            f"PostgreSQL has synchronous_commit={sync}, fsync={fsync}: commits are not "
            "durable, so the figures would not be either; turn both on"
        )
    return f"PostgreSQL {version}, synchronous_commit={sync}, fsync={fsync} ({method})"


def settle(database_url: str) -> None:
    """ANALYZE the tables the bulk load filled and CHECKPOINT, as the server soon would.

    Otherwise autovacuum and the checkpointer work through the bulk load
    during the first measured run. The tables that are still empty (the report
    log, the blocks, the replay cache) are left to autovacuum: analysed while
    empty, PostgreSQL's CPU per report went from 1.2 to 2 ms on this machine
    (plans made for empty tables); in production they are large and analysed.
    """
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        ).fetchall()
        for (table,) in tables:
            if conn.execute(f'SELECT EXISTS (SELECT 1 FROM "{table}")').fetchone() == (True,):
                conn.execute(f'ANALYZE "{table}"')
        conn.execute("CHECKPOINT")


#: the tables a run fills: analysed during the run where autovacuum is off
GROWING = ("report_log", "block_history", "current_blocks", "replay_cache", "request_log")


@contextlib.contextmanager
def autoanalyze(database_url: str, every: float = 20.0) -> Iterator[bool]:
    """Where the server's autovacuum is off, ANALYZE the tables a run fills every
    ``every`` seconds while the block runs, as autovacuum's analyses would in production;
    yields whether it does.

    Without it the statistics of those tables stay those of the start of the run, and the
    plans made then (for small tables) go on being used as the tables grow.
    """
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SHOW autovacuum").fetchone()
        if row is not None and row[0] == "on":
            yield False
            return
        stop = threading.Event()

        def analyze() -> None:
            while not stop.wait(every):
                for table in GROWING:
                    conn.execute(f"ANALYZE {table}")

        thread = threading.Thread(target=analyze, daemon=True)
        thread.start()
        try:
            yield True
        finally:
            stop.set()
            thread.join()


def young_people(count: int) -> list[Person]:
    """``count`` active young people of Aarhus, none of them one of the demo's people.

    The demo's own numbers are left out so that their answers stay as the demo
    documents them.
    """
    if count < 1:
        raise ValueError("at least one synthetic person")
    taken = {p.cpr for p in demo.PERSONS} | {demo.UNKNOWN_CPR}
    return synthetic_persons(
        count, municipality_code=demo.AARHUS, born_from=BORN_FROM, born_to=BORN_TO, exclude=taken
    )


def add_people(database_url: str, people: list[Person]) -> None:
    """Store ``people`` through the storage API."""
    store = open_store(database_url)
    try:
        store.migrate()
        with store.unit_of_work() as uow:
            uow.persons.upsert_many(people, utc_now())
            uow.commit()
    finally:
        store.close()


@dataclass
class Setup:
    """What the runs need: the database, the people reported on, the certificates."""

    database_url: str
    cprs: list[str]
    cpr_file: Path
    certs: DevCertificates | None
    durability: str

    @property
    def postgres(self) -> bool:
        return self.database_url.startswith("postgresql:")

    def signer(self) -> Signer:
        if self.certs is None:
            raise RuntimeError("no certificates: the setup was made without --signed")
        return Signer.from_files(self.certs.client_key, self.certs.client_cert)

    def sign_options(self, signed: bool) -> list[str]:
        """The load generator's options to sign every body (or none)."""
        if not signed:
            return []
        if self.certs is None:
            raise RuntimeError("no certificates: the setup was made without --signed")
        return [
            "--sign-key",
            str(self.certs.client_key),
            "--sign-cert",
            str(self.certs.client_cert),
        ]


def prepare(directory: Path, database_url: str, persons: int, *, signed: bool) -> Setup:
    """The demo data set, ``persons`` young people and (``signed``) a pinned certificate."""
    demo_data = [*UDB, "demo", "--database", database_url]
    subprocess.run(demo_data, check=True, capture_output=True, timeout=300)
    people = young_people(persons)
    add_people(database_url, people)
    cprs = [p.cpr for p in people]
    cpr_file = directory / "cprs.txt"
    cpr_file.write_text("\n".join(cprs) + "\n")
    print(f"database: demo data set + {len(cprs)} synthetic young people of Aarhus (751)")
    certs = None
    if signed:
        certs = make_dev_certificates(directory / "certs", system_name=demo.AARHUS_SYSTEM)
        pin = ["systems", "add", demo.AARHUS_SYSTEM, "--institution", "751001"]
        pin += ["--cert", str(certs.client_cert), "--database", database_url]
        subprocess.run([*UDB, *pin], check=True, capture_output=True, timeout=120)
        print(
            f"signing: development certificates made, client certificate pinned to "
            f"{demo.AARHUS_SYSTEM}"
        )
    durable = durability(database_url)
    print(f"durable commits: {durable}", flush=True)
    if database_url.startswith("postgresql:"):
        settle(database_url)
    return Setup(database_url, cprs, cpr_file, certs, durable)
