"""The verification report as JSON, Markdown or one HTML page (``udb testenv report``)."""

from __future__ import annotations

import html
import json

from udb.service.verification import FAILED, PASSED, Check, VerificationReport

FORMATS = ("json", "md", "html")

_MARK = {PASSED: "passed", FAILED: "FAILED", "not tried": "not tried"}


def render(report: VerificationReport, form: str) -> str:
    if form == "json":
        return json.dumps(report.as_dict(), indent=2, ensure_ascii=False) + "\n"
    if form == "md":
        return _markdown(report)
    if form == "html":
        return _html(report)
    raise ValueError(f"unknown format {form!r}; one of {', '.join(FORMATS)}")


def _summary(report: VerificationReport) -> str:
    counts = {s: sum(1 for c in report.checks if c.status == s) for s in _MARK}
    return ", ".join(f"{n} {s}" for s, n in counts.items() if n)


def _markdown(report: VerificationReport) -> str:
    lines = [
        f"# Verification report: {report.system}",
        "",
        f"**Verdict: {report.verdict}** ({_summary(report)})",
        "",
        f"Test KUI {report.institution}; {report.requests} request(s) received; made "
        f"{report.made_at:%Y-%m-%d %H:%M:%S} UTC.",
        "",
        "| check | status | detail |",
        "|---|---|---|",
    ]
    lines += [f"| `{c.id}` | {_MARK[c.status]} | {_cell(c.detail)} |" for c in report.checks]
    for check in report.checks:
        if not check.evidence and not check.fix:
            continue
        lines += ["", f"## {check.id}: {_MARK[check.status]}", ""]
        if check.fix:
            lines += [f"What to change: {check.fix}", ""]
        lines += [
            f"* {e.at:%Y-%m-%d %H:%M:%S} UTC, CorrelationID `{e.correlation_id}`: {e.note}"
            for e in check.evidence
        ]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #1d2330; }
header { background: #1d2330; color: #fff; padding: 16px 24px; }
header h1 { margin: 0 0 4px; font-size: 20px; }
main { max-width: 980px; margin: 20px auto; padding: 0 16px; }
.verdict { display: inline-block; font-weight: 700; padding: 2px 10px; border-radius: 4px; }
.ready { background: #2e7d32; } .not-ready { background: #c62828; }
table { width: 100%; border-collapse: collapse; background: #fff; }
th, td { text-align: left; padding: 8px 10px; border-bottom: 1px solid #e3e6ea;
         vertical-align: top; }
.status { font-weight: 600; white-space: nowrap; }
.passed { color: #2e7d32; } .failed { color: #c62828; } .not-tried { color: #8a6d00; }
.fix { margin: 6px 0 0; color: #5a2a00; }
ul { margin: 6px 0 0; padding-left: 18px; font-size: 13px; color: #444; }
code { font-size: 12px; } td:first-child { white-space: nowrap; }
"""


def _html(report: VerificationReport) -> str:
    e = html.escape
    rows = "\n".join(_html_row(c) for c in report.checks)
    verdict_class = "ready" if report.verdict == "ready" else "not-ready"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Verification report: {e(report.system)}</title>
<style>{_STYLE}</style></head>
<body>
<header><h1>Verification report: {e(report.system)}</h1>
<span class="verdict {verdict_class}" data-verdict="{e(report.verdict)}">{e(report.verdict)}</span>
 {e(_summary(report))} · test KUI {report.institution} · {report.requests} request(s) ·
 made {report.made_at:%Y-%m-%d %H:%M:%S} UTC</header>
<main>
<table>
<thead><tr><th>Check</th><th>Status</th><th>What was seen</th></tr></thead>
<tbody>
{rows}
</tbody></table>
</main></body></html>
"""


def _html_row(check: Check) -> str:
    e = html.escape
    status_class = check.status.replace(" ", "-")
    fix = f'<p class="fix">What to change: {e(check.fix)}</p>' if check.fix else ""
    evidence = "".join(
        f"<li>{ev.at:%Y-%m-%d %H:%M:%S} UTC · <code>{e(ev.correlation_id)}</code> · "
        f"{e(ev.note)}</li>"
        for ev in check.evidence
    )
    listed = f"<ul>{evidence}</ul>" if evidence else ""
    return (
        f'<tr data-check="{e(check.id)}"><td><code>{e(check.id)}</code></td>'
        f'<td class="status {status_class}">{e(check.status)}</td>'
        f"<td>{e(check.detail)}{fix}{listed}</td></tr>"
    )
