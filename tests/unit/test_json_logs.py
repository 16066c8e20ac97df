"""``--log-format json``: one JSON object per line with the request's fields, CPR numbers
masked in the message, the fields' values and the traceback; the text format unchanged."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from udb.config import ConfigError, Settings
from udb.logs import JsonLines, RedactCpr, logging_config
from udb.storage.records import RequestRecord

RECORD = RequestRecord(
    received_at=datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
    correlation_id="3f2b8c1e-0c8a-4c5e-9a51-1503084232ab",
    operation="Indberetning",
    outcome="rejected",
    code="14",
    details=None,
    http_status=200,
    soap_version="1.2",
    duration_ms=12.345,
    system_name="Vejledningssystem-Aarhus",
    institution_number=751001,
    masked_cpr="150308-****",
)


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """The ``udb`` logger's output through the handler ``logging_config`` builds."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonLines())
    handler.addFilter(RedactCpr())
    logger = logging.getLogger("udb.test.json")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield out
    logger.removeHandler(handler)


def lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_request_line_holds_the_record_fields(stream: io.StringIO) -> None:
    logging.getLogger("udb.test.json").info("Indberetning rejected 14", extra=RECORD.log_fields())
    [entry] = lines(stream)
    assert list(entry)[:5] == ["time", "level", "logger", "process", "message"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", str(entry["time"]))
    assert (entry["level"], entry["logger"], entry["message"]) == (
        "INFO",
        "udb.test.json",
        "Indberetning rejected 14",
    )
    assert isinstance(entry["process"], int)
    assert {k: entry[k] for k in RECORD.log_fields()} == RECORD.log_fields() | {"duration_ms": 12.3}


def test_cpr_numbers_are_masked_in_message_fields_and_traceback(stream: io.StringIO) -> None:
    logger = logging.getLogger("udb.test.json")
    try:
        raise ValueError("no person 1503084232")
    except ValueError:
        logger.exception("failed for 150308-4232", extra={"subject": "cpr 1503084232"})
    text = stream.getvalue()
    assert "4232" not in text.replace("150308-****", "")
    [entry] = lines(stream)
    assert entry["message"] == "failed for 150308-****"
    assert entry["subject"] == "cpr 150308-****"
    assert "ValueError: no person 150308-****" in str(entry["exc_info"])


def test_a_correlation_id_passes_unmasked(stream: io.StringIO) -> None:
    logging.getLogger("udb.test.json").info("done", extra=RECORD.log_fields())
    [entry] = lines(stream)
    assert entry["correlation_id"] == RECORD.correlation_id


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_every_logger_of_the_service_is_masked(
    log_format: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = logging_config("info", log_format)
    try:
        logging.config.dictConfig(config)
        for name in ("udb.api", "_granian", "granian.access", "psycopg", "some.library"):
            logging.getLogger(name).warning("seen %s", "1503084232")
        err = capsys.readouterr().err
    finally:
        logging.config.dictConfig({"version": 1, "disable_existing_loggers": False})
        for name in ("udb", "_granian", "granian.access", "psycopg"):
            logging.getLogger(name).handlers.clear()
            logging.getLogger(name).propagate = True
        logging.getLogger().handlers.clear()
    assert err.count("seen 150308-****") == 5
    assert "1503084232" not in err
    if log_format == "json":
        assert [json.loads(line)["message"] for line in err.splitlines()] == [
            "seen 150308-****"
        ] * 5
    else:
        assert re.match(r"^\S+ \S+ WARNING udb.api \[\d+\] seen 150308-\*{4}$", err.splitlines()[0])


def test_the_log_format_setting() -> None:
    assert Settings().log_format == "text"
    settings = Settings.from_env({"UDB_LOG_FORMAT": "JSON"})
    assert settings.log_format == "json"
    assert settings.to_env()["UDB_LOG_FORMAT"] == "json"
    with pytest.raises(ConfigError, match="log format must be one of: text, json"):
        Settings.from_env({"UDB_LOG_FORMAT": "xml"})
    with pytest.raises(ValueError, match="log format"):
        logging_config("info", "xml")
