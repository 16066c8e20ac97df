"""BatchRunner: the events of a run, ids journalled before sending, stop requests, resume."""

from __future__ import annotations

import csv
import re
import threading
from pathlib import Path

import httpx
import pytest

from tests.unit.clientsupport import client, report_reply, stid_of
from udb.client.batch import (
    COLUMNS,
    Answered,
    BatchRunner,
    Checked,
    Event,
    Finished,
    ResultsError,
    RowProblem,
    Started,
    Stopping,
)

ACCEPTED, UNKNOWN = "1503084232", "2002104230"
AT = "2026-11-20T09:15:00+01:00"
_CPR = re.compile(rb"<udb:CPRNr>([0-9]{10})<")


def write_csv(tmp_path: Path, cprs: list[str], **extra: str) -> Path:
    path = tmp_path / "batch.csv"
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS)
        writer.writeheader()
        for n, cpr in enumerate(cprs):
            row = {c: "" for c in COLUMNS}
            row.update(cpr=cpr, institution="751001", job=f"Job {n}", job_tid=AT, **extra)
            writer.writerow(row)
    return path


class Answering:
    """The service, by CPR number: 14 for UNKNOWN, else accepted; every request recorded."""

    def __init__(self) -> None:
        self.stids: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.stids.append(stid_of(request))
        found = _CPR.search(request.content)
        return report_reply(request, 14 if found and found.group(1) == UNKNOWN.encode() else None)


def kinds(events: list[Event]) -> list[str]:
    return [type(event).__name__ for event in events]


def test_a_run_yields_checked_started_an_answer_a_row_and_finished(tmp_path: Path) -> None:
    service = Answering()
    runner = BatchRunner(
        write_csv(tmp_path, [ACCEPTED, UNKNOWN, ACCEPTED]), tmp_path / "results.csv",
        concurrency=2,
    )  # fmt: skip
    with client(service) as sdk:
        events = list(runner.run(sdk))
    assert kinds(events) == ["Checked", "Started", "Answered", "Answered", "Answered", "Finished"]
    assert events[0] == Checked(rows=3, bad=0, to_send=3)
    assert events[1] == Started(to_send=3)
    answered = [event for event in events if isinstance(event, Answered)]
    assert [(a.row.line, a.row.cpr, a.row.outcome, a.row.code) for a in answered] == [
        (2, "150308-****", "accepted", ""),
        (3, "200210-****", "rejected", "14"),
        (4, "150308-****", "accepted", ""),
    ]
    assert [a.row.system_transaction_id for a in answered] == [
        a.item.system_transaction_id for a in answered
    ]
    assert sorted(a.row.system_transaction_id for a in answered) == sorted(service.stids)
    finished = events[-1]
    assert isinstance(finished, Finished)
    summary = finished.summary
    assert (summary.rows, summary.accepted, summary.rejected, summary.errors) == (3, 2, 1, 0)
    assert (summary.missing, summary.unanswered, summary.sent) == (0, 0, 3)
    assert summary.counts[("accepted", "")] == (2, "")
    assert summary.counts[("rejected", "14")][0] == 1
    assert not summary.stopped and not summary.interrupted
    assert summary.results == tmp_path / "results.csv"
    assert not runner.results.journal_path.exists()


def test_bad_rows_are_yielded_and_nothing_is_sent(tmp_path: Path) -> None:
    service = Answering()
    path = write_csv(tmp_path, [ACCEPTED, "150308-4232", ACCEPTED])
    runner = BatchRunner(path, tmp_path / "results.csv")
    with client(service) as sdk:
        events = list(runner.run(sdk))
    assert kinds(events) == ["RowProblem", "Checked"]
    problem = events[0]
    assert isinstance(problem, RowProblem)
    assert (problem.line, problem.column) == (3, "cpr")
    assert events[1] == Checked(rows=3, bad=1, to_send=2)
    assert service.stids == []
    assert not (tmp_path / "results.csv").exists()
    with pytest.raises(RuntimeError, match="bad rows"):
        next(runner.send(client(service)))


def test_every_transaction_id_is_journalled_before_its_report_is_sent(tmp_path: Path) -> None:
    results = tmp_path / "results.csv"
    journal = tmp_path / "results.csv.journal"
    seen: list[bool] = []

    def service(request: httpx.Request) -> httpx.Response:
        seen.append(f",{stid_of(request)}\n" in journal.read_text(encoding="utf-8"))
        return report_reply(request)

    runner = BatchRunner(write_csv(tmp_path, [ACCEPTED] * 10), results, concurrency=3)
    with client(service) as sdk:
        list(runner.run(sdk))
    assert seen == [True] * 10
    assert not journal.exists()  # removed: every report handed out was answered


def test_a_stop_request_takes_no_new_rows_and_resume_sends_the_rest(tmp_path: Path) -> None:
    service = Answering()
    path = write_csv(tmp_path, [ACCEPTED] * 40)
    out = tmp_path / "results.csv"
    runner = BatchRunner(path, out, concurrency=2)
    events: list[Event] = []
    with client(service) as sdk:
        for event in runner.run(sdk):
            events.append(event)
            if isinstance(event, Answered):
                runner.request_stop()
    assert runner.stop_requested
    stopping = [event for event in events if isinstance(event, Stopping)]
    assert len(stopping) == 1
    assert kinds(events).index("Stopping") == 3  # right after the first answer
    answered = [event for event in events if isinstance(event, Answered)]
    assert 1 <= len(answered) < 40
    assert len(answered) == 1 + stopping[0].under_way  # the reports under way were answered
    assert len(service.stids) == len(answered)  # nothing taken after the stop
    finished = events[-1]
    assert isinstance(finished, Finished)
    assert finished.summary.stopped and not finished.summary.interrupted
    assert finished.summary.missing == 40 - len(answered)
    assert not runner.results.journal_path.exists()

    again = BatchRunner(path, out, resume=True, concurrency=4)
    with client(service) as sdk:
        rest = list(again.run(sdk))
    assert rest[0] == Checked(rows=40, bad=0, to_send=40 - len(answered))
    done = rest[-1]
    assert isinstance(done, Finished)
    assert done.summary.accepted == 40 and done.summary.unanswered == 0
    assert len(service.stids) == len(set(service.stids)) == 40  # no row sent twice


def test_an_interrupt_stops_at_once_and_the_journal_keeps_the_ids(tmp_path: Path) -> None:
    service = Answering()
    path = write_csv(tmp_path, [ACCEPTED] * 30)
    out = tmp_path / "results.csv"
    runner = BatchRunner(path, out, concurrency=2)
    with client(service) as sdk:
        events = runner.run(sdk)
        event = next(events)
        while not isinstance(event, Answered):
            event = next(events)
        finished = events.throw(KeyboardInterrupt())  # e.g. a second Ctrl-C while drawing
    assert isinstance(finished, Finished)
    assert finished.summary.interrupted and finished.summary.unanswered > 0
    journal = runner.results.journal_path.read_text(encoding="utf-8").splitlines()[1:]
    journalled = {line.split(",")[1] for line in journal}
    sent_first = list(service.stids)
    assert set(sent_first) <= journalled  # every id sent was journalled first
    written = {row.system_transaction_id for row in runner.results.rows()}
    under_way = set(sent_first) - written  # sent, but their answers were not written

    again = BatchRunner(path, out, resume=True)
    with client(service) as sdk:
        done = list(again.run(sdk))[-1]
    assert isinstance(done, Finished) and done.summary.accepted == 30
    resent = service.stids[len(sent_first) :]
    assert under_way <= set(resent)  # sent again under their own ids
    assert not written & set(resent)
    assert len(resent) == 30 - len(written)
    assert not again.results.journal_path.exists()


def test_the_runner_refuses_to_pollute_or_guess(tmp_path: Path) -> None:
    path = write_csv(tmp_path, [ACCEPTED])
    out = tmp_path / "results.csv"
    out.write_text("line\n", encoding="utf-8")
    with pytest.raises(ResultsError, match="already exists"):
        list(BatchRunner(path, out).check())
    with pytest.raises(ValueError, match="csv"):
        BatchRunner(tmp_path / "reports.xlsx", out)
    with pytest.raises(ValueError, match="concurrency"):
        BatchRunner(path, out, concurrency=0)
    with pytest.raises(RuntimeError, match="check"):
        next(BatchRunner(path, tmp_path / "other.csv").send(client(Answering())))
