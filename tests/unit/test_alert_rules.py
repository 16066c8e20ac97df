"""The Prometheus alerting rules in deploy/ and the metrics docs/operations.md lists name
only metrics the service exposes, and every exposed metric is documented."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from tests.unit.test_metrics import AT, Imported, migrated
from udb.api.metrics import RequestMetrics, ServiceCollector

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy/prometheus/udb-alerts.yml"
OPERATIONS = ROOT / "docs/operations.md"
_METRIC = re.compile(r"\budb_[a-z_]+[a-z]\b")
_DURATION = re.compile(r"^\d+[smh]$")


@pytest.fixture(scope="module")
def exposed(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Every sample name /metrics shows (families and their _total, _bucket, ... samples)."""
    registry = CollectorRegistry()
    RequestMetrics(registry)
    registry.register(
        ServiceCollector(Imported(migrated(tmp_path_factory.mktemp("db"))), lambda: AT)
    )
    names = set()
    for family in registry.collect():
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
    return {name for name in names if not name.endswith("_created")}


def rules() -> list[dict[str, object]]:
    document = json.loads(RULES.read_text(encoding="utf-8"))  # YAML in its JSON form
    assert list(document) == ["groups"]
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_every_rule_is_complete() -> None:
    names = [rule["alert"] for rule in rules()]
    assert len(names) == len(set(names)) >= 8
    for rule in rules():
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert _DURATION.match(str(rule["for"])), rule["alert"]
        assert rule["labels"] == {"severity": "critical"} or rule["labels"] == {
            "severity": "warning"
        }
        annotations = rule["annotations"]
        assert isinstance(annotations, dict) and set(annotations) == {"summary", "description"}
        expr = str(rule["expr"])
        assert expr.count("(") == expr.count(")"), rule["alert"]


def test_the_rules_name_only_exposed_metrics(exposed: set[str]) -> None:
    used = {name for rule in rules() for name in _METRIC.findall(str(rule["expr"]))}
    assert used and used <= exposed, used - exposed
    assert {"udb_database_up", "udb_reports_total", "udb_faults_total"} <= used
    assert "udb_request_duration_seconds_bucket" in used
    assert "udb_cpr_import_age_seconds" in used


def test_the_rules_are_the_ones_documented() -> None:
    text = OPERATIONS.read_text(encoding="utf-8")
    for rule in rules():
        assert f"`{rule['alert']}`" in text, rule["alert"]


def test_every_exposed_metric_is_documented(exposed: set[str]) -> None:
    text = OPERATIONS.read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(udb_[a-z_]+)`", text, re.MULTILINE))
    families = {name for name in exposed if not re.search(r"_(bucket|count|sum)$", name)} - {
        "udb_reports",
        "udb_reports_repeated",
        "udb_faults",
        "udb_reads",
    }
    assert families == documented
