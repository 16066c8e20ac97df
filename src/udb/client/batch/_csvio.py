"""What the results file and its journal share: one CSV row a line, durable writes."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from pathlib import Path


class ResultsError(ValueError):
    """The results file (or its journal) is not one this command wrote."""


def encode_line(cells: Iterable[str]) -> bytes:
    """One CSV line, ``\\n``-terminated, UTF-8."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue().encode("utf-8")


def cells_of(raw: bytes) -> list[str]:
    """The cells of one CSV line (none if it is not UTF-8)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return []
    return next(csv.reader([text]), [])


def fsync_dir(directory: Path) -> None:
    """Make a created, renamed or removed directory entry durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
