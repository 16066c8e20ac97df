"""The client's exceptions (the tree is drawn in :mod:`udb.client`).

Every message is written for the caller and never carries personal data: a
:class:`ReportError` names the field and the rule, never the value, and a
:class:`FaultError` repeats only what the service put in its fault, which by
contract (ipl-conventions.md, "Faults") never echoes a submitted value.
"""

from __future__ import annotations

from typing import Any

from udb.contract import faults as _faults

__all__ = [
    "AccessDeniedFault",
    "BodyTooLargeFault",
    "ConnectError",
    "FaultError",
    "NetworkError",
    "ReportError",
    "SchemaFault",
    "SecurityFault",
    "SenderFault",
    "ServerFault",
    "TLSHandshakeError",
    "TimeoutException",
    "TransactionIdReusedFault",
    "TransportError",
    "UdbError",
    "UnexpectedResponse",
    "fault_class",
    "settle_stored",
]


class UdbError(Exception):
    """Base of every error the client raises.

    ``system_transaction_id`` is the transaction the error belongs to (``None``
    before one was chosen) and ``attempts`` how many requests were sent for it
    (0 when the error was found before sending). :attr:`retryable` says whether
    sending the same report again, unchanged and with the same transaction id,
    may succeed; the client has already done so as often as its
    :class:`~udb.client.RetryPolicy` allows. :attr:`may_be_stored` says
    whether the service may have stored the report all the same.
    """

    #: the class's answer to :attr:`may_be_stored`; an instance may know better
    _may_be_stored = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.system_transaction_id: str | None = None
        self.attempts = 0

    @property
    def retryable(self) -> bool:
        """Whether sending the same report again with the same transaction id may succeed."""
        return False

    @property
    def may_be_stored(self) -> bool:
        """Whether the service may have stored the report, over every attempt made for it.

        ``False``: it was not stored (nothing was sent, the service refused it,
        or the connection failed before the request was sent); ``True``: it is
        unknown (a request was sent and no usable answer came, e.g. a timeout
        while waiting, a broken connection, HTTP 5xx or IPL000001). Either way
        resending the same report unchanged under the same transaction id is
        safe: the service stores a transaction at most once and answers a
        repeat with its first answer.
        """
        return self._may_be_stored

    def __reduce__(self) -> tuple[Any, ...]:
        # Picklable (e.g. from a process pool) although __init__ takes other arguments.
        return _restore, (type(self), self.args, dict(self.__dict__))


def _restore(cls: type[UdbError], args: tuple[object, ...], state: dict[str, Any]) -> UdbError:
    error = cls.__new__(cls, *args)
    error.args = args
    error.__dict__.update(state)
    return error


class ReportError(UdbError, ValueError):
    """The report (or an argument) breaks the contract; raised before anything is sent.

    ``field`` names the offending field (``Contact.name``), ``element`` the
    contract's element (``KontaktNavn``) where there is one, ``reason`` the rule::

        ReportError: Contact.name (KontaktNavn): is longer than the maximum length 100
    """

    def __init__(self, field: str, reason: str, *, element: str | None = None) -> None:
        where = f"{field} ({element})" if element else field
        super().__init__(f"{where}: {reason}")
        self.field = field
        self.element = element
        self.reason = reason


class TransportError(UdbError):
    """No answer arrived. :attr:`may_be_stored` tells whether the request got as far as the
    service; resend it unchanged with the same transaction id (the service answers a repeat
    as the original)."""

    def __init__(self, message: str, *, may_be_stored: bool = True) -> None:
        super().__init__(message)
        self._may_be_stored = may_be_stored

    @property
    def retryable(self) -> bool:
        return True


class ConnectError(TransportError):
    """The connection could not be made (refused, unknown host, unreachable, proxy):
    nothing was sent, so nothing was stored."""

    def __init__(self, message: str, *, may_be_stored: bool = False) -> None:
        super().__init__(message, may_be_stored=may_be_stored)


class TLSHandshakeError(ConnectError):
    """The TLS handshake failed: nothing reached the service, so nothing was stored.

    Not retried: a handshake refused for a setting is refused again. ``problem``
    says what to fix, ``ssl_reason`` is OpenSSL's reason
    (``TLSV13_ALERT_CERTIFICATE_REQUIRED``, ``CERTIFICATE_VERIFY_FAILED``, ...):

    ============================  ==============================================================
    problem                       what to fix
    ============================  ==============================================================
    ``client-cert-missing``       the server asks for a TLS client certificate: ``client_cert``
    ``client-cert-refused``       the server refused the client certificate: ``client_cert``
                                  (the one registered for mutual TLS, from a CA it trusts)
    ``server-cert-untrusted``     the server's certificate is not issued by a trusted CA: ``ca``
    ``hostname-mismatch``         the URL's host is not a name in the server's certificate
    ``cert-expired``              a certificate has expired or is not valid yet: the clock, or
                                  the server's certificate (its operator renews it)
    ``not-tls``                   no TLS at that address (an ``https://`` URL for plain HTTP)
    ``other``                     any other failure (``ssl_reason`` tells)
    ============================  ==============================================================
    """

    def __init__(self, message: str, *, problem: str, ssl_reason: str | None) -> None:
        super().__init__(message)
        self.problem = problem
        self.ssl_reason = ssl_reason

    @property
    def retryable(self) -> bool:
        return False


class TimeoutException(TransportError):
    """Connecting, sending or waiting for the answer took longer than ``timeout``.

    A timeout while connecting sent nothing (:attr:`may_be_stored` is false); one
    while sending or waiting for the answer may have left the report stored.
    """


class NetworkError(TransportError):
    """The connection broke while sending or receiving, or the HTTP exchange failed:
    the report may have been stored."""


class UnexpectedResponse(UdbError):
    """An answer that is not one of this service's: an HTTP error page from a proxy,
    a body that is not a SOAP envelope, or a response for another transaction.

    Retryable when the HTTP status is 5xx (a proxy or load balancer in trouble). The
    report may have been stored: whatever answered may have passed the request on.
    """

    _may_be_stored = True

    def __init__(
        self, message: str, *, http_status: int, correlation_id: str | None = None
    ) -> None:
        super().__init__(f"{message} (HTTP {http_status})")
        self.http_status = http_status
        self.correlation_id = correlation_id

    @property
    def retryable(self) -> bool:
        return self.http_status >= 500


class FaultError(UdbError):
    """The service answered with a SOAP fault (``ServiceFaultDetailer``).

    ``error_code`` is the IPL code (``IPL000002``), ``reason`` the SOAP Reason
    (``Input error``), ``error_message`` the fixed text of the code,
    ``details`` what exactly was wrong (for IPL000002 every schema violation
    with line and column), ``correlation_id`` the exchange to quote to support,
    ``http_status`` the HTTP status of the answer.
    """

    def __init__(
        self,
        *,
        error_code: str | None,
        reason: str,
        error_message: str | None,
        details: str | None,
        correlation_id: str | None,
        http_status: int,
    ) -> None:
        what = details or error_message or reason or "SOAP fault"
        code = error_code or "fault"
        super().__init__(f"{code} {reason}: {what} (correlation id {correlation_id or '-'})")
        self.error_code = error_code
        self.reason = reason
        self.error_message = error_message
        self.details = details
        self.correlation_id = correlation_id
        self.http_status = http_status


class SenderFault(FaultError):
    """A ``Sender`` fault: the request is at fault and was not stored. Never retried: fix it
    first."""


class SchemaFault(SenderFault):
    """IPL000002: not well-formed, or not valid against the schema (``details`` lists where)."""


class SecurityFault(SenderFault):
    """IPL000003: WS-Security header missing or invalid, certificate untrusted, replay."""


class AccessDeniedFault(SenderFault):
    """IPL000004: the certificate is not registered, or ``system_name`` is not its system."""


class TransactionIdReusedFault(SenderFault):
    """IPL000005: the transaction id was already used by this system for another report."""


class BodyTooLargeFault(SenderFault):
    """IPL000006: the request body is larger than the service accepts."""


class ServerFault(FaultError):
    """A ``Receiver`` fault (IPL000001): the service failed. Retried; the report may have
    been stored (the failure may have come after it was)."""

    _may_be_stored = True

    @property
    def retryable(self) -> bool:
        return True


_BY_CODE: dict[str, type[FaultError]] = {
    _faults.INTERNAL.error_code: ServerFault,
    _faults.SCHEMA.error_code: SchemaFault,
    _faults.SECURITY.error_code: SecurityFault,
    _faults.ACCESS_DENIED.error_code: AccessDeniedFault,
    _faults.TRANSACTION_REUSED.error_code: TransactionIdReusedFault,
    _faults.TOO_LARGE.error_code: BodyTooLargeFault,
}


def fault_class(error_code: str | None, soap_code: str) -> type[FaultError]:
    """The exception for a fault: by IPL ``ErrorCode``, else by the SOAP code.

    ``soap_code`` is the local part of ``Code/Value`` (SOAP 1.2: ``Sender`` /
    ``Receiver``) or of ``faultcode`` (SOAP 1.1: ``Client`` / ``Server``).
    """
    known = _BY_CODE.get(error_code or "")
    if known is not None:
        return known
    return SenderFault if soap_code in ("Sender", "Client") else ServerFault


def settle_stored(error: UdbError, earlier: bool) -> UdbError:
    """``error`` as the outcome of all attempts: it may be stored if ``earlier`` ones may have."""
    if earlier:
        error._may_be_stored = True
    return error
