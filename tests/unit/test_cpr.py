"""CPR numbers: form, birth date (century table), no modulus-11, masking."""

from __future__ import annotations

from datetime import date

import pytest

from udb.domain.cpr import birth_date, is_cpr_form, mask


@pytest.mark.parametrize("value", ["1503081234", "0000000000", "9999999999"])
def test_ten_ascii_digits_have_the_form(value: str) -> None:
    assert is_cpr_form(value)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("", id="empty"),
        pytest.param("150308123", id="9-digits"),
        pytest.param("15030812345", id="11-digits"),
        pytest.param("١٥٠٣٠٨١٢٣٤", id="arabic-indic-digits"),
        pytest.param("150308123١", id="one-arabic-indic-digit"),
        pytest.param("１５０３０８１２３４", id="fullwidth-digits"),
        pytest.param("150308123²", id="superscript-two"),
        pytest.param("150308123 ", id="trailing-space"),
        pytest.param(" 150308123", id="leading-space"),
        pytest.param("15030 1234", id="inner-space"),
        pytest.param("150308-1234", id="hyphen-11-chars"),
        pytest.param("15030-1234", id="hyphen-10-chars"),
        pytest.param("15030812a4", id="letter"),
    ],
)
def test_anything_else_lacks_the_form(value: str) -> None:
    assert not is_cpr_form(value)


# The century table of the CPR office, written out independently of the code:
# digit 7 -> century for YY 00-36, 37-57, 58-99.
CENTURIES = {
    **dict.fromkeys("0123", (1900, 1900, 1900)),
    **dict.fromkeys("49", (2000, 1900, 1900)),
    **dict.fromkeys("5678", (2000, 2000, 1800)),
}


def _band(yy: int) -> int:
    return 0 if yy <= 36 else 1 if yy <= 57 else 2


@pytest.mark.parametrize("digit", list("0123456789"))
@pytest.mark.parametrize("yy", [0, 1, 36, 37, 45, 57, 58, 99])
def test_birth_date_century_table(digit: str, yy: int) -> None:
    number = f"1506{yy:02d}{digit}123"
    expected = date(CENTURIES[digit][_band(yy)] + yy, 6, 15)
    assert birth_date(number) == expected


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("1506364123", date(2036, 6, 15)),
        ("1506374123", date(1937, 6, 15)),
        ("1506575123", date(2057, 6, 15)),
        ("1506585123", date(1858, 6, 15)),
        ("1506009123", date(2000, 6, 15)),
        ("1506999123", date(1999, 6, 15)),
        ("1506998123", date(1899, 6, 15)),
    ],
)
def test_birth_date_examples(number: str, expected: date) -> None:
    assert birth_date(number) == expected


@pytest.mark.parametrize(
    "number",
    [
        pytest.param("3102081234", id="31-february"),
        pytest.param("3104081234", id="31-april"),
        pytest.param("2902011234", id="29-february-1901"),
        pytest.param("2902014234", id="29-february-2001"),
        pytest.param("2902001234", id="29-february-1900-not-leap"),
        pytest.param("0113081234", id="month-13"),
        pytest.param("0100081234", id="month-00"),
        pytest.param("0001081234", id="day-00"),
        pytest.param("3201081234", id="day-32"),
    ],
)
def test_no_calendar_date_gives_none(number: str) -> None:
    assert birth_date(number) is None


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("2902004234", date(2000, 2, 29)),
        ("2902961234", date(1996, 2, 29)),
        ("2902244234", date(2024, 2, 29)),
    ],
)
def test_29_february_in_a_leap_year(number: str, expected: date) -> None:
    assert birth_date(number) == expected


@pytest.mark.parametrize("value", ["150308123", "15030812345", "150308-1234", "١٥٠٣٠٨١٢٣٤"])
def test_birth_date_of_a_malformed_number_is_none(value: str) -> None:
    assert birth_date(value) is None


def _mod11(number: str) -> int:
    weights = (4, 3, 2, 7, 6, 5, 4, 3, 2, 1)
    return sum(w * int(d) for w, d in zip(weights, number, strict=True)) % 11


@pytest.mark.parametrize(
    ("number", "expected"),
    [("0101001234", date(1900, 1, 1)), ("1503084235", date(2008, 3, 15))],
)
def test_failing_modulus_11_is_still_accepted(number: str, expected: date) -> None:
    assert _mod11(number) != 0  # the old check would reject it
    assert is_cpr_form(number)
    assert birth_date(number) == expected


def test_mask_shows_only_the_first_six_digits() -> None:
    masked = mask("1503085678")
    assert masked == "150308-****"
    assert "5678" not in masked
