"""What reading back gives: a :class:`FetchedPerson` per young person, blocks with their source.

Each block UDB holds is the SDK's own value (:class:`~udb.client.Contact`,
:class:`~udb.client.JobWish`, :class:`~udb.client.EducationWish`), wrapped in
:class:`Fetched` with who reported it and when UDB received it::

    >>> from datetime import datetime, UTC
    >>> at = datetime(2026, 11, 20, 8, 20, tzinfo=UTC)
    >>> job = Fetched(JobWish("Tømrer", at), "Vejledningssystem-Aarhus", at)
    >>> person = FetchedPerson("1503084232", job=job)
    >>> person.found, person.job.value.text, person.job.reported_by
    (True, 'Tømrer', 'Vejledningssystem-Aarhus')
    >>> person
    FetchedPerson(cpr='150308-****', contact=None, job=Fetched(...), education=None, code=None)

A person UDB answers about with a ``Fejl`` instead has ``code``, ``text`` and
``kind`` and no blocks: 14 (not in the register), 86 (not a person of the
institution's municipality, or the system is not authorised for it), 15 (25
or older)::

    >>> refused = FetchedPerson.refused("1503084232", 86, "Bruger må ikke ...")
    >>> refused.found, refused.code == 86, refused.kind
    (False, True, <ErrorKind.HARD: 'hard'>)

The ``repr`` holds no personal data (the CPR number masked, no values).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from udb.client._report import Contact, EducationWish, JobWish
from udb.domain import cpr as _cpr
from udb.domain.model import ErrorCode, ErrorKind

__all__ = ["Fetched", "FetchedPerson"]

T = TypeVar("T", Contact, JobWish, EducationWish)


@dataclass(frozen=True, slots=True)
class Fetched(Generic[T]):
    """One block as UDB holds it: ``value``, the system that reported it
    (``reported_by``, ``IndberettetAf``) and when UDB received it
    (``received_at``, ``Modtaget``, aware)."""

    value: T
    reported_by: str
    received_at: datetime

    def __repr__(self) -> str:
        return "Fetched(...)"


@dataclass(frozen=True, slots=True, repr=False)
class FetchedPerson:
    """What UDB holds for one young person (``hent:Person``).

    ``found`` is true when UDB answered with the person's blocks (any of
    ``contact``, ``job``, ``education`` may be ``None``: UDB holds none); false
    when it answered with a ``Fejl`` (``code``, ``text``, ``kind``).
    """

    cpr: str
    contact: Fetched[Contact] | None = None
    job: Fetched[JobWish] | None = None
    education: Fetched[EducationWish] | None = None
    code: int | None = None
    text: str | None = None
    kind: ErrorKind | None = None

    @classmethod
    def refused(cls, cpr: str, code: int, text: str) -> FetchedPerson:
        """A person answered with ``Fejl`` ``code`` (an :class:`ErrorCode` when it is one)."""
        known: int = code
        kind = ErrorKind.HARD
        try:
            known = ErrorCode(code)
        except ValueError:
            pass
        else:
            kind = known.kind
        return cls(cpr, code=known, text=text, kind=kind)

    @property
    def found(self) -> bool:
        return self.code is None

    def __repr__(self) -> str:
        return (
            f"FetchedPerson(cpr={_cpr.mask(self.cpr)!r}, contact={self.contact!r}, "
            f"job={self.job!r}, education={self.education!r}, code={self.code!r})"
        )
