"""The operator's dashboard: a WSGI application for the admin listener.

Two paths, read-only:

* ``GET /dashboard`` - one HTML page (its style, script and chart inline: it needs
  no network) that refreshes itself every few seconds from
* ``GET /dashboard.json`` - the same figures as JSON.

The figures come from the database (:func:`udb.service.dashboard.figures`), so
the page is the same whichever instance serves it; only the instance's own block
(version, uptime, latency) is of the instance that answered. Each figure is an
element with a ``data-metric`` attribute whose text is the number::

    <td data-metric="accepted-1h">1234</td>
    <td data-metric="rejected-14-24h">7</td>

so monitors and tests read them from the HTML, or from ``metrics`` in the JSON
(``{"metrics": {"accepted-1h": 1234, ...}, ...}``). Nothing personal is shown:
counts, reason codes and municipality names only.
"""

from __future__ import annotations

import html
import json
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from string import Template
from typing import Any
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from udb.contract.faults import BY_CODE
from udb.domain.clock import utc_now
from udb.domain.model import ErrorCode
from udb.service.dashboard import REJECTIONS, Figures, figures
from udb.storage import Store

#: the faults counted, IPL000001 ... IPL000006
FAULT_CODES = tuple(sorted(BY_CODE))

#: how often the page fetches the figures again, in seconds
REFRESH_SECONDS = 5

#: this instance's request latency (p50, p99) in milliseconds, or None while unknown
Latency = Callable[[], tuple[float, float] | None]


def _unknown_latency() -> tuple[float, float] | None:
    return None


@dataclass(frozen=True, slots=True)
class Instance:
    """The instance serving the page: its version, when it started, its latency."""

    version: str
    started_at: datetime
    latency: Latency = _unknown_latency


def payload(shown: Figures, instance: Instance) -> dict[str, Any]:
    """The figures and the instance as the JSON the page reads."""
    latency = instance.latency()
    return {
        "now": shown.now.isoformat(),
        "database": "up" if shown.database_up else "down",
        "test_environment": shown.test_environment,
        "instance": {
            "version": instance.version,
            "started_at": instance.started_at.isoformat(),
            "uptime_seconds": int((shown.now - instance.started_at).total_seconds()),
            "latency_ms": None
            if latency is None
            else {"p50": round(latency[0], 1), "p99": round(latency[1], 1)},
        },
        "metrics": shown.metrics(),
        "per_minute": [
            {"start": i.start.isoformat(), "reports": i.reports, "rejected": i.rejected}
            for i in shown.per_minute
        ],
        "most_reports": [_municipality(m) for m in shown.most_reports],
        "most_rejections": [_municipality(m) for m in shown.most_rejections],
    }


def _municipality(m: Any) -> dict[str, Any]:
    name = "unknown institution" if m.code is None else f"{m.name} ({m.code})"
    return {"code": m.code, "name": name, "reports": m.reports, "rejected": m.rejected}


def _rows(metrics: dict[str, int]) -> str:
    """The answer table's rows: accepted, each rejection, all faults, each fault."""
    rows = [("accepted", "Accepted", "")]
    rows += [(f"rejected-{code}", f"Rejected {code}", ErrorCode(code).text) for code in REJECTIONS]
    rows.append(("faults", "Faults", "all IPL codes"))
    rows += [(f"faults-{code}", code, "") for code in FAULT_CODES]
    out = []
    for name, label, note in rows:
        kind = "fault" if name.startswith("faults-") else name.split("-")[0]
        cells = "".join(
            f'<td data-metric="{name}-{w}">{metrics.get(f"{name}-{w}", "–")}</td>'
            for w in ("1h", "24h")
        )
        out.append(
            f'<tr class="{kind}"><th>{html.escape(label)}'
            f" <small>{html.escape(note)}</small></th>{cells}</tr>"
        )
    return "\n".join(out)


_TEST_ENVIRONMENT = (
    '<span class="testenv" data-metric="test-environment">'
    "TEST ENVIRONMENT: synthetic data, scenarios apply</span>"
)


def render(shown: Figures, instance: Instance, nonce: str) -> str:
    """The page, its figures filled in and the same figures as JSON for its script.

    ``nonce`` admits the page's own style and script (Content-Security-Policy).
    """
    data = payload(shown, instance)
    page = resources.files(__package__).joinpath("dashboard.html").read_text("utf-8")
    embedded = json.dumps(data).replace("<", "\\u003c").replace("&", "\\u0026")
    return Template(page).substitute(
        nonce=nonce,
        refresh_ms=REFRESH_SECONDS * 1000,
        rows=_rows(data["metrics"]),
        version=html.escape(instance.version),
        database=data["database"],
        test_environment=_TEST_ENVIRONMENT if shown.test_environment else "",
        data=embedded,
    )


def dashboard_app(
    store: Store, instance: Instance, *, clock: Callable[[], datetime] = utc_now
) -> WSGIApplication:
    """The WSGI application answering ``/dashboard`` and ``/dashboard.json``."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path not in ("/dashboard", "/dashboard.json"):
            return _answer(start_response, "404 Not Found", "text/plain", b"not found\n")
        if method not in ("GET", "HEAD"):
            return _answer(
                start_response,
                "405 Method Not Allowed",
                "text/plain",
                b"only GET\n",
                [("Allow", "GET, HEAD")],
            )
        shown = figures(store, clock(), FAULT_CODES)
        if path == "/dashboard.json":
            body = json.dumps(payload(shown, instance)).encode()
            result = _answer(start_response, "200 OK", "application/json", body)
        else:
            nonce = secrets.token_urlsafe(16)
            body = render(shown, instance, nonce).encode()
            policy = (
                f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}';"
                " connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'"
            )
            result = _answer(
                start_response,
                "200 OK",
                "text/html; charset=utf-8",
                body,
                [("Content-Security-Policy", policy)],
            )
        return [] if method == "HEAD" else result

    return app


def _answer(
    start_response: StartResponse,
    status: str,
    content_type: str,
    body: bytes,
    headers: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    start_response(
        status,
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
            *(headers or []),
        ],
    )
    return [body]
