"""Answering Ping: is the service up, for a caller authenticated as for a report.

A signed Ping is served as a signed report is: its certificate must be pinned
to an enabled client system (IPL000004 otherwise) and its signature must not have been
received before (IPL000003: a replay); the replay key is remembered until the
message would expire. An unsigned Ping (insecure development mode only) is
answered without either check.

``down`` means the service cannot reach its database, or the database does
not hold the current schema. The database is asked first, with the short
timeout of :meth:`~udb.storage.base.Store.ping`, so Ping answers ``down``
quickly during an outage, signed or not: the signature has been verified
cryptographically by then, but pinning and replays cannot be checked without
the database, and neither can anything else the service does.
"""

from __future__ import annotations

import logging
from datetime import datetime

from udb.domain.model import Signature
from udb.service.errors import (
    NOT_PINNED,
    REPLAY_REFUSED,
    SYSTEM_DISABLED,
    AccessDenied,
    Replayed,
)
from udb.storage.base import StorageError, Store

log = logging.getLogger(__name__)


def ping(signature: Signature | None, store: Store, now: datetime) -> bool:
    """True (``up``) if the database answers and the caller may use the service.

    ``signature`` is what WS-Security established (None: unsigned). Raises
    :class:`~udb.service.errors.Replayed` for a signature received before and
    :class:`~udb.service.errors.AccessDenied` for a certificate that is not
    pinned to a client system at ``now``, or whose system is disabled.
    """
    if not store.ping():
        return False
    if signature is None:
        return True
    try:
        with store.unit_of_work() as uow:
            first_seen = uow.replay.remember(signature.replay_key, signature.keep_until, now)
            system = uow.systems.by_certificate(signature.certificate_fingerprint, now)
            if not first_seen:
                raise Replayed(REPLAY_REFUSED)
            if system is None:
                raise AccessDenied(NOT_PINNED)
            if system.disabled:
                raise AccessDenied(SYSTEM_DISABLED)
            uow.commit()
    except StorageError as exc:
        log.warning("storage failed while authenticating a Ping; answering down: %s", exc)
        return False
    return True
