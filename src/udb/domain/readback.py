"""Values of the read-back service (HentKontaktJobOgUddOensker v1), without any XML.

The SOAP layer turns a request into a :class:`Read`; the use case
(:func:`udb.service.readback.read`) answers with a :class:`ReadAnswer`: one
:class:`PersonAnswer` per person, each either an error code (14, 86, 15) and no
data, or the current blocks UDB holds with their source.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from udb.domain.model import Block, ErrorCode, Signature

#: at most this many CPR numbers in one read (the schema's maxOccurs)
MAX_CPRS = 100


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """The business request (HentKontaktJobOgUddOenskerRequest).

    Either ``cprs`` (1 to 100, in the order asked, repeats kept) or ``since``
    (AendretSiden, an aware instant) with the ``token`` of the previous page.
    """

    modtager_system_id: str
    institution_number: int
    cprs: tuple[str, ...] = ()
    since: datetime | None = None
    token: str | None = None


@dataclass(frozen=True, slots=True)
class Read:
    """One read with the wrapper's facts and what WS-Security established."""

    system_name: str
    system_transaction_id: str
    request: ReadRequest
    received_at: datetime
    correlation_id: str
    #: None: an unsigned request (insecure development mode only)
    signature: Signature | None


@dataclass(frozen=True, slots=True)
class HeldBlock:
    """A current block as UDB holds it: who reported it (system name) and when UDB received it."""

    block: Block
    received_at: datetime
    system_name: str


@dataclass(frozen=True, slots=True)
class PersonAnswer:
    """One Person of the answer: an error and no data, or the current blocks (maybe none)."""

    cpr: str
    error: ErrorCode | None = None
    blocks: tuple[HeldBlock, ...] = ()


@dataclass(frozen=True, slots=True)
class ReadAnswer:
    """HentSvar: the persons; for a changes listing its upper bound and the next page's token."""

    persons: tuple[PersonAnswer, ...]
    #: AendretTil: the listing is complete up to this moment (changes listings only)
    until: datetime | None = None
    #: NaesteSide: the token of the next page, while more remain
    next_token: str | None = None
