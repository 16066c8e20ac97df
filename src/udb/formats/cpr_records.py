"""Record layouts of the CPR office's extract files, read field by field.

The layouts are those of ``shared/spec/cpr-extract.md`` (the CPR office's
P12170 layout as read by the CPR Broker). Positions there are 1-based and
inclusive; the slices here are the same fields 0-based. A record is a
``str`` already decoded from ISO-8859-1 and right-padded to its type's
length, for example the start record (35 characters)::

    000 0000000000 111111 20100101 20091231
    type sort      task   produced previous

Each ``read_*`` function returns the fields UDB needs and appends a
``(field, reason)`` pair to ``problems`` for every field that is wrong. Field
names are those of the spec; reasons never hold a full CPR number
(:func:`udb.domain.cpr.mask`).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Final, NamedTuple

from udb.domain.cpr import birth_date, is_cpr_form, mask

#: Each record type's fixed length (cpr-extract.md, "File structure").
RECORD_LENGTHS: Final[dict[str, int]] = {
    "000": 35, "001": 106, "002": 306, "003": 249, "004": 37, "005": 200, "006": 203,
    "007": 26, "008": 193, "009": 37, "010": 30, "011": 25, "012": 95, "013": 36,
    "014": 23, "015": 147, "016": 58, "017": 272, "018": 60, "019": 75, "020": 47,
    "021": 63, "022": 45, "023": 96, "024": 218, "025": 40, "026": 173, "027": 44,
    "028": 36, "029": 109, "030": 48, "031": 269, "032": 269, "033": 269, "099": 45,
    "910": 157, "997": 43, "999": 21,
}  # fmt: skip
MAX_RECORD_LENGTH: Final = max(RECORD_LENGTHS.values())

START, PERSON, ADDRESS, POSTAL_ADDRESS, END = "000", "001", "002", "003", "999"

#: Known types whose layout the spec does not give. Unlike 002-099 they are not
#: required to carry the current person's CPR number at position 4-13: 910 holds
#: the CPR office's messages about numbers of the subscription, which need not
#: belong to a person delivered in the file.
NOT_PERSON_BOUND: Final = frozenset({"910", "997"})

#: The last position of each field read, to tell a cut line from a wrong value.
FIELD_ENDS: Final[dict[tuple[str, str | None], int]] = {
    ("000", "sort field"): 13, ("000", "production date"): 27,
    ("000", "previous production date"): 35, ("001", "CPR number"): 13,
    ("001", "current CPR number"): 23, ("001", "status"): 25, ("001", "birth date"): 49,
    ("002", "municipality code"): 17, ("003", "municipality code"): 211,
    ("999", "sort field"): 13, ("999", "record counter"): 21,
}  # fmt: skip

#: Person status codes, 001 position 24-25 (cpr-extract.md, "Person status").
STATUS_CODES: Final = frozenset({"01", "03", "05", "07", "20", "30", "50", "60", "70", "80", "90"})
#: Statuses whose "current CPR number" (001 position 14-23) is meaningful.
REPLACED_STATUSES: Final = frozenset({"50", "60"})

Problems = list[tuple[str | None, str]]

_LONG_DIGITS = re.compile(r"(?<!\d)(\d{6})\d{4,}")


def safe_reason(reason: str) -> str:
    """``reason`` with every run of ten or more digits cut to its first six.

    A safety net so that no message quotes a full CPR number, even when a
    misaligned record puts one into a field that is quoted.

    >>> safe_reason("found 0101005038 here")
    'found 010100-**** here'
    """
    return _LONG_DIGITS.sub(r"\1-****", reason)


def _digits(value: str) -> bool:
    return value.isascii() and value.isdigit()


def _compact_date(value: str) -> date | None:
    """``yyyyMMdd`` as a date, or ``None`` if it is not a valid one."""
    if len(value) != 8 or not _digits(value):
        return None
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return None


def _iso_date(value: str) -> date | None:
    """``yyyy-MM-dd`` as a date, or ``None`` if it is not a valid one."""
    if len(value) != 10 or value[4] != "-" or value[7] != "-":
        return None
    y, m, d = value[:4], value[5:7], value[8:]
    if not (_digits(y) and _digits(m) and _digits(d)):
        return None
    try:
        return date(int(y), int(m), int(d))
    except ValueError:
        return None


def _municipality(value: str, *, blank_ok: bool, problems: Problems) -> int | None:
    """A four-digit municipality code as UDB's integer (``0851`` -> 851); ``0000`` -> None."""
    if blank_ok and not value.strip():
        return None
    if len(value) == 4 and _digits(value):
        return int(value) or None
    problems.append(("municipality code", f"municipality code {value!r} is not four digits"))
    return None


def detect_form(head: str) -> str:
    """``"lines"`` or ``"unseparated"``, from the first records of the file.

    A line form file breaks its first line right after the first record (or
    earlier, if trailing spaces were trimmed); an unseparated file continues
    with the next record's type code there.
    """
    nl = head.find("\n")
    first = head if nl < 0 else head[:nl]
    first = first.removesuffix("\r")
    length = RECORD_LENGTHS.get(first[:3])
    if length is None:
        return "lines" if nl >= 0 else "unseparated"
    if "\r" in first:  # CR alone between records: not lines of this reader
        return "unseparated"
    if nl >= 0 and len(first) <= length:
        return "lines"
    return "unseparated" if first[length : length + 3] in RECORD_LENGTHS else "lines"


def starts_record(buf: str, j: int, key: str | None, min_type: str) -> bool:
    """Whether a record of the expected kind plausibly begins at ``buf[j]``.

    Expected: the current person's next record (its CPR number at 4-13 and
    a type not below ``min_type``), a later person's 001, or the 999.
    """
    t = buf[j : j + 3]
    field = buf[j + 3 : j + 13]
    if t == PERSON:
        return is_cpr_form(field) and (key is None or not is_cpr_form(key) or field > key)
    if t == END:
        return field == "9999999999"
    if t in NOT_PERSON_BOUND:
        return field.isascii() and field.isdigit()
    return t in RECORD_LENGTHS and t != START and t >= min_type and field == key


class Start(NamedTuple):
    task_number: str
    production_date: date | None
    previous_production_date: date | None


def read_start(rec: str, problems: Problems) -> Start:
    """The 000 start record: sort field, task number, production dates."""
    if rec[3:13] != "0000000000":
        problems.append(("sort field", f"sort field {rec[3:13]!r} is not 0000000000"))
    produced_text = rec[19:27]
    produced = _compact_date(produced_text)
    if produced is None:
        problems.append(
            ("production date", f"production date {produced_text!r} is not a date yyyyMMdd")
        )
    previous_text = rec[27:35]
    previous = None
    if previous_text.strip() and previous_text != "00000000":
        previous = _compact_date(previous_text)
        if previous is None:
            reason = f"previous production date {previous_text!r} is not a date yyyyMMdd"
            problems.append(("previous production date", reason))
    return Start(rec[13:19], produced, previous)


class PersonRecord(NamedTuple):
    key: str  # the CPR number field as written, to match the person's other records
    cpr: str | None  # the CPR number if it is valid
    current_cpr: str | None
    status: str
    birth_date: date | None


class _CenturyRule:
    """The CPR number's birth date, remembered for the last seven-digit prefix.

    The date depends only on digits 1-7 (cpr-extract.md, "The CPR number
    itself"), and persons come sorted by CPR number, so neighbours share it.
    """

    __slots__ = ("born", "iso", "prefix")

    def __init__(self) -> None:
        self.prefix = ""
        self.born: date | None = None
        self.iso = ""

    def __call__(self, cpr: str) -> date | None:
        if not (self.prefix and cpr.startswith(self.prefix)):
            self.prefix = cpr[:7]
            self.born = birth_date(cpr)
            self.iso = self.born.isoformat() if self.born else ""
        return self.born


class PersonReader:
    """Reads 001 person records; holds one cached century-rule result."""

    __slots__ = ("_rule",)

    def __init__(self) -> None:
        self._rule = _CenturyRule()

    def __call__(self, rec: str, problems: Problems) -> PersonRecord:
        """The 001 record: CPR number, current CPR number, status, birth date."""
        key = rec[3:13]
        cpr: str | None = None
        if not key.strip():
            problems.append(("CPR number", "the CPR number is blank (a 001 record without PNR)"))
        elif not is_cpr_form(key):
            problems.append(("CPR number", f"CPR number {mask(key)} is not ten digits"))
        elif self._rule(key) is None:
            problems.append(
                ("CPR number", f"CPR number {mask(key)} does not begin with a date DDMMYY")
            )
        else:
            cpr = key

        status = rec[23:25]
        if status not in STATUS_CODES:
            if status.strip():
                problems.append(("status", f"unknown status code {status.strip()}"))
            else:
                problems.append(("status", "the status is blank"))

        current: str | None = None
        if not rec.startswith(" " * 10, 13):  # (the tests below allocate nothing when clean)
            current_text = rec[13:23]
            if is_cpr_form(current_text):
                current = current_text if status in REPLACED_STATUSES else None
            else:
                reason = f"current CPR number {mask(current_text)} is not ten digits"
                problems.append(("current CPR number", reason))

        if cpr is not None and rec.startswith(self._rule.iso, 39):
            return PersonRecord(key, cpr, current, status, self._rule.born)
        born_text = rec[39:49]
        born = _iso_date(born_text)
        if born is None:
            if born_text.strip():
                reason = f"birth date {born_text!r} is not a date yyyy-MM-dd"
            else:
                reason = "the birth date is blank"
            problems.append(("birth date", reason))
        elif cpr is not None:
            reason = (
                f"birth date {born.isoformat()} disagrees with CPR number {mask(cpr)}, "
                f"whose century rule gives {self._rule.iso}"
            )
            problems.append(("birth date", reason))
        return PersonRecord(key, cpr, current, status, born)


def read_address(rec: str, problems: Problems) -> int | None:
    """The 002 current address: municipality code at position 14-17 (four digits)."""
    return _municipality(rec[13:17], blank_ok=False, problems=problems)


def read_postal_address(rec: str, problems: Problems) -> int | None:
    """The 003 address for post: municipality code at 208-211 (blank or 0000: none)."""
    return _municipality(rec[207:211], blank_ok=True, problems=problems)


def read_end(rec: str, problems: Problems) -> int | None:
    """The 999 end record: sort field ``9999999999`` and the record counter."""
    if rec[3:13] != "9999999999":
        problems.append(("sort field", f"sort field {rec[3:13]!r} is not 9999999999"))
    counter = rec[13:21]
    if len(counter) == 8 and _digits(counter):
        return int(counter)
    problems.append(("record counter", f"record counter {counter!r} is not eight digits"))
    return None
