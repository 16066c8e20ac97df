"""The two forms of a CPR extract file, as one stream of records.

One record per line (LF or CRLF, trailing spaces maybe trimmed, a line longer
than any record cut), or records back to back with nothing between them, where
a record that is too short or too long is recognised by where the next one
plausibly begins. :class:`RecordSources` yields ``(line, offset, record,
damaged)``; what the records mean is :mod:`udb.formats.cpr_extract`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

from udb.formats.cpr_records import (
    ADDRESS,
    END,
    MAX_RECORD_LENGTH,
    NOT_PERSON_BOUND,
    PERSON,
    POSTAL_ADDRESS,
    RECORD_LENGTHS,
    START,
    starts_record,
)

_LINE_LIMIT: Final = 64 * 1024  # characters of a line kept; the rest is ignored
PROGRESS_STEP: Final = 1 << 20
_CHUNK: Final = 1 << 18  # characters read at a time from an unseparated file
#: Types read field by field; every other known type is only checked and skipped
READ: Final = frozenset({START, PERSON, ADDRESS, POSTAL_ADDRESS, END})
SKIPPED: Final = frozenset(RECORD_LENGTHS) - NOT_PERSON_BOUND - READ
_BOUND: Final = SKIPPED | {ADDRESS, POSTAL_ADDRESS}  # the types that carry the person's CPR
_SLACK: Final = 20  # how far past a record's end its successor is looked for (< any length)


class RecordSources:
    """The record streams of both file forms; the reader's state they keep up to date."""

    path: Path
    size: int
    bytes_read: int
    _progress: Callable[[int, int], None] | None
    _key: str | None
    _after_end: bool
    _stopped: bool
    _end_line: int

    def _report(
        self, line: int | None, offset: int, record_type: str, field: str | None, reason: str
    ) -> None:
        raise NotImplementedError

    def _lines(self) -> Iterator[tuple[int | None, int, str, bool]]:
        """(line, offset, record, damaged) for each non-empty line.

        Of a line longer than ``_LINE_LIMIT`` only the start is kept: the rest
        lies beyond any field read.
        """
        size, progress = self.size, self._progress
        mark = PROGRESS_STEP if progress else size + 1
        offset = line = 0
        with self.path.open("rb") as fh:
            readline = fh.readline
            while raw := readline(_LINE_LIMIT):
                line += 1
                start = offset
                offset += len(raw)
                if len(raw) == _LINE_LIMIT and not raw.endswith(b"\n"):
                    while (more := readline(_LINE_LIMIT)) and not more.endswith(b"\n"):
                        offset += len(more)
                    offset += len(more)
                self.bytes_read = offset
                if offset >= mark and progress:
                    progress(offset, size)
                    mark = offset + PROGRESS_STEP
                text = raw.decode("latin-1").rstrip("\r\n")
                if text:
                    yield line, start, text, False
        self._end_line = line + 1

    def _unseparated(self) -> Iterator[tuple[int | None, int, str, bool]]:
        """(None, offset, record, damaged) for each record of an unseparated file.

        Each record is its type's length, but a record that is too short or too
        long is recognised when the next record plausibly begins within a few
        characters of where it should: the length is reported and reading goes
        on from there. An unknown type code is followed the same way.
        """
        size, progress = self.size, self._progress
        mark = PROGRESS_STEP if progress else size + 1
        need = MAX_RECORD_LENGTH + _SLACK + 16
        with self.path.open("rb") as fh:
            buf, base, i, eof = "", 0, 0, False  # buf[i] is byte base + i of the file
            while True:
                if i + need > len(buf) and not eof:
                    chunk = fh.read(_CHUNK)
                    eof = len(chunk) < _CHUNK
                    buf, base, i = buf[i:] + chunk.decode("latin-1"), base + i, 0
                if buf[i : i + 1] in ("\r", "\n"):  # between records
                    i += 1
                    continue
                if i >= len(buf):
                    break
                pos = base + i
                self.bytes_read = pos
                if pos >= mark and progress:
                    progress(pos, size)
                    mark = pos + PROGRESS_STEP
                if self._after_end:  # whatever follows the 999 is passed on as one record
                    yield None, pos, buf[i : i + 40], True
                    return
                rtype = buf[i : i + 3]
                length = RECORD_LENGTHS.get(rtype)
                if length is None:  # unknown type: look for the next record
                    key, hi = self._key, i + MAX_RECORD_LENGTH + _SLACK
                    nxt = next((j for j in range(i + 1, hi) if starts_record(buf, j, key, "")), 0)
                    yield None, pos, buf[i : nxt or i + 3], True
                    if not nxt:
                        reason = f"no record follows within {hi - i} characters; reading stops"
                        self._report(None, pos, "", None, reason)
                        self._stopped = True
                        return
                    i = nxt
                    continue
                e = i + length
                if e > len(buf):
                    rec = buf[i:].rstrip("\r\n")
                    reason = f"the file ends inside this record ({len(rec)} of {length} characters)"
                    self._report(None, pos, rtype, None, reason)
                    yield None, pos, rec, True
                    break
                n = e
                while buf[n : n + 1] in ("\r", "\n"):
                    n += 1
                key = buf[i + 3 : i + 13] if rtype == PERSON else self._key
                if (
                    n >= len(buf)
                    or rtype == END
                    or (key is not None and buf.startswith(key, n + 3) and buf[n : n + 3] in _BOUND)
                    or starts_record(buf, n, key, rtype)
                ):
                    alt = e
                else:
                    near = sorted(range(i + 3, e + _SLACK), key=lambda j: (abs(j - e), j))
                    alt = next((j for j in near if starts_record(buf, j, key, rtype)), e)
                if alt == e:  # the length is right; what follows is checked on its own
                    yield None, pos, buf[i:e], False
                    self._after_end = rtype == END
                else:
                    rec = buf[i:alt].rstrip("\r\n")
                    reason = (
                        f"the record is {len(rec)} characters long, not {length} "
                        f"(the next record begins at byte {base + alt})"
                    )
                    self._report(None, pos, rtype, None, reason)
                    yield None, pos, rec, True
                i = alt
        self.bytes_read = size
