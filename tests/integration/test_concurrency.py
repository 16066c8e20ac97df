"""Reports for the same person, or with the same key, handled at the same moment."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from tests.support import AARHUS_KUI, NOW, SYSTEM
from udb.domain.model import JobWishBlock, ReportContent, Submission
from udb.service.reports import ReportPolicy, submit
from udb.storage import Store

CPR = "1503084232"


def job(stid: str, text: str, minutes_ago: int) -> Submission:
    report = ReportContent(
        SYSTEM, CPR, AARHUS_KUI, job=JobWishBlock(text, NOW - timedelta(minutes=minutes_ago))
    )
    return Submission(SYSTEM, stid, report, NOW, f"corr-{stid}")


def test_the_same_report_sent_many_times_at_once_is_stored_once(store: Store) -> None:
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(
            pool.map(lambda _: submit(job("same", "x", 5), store, ReportPolicy()), range(32))
        )
    assert all(o.ok for o in outcomes)
    with store.unit_of_work() as uow:
        view = uow.persons.view(CPR)
    assert view is not None and view.history_count == 1 and view.report_count == 1


def test_interleaved_reports_leave_the_newest_block_current(store: Store) -> None:
    submissions = [job(f"tx-{i}", f"wish {i}", minutes_ago=100 - i) for i in range(40)]
    submissions.reverse()  # newest first: most arrive out of order
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda s: submit(s, store, ReportPolicy()), submissions))
    assert all(o.ok for o in outcomes)
    with store.unit_of_work() as uow:
        view = uow.persons.view(CPR)
    assert view is not None
    assert view.history_count == 40 and view.report_count == 40
    current = next(iter(view.current.values())).block
    assert isinstance(current, JobWishBlock) and current.tekst == "wish 39"
