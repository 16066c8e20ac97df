"""The paging token of a changes listing (SideToken / NaesteSide): opaque and tamper-evident.

A listing is the persons whose latest receipt lies in ``(since, until]``, in the order
(latest receipt, CPR number). A token says where the next page starts::

    base64url( version | institution | since | until | last received | last CPR | HMAC )

``version`` one byte (1); the institution number and the three instants (microseconds
since 1970 UTC) signed 64-bit big-endian; the last CPR number 10 ASCII digits; then the
first 16 bytes of HMAC-SHA256 over everything before it, with a key kept in the database
(every instance of a shared database accepts every other's tokens). 79 characters.

>>> from datetime import UTC, datetime
>>> at = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
>>> cursor = ListingPosition(751001, at, at, at, "1503084232")
>>> token = seal(cursor, b"k" * 32)
>>> len(token), unseal(token, b"k" * 32) == cursor
(79, True)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

VERSION = 1
#: a token is accepted for this long after its listing's upper bound (AendretTil)
LIFETIME = timedelta(hours=24)
_FIELDS = struct.Struct(">Bqqqq10s")
_MAC_BYTES = 16
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class BadToken(ValueError):
    """The token cannot be used; the message says why, for the caller (no personal data)."""


@dataclass(frozen=True, slots=True)
class ListingPosition:
    """Where a listing stands: its institution and bounds, and the last person answered."""

    institution_number: int
    #: AendretSiden of the listing
    since: datetime
    #: AendretTil: fixed when the first page was made
    until: datetime
    #: the last person answered: its latest receipt and CPR number
    last_received: datetime
    last_cpr: str


def _micros(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(microseconds=1)


def _instant(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _mac(payload: bytes, key: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()[:_MAC_BYTES]


def seal(cursor: ListingPosition, key: bytes) -> str:
    """The token for ``cursor`` (base64url without padding)."""
    payload = _FIELDS.pack(
        VERSION,
        cursor.institution_number,
        _micros(cursor.since),
        _micros(cursor.until),
        _micros(cursor.last_received),
        cursor.last_cpr.encode("ascii"),
    )
    return base64.urlsafe_b64encode(payload + _mac(payload, key)).decode("ascii").rstrip("=")


def unseal(token: str, key: bytes) -> ListingPosition:
    """The cursor in ``token`` (:class:`BadToken` unless UDB made it with ``key``, unchanged)."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise BadToken("the SideToken is not a token UDB issued") from None
    if len(raw) != _FIELDS.size + _MAC_BYTES:
        raise BadToken("the SideToken is not a token UDB issued")
    payload, mac = raw[: _FIELDS.size], raw[_FIELDS.size :]
    if not hmac.compare_digest(mac, _mac(payload, key)):
        raise BadToken("the SideToken was changed or was not issued by this UDB")
    version, institution, since, until, last, cpr = _FIELDS.unpack(payload)
    if version != VERSION:  # pragma: no cover - one version so far
        raise BadToken("the SideToken is of an older version: start the listing again")
    try:
        return ListingPosition(
            institution, _instant(since), _instant(until), _instant(last), cpr.decode("ascii")
        )
    except (OverflowError, UnicodeDecodeError):  # pragma: no cover - sealed by UDB itself
        raise BadToken("the SideToken is not a token UDB issued") from None


def check(
    cursor: ListingPosition, *, institution_number: int, since: datetime, now: datetime
) -> None:
    """:class:`BadToken` unless ``cursor`` continues this listing and is still accepted."""
    if cursor.institution_number != institution_number:
        raise BadToken("the SideToken belongs to a listing of another KommuneInstitutionNummer")
    if cursor.since != since:
        raise BadToken("the SideToken belongs to a listing of another AendretSiden")
    if now - cursor.until > LIFETIME:
        raise BadToken(
            "the SideToken has expired (its listing began more than 24 hours ago): "
            "start the listing again without SideToken"
        )
