"""What httpx (and beneath it ssl and the socket) reports, as the client's exceptions.

Each failure is told by what it means for the report: was it stored, and what
to fix. httpx raises its exception with the one beneath it as ``__cause__``
(``httpx.ConnectError`` from ``httpcore.ConnectError`` from ``ssl.SSLError``),
so the cause is read from that chain:

=========================================  ==========================  ==========
httpx raises (with its cause)              the client raises           may be
                                                                       stored
=========================================  ==========================  ==========
ConnectError: refused, unknown host, ...   ConnectError                no
ConnectError or ReadError from a TLS       TLSHandshakeError           no
handshake (``ssl.SSLError``)
ProxyError, UnsupportedProtocol            ConnectError                no
ConnectTimeout, PoolTimeout                TimeoutException            no
WriteTimeout, ReadTimeout                  TimeoutException            yes
LocalProtocolError                         NetworkError                no
ReadError, WriteError, RemoteProtocol-     NetworkError                yes
Error, any other
=========================================  ==========================  ==========

A TLS 1.3 server checks the client's certificate after the client has
finished its side of the handshake, so a missing or refused client certificate
arrives as an alert on the first read (``httpx.ReadError`` from
``TLSV13_ALERT_CERTIFICATE_REQUIRED``): the request was written into a
connection the server never accepted, and nothing reached the service.
"""

from __future__ import annotations

import errno
import re
import socket
import ssl
from collections.abc import Iterator

import httpx

from udb.client._exceptions import (
    ConnectError,
    NetworkError,
    TimeoutException,
    TLSHandshakeError,
    TransportError,
)

__all__ = ["transport_error"]

#: alerts a TLS server sends only in the handshake: it did not accept the connection
_CLIENT_CERT_REFUSED = {
    "SSLV3_ALERT_BAD_CERTIFICATE",
    "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
    "SSLV3_ALERT_CERTIFICATE_REVOKED",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED",
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
    "TLSV1_ALERT_UNKNOWN_CA",
    "TLSV1_ALERT_ACCESS_DENIED",
    "TLSV1_ALERT_DECRYPT_ERROR",
}
_CLIENT_CERT_MISSING = {"TLSV13_ALERT_CERTIFICATE_REQUIRED"}
_HANDSHAKE_ALERTS = (
    _CLIENT_CERT_REFUSED
    | _CLIENT_CERT_MISSING
    | {
        "SSLV3_ALERT_HANDSHAKE_FAILURE",
        "TLSV1_ALERT_PROTOCOL_VERSION",
        "TLSV1_ALERT_INSUFFICIENT_SECURITY",
        "TLSV1_ALERT_NO_APPLICATION_PROTOCOL",
        "TLSV1_UNRECOGNIZED_NAME",
    }
)
#: what a client sees when the other end does not speak TLS at all
_NOT_TLS = {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG",
            "UNKNOWN_PROTOCOL", "HTTP_REQUEST"}  # fmt: skip
#: X509_V_ERR_* codes of a server certificate that verifies but does not fit
_HOSTNAME_MISMATCH = 62
_EXPIRED = {9: "is not valid yet", 10: "has expired"}
_REASON = re.compile(r"\[SSL: ([A-Z0-9_]+)\]")


def transport_error(exc: httpx.RequestError, where: str, *, client_cert: bool) -> TransportError:
    """Our exception for httpx's ``exc``; ``where`` is the service's ``host:port``.

    ``client_cert`` says whether a TLS client certificate was configured. The
    message says what went wrong in words, never what was sent.
    """
    tls = _ssl_error(exc)
    handshake = isinstance(exc, httpx.ConnectError) or (
        tls is not None and _reason(tls) in _HANDSHAKE_ALERTS
    )
    if tls is not None and handshake:
        return _handshake(tls, where, client_cert=client_cert)
    if isinstance(exc, httpx.ConnectTimeout):
        return TimeoutException(f"timed out connecting to {where}", may_be_stored=False)
    if isinstance(exc, httpx.PoolTimeout):
        return TimeoutException(
            "timed out waiting for a free connection to the service", may_be_stored=False
        )
    if isinstance(exc, httpx.WriteTimeout):
        return TimeoutException(f"timed out sending the request to {where}")
    if isinstance(exc, httpx.TimeoutException):
        return TimeoutException(f"timed out waiting for the answer from {where}")
    if isinstance(exc, httpx.ConnectError):
        return ConnectError(f"cannot connect to {where}: {_connect_cause(exc)}")
    if isinstance(exc, httpx.ProxyError):
        return ConnectError(f"cannot connect to {where} through the proxy: {exc}")
    if isinstance(exc, httpx.UnsupportedProtocol):
        return ConnectError(f"cannot connect to {where}: {exc}")
    if isinstance(exc, httpx.LocalProtocolError):
        return NetworkError(f"the request could not be sent: {exc}", may_be_stored=False)
    if isinstance(exc, httpx.RemoteProtocolError):
        return NetworkError(f"the connection to {where} broke before the answer came: {exc}")
    if isinstance(exc, httpx.WriteError):
        return NetworkError(f"the connection to {where} broke while the request was sent")
    if isinstance(exc, httpx.ReadError):
        return NetworkError(f"the connection to {where} broke while waiting for the answer")
    return NetworkError(f"the exchange with {where} failed: {type(exc).__name__}: {exc}")


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _ssl_error(exc: BaseException) -> ssl.SSLError | None:
    return next((e for e in _causes(exc) if isinstance(e, ssl.SSLError)), None)


def _reason(error: ssl.SSLError) -> str:
    """OpenSSL's reason (``CERTIFICATE_VERIFY_FAILED``), also when only the text holds it."""
    reason = getattr(error, "reason", None)
    if isinstance(reason, str) and reason:
        return reason
    found = _REASON.search(str(error))
    return found.group(1) if found else ""


def _handshake(error: ssl.SSLError, where: str, *, client_cert: bool) -> TLSHandshakeError:
    reason = _reason(error) or None
    head = f"the TLS handshake with {where} failed"
    tail = f" ({reason})" if reason else ""
    if isinstance(error, ssl.SSLCertVerificationError):
        code = error.verify_code
        if code == _HOSTNAME_MISMATCH:
            host = where.rpartition(":")[0]
            return TLSHandshakeError(
                f"{head}: the server's certificate is not valid for the name {host}{tail}",
                problem="hostname-mismatch",
                ssl_reason=reason,
            )
        if code in _EXPIRED:
            return TLSHandshakeError(
                f"{head}: the server's certificate {_EXPIRED[code]}, or this machine's clock "
                f"is wrong{tail}",
                problem="cert-expired",
                ssl_reason=reason,
            )
        why = error.verify_message or "certificate verify failed"
        return TLSHandshakeError(
            f"{head}: the server's certificate is not issued by a CA this client trusts "
            f"({why}){tail}",
            problem="server-cert-untrusted",
            ssl_reason=reason,
        )
    missing = reason in _CLIENT_CERT_MISSING or (
        reason == "SSLV3_ALERT_HANDSHAKE_FAILURE" and not client_cert
    )
    if missing:
        return TLSHandshakeError(
            f"{head}: the server asks for a TLS client certificate and none was given{tail}",
            problem="client-cert-missing",
            ssl_reason=reason,
        )
    if reason in _CLIENT_CERT_REFUSED:
        return TLSHandshakeError(
            f"{head}: the server refused the TLS client certificate{tail}",
            problem="client-cert-refused",
            ssl_reason=reason,
        )
    if reason in _NOT_TLS:
        return TLSHandshakeError(
            f"{head}: the server does not speak TLS there (is it http://, or another port?){tail}",
            problem="not-tls",
            ssl_reason=reason,
        )
    return TLSHandshakeError(
        f"{head}{tail or ': ' + str(error)}", problem="other", ssl_reason=reason
    )


def _connect_cause(exc: BaseException) -> str:
    """Why a connection could not be made, in words."""
    for cause in _causes(exc):
        if isinstance(cause, socket.gaierror):
            return "the host name is unknown (DNS lookup failed)"
        if isinstance(cause, ConnectionRefusedError):
            return "the connection was refused (nothing listens there)"
        if isinstance(cause, ConnectionResetError):
            return "the connection was reset while it was made"
        if isinstance(cause, OSError) and cause.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return "the network or the host is unreachable"
    text = str(exc)
    return text if text else type(exc).__name__
