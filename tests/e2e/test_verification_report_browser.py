"""The verification report's HTML page in a real browser (headless Chromium), read as a
vendor would read it; a screenshot is kept in ``tests/artifacts/`` (ignored by git)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.e2e.test_dashboard_browser import ARTIFACTS, CHROMIUM, FLAGS
from udb.cli.testenv_report import render
from udb.service.verification import (
    FAILED,
    NOT_TRIED,
    PASSED,
    Check,
    Evidence,
    VerificationReport,
)

playwright = pytest.importorskip("playwright.sync_api")

AT = datetime(2026, 12, 7, 10, 15, 2, tzinfo=UTC)
REPORT = VerificationReport(
    "Vejledningssystem-Eksempel",
    101999,
    AT,
    14,
    (
        Check("signed", PASSED, "the last 10 requests were signed with the enrolled certificate"),
        Check("clock", PASSED, "14 Timestamps, each within 0.4 s of receipt"),
        Check(
            "retry-101",
            FAILED,
            "1 of 1 answers 101 were not retried correctly",
            (
                Evidence(
                    AT,
                    "5b0b7f7e-3c55-4f0e-9d0e-0a8f5f3f1c11",
                    "sent again with a new SystemTransactionID after a 101",
                ),
            ),
            "after 101, send the same report again, unchanged, with the same "
            "SystemTransactionID (signed anew), after a pause",
        ),
        Check("correct-280", NOT_TRIED, "no report answered 280 yet"),
    ),
)


def test_the_html_report_reads_as_a_page(tmp_path: Path) -> None:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: make test installs Debian's chromium")
    page_file = tmp_path / "report.html"
    page_file.write_text(render(REPORT, "html"), encoding="utf-8")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1100, "height": 700})
        page.goto(page_file.as_uri())
        assert page.title() == "Verification report: Vejledningssystem-Eksempel"
        assert page.inner_text("[data-verdict]") == "not ready"
        verdict_colour = page.eval_on_selector(
            "[data-verdict]", "e => getComputedStyle(e).backgroundColor"
        )
        assert verdict_colour == "rgb(198, 40, 40)"  # red: not ready
        rows = {
            page.inner_text(f'[data-check="{c.id}"] td:first-child'): page.inner_text(
                f'[data-check="{c.id}"] .status'
            )
            for c in REPORT.checks
        }
        assert rows == {"signed": "passed", "clock": "passed", "retry-101": "failed",
                        "correct-280": "not tried"}  # fmt: skip
        failed = page.inner_text('[data-check="retry-101"]')
        assert "What to change: after 101, send the same report again" in failed
        assert "5b0b7f7e-3c55-4f0e-9d0e-0a8f5f3f1c11" in failed
        header = page.inner_text("header")
        assert "2 passed, 1 failed, 1 not tried" in header and "test KUI 101999" in header
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "verification-report.png"), full_page=True)
        browser.close()
