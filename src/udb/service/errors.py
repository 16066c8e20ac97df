"""Errors a use case raises when a request cannot get a business answer.

Each maps to one IPL fault in the table of :mod:`udb.soap.faults`. Their
messages are written for the caller and never carry personal data.
"""

from __future__ import annotations

#: Details shared by the use cases that authenticate a signed request.
NOT_PINNED = "the signing certificate is not registered to a client system"
REPLAY_REFUSED = "the message was received before (same signature): replay refused"
SYSTEM_DISABLED = "the client system is disabled; its operator can enable it again"


class ServiceError(Exception):
    """A request the service refuses before (or instead of) a business answer."""

    def __init__(self, details: str) -> None:
        super().__init__(details)
        self.details = details


class AccessDenied(ServiceError):
    """IPL000004: the caller is not a registered system, or names another system."""


class TransactionIdReused(ServiceError):
    """IPL000005: (SystemName, SystemTransactionID) was used for a different report."""


class Replayed(ServiceError):
    """IPL000003: a signed message that was received before."""
