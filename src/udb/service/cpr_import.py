"""Importing a CPR extract file into the register.

``udb cpr import FILE --full | --incremental``:

1. the file is read once, streamed: every record is checked
   (:mod:`udb.formats.cpr_extract`) while the persons it holds are staged
   outside the register (:meth:`udb.storage.base.Store.stage_register`);
2. if any record has a problem, nothing is applied and every problem is
   reported with its position, record type and field;
3. a file applied before (same SHA-256) changes nothing, whichever kind
   (full or incremental) is asked for now: a file is applied once, and the
   answer says when it was asked as the other kind; a file produced before
   the newest one applied (000 record) is refused unless forced;
4. then the staged persons are applied in one short transaction: a full file
   is the complete register (everyone else becomes unregistered, their
   contact and wish data kept), an incremental one changes only its persons;
   the file is recorded in the import history. Residents of municipalities
   the municipality table does not know are applied with a warning
   (:func:`udb.service.register.unknown_municipalities`).
"""

from __future__ import annotations

import enum
import hashlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from udb.domain.model import Person, PersonStatus
from udb.formats.cpr_extract import CprPerson, ExtractHeader, ExtractProblem, ExtractReader
from udb.service.register import unknown_municipalities
from udb.storage.base import Store
from udb.storage.records import CprImportRecord

#: progress(phase, done, total): "reading" in bytes, then "applying" (0 of 1, 1 of 1)
ProgressCallback = Callable[[str, int, int], None]

_REPLACED = ("50", "60")


class ImportOutcome(enum.Enum):
    APPLIED = "applied"
    ALREADY_APPLIED = "already applied"
    #: applied before as the other kind: the kind asked for now was not applied
    ALREADY_APPLIED_AS_OTHER_KIND = "already applied as the other kind"
    REFUSED_OLDER = "refused: older than the newest applied"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class CprImportResult:
    outcome: ImportOutcome
    header: ExtractHeader | None = None
    problems: list[ExtractProblem] = field(default_factory=list)
    problem_count: int = 0
    warnings: list[str] = field(default_factory=list)
    #: the history entry written (APPLIED) or found (ALREADY_APPLIED)
    record: CprImportRecord | None = None
    #: the newest production date applied before (REFUSED_OLDER)
    newest_applied: date | None = None


def person_from_extract(person: CprPerson) -> Person:
    """The register's view of a person of an extract."""
    return Person(
        cpr=person.cpr,
        birth_date=person.birth_date,
        status=PersonStatus.from_cpr_code(person.status),
        municipality_code=person.municipality_code,
        cpr_status=person.status,
        replaced_by=person.current_cpr if person.status in _REPLACED else None,
    )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _reported(
    reader: ExtractReader,
    persons: Iterator[CprPerson],
    progress: ProgressCallback | None,
    residents: Counter[int],
) -> Iterator[Person]:
    """The register's persons of the file, counting its residents by municipality."""
    every = 10_000
    for n, person in enumerate(persons, 1):
        found = person_from_extract(person)
        if found.resident and found.municipality_code is not None:
            residents[found.municipality_code] += 1
        yield found
        if progress is not None and n % every == 0:
            progress("reading", reader.bytes_read, reader.size)
    if progress is not None:
        progress("reading", reader.size, reader.size)


def _header(path: Path) -> ExtractHeader | None:
    """The 000 record's facts, read without reading the rest of the file."""
    reader = ExtractReader(path)
    persons = reader.persons()
    try:
        next(persons, None)
    finally:
        persons.close()
    return reader.header


def _older(header: ExtractHeader, newest: date | None, force: bool) -> bool:
    """True if the file was produced before the newest one applied (and not forced)."""
    return newest is not None and header.production_date < newest and not force


def import_extract(
    store: Store,
    path: Path,
    *,
    full: bool,
    now: datetime,
    force: bool = False,
    progress: ProgressCallback | None = None,
) -> CprImportResult:
    """Check and apply one extract file (see the module docstring)."""
    sha256 = file_sha256(path)
    with store.unit_of_work(readonly=True) as uow:
        earlier = uow.cpr_imports.find(sha256)
        newest = uow.cpr_imports.latest_production_date()
    if earlier is not None:
        return _applied_before(earlier, full)
    first = _header(path)
    if first is not None and _older(first, newest, force):
        return CprImportResult(ImportOutcome.REFUSED_OLDER, first, newest_applied=newest)

    reader = ExtractReader(path)
    residents: Counter[int] = Counter()
    staged = store.stage_register(_reported(reader, reader.persons(), progress, residents))
    header = reader.header
    if reader.problem_count or header is None:
        return CprImportResult(
            ImportOutcome.INVALID,
            header=header,
            problems=reader.problems,
            problem_count=max(reader.problem_count, 1),
            warnings=reader.warnings,
        )

    if progress is not None:
        progress("applying", 0, 1)
    with store.unit_of_work() as uow:
        earlier = uow.cpr_imports.find(sha256)
        if earlier is not None:  # applied meanwhile by another import
            return _applied_before(earlier, full, header)
        newest = uow.cpr_imports.latest_production_date()
        if _older(header, newest, force):
            return CprImportResult(
                ImportOutcome.REFUSED_OLDER, header, warnings=reader.warnings, newest_applied=newest
            )
        warnings = list(reader.warnings)
        unknown = unknown_municipalities(residents, uow.municipalities.codes())
        if unknown is not None:
            warnings.append(unknown)
        counts = uow.persons.apply_staged(staged, full=full, now=now)
        record = CprImportRecord(
            file_name=path.name,
            file_sha256=sha256,
            kind="full" if full else "incremental",
            task_number=header.task_number,
            production_date=header.production_date,
            previous_production_date=header.previous_production_date,
            persons=staged.persons,
            counts=counts,
            warnings=len(warnings),
            forced=force and newest is not None and header.production_date < newest,
            applied_at=now,
        )
        uow.cpr_imports.add(record)
        uow.commit()
    if progress is not None:
        progress("applying", 1, 1)
    return CprImportResult(ImportOutcome.APPLIED, header, warnings=warnings, record=record)


def _applied_before(
    earlier: CprImportRecord, full: bool, header: ExtractHeader | None = None
) -> CprImportResult:
    """The answer for a file applied before: as asked now, or as the other kind."""
    same = earlier.kind == ("full" if full else "incremental")
    outcome = ImportOutcome.ALREADY_APPLIED if same else ImportOutcome.ALREADY_APPLIED_AS_OTHER_KIND
    return CprImportResult(outcome, header, record=earlier)
