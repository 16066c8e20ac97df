"""Model values: error codes and texts, outcomes, and the report fingerprint."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from udb.domain.clock import to_instant
from udb.domain.model import (
    BlockKind,
    ContactBlock,
    EducationWishBlock,
    ErrorCode,
    ErrorKind,
    JobWishBlock,
    Outcome,
    PersonStatus,
    ReportContent,
)

# interface.md section 4, copied verbatim from the spec
SPEC_TEXTS = {
    14: "Den unge findes ikke i Ungedatabasen",
    86: "Bruger må ikke indberette oplysninger om dette CPR-nummer",
    15: "Aldersgrænse overskredet",
    280: "Registreringstid for kontakt, uddannelses- eller jobønsker må ikke fremdateres",
    101: "exeption - UDB",
}


@pytest.mark.parametrize(("code", "text"), SPEC_TEXTS.items())
def test_error_text_is_verbatim(code: int, text: str) -> None:
    assert ErrorCode(code).text == text


def test_exactly_the_spec_codes_exist() -> None:
    assert {int(c) for c in ErrorCode} == set(SPEC_TEXTS)


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (14, ErrorKind.HARD),
        (86, ErrorKind.HARD),
        (15, ErrorKind.HARD),
        (280, ErrorKind.SOFT),
        (101, ErrorKind.HARD),
    ],
)
def test_only_280_is_soft(code: int, kind: ErrorKind) -> None:
    assert ErrorCode(code).kind is kind


def test_outcomes() -> None:
    assert Outcome.accepted().ok
    assert Outcome.accepted().error is None
    rejected = Outcome.rejected(ErrorCode.AGE_LIMIT)
    assert not rejected.ok
    assert rejected.error is ErrorCode.AGE_LIMIT


@pytest.mark.parametrize("status", list(PersonStatus))
def test_only_active_persons_live_in_denmark(status: PersonStatus) -> None:
    assert status.lives_in_denmark is (status is PersonStatus.ACTIVE)


T = datetime(2026, 11, 20, 8, 15, tzinfo=UTC)


def report(at: datetime = T) -> ReportContent:
    return ReportContent(
        modtager_system_id="Vejledningssystem-Aarhus",
        cpr="1503084232",
        institution_number=751001,
        kontakt=ContactBlock("Anna Vejleder", "anna@aarhus.dk", 12345678, at),
        job=JobWishBlock("Tømrer", at),
        uddannelse=EducationWishBlock("EUX Byggeri", at),
    )


def test_blocks_in_contract_order_and_absent_ones_left_out() -> None:
    full = report()
    assert [b.kind for b in full.blocks] == [BlockKind.KONTAKT, BlockKind.JOB, BlockKind.UDDANNELSE]
    assert replace(full, kontakt=None, uddannelse=None).blocks == (full.job,)
    assert replace(full, kontakt=None, job=None, uddannelse=None).blocks == ()


def test_equal_content_has_equal_fingerprint() -> None:
    assert report().fingerprint() == report().fingerprint()
    assert len(report().fingerprint()) == 64


@pytest.mark.parametrize(
    "written",
    [
        pytest.param(datetime(2026, 11, 20, 8, 15, tzinfo=UTC), id="Z"),
        pytest.param(datetime(2026, 11, 20, 9, 15, tzinfo=timezone(timedelta(hours=1))), id="+01"),
        pytest.param(datetime(2026, 11, 20, 3, 15, tzinfo=timezone(timedelta(hours=-5))), id="-05"),
        pytest.param(datetime(2026, 11, 20, 9, 15), id="danish-local"),
    ],
)
def test_same_instant_in_other_offsets_has_equal_fingerprint(written: datetime) -> None:
    assert report(to_instant(written)).fingerprint() == report(T).fingerprint()


Change = Callable[[ReportContent], ReportContent]
LATER = T + timedelta(microseconds=1)
CHANGES: dict[str, Change] = {
    "modtager": lambda r: replace(r, modtager_system_id="Vejledningssystem-Odense"),
    "cpr": lambda r: replace(r, cpr="1503084233"),
    "institution": lambda r: replace(r, institution_number=751002),
    "kontakt-navn": lambda r: replace(r, kontakt=replace(r.kontakt, navn="Anna Vejlede")),
    "kontakt-mail": lambda r: replace(r, kontakt=replace(r.kontakt, mail="anna@odense.dk")),
    "kontakt-telefon": lambda r: replace(r, kontakt=replace(r.kontakt, telefon=12345679)),
    "kontakt-telefon-absent": lambda r: replace(r, kontakt=replace(r.kontakt, telefon=None)),
    "kontakt-tid": lambda r: replace(r, kontakt=replace(r.kontakt, registreringstid=LATER)),
    "job-tekst": lambda r: replace(r, job=replace(r.job, tekst="Tømrer ")),
    "job-tid": lambda r: replace(r, job=replace(r.job, registreringstid=LATER)),
    "uddannelse-tekst": lambda r: replace(r, uddannelse=replace(r.uddannelse, tekst="EUX")),
    "uddannelse-tid": lambda r: replace(
        r, uddannelse=replace(r.uddannelse, registreringstid=LATER)
    ),
    "kontakt-absent": lambda r: replace(r, kontakt=None),
    "job-absent": lambda r: replace(r, job=None),
    "uddannelse-absent": lambda r: replace(r, uddannelse=None),
    "job-and-uddannelse-swapped": lambda r: replace(
        r, job=JobWishBlock(r.uddannelse.tekst, T), uddannelse=EducationWishBlock(r.job.tekst, T)
    ),
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_any_difference_changes_the_fingerprint(change: Change) -> None:
    original = report()
    changed = change(original)
    assert changed != original
    assert changed.fingerprint() != original.fingerprint()


def test_wish_moved_to_the_other_block_changes_the_fingerprint() -> None:
    bare = replace(report(), kontakt=None, job=None, uddannelse=None)
    as_job = replace(bare, job=JobWishBlock("Tømrer", T))
    as_education = replace(bare, uddannelse=EducationWishBlock("Tømrer", T))
    assert as_job.fingerprint() != as_education.fingerprint()
