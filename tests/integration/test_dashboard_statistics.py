"""The dashboard's counts, on SQLite and PostgreSQL, from a known set of reports and requests."""

from __future__ import annotations

import json
from datetime import timedelta

from tests import dashboard_data
from tests.support import NOW
from udb.api.dashboard import FAULT_CODES, Instance, payload
from udb.service.dashboard import figures
from udb.storage import Store


def test_figures_count_each_window(store: Store) -> None:
    dashboard_data.load(store)
    shown = figures(store, NOW, FAULT_CODES)
    assert shown.database_up
    metrics = shown.metrics()
    assert {k: metrics[k] for k in dashboard_data.EXPECTED} == dashboard_data.EXPECTED
    assert metrics["faults-IPL000003-1h"] == 2
    assert metrics["faults-IPL000002-1h"] == 1
    assert metrics["faults-IPL000004-1h"] == 0
    assert metrics["faults-IPL000004-24h"] == 1
    assert metrics["faults-IPL000001-24h"] == 0  # two days old


def test_reports_per_minute(store: Store) -> None:
    dashboard_data.load(store)
    minutes = figures(store, NOW, FAULT_CODES).per_minute
    assert len(minutes) == 60
    assert minutes[-1].start == NOW and minutes[0].start == NOW - timedelta(minutes=59)
    by_start = {m.start: (m.reports, m.rejected) for m in minutes}
    assert by_start[NOW] == (3, 0)
    assert by_start[NOW - timedelta(minutes=1)] == (2, 0)
    assert by_start[NOW - timedelta(minutes=10)] == (2, 2)
    assert by_start[NOW - timedelta(minutes=59)] == (1, 1)
    assert sum(m.reports for m in minutes) == 13  # every report of the last hour
    assert sum(m.rejected for m in minutes) == 6


def test_municipalities_with_most_reports_and_rejections(store: Store) -> None:
    dashboard_data.load(store)
    shown = figures(store, NOW, FAULT_CODES)
    assert [(m.code, m.name, m.reports, m.rejected) for m in shown.most_reports] == [
        (751, "Aarhus", 14, 5),
        (101, "København", 3, 1),
        (None, None, 1, 1),
    ]
    assert [m.code for m in shown.most_rejections] == [751, 101, None]


def test_a_report_exactly_an_hour_old_counts_in_the_hour(store: Store) -> None:
    dashboard_data.log_reports(store, 751001, None, 1, NOW - timedelta(hours=1))
    dashboard_data.log_reports(store, 751001, None, 1, NOW - timedelta(hours=1, microseconds=1))
    metrics = figures(store, NOW, FAULT_CODES).metrics()
    assert metrics["accepted-1h"] == 1
    assert metrics["accepted-24h"] == 2


def test_the_json_holds_no_personal_data(store: Store) -> None:
    dashboard_data.load(store)
    text = json.dumps(payload(figures(store, NOW, FAULT_CODES), Instance("1.2.3", NOW)))
    assert "1503084232" not in text and "150308" not in text
    assert "Vejledningssystem" not in text


def test_an_empty_database_shows_zeros(store: Store) -> None:
    shown = figures(store, NOW, FAULT_CODES)
    assert set(shown.metrics().values()) == {0}
    assert shown.most_reports == [] and shown.most_rejections == []
