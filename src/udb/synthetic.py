"""Synthetic CPR extract files, for tests and benchmarks.

:func:`write_extract` writes persons in the layout of
``shared/spec/cpr-extract.md`` (ISO-8859-1, one record per line or
unseparated); :func:`synthetic_cprs` makes valid CPR numbers in the order an
extract needs; :func:`synthetic_persons` makes the same people as the domain
knows them (:class:`~udb.domain.model.Person`), to store directly. Fields UDB
does not read are filled with plausible blanks and zeros so that every record
has its type's exact length. The first two stream: a million persons are
written in seconds, in constant memory::

    cprs = synthetic_cprs(1_000_000)
    write_extract(path, (SyntheticPerson(c) for c in cprs), production_date=date(2026, 1, 5))
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Final, Literal

from udb.domain.cpr import birth_date as cpr_birth_date
from udb.domain.model import Person, PersonStatus

__all__ = ["SyntheticPerson", "synthetic_cprs", "synthetic_persons", "write_extract"]

_ACTIVE: Final = frozenset({"01", "03", "05", "07"})
_FIRST: Final = ("Søren", "Åse", "Ærtebjørg", "Jens", "Mette", "Anders", "Birgitte", "Ulf")
_LAST: Final = ("Sørensen", "Ågård", "Nielsen", "Jensen", "Hansen", "Møller", "Præst")
_ROAD: Final = ("Æblevej", "Søndergade", "Åboulevarden", "Industrivænget", "Storegade")


@dataclass(frozen=True, slots=True)
class SyntheticPerson:
    """A person to write: a 001, a 002 (unless no municipality) and a 003 record."""

    cpr: str
    status: str = "01"
    municipality_code: int | None = 751
    current_cpr: str | None = None
    birth_date: date | None = None  # default: from the CPR number's century rule
    #: write the municipality in a 002 record; False: only in the 003 record
    address_record: bool = True


def _person_records(
    p: SyntheticPerson, stamp: str, extra: bool
) -> list[str]:  # the person's records in type order
    cpr = p.cpr
    born = p.birth_date or cpr_birth_date(cpr)
    if born is None:
        raise ValueError(f"{cpr[:6]}-****: no birth date given and the CPR number encodes none")
    iso = born.isoformat()
    n = int(cpr[-4:]) if cpr[-4:].isdigit() else 0
    gender = "K" if n % 2 == 0 else "M"
    status_start = "000000000000" if p.status in _ACTIVE else stamp
    first, last, road = _FIRST[n % len(_FIRST)], _LAST[n % len(_LAST)], _ROAD[n % len(_ROAD)]
    records = [
        f"001{cpr}{p.current_cpr or '':10}{p.status:2}{status_start} {gender}{iso} {iso} "
        f"{'':10} {'':34}"
    ]
    code = p.municipality_code
    road_code, house = 1000 + n % 8000, f"{1 + n % 99:03d}"
    if code is not None and p.address_record:
        records.append(
            f"002{cpr}{code:04d}{road_code:04d}{house:4}01  tv{'':38}{stamp} {stamp} "
            f"0000000000000000 0000{'':190}"
        )
    if code is None:
        post = f"{'':34}{'':34}{'':4}{'':20}0000{'':38}"
    else:
        post = (
            f"{road + ' ' + house.lstrip('0'):34}{'':34}{8000 + n % 1000:4}{'Århus C':20}"
            f"{code:04d}{road_code:04d}{house:4}01  tv{road:20}    "
        )
    records.append(f"003{cpr}{first + ' ' + last:34}{'':68}{post}")
    if extra:
        records.append(f"008{cpr}{first:50}{'':40}{last:40}{stamp} {first + ' ' + last:34}   ")
        records.append(f"009{cpr}5100{'':20}")
        records.append(f"010{cpr}5100{stamp} ")
    return records


def write_extract(
    path: Path,
    persons: Iterable[SyntheticPerson],
    *,
    production_date: date,
    previous_production_date: date | None = None,
    task_number: str = "000001",
    form: Literal["lines", "unseparated"] = "lines",
    crlf: bool = False,
    trim_trailing_spaces: bool = False,
    counter: int | None = None,
    extra_records: bool = True,
) -> int:
    """Write an extract of ``persons`` (which must come sorted by CPR number).

    Returns the number of records written, 000 and 999 included. ``counter``
    is what the 999 record claims (default: the true count of records between
    000 and 999). ``extra_records`` adds an 008, 009 and 010 record per person
    (types the reader only checks and skips). Line ends (``crlf``) apply
    between lines, or once at the end of an unseparated file; trailing spaces
    can only be trimmed from lines.
    """
    if form not in ("lines", "unseparated"):
        raise ValueError(f"unknown form {form!r}")
    if trim_trailing_spaces and form != "lines":
        raise ValueError("trailing spaces can only be trimmed in the one-record-per-line form")
    if len(task_number) != 6:
        raise ValueError("the task number has six characters")
    newline = "\r\n" if crlf else "\n"
    sep = newline if form == "lines" else ""
    previous = f"{previous_production_date:%Y%m%d}" if previous_production_date else "00000000"
    stamp = f"{production_date:%Y%m%d}0000"
    written = 0
    with Path(path).open("w", encoding="latin-1", newline="", buffering=1 << 20) as out:
        out.write(f"000{'0' * 10}{task_number}{production_date:%Y%m%d}{previous}{sep}")
        for person in persons:
            records = _person_records(person, stamp, extra_records)
            if trim_trailing_spaces:
                records = [r.rstrip(" ") for r in records]
            written += len(records)
            out.write(sep.join(records))
            out.write(sep)
        out.write(f"999{'9' * 10}{written if counter is None else counter:08d}{newline}")
    return written + 2


def synthetic_cprs(
    n: int, *, born_from: date = date(2002, 1, 1), born_to: date = date(2010, 12, 31)
) -> Iterator[str]:
    """``n`` distinct valid CPR numbers in ascending order, born in the given range.

    Digit 7 is chosen so that the century rule gives a date in the range (for
    the 2000s: 4-9); the numbers are spread evenly over the days and serial
    numbers. The modulus-11 check is not considered.

    >>> list(synthetic_cprs(2, born_from=date(2008, 3, 15), born_to=date(2008, 3, 15)))
    ['1503084000', '1503087000']
    """
    allowed: dict[str, str] = {}  # DDMMYY -> the digits 7 that give a date in range
    day = born_from
    while day <= born_to:
        prefix = f"{day:%d%m%y}"
        if prefix not in allowed:
            allowed[prefix] = "".join(
                g
                for g in "0123456789"
                if (b := cpr_birth_date(f"{prefix}{g}000")) and born_from <= b <= born_to
            )
        day += timedelta(days=1)
    capacity = sum(len(g) for g in allowed.values()) * 1000
    if n > capacity:
        raise ValueError(f"only {capacity} CPR numbers are born in that range")
    if n <= 0:
        return
    step, index, start, left = capacity // n, 0, 0, n
    for prefix in sorted(allowed):
        digits = allowed[prefix]
        end = start + len(digits) * 1000
        while index < end and left:
            local = index - start
            yield f"{prefix}{digits[local // 1000]}{local % 1000:03d}"
            index += step
            left -= 1
        start = end
        if not left:
            return


def synthetic_persons(
    n: int,
    *,
    municipality_code: int,
    born_from: date = date(2002, 1, 1),
    born_to: date = date(2010, 12, 31),
    exclude: Collection[str] = (),
) -> list[Person]:
    """``n`` active persons living in one municipality, as domain :class:`Person` values.

    Their CPR numbers are those of :func:`synthetic_cprs` for the range, in
    ascending order, leaving out the numbers in ``exclude`` (say, a data set's
    own people, whose stored state must stay as it is); the birth date is the
    one the number encodes.

    >>> [p.cpr for p in synthetic_persons(2, municipality_code=751,
    ...     born_from=date(2008, 3, 15), born_to=date(2008, 3, 15), exclude={"1503084000"})]
    ['1503086000', '1503088000']
    """
    left_out = frozenset(exclude)
    persons: list[Person] = []
    for cpr in synthetic_cprs(n + len(left_out), born_from=born_from, born_to=born_to):
        born = cpr_birth_date(cpr)
        if cpr in left_out or born is None:
            continue
        persons.append(Person(cpr, born, PersonStatus.ACTIVE, municipality_code))
    return persons[:n]
