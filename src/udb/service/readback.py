"""Reading back what UDB holds (HentKontaktJobOgUddOensker v1): who may read, and what.

:func:`read` answers one read in one unit of work, as a report is received:
the signature is remembered (a replay is refused, IPL000003), the caller is
identified by its pinned certificate (IPL000004), ``ModtagerSystemID`` must
name it (IPL000004). Then:

* for CPR numbers: a system not authorised for the institution (or an
  institution UDB does not know) gets 86 for every person asked and nothing
  else. Otherwise each person is judged by the report rules about a person
  (:func:`udb.domain.rules.check_read`: 14, 86, 15 in that order); a person
  that passes is answered with its current blocks (maybe none). One answer per
  CPR number asked, in the order asked (a number asked twice is answered twice);
* for changes since a moment: a system not authorised for the institution is
  refused (IPL000004: there is no person to answer 86 for). The listing holds the
  persons of the institution's municipality who live in Denmark, are under 25
  and have a current block received in ``(since, until]``, ordered by (latest
  receipt, CPR number), one page of :attr:`ReadPolicy.page_size` at a time.
  ``until`` (AendretTil) is fixed by the first page (the moment of its read, less
  :attr:`ReadPolicy.settle`, so that every report received before it is stored) and
  carried, with the last person answered, in the next page's token
  (:mod:`udb.domain.paging`): a report arriving meanwhile moves its person past
  ``until``, out of this listing and into the next, so no person is skipped or
  repeated within a listing. A bad token is IPL000002 (:class:`BadSideToken`).

A read is not idempotency-keyed: SystemTransactionID is only echoed. If the
database fails the read is refused with IPL000001 (there is no business code
for it); nothing it did stays (the unit of work rolls back).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from udb.domain import paging
from udb.domain.clock import danish_date
from udb.domain.model import BlockKind, ClientSystem, ErrorCode, Institution, ReportContent
from udb.domain.readback import HeldBlock, PersonAnswer, Read, ReadAnswer
from udb.domain.rules import Facts, check_read, latest_birth_date_past_limit
from udb.service.errors import REPLAY_REFUSED, AccessDenied, Replayed, ServiceError
from udb.service.reports import RECIPIENT_MISMATCH, identify_caller
from udb.storage.base import Store, UnitOfWork

__all__ = [
    "NOT_AUTHORISED",
    "BadSideToken",
    "ReadPolicy",
    "authorised",
    "read",
]

#: Details of IPL000004 for a changes listing of an institution the system may not read
NOT_AUTHORISED = "the client system is not authorised for this KommuneInstitutionNummer"
#: the order of a Person's blocks in the answer
_ORDER = (BlockKind.KONTAKT, BlockKind.JOB, BlockKind.UDDANNELSE)


class BadSideToken(ServiceError):
    """IPL000002: a SideToken that UDB did not issue, was changed, or does not continue
    this listing."""


@dataclass(frozen=True, slots=True)
class ReadPolicy:
    """Tunable parts of the read-back."""

    #: persons per page of a changes listing (UDB_FETCH_PAGE_SIZE)
    page_size: int = 500
    #: how far before the first page's read a listing ends (UDB_FETCH_SETTLE_S): a
    #: report is stamped with its arrival before it is stored, so one in processing
    #: at that read would be stored behind the listing's end; none takes this long
    settle: timedelta = timedelta(0)


def authorised(system: ClientSystem, institution: Institution | None) -> bool:
    """May ``system`` read for ``institution`` at all (the second half of rule 86)?"""
    return institution is not None and institution.number in system.institutions


def read(request: Read, store: Store, policy: ReadPolicy) -> ReadAnswer:
    """Answer one read (see the module's documentation); raises what becomes a fault."""
    with store.unit_of_work() as uow:
        answer = _read(request, uow, policy)
        uow.commit()  # the replay cache (and, the first time, the token key)
        return answer


def _read(request: Read, uow: UnitOfWork, policy: ReadPolicy) -> ReadAnswer:
    signature = request.signature
    if signature is not None:
        if not uow.replay.remember(signature.replay_key, signature.keep_until, request.received_at):
            raise Replayed(REPLAY_REFUSED)
        found = uow.systems.by_certificate(signature.certificate_fingerprint, request.received_at)
    else:
        found = uow.systems.get(request.system_name)
    system = identify_caller(request.system_name, found, signed=signature is not None)
    if request.request.modtager_system_id != system.name:
        raise AccessDenied(RECIPIENT_MISMATCH)
    institution = uow.institutions.get(request.request.institution_number)
    if request.request.since is None:
        return _by_cpr(request, uow, system, institution)
    if institution is None or not authorised(system, institution):
        raise AccessDenied(NOT_AUTHORISED)
    return _changes(request, uow, system, institution, policy)


def _by_cpr(
    request: Read, uow: UnitOfWork, system: ClientSystem, institution: Institution | None
) -> ReadAnswer:
    cprs = request.request.cprs
    if not authorised(system, institution):
        return ReadAnswer(tuple(PersonAnswer(cpr, ErrorCode.NOT_AUTHORISED) for cpr in cprs))
    persons = uow.readback.persons(cprs)
    errors: dict[str, ErrorCode | None] = {}
    for cpr in dict.fromkeys(cprs):
        errors[cpr] = check_read(
            Facts(
                report=ReportContent(system.name, cpr, request.request.institution_number),
                person=persons.get(cpr),
                institution=institution,
                system=system,
                received_at=request.received_at,
            )
        )
    readable = [cpr for cpr, error in errors.items() if error is None]
    current = uow.readback.current(readable)
    return ReadAnswer(tuple(_answer(cpr, errors[cpr], current) for cpr in cprs))


def _answer(
    cpr: str, error: ErrorCode | None, current: dict[str, dict[BlockKind, HeldBlock]]
) -> PersonAnswer:
    if error is not None:
        return PersonAnswer(cpr, error)
    blocks = current.get(cpr, {})
    return PersonAnswer(cpr, None, tuple(blocks[k] for k in _ORDER if k in blocks))


def _changes(
    request: Read,
    uow: UnitOfWork,
    system: ClientSystem,
    institution: Institution,
    policy: ReadPolicy,
) -> ReadAnswer:
    since = request.request.since
    if since is None:  # pragma: no cover - the caller asked for a listing
        raise ValueError("a changes listing needs AendretSiden")
    key = uow.readback.token_key()
    until, after = request.received_at - policy.settle, None
    if request.request.token is not None:
        try:
            cursor = paging.unseal(request.request.token, key)
            paging.check(
                cursor,
                institution_number=institution.number,
                since=since,
                now=request.received_at,
            )
        except paging.BadToken as exc:
            raise BadSideToken(str(exc)) from None
        until, after = cursor.until, (cursor.last_received, cursor.last_cpr)
    rows = uow.readback.changed(
        municipality_code=institution.municipality_code,
        born_after=latest_birth_date_past_limit(danish_date(request.received_at)),
        since=since,
        until=until,
        after=after,
        limit=policy.page_size + 1,
    )
    page, more = rows[: policy.page_size], len(rows) > policy.page_size
    token = None
    if more:
        last_cpr, last_received = page[-1]
        token = paging.seal(
            paging.ListingPosition(institution.number, since, until, last_received, last_cpr), key
        )
    cprs = [cpr for cpr, _ in page]
    persons = uow.readback.persons(cprs)
    current = uow.readback.current(cprs)
    answers = []
    for cpr in cprs:
        error = check_read(
            Facts(
                report=ReportContent(system.name, cpr, institution.number),
                person=persons.get(cpr),
                institution=institution,
                system=system,
                received_at=request.received_at,
            )
        )
        if error is None:  # the listing's own filter agrees with the rules; kept as the guard
            answers.append(_answer(cpr, None, current))
    return ReadAnswer(tuple(answers), until=until, next_token=token)
