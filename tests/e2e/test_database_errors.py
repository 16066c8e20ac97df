"""A database URL that cannot be used: one line with the real cause, the URL without its
password, from one direct attempt (the connect timeout for a server that does not answer).
How fast that attempt is, is measured in isolation (tests/unit/test_diagnose.py): a
process's wall-clock time here depends on the machine's load.

Before, every command waited for the pool's 4 s timeout, printed the pool's
warnings and ended with "no connection in time"; now each command makes one
direct attempt first (:func:`udb.storage.diagnose.probe`).
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest

from tests.e2e.conftest import udb
from tests.support import POSTGRES, require_postgres

#: a server that never answers is given up on after the connect timeout, never hung on
HANG_S = 60.0
REFUSED = "postgresql://nobody@127.0.0.1:1/x"
REFUSED_LINE = (
    "Error: cannot open the database {url}: connection refused: is PostgreSQL running on "
    "that host, and listening on that port?"
)


def failed(*args: str, database_url: str) -> tuple[str, float]:
    """Run ``udb ARGS`` that must fail on its database: its one line, and how long it took."""
    started = time.monotonic()
    result = udb(*args, database_url=database_url, check=False)
    seconds = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "error connecting" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0], seconds


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("csv") / "municipalities.csv"
    path.write_text("municipality_code,name\n751,Aarhus\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "command",
    [
        ("db", "check"),
        ("db", "migrate"),
        ("serve", "--port", "0"),
        ("systems", "list"),
        ("demo",),
        ("cpr", "history"),
        ("municipalities", "import", "{csv}"),
        ("persons", "show", "1503084232"),
    ],
    ids=lambda command: " ".join(command[:2]),
)
def test_every_command_names_a_refused_connection_at_once(
    command: tuple[str, ...], csv_file: Path
) -> None:
    args = [arg.format(csv=csv_file) for arg in command]
    line, _ = failed(*args, database_url=REFUSED)
    assert line == REFUSED_LINE.format(url=REFUSED)
    assert "1503084232" not in line


def test_the_password_is_not_shown() -> None:
    line, _ = failed("db", "check", database_url="postgresql://nobody:s3cret@127.0.0.1:1/x")
    assert line == REFUSED_LINE.format(url="postgresql://nobody:***@127.0.0.1:1/x")


def test_an_unknown_host_is_named() -> None:
    line, _ = failed("db", "check", database_url="postgresql://udb@nohost.invalid/udb")
    assert line == (
        "Error: cannot open the database postgresql://udb@nohost.invalid/udb: unknown host "
        "nohost.invalid: check the host name in the database URL"
    )


def test_a_role_that_does_not_exist_is_named() -> None:
    require_postgres()
    url = "postgresql://nobody@127.0.0.1:5432/test"
    line, _ = failed("db", "migrate", database_url=url)
    assert line == (
        f'Error: cannot open the database {url}: role "nobody" does not exist: correct the '
        "user name in the database URL"
    )


def test_a_database_that_does_not_exist_is_named() -> None:
    require_postgres()
    url = POSTGRES.rsplit("/", 1)[0] + "/udb_no_such_database"
    line, _ = failed("db", "check", database_url=url)
    assert line == (
        f'Error: cannot open the database {url}: database "udb_no_such_database" does not '
        "exist: create it (createdb udb_no_such_database) or correct the database URL"
    )


# a server that only says no ---------------------------------------------------------


def _message(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("!i", len(payload) + 4) + payload


def _refuse(conn: socket.socket, ask_password: bool) -> None:
    """Answer one libpq connection as a PostgreSQL server whose check fails."""
    with conn, suppress(OSError):  # the client may hang up first
        while True:  # SSLRequest / GSSENCRequest first (answered "no"), then the startup
            header = conn.recv(8, socket.MSG_WAITALL)
            if len(header) < 8:
                return
            length, code = struct.unpack("!ii", header)
            if code in (80877103, 80877104):
                conn.sendall(b"N")
                continue
            conn.recv(length - 8, socket.MSG_WAITALL)
            break
        if ask_password:
            conn.sendall(_message(b"R", struct.pack("!i", 3)))  # cleartext password, please
            conn.recv(1024)
        fields = {
            b"S": b"FATAL",
            b"V": b"FATAL",
            b"C": b"28P01",
            b"M": b'password authentication failed for user "udb"',
        }
        payload = b"".join(key + value + b"\0" for key, value in fields.items()) + b"\0"
        conn.sendall(_message(b"E", payload))


@pytest.fixture
def saying_no(request: pytest.FixtureRequest) -> Iterator[int]:
    """The port of a server that refuses every login (asking for a password first if asked)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            _refuse(conn, ask_password=request.param)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    listener.close()


@pytest.mark.parametrize("saying_no", [False], indirect=True)
def test_a_wrong_password_is_named(saying_no: int) -> None:
    url = f"postgresql://udb:wrong@127.0.0.1:{saying_no}/udb"
    line, _ = failed("systems", "list", database_url=url)
    assert line == (
        f"Error: cannot open the database postgresql://udb:***@127.0.0.1:{saying_no}/udb: "
        'authentication failed for user "udb": check the user name and password (in the URL, '
        "PGPASSWORD or ~/.pgpass)"
    )


@pytest.mark.parametrize("saying_no", [True], indirect=True)
def test_a_missing_password_is_named(saying_no: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", "/nonexistent/pgpass")
    url = f"postgresql://udb@127.0.0.1:{saying_no}/udb"
    line, _ = failed("db", "check", database_url=url)
    assert line == (
        f"Error: cannot open the database {url}: the server asks for a password and none "
        "was given: put it in the URL, PGPASSWORD or ~/.pgpass"
    )


def test_a_server_that_does_not_answer_times_out() -> None:
    with socket.socket() as silent:  # accepts connections (the kernel does), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"postgresql://udb@127.0.0.1:{silent.getsockname()[1]}/udb?connect_timeout=2"
        line, seconds = failed("db", "check", database_url=url)
    assert line == (
        f"Error: cannot open the database {url}: no answer in time (connection timed out): "
        "check the host and port, and that a firewall lets the connection through"
    )
    assert 2 <= seconds < HANG_S  # the URL's connect_timeout=2 is honoured


# SQLite ---------------------------------------------------------------------------


def test_a_sqlite_directory_that_does_not_exist_is_named(tmp_path: Path) -> None:
    url = "sqlite:///" + str(tmp_path / "missing" / "udb.sqlite3")
    line, _ = failed("systems", "list", database_url=url)
    assert line == (
        f"Error: cannot open the database {url}: the directory {tmp_path / 'missing'} does "
        "not exist: create it, or correct the database URL"
    )
    assert not (tmp_path / "missing").exists()


def test_a_file_that_is_not_a_sqlite_database_is_named(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database\n", encoding="utf-8")
    line, _ = failed("db", "migrate", database_url="sqlite:///" + str(path))
    assert line == (
        f"Error: cannot open the database sqlite:///{path}: {path} is not a SQLite "
        "database: correct the database URL"
    )
    assert path.read_text(encoding="utf-8") == "not a database\n"


def test_an_unknown_kind_of_database_is_named() -> None:
    line, _ = failed("db", "check", database_url="mysql://udb@127.0.0.1/udb")
    assert line == (
        "Error: cannot open the database: unsupported database URL scheme 'mysql'; use "
        "sqlite:///PATH or postgresql://user@host:port/dbname"
    )
