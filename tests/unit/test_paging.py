"""The paging token of a changes listing (udb.domain.paging): opaque, tamper-evident, bound."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from udb.domain import paging
from udb.domain.paging import BadToken, ListingPosition, check, seal, unseal

KEY = b"k" * 32
AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
CURSOR = ListingPosition(
    751001, AT - timedelta(days=7), AT, AT - timedelta(minutes=5), "1503084232"
)


def test_a_token_round_trips_and_fits_the_schema() -> None:
    token = seal(CURSOR, KEY)
    assert unseal(token, KEY) == CURSOR
    assert len(token) <= 200
    assert all(c.isalnum() or c in "-_" for c in token)


def test_instants_keep_their_microseconds_and_old_dates() -> None:
    first = datetime(1, 1, 1, tzinfo=UTC)
    cursor = ListingPosition(1, first, AT.replace(microsecond=123456), AT, "0101014230")
    assert unseal(seal(cursor, KEY), KEY) == cursor


@pytest.mark.parametrize("position", [0, 5, 20, 40, 60, 78])
def test_any_changed_character_is_refused(position: int) -> None:
    token = seal(CURSOR, KEY)
    changed = token[:position] + ("A" if token[position] != "A" else "B") + token[position + 1 :]
    with pytest.raises(BadToken, match=r"changed|not a token"):
        unseal(changed, KEY)


def test_a_forged_cursor_without_the_key_is_refused() -> None:
    raw = bytearray(base64.urlsafe_b64decode(seal(CURSOR, KEY) + "="))
    raw[-20] ^= 1  # the last CPR digit: another person, same MAC
    with pytest.raises(BadToken, match="changed"):
        unseal(base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("="), KEY)


def test_a_token_of_another_database_is_refused() -> None:
    with pytest.raises(BadToken, match="not issued by this UDB"):
        unseal(seal(CURSOR, b"other key"), KEY)


@pytest.mark.parametrize("token", ["abc", "", "-" * 79, "A" * 200])
def test_garbage_is_refused(token: str) -> None:
    with pytest.raises(BadToken, match=r"not a token UDB issued|changed"):
        unseal(token, KEY)


def test_a_token_continues_only_its_own_listing() -> None:
    check(CURSOR, institution_number=751001, since=CURSOR.since, now=AT)
    with pytest.raises(BadToken, match="another KommuneInstitutionNummer"):
        check(CURSOR, institution_number=101001, since=CURSOR.since, now=AT)
    with pytest.raises(BadToken, match="another AendretSiden"):
        check(CURSOR, institution_number=751001, since=CURSOR.since + timedelta(seconds=1), now=AT)


def test_a_token_expires_a_day_after_its_listing_began() -> None:
    check(CURSOR, institution_number=751001, since=CURSOR.since, now=AT + paging.LIFETIME)
    with pytest.raises(BadToken, match="expired"):
        check(
            CURSOR,
            institution_number=751001,
            since=CURSOR.since,
            now=AT + paging.LIFETIME + timedelta(microseconds=1),
        )
