"""Benchmark: `udb cpr import` of a synthetic extract of N persons (default 1,000,000).

    python -m bench.cpr_import [--persons N] [--form lines|unseparated] [--keep]

Writes a synthetic full extract (udb.synthetic), then times two
imports, each as its own `udb cpr import` process on a fresh SQLite database
in a temporary directory:

1. the full extract into an empty register;
2. a second full extract, produced a day later, in which 1% of the persons
   moved and 0.1% died (the nightly case: mostly unchanged).

For each it prints the wall time and the peak resident memory of the import
process (from the kernel's accounting of the finished child, ru_maxrss).
Targets on a 2-core machine: <= 60 s and <= 300 MB per import.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path

from udb.synthetic import SyntheticPerson, synthetic_cprs, write_extract

TARGET_SECONDS = 60
TARGET_MB = 300


def persons(n: int, *, day: int) -> Iterator[SyntheticPerson]:
    """The synthetic register of day ``day``: 1% moved and 0.1% dead on day 2."""
    for i, cpr in enumerate(synthetic_cprs(n)):
        if day == 2 and i % 1000 == 7:
            yield SyntheticPerson(cpr, status="90", municipality_code=None)
        elif day == 2 and i % 100 == 3:
            yield SyntheticPerson(cpr, municipality_code=101)
        else:
            yield SyntheticPerson(cpr, municipality_code=751)


def timed_import(path: Path, database_url: str) -> tuple[float, float, str]:
    """Wall seconds and peak RSS (MB) of one `udb cpr import --full` process."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "udb", "cpr", "import", str(path), "--full",
             "--database", database_url],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        _, status, usage = os.wait4(child.pid, 0)  # this child's own resource usage
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        out.seek(0)
        output = out.read()
    if child.returncode != 0:
        sys.exit(f"import failed ({child.returncode}):\n{output[-3000:]}")
    lines = [line for line in output.splitlines() if not line.startswith("reading:")]
    return seconds, usage.ru_maxrss / 1024, "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.cpr_import", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--persons", type=int, default=1_000_000, help="persons in the extract (1000000)"
    )
    parser.add_argument("--form", choices=("lines", "unseparated"), default="lines")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    if args.persons < 1:
        raise SystemExit("--persons must be positive")

    work = Path(tempfile.mkdtemp(prefix="udb-cpr-bench-"))
    print(f"workspace {work}")
    try:
        files = []
        for day in (1, 2):
            path = work / f"extract-day{day}.txt"
            started = time.perf_counter()
            records = write_extract(
                path,
                persons(args.persons, day=day),
                production_date=date(2026, 11, day),
                form=args.form,
            )
            size = path.stat().st_size / 2**20
            print(
                f"wrote {path.name}: {args.persons:,} persons, {records:,} records, "
                f"{size:,.0f} MiB in {time.perf_counter() - started:.1f} s"
            )
            files.append(path)

        database_url = "sqlite:///" + str(work / "udb.sqlite3")
        subprocess.run(
            [sys.executable, "-m", "udb", "demo", "--database", database_url],
            check=True,
            capture_output=True,
        )
        results = []
        for label, path in (("full, empty register", files[0]), ("full, 1% moved", files[1])):
            seconds, peak_mb, output = timed_import(path, database_url)
            results.append((label, seconds, peak_mb))
            print(f"\n== {label}: {seconds:.1f} s, peak RSS {peak_mb:.0f} MB")
            print("  " + output.replace("\n", "\n  "))

        print(
            f"\n== summary ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
            f"{args.persons:,} persons, form {args.form}, SQLite)"
        )
        print(f"{'import':24} {'wall s':>7} {'persons/s':>10} {'peak RSS MB':>12}  targets")
        ok = True
        for label, seconds, peak_mb in results:
            meets = seconds <= TARGET_SECONDS and peak_mb <= TARGET_MB
            ok &= meets
            print(
                f"{label:24} {seconds:7.1f} {args.persons / seconds:10,.0f} {peak_mb:12.0f}  "
                f"{'met' if meets else 'MISSED'} (<= {TARGET_SECONDS} s, <= {TARGET_MB} MB)"
            )
        print(f"cores: {os.cpu_count()}, Python {platform.python_version()}, {platform.platform()}")
        return 0 if ok else 1
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
