"""Reconciliation's rules: each block's state and each person's status, as a table of cases;
the rows to send; the check of LOCAL before anything is fetched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.unit.fakeudb import FakeUdb
from tests.unit.hentsupport import SOURCE, Person, hent_client
from udb.client import Contact, EducationWish, Fetched, FetchedPerson, JobWish, Report
from udb.client.batch.fields import RowProblem
from udb.client.batch.reconcile import (
    DIFF_COLUMNS,
    BlockDiff,
    Compared,
    LocalChecked,
    Reconciler,
    compare,
    compare_block,
    send_path,
)

CPR = "1503084232"
KUI = 751001
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
EARLIER, LATER = T0 - timedelta(hours=1), T0 + timedelta(hours=1)


def job(text: str = "Tømrer", at: datetime = T0) -> JobWish:
    return JobWish(text, at)


def held(value: JobWish) -> Fetched[JobWish]:
    return Fetched(value, SOURCE, LATER)


@pytest.mark.parametrize(
    ("local", "udb", "state"),
    [
        (None, None, None),
        (job(), None, "missing"),
        (None, held(job()), "newer-in-udb"),
        (job(), held(job()), "same"),
        (job(), held(job("Smed")), "differs"),  # same moment, other value
        (job(), held(job(at=EARLIER)), "differs"),  # UDB's is older: send LOCAL's
        (job(), held(job("Smed", EARLIER)), "differs"),
        (job(), held(job(at=LATER)), "newer-in-udb"),
        (job(), held(job("Smed", LATER)), "newer-in-udb"),
        # the same instant written with another offset is the same moment
        (job(), held(job(at=T0.astimezone(datetime.now().astimezone().tzinfo))), "same"),
    ],
)
def test_block_states(local: JobWish | None, udb: Fetched[JobWish] | None, state: str) -> None:
    assert compare_block(local, udb).state == state


def test_a_contact_differs_by_its_phone_number() -> None:
    local = Contact("Mette", "m@example.dk", T0, phone="12345678")
    assert compare_block(local, Fetched(Contact("Mette", "m@example.dk", T0), SOURCE, T0)) == (
        BlockDiff("differs", T0, T0)
    )


EDU = EducationWish("EUD", T0)
CONTACT = Contact("Mette", "m@example.dk", T0)


@pytest.mark.parametrize(
    ("report", "person", "status", "blocks", "sent"),
    [
        # nothing of LOCAL's in UDB: the report never arrived
        (Report(CPR, KUI, job=job(), education=EDU), FetchedPerson(CPR), "missing",
         ("job", "uddannelse"), ("job", "uddannelse")),
        # a block of another system is in UDB, none of LOCAL's: still missing
        (Report(CPR, KUI, job=job()), FetchedPerson(CPR, contact=Fetched(CONTACT, SOURCE, T0)),
         "missing", ("kontakt", "job"), ("job",)),
        # one of two blocks missing
        (Report(CPR, KUI, job=job(), education=EDU),
         FetchedPerson(CPR, job=held(job())), "differs", ("uddannelse",), ("uddannelse",)),
        # LOCAL has a newer job wish; the education wish is the same: only the job is sent
        (Report(CPR, KUI, job=job(at=LATER), education=EDU),
         FetchedPerson(CPR, job=held(job()), education=Fetched(EDU, SOURCE, T0)),
         "differs", ("job",), ("job",)),
        # UDB newer for one block, older for another: differs, only the older is sent
        (Report(CPR, KUI, job=job(), education=EDU),
         FetchedPerson(CPR, job=held(job(at=LATER)),
                       education=Fetched(EducationWish("EUD", EARLIER), SOURCE, T0)),
         "differs", ("job", "uddannelse"), ("uddannelse",)),
        (Report(CPR, KUI, job=job()), FetchedPerson(CPR, job=held(job(at=LATER))),
         "newer-in-udb", ("job",), None),
        (Report(CPR, KUI, job=job()), FetchedPerson(CPR, job=held(job())), "same", (), None),
        (Report(CPR, KUI), FetchedPerson(CPR), "same", (), None),
        (Report(CPR, KUI, job=job()), FetchedPerson.refused(CPR, 14, "ukendt"), "unknown", (),
         None),
        (Report(CPR, KUI, job=job()), FetchedPerson.refused(CPR, 86, "nej"), "not-allowed", (),
         None),
        (Report(CPR, KUI, job=job()), FetchedPerson.refused(CPR, 15, "for gammel"), "over-age",
         (), None),
        (Report(CPR, KUI, job=job()), FetchedPerson.refused(CPR, 999, "anden"), "refused", (),
         None),
    ],
)  # fmt: skip
def test_person_statuses(
    report: Report,
    person: FetchedPerson,
    status: str,
    blocks: tuple[str, ...],
    sent: tuple[str, ...] | None,
) -> None:
    difference = compare(2, report, person)
    assert difference.status == status
    assert difference.differing == blocks
    new = difference.to_send
    if sent is None:
        assert new is None
        return
    assert new is not None and (new.cpr, new.institution) == (CPR, KUI)
    present = {"kontakt": new.contact, "job": new.job, "uddannelse": new.education}
    assert tuple(b for b, v in present.items() if v is not None) == sent
    assert new.job in (None, report.job) and new.education in (None, report.education)


# the library over files -------------------------------------------------------------------


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(["cpr,institution,job,job_tid", *lines]) + "\n", encoding="utf-8")
    return path


def test_every_row_is_checked_first_with_masked_cpr_numbers(tmp_path: Path) -> None:
    local = write(
        tmp_path / "local.csv",
        [
            f"{CPR},{KUI},Tømrer,2026-11-20T09:20:00+01:00",
            f"{CPR},{KUI},Smed,2026-11-20T09:20:00+01:00",
            "2002104321,851001,Smed,2026-11-20T09:20:00+01:00",
            "2002104322,751001,Smed,not a time",
        ],
    )
    reconciler = Reconciler(local, tmp_path / "diff.csv", KUI)
    events = list(reconciler.check())
    problems = [e for e in events if isinstance(e, RowProblem)]
    assert events[-1] == LocalChecked(4, 3)
    assert [(p.line, p.column) for p in problems] == [
        (3, "cpr"),
        (4, "institution"),
        (5, "job_tid"),
    ]
    assert "line 3 (150308-****): cpr: the same person as line 2" in str(problems[0])
    assert all("4232" not in str(p) and "2104321" not in str(p) for p in problems)
    with pytest.raises(RuntimeError):
        next(reconciler.compare(hent_client(FakeUdb({}))))


def test_compare_writes_diff_and_the_rows_to_send(tmp_path: Path) -> None:
    numbers = [f"{n:06d}{n % 1000:04d}" for n in range(1, 151)]
    local = write(
        tmp_path / "local.csv", [f"{c},{KUI},Tømrer,2026-11-20T09:20:00+01:00" for c in numbers]
    )
    same = Person(numbers[0], job=("Tømrer", "2026-11-20T08:20:00Z"))
    udb = FakeUdb({numbers[0]: same}, known=numbers, refused={numbers[1]: 86})
    reconciler = Reconciler(local, tmp_path / "diff.csv", KUI)
    assert list(reconciler.check())[-1] == LocalChecked(150, 0)
    with hent_client(udb) as client:
        events = reconciler.compare(client, send=True)
        compared: list[Compared] = []
        while True:
            try:
                compared.append(next(events))
            except StopIteration as stop:
                summary = stop.value
                break
    assert len(udb.requests) == 2  # 100 and 50
    assert summary.counts == {"same": 1, "not-allowed": 1, "missing": 148}
    assert summary.to_send == 148 and not summary.same
    diff = (tmp_path / "diff.csv").read_text(encoding="utf-8").splitlines()
    assert diff[0] == ",".join(DIFF_COLUMNS)
    assert diff[1].startswith(f"2,{numbers[0]},same,,")
    assert diff[2].startswith(f"3,{numbers[1]},not-allowed,,") and diff[2].endswith(
        ",86,Bruger må ikke indberette oplysninger om dette CPR-nummer"
    )
    sent = send_path(tmp_path / "diff.csv").read_text(encoding="utf-8").splitlines()
    assert len(sent) == 149 and sent[1].startswith(f"{numbers[2]},{KUI},,,,,Tømrer,")
    assert not list(tmp_path.glob(".*.tmp"))
