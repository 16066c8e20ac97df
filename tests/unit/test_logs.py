"""Personal data stays out of the logs."""

from __future__ import annotations

import logging

import pytest

from udb.logs import RedactCpr, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cpr 1503084232 unknown", "cpr 150308-**** unknown"),
        ("150308-4232", "150308-****"),
        ("(1503084232)", "(150308-****)"),
        ("12345678901", "12345678901"),  # eleven digits: not a CPR number
        ("id 0d3f8c52-9a0e-4a57-8f55-6b1b6c1d2e77", "id 0d3f8c52-9a0e-4a57-8f55-6b1b6c1d2e77"),
        ("tel 4520304050", "tel 452030-****"),  # phone numbers of ten digits are masked too
        # UUIDs whose groups hold CPR-like digit runs stay intact
        ("id ee498317-1234-45ec-8f55-150308423200", "id ee498317-1234-45ec-8f55-150308423200"),
        ("id 12345678-1503-4842-a320-6b1b6c1d2e77", "id 12345678-1503-4842-a320-6b1b6c1d2e77"),
        ("id 0d3f8c52-9a0e-4a57-8f55-a1503084232b", "id 0d3f8c52-9a0e-4a57-8f55-a1503084232b"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_no_uuid4_is_changed() -> None:
    import uuid

    for _ in range(20_000):
        value = str(uuid.uuid4())
        assert redact(value) == value


def test_the_filter_masks_arguments_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("udb.test.redact")
    logger.addFilter(RedactCpr())
    try:
        with caplog.at_level(logging.INFO, logger="udb.test.redact"):
            try:
                raise KeyError("0101014230")
            except KeyError:
                logger.exception("no person %s", "1503084232")
    finally:
        logger.filters.clear()
    text = caplog.text
    assert "1503084232" not in text and "0101014230" not in text
    assert "150308-****" in text and "010101-****" in text
