"""`udb db backup FILE`: a consistent SQLite copy while the service writes; pg_dump otherwise."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from pathlib import Path

from tests.e2e.conftest import Server, udb
from tests.e2e.soap import answer, example, with_stid
from tests.e2e.test_operator_refusals import one_error_line
from udb.storage.migrations import latest_version


class Writer(threading.Thread):
    """Sends distinct reports one after the other and notes each one answered."""

    def __init__(self, server: Server) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.answered: list[str] = []
        self.failure: BaseException | None = None
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        body = example("request.xml")
        try:
            while not self.stop.is_set():
                stid = str(uuid.uuid4())
                assert answer(self.server.post(with_stid(body, stid))).ok
                with self.lock:
                    self.answered.append(stid)
        except BaseException as exc:
            self.failure = exc

    def so_far(self) -> list[str]:
        with self.lock:
            return list(self.answered)

    def wait_for(self, count: int) -> list[str]:
        """The reports answered once there are at least ``count`` of them."""
        deadline = time.monotonic() + 30
        while len(self.so_far()) < count:
            assert self.failure is None, self.failure
            assert time.monotonic() < deadline, "the server stopped answering"
            time.sleep(0.02)
        return self.so_far()


def logged(path: Path) -> set[str]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return {row[0] for row in db.execute("SELECT system_transaction_id FROM report_log")}


def test_a_backup_while_the_server_writes_holds_every_report_answered_before(
    own_server: Server, tmp_path: Path
) -> None:
    writer = Writer(own_server)
    writer.start()
    try:
        before = writer.wait_for(30)
        backup = tmp_path / "backup.sqlite3"
        result = udb("db", "backup", str(backup), database_url=own_server.database_url)
        writer.wait_for(len(before) + 10)  # the service kept writing
    finally:
        writer.stop.set()
        writer.join(10)
    assert result.stdout.startswith(f"backed up {tmp_path}/udb.sqlite3 to {backup}: ")
    assert f"schema version {latest_version()}" in result.stdout
    assert set(before) <= logged(backup)
    assert not list(tmp_path.glob(".backup.sqlite3.*"))  # no temporary file left behind
    assert backup.stat().st_mode & 0o077 == 0  # it holds personal data: owner only
    shown = udb("persons", "show", "1503084232", "--json", database_url=f"sqlite:///{backup}")
    assert '"report_count": ' in shown.stdout


def test_a_backup_is_not_written_over_without_force(own_server: Server, tmp_path: Path) -> None:
    backup = tmp_path / "backup.sqlite3"
    backup.write_bytes(b"an older backup")
    line = one_error_line(
        udb("db", "backup", str(backup), database_url=own_server.database_url, check=False)
    )
    assert line == f"Error: {backup} exists; nothing was written (--force replaces it)"
    assert backup.read_bytes() == b"an older backup"
    udb("db", "backup", str(backup), "--force", database_url=own_server.database_url)
    assert logged(backup) is not None


def test_a_missing_database_is_not_backed_up(tmp_path: Path) -> None:
    url = "sqlite:///" + str(tmp_path / "none.sqlite3")
    line = one_error_line(udb("db", "backup", str(tmp_path / "b"), database_url=url, check=False))
    assert (
        line == f"Error: there is no SQLite database at {tmp_path}/none.sqlite3; nothing to back up"
    )
    assert not (tmp_path / "none.sqlite3").exists() and not (tmp_path / "b").exists()


def test_postgresql_is_backed_up_with_pg_dump(tmp_path: Path) -> None:
    """Nothing is backed up (exit status 1); the command to use is printed, without the password."""
    url = "postgresql://udb:s3cret@127.0.0.1:5432/udb?pool_size=20&sslmode=require"
    line = one_error_line(
        udb("db", "backup", str(tmp_path / "udb.dump"), database_url=url, check=False)
    )
    assert line == (
        "Error: udb db backup copies SQLite databases; back up PostgreSQL with pg_dump, e.g.:"
        f" pg_dump --format=custom --file {tmp_path}/udb.dump"
        " 'postgresql://udb@127.0.0.1:5432/udb?sslmode=require'"
    )
    assert "s3cret" not in line
    assert not (tmp_path / "udb.dump").exists()
