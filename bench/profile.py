"""py-spy: recording processes during a run, and where their time went.

py-spy is a development tool, not a dependency of the project: install it
into the virtualenv by hand (``.venv/bin/uv pip install -p .venv/bin/python
py-spy``). It records ``--format raw`` (one line per stack, with its count);
:func:`worker_hot_spots` and :func:`process_hot_spots` read those files and
print each function's own share of the samples and its inclusive share.

* :class:`Profiler` records the server's workers (``--gil``: only the thread
  holding the GIL, so the shares are of the Python CPU time of the workers; C
  code that releases the GIL, such as libpq waiting for PostgreSQL, is not in
  them). py-spy's "idle" filter is no help there: on 2 saturated cores a
  thread that waits for a CPU counts as active, and waiting in psycopg looked
  like half the time.
* :func:`recording` records the calling process itself (the client benchmark's
  sending process), all threads with idle ones left out, or ``gil`` only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

#: the sampling rate (samples a second), prime so as not to beat with periodic work
RATE = 97
#: frames of thread (and event loop) start-up, left out of the inclusive shares
THREAD_ROOTS = ("(threading.py)", "(concurrent/futures/thread.py)")


def py_spy() -> str:
    """py-spy's path (on ``PATH`` or beside this Python); SystemExit if it is not installed."""
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(found).exists():
        raise SystemExit(
            "--profile needs py-spy: .venv/bin/uv pip install -p .venv/bin/python py-spy"
        )
    return found


def record(pid: int, output: Path, *, rate: int = RATE, gil: bool) -> subprocess.Popen[bytes]:
    """``py-spy record`` of process ``pid`` into ``output``; its own log beside it (``.log``)."""
    with output.with_suffix(".log").open("wb") as log:
        return subprocess.Popen(
            [
                py_spy(),
                "record",
                "--pid",
                str(pid),
                "--rate",
                str(rate),
                "--format",
                "raw",
                *(["--gil"] if gil else []),
                "--nonblocking",
                "--output",
                str(output),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def interrupt(recorder: subprocess.Popen[bytes]) -> None:
    """Ask a recording to end: py-spy writes its output on SIGINT."""
    if recorder.poll() is None:
        recorder.send_signal(signal.SIGINT)


def finish(recorder: subprocess.Popen[bytes]) -> None:
    """Wait for an interrupted recording to end (killed after a minute)."""
    try:
        recorder.wait(timeout=60)
    except subprocess.TimeoutExpired:
        recorder.kill()
        recorder.wait(timeout=10)


class Profiler:
    """py-spy recording the server's workers (``--gil``) during a run."""

    def __init__(self, directory: Path, rate: int = RATE) -> None:
        py_spy()  # installed, or a one-line error before anything starts
        self.directory = directory
        self.rate = rate
        self.recorders: list[tuple[subprocess.Popen[bytes], Path]] = []
        self.started = 0.0
        self.seconds = 0.0

    def start(self, pids: Sequence[int]) -> None:
        for pid in pids:
            out = self.directory / f"py-spy-{pid}.txt"
            self.recorders.append((record(pid, out, rate=self.rate, gil=True), out))
        time.sleep(1.0)  # attached before the load starts
        self.started = time.monotonic()

    def stop(self) -> list[Path]:
        self.seconds = time.monotonic() - self.started
        for recorder, _ in self.recorders:
            interrupt(recorder)
        for recorder, _ in self.recorders:
            finish(recorder)
        return [out for _, out in self.recorders if out.exists()]

    @property
    def possible(self) -> float:
        """The samples there would be if every worker held the GIL all the time."""
        return self.rate * self.seconds * len(self.recorders)


@contextlib.contextmanager
def recording(output: Path | None, *, gil: bool = False) -> Iterator[None]:
    """py-spy recording this very process while the block runs (nothing if no ``output``)."""
    if output is None:
        yield
        return
    recorder = record(os.getpid(), output, gil=gil)
    time.sleep(1.5)  # attached before the sending starts
    try:
        yield
    finally:
        interrupt(recorder)
        finish(recorder)


# reading the samples ------------------------------------------------------------


def frame(text: str) -> str:
    """``name (path/to/module.py:123)`` -> ``name (module path)`` without the line."""
    name, _, where = text.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("/site-packages/", "/src/", "/lib/python3"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    return f"{name} ({where})" if where else name


def count(files: Sequence[Path]) -> tuple[int, Counter[str], Counter[str]]:
    """All samples, and each function's own and inclusive samples, in py-spy raw files."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for path in files:
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            frames = [frame(f) for f in stack.split(";") if " (" in f]
            if not frames:
                continue
            n = int(count_text)
            total += n
            own[frames[-1]] += n
            for name in set(frames):
                inclusive[name] += n
    return total, own, inclusive


def _shares(rows: Sequence[tuple[str, int]], total: int) -> list[str]:
    return [f"  {100 * n / total:5.1f}%  {name}" for name, n in rows]


def _without(inclusive: Counter[str], roots: tuple[str, ...], top: int) -> list[tuple[str, int]]:
    return [(k, n) for k, n in inclusive.most_common() if not k.endswith(roots)][:top]


def worker_hot_spots(files: Sequence[Path], possible: float, top: int = 20) -> str:
    """The workers' functions with the largest share of the GIL-held samples.

    ``possible``: the samples there would be if every worker held the GIL all the time.
    """
    total, own, inclusive = count(files)
    if not total:
        return "py-spy recorded no samples"
    lines = [
        f"{total} samples with the GIL held, all workers: the GIL was held "
        f"{100 * total / max(possible, 1):.0f}% of the time (of {len(files)} workers)",
        "",
        "own time (share of the Python CPU time):",
        *_shares(own.most_common(top), total),
        "",
        "inclusive (the function and what it calls; thread start-up frames left out):",
        *_shares(_without(inclusive, THREAD_ROOTS, top + 10), total),
    ]
    return "\n".join(lines)


def process_hot_spots(path: Path, top: int = 25, *, gil: bool = False) -> str:
    """Own and inclusive shares of py-spy's samples of one process (all threads).

    Without ``gil`` a thread that is runnable but waits for a core, or holds a
    lock another thread waits for, counts as active too; with ``gil`` only the
    thread holding the GIL is sampled.
    """
    total, own, inclusive = count([path])
    if not total:
        return "py-spy recorded no samples"
    what = "the thread holding the GIL" if gil else "active threads (idle ones left out)"
    roots = (*THREAD_ROOTS, "(asyncio/runners.py)")
    lines = [
        f"{total} samples of {what}",
        "own time:",
        *_shares(own.most_common(top), total),
        "inclusive (thread start-up frames left out):",
        *_shares(_without(inclusive, roots, top), total),
    ]
    return "\n".join(lines)
