"""The write-ahead journal of a batch's transaction ids (``RESULTS.csv.journal``).

One ``line,system_transaction_id`` row per report handed to the client::

    line,system_transaction_id
    2,7d1c5e2a-4b3f-4c8d-9e6a-1f2b3c4d5e01
    3,2a9b0c4e-8f1d-4e2a-b6c7-3d5e9f1a2b04

Each id is written, and fsync'd, *before* its report is handed to the client,
so even a run that is killed leaves the id of every report that may have
reached the service; a resumed run sends such a report again under the same
id, and the service's idempotency answers it with its first answer and stores
it once. A torn last line (the one being written when a run was killed) is
cut off when the journal is read.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from udb.client.batch._csvio import ResultsError, cells_of, encode_line, fsync_dir

JOURNAL_HEADER = ("line", "system_transaction_id")


class Journal:
    """The journal at ``path``: :meth:`load` what earlier runs wrote, :meth:`note` new ids."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> dict[int, str]:
        """line -> transaction id, the last entry of each line (a torn last line is cut off)."""
        found: dict[int, str] = {}
        with self.path.open("r+b") as file:
            header = file.readline()
            if header and cells_of(header) != list(JOURNAL_HEADER):
                raise ResultsError(f"{self.path} is not a journal of udb send-batch")
            offset = len(header)
            for number, raw in enumerate(file, start=2):
                if not raw.endswith(b"\n"):
                    file.truncate(offset)
                    break
                cells = cells_of(raw)
                if len(cells) != 2 or not cells[0].isdigit() or not cells[1]:
                    raise ResultsError(f"{self.path} line {number}: not a journal entry")
                found[int(cells[0])] = cells[1]
                offset += len(raw)
        return found

    def note(self, entries: Iterable[tuple[int, str]]) -> None:
        """Write (line, transaction id) pairs, durably, before they are sent."""
        new = False
        if self._file is None:
            new = not self.path.exists() or self.path.stat().st_size == 0
            self._file = self.path.open("ab")
            if new:
                self._file.write(encode_line(JOURNAL_HEADER))
        self._file.write(b"".join(encode_line((str(line), stid)) for line, stid in entries))
        self._file.flush()
        os.fsync(self._file.fileno())
        if new:
            fsync_dir(self.path.parent)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def remove(self) -> None:
        """Drop the journal (every report it names was answered and written)."""
        if self.path.exists():
            self.path.unlink()
            fsync_dir(self.path.parent)
