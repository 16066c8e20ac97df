"""What the client commands tell their user after an outcome: was it stored, what to do.

Every outcome gets one of three answers, and the settings to fix are named as
the commands take them (flag and environment variable):

============================================  ===================  =========================
outcome                                       stored?              what to do
============================================  ===================  =========================
accepted                                      stored               nothing
rejected 14, 15, 86                           answered for good    never send it again
rejected 280                                  answered for good    correct it, send it as a
                                                                   new transaction
rejected 101                                  not stored           send it again unchanged
invalid report (checked before sending)       nothing was sent     correct the report
TLS handshake failed                          not stored           fix the TLS setting named
connection refused, unknown host              not stored           check --url, the service
timeout while connecting                      not stored           send it again
timeout waiting, broken connection            may have been        send it again unchanged
                                              stored               (stored at most once)
HTTP 5xx or an answer not of the service      may have been        check --url or the proxy,
                                              stored               send it again unchanged
IPL000001 (Receiver)                          may have been        send it again unchanged
                                              stored
IPL000002-6 (Sender)                          not stored           fix what the fault names
============================================  ===================  =========================

"Send it again unchanged" is always safe: the service stores a transaction at
most once and answers a repeat with its first answer.
"""

from __future__ import annotations

from udb.client import (
    BodyTooLargeFault,
    ConnectError,
    ErrorCode,
    ErrorKind,
    FaultError,
    ReportError,
    Result,
    SchemaFault,
    SenderFault,
    TLSHandshakeError,
    TransactionIdReusedFault,
    UdbError,
    UnexpectedResponse,
)
from udb.contract import faults

#: what to fix for each TLSHandshakeError.problem
_TLS_FIX = {
    "client-cert-missing": (
        "give the TLS client certificate with --client-cert and --client-key "
        "(or UDB_CLIENT_CERT and UDB_CLIENT_KEY)"
    ),
    "client-cert-refused": (
        "check --client-cert and --client-key (UDB_CLIENT_CERT, UDB_CLIENT_KEY): the service "
        "takes only the client certificate its operator expects, unexpired"
    ),
    "server-cert-untrusted": (
        "give the CA that issued the server's certificate with --ca (UDB_CA)"
    ),
    "hostname-mismatch": "use a host name in --url (UDB_URL) that the server's certificate names",
    "cert-expired": (
        "check this machine's clock; if it is right, the service's operator must renew "
        "the server's certificate"
    ),
    "not-tls": "check the scheme (https:// or http://) and the port of --url (UDB_URL)",
}
_TLS_OTHER = "check --url, --ca, --client-cert and --client-key"

#: what to fix for each Sender fault, by its ErrorCode
_FAULT_FIX = {
    faults.SCHEMA.error_code: (
        "the service finds the request invalid (see above): give the CorrelationID to the "
        "service's support"
    ),
    faults.SECURITY.error_code: (
        "check the signing certificate and key (--cert, --key; UDB_CERT, UDB_KEY) and this "
        "machine's clock"
    ),
    faults.ACCESS_DENIED.error_code: (
        "the signing certificate is not registered for this system: check --system and --cert "
        "(UDB_SYSTEM, UDB_CERT), or have the service's operator register the certificate"
    ),
    faults.TOO_LARGE.error_code: (
        "the request is larger than the service accepts: give the CorrelationID to the "
        "service's support"
    ),
}
_FAULT_OTHER = "correct the request or the settings"

#: codes of a results row (udb.client.batch.results) that mean "refused: fix first"
REFUSED_CODES = frozenset(
    {
        *_FAULT_FIX,
        faults.TRANSACTION_REUSED.error_code,
        TLSHandshakeError.__name__,
        ReportError.__name__,
    }
)


def result_advice(result: Result) -> str:
    """What to do about an answer (``IndberetningSvar``)."""
    if result.accepted:
        return "stored"
    if result.code == ErrorCode.INTERNAL:
        return (
            "not stored: send the same report again unchanged, with "
            f"--transaction-id {result.system_transaction_id}"
        )
    if result.kind is ErrorKind.SOFT:
        return "correct the data and send it as a new transaction (a new SystemTransactionID)"
    return "do not send it again: the same report gets the same answer"


def tls_fix(problem: str | None) -> str:
    """What to fix for a failed TLS handshake (``TLSHandshakeError.problem``)."""
    return _TLS_FIX.get(problem or "", _TLS_OTHER)


def fault_fix(error_code: str | None) -> str:
    """What to fix for a Sender fault (by its ErrorCode)."""
    return _FAULT_FIX.get(error_code or "", _FAULT_OTHER)


def error_advice(error: UdbError, resend: str) -> str:
    """Whether the report was stored, and what to do; ``resend`` says how to send it again.

    ``resend`` is the command's way, e.g. ``send it again unchanged with
    --transaction-id ID`` or ``run the same command with --resume``.
    """
    if isinstance(error, ReportError):
        return "nothing was sent: correct the report"
    if isinstance(error, TransactionIdReusedFault):
        return (
            "refused: nothing was stored; this transaction id belongs to another report: "
            "send this one under a new transaction id"
        )
    if isinstance(error, SenderFault):
        fix = fault_fix(error.error_code)
        if isinstance(error, SchemaFault | BodyTooLargeFault):
            return f"refused: nothing was stored; {fix}"
        return f"refused: nothing was stored; {fix}, then {resend}"
    stored = "may have been stored" if error.may_be_stored else "not stored"
    if isinstance(error, ConnectError):
        # nothing was sent this time; an earlier attempt may have got further
        stored = "may have been stored by an earlier attempt" if error.may_be_stored else stored
        if isinstance(error, TLSHandshakeError):
            return (
                f"{stored}: the TLS handshake failed, so nothing reached the service; "
                f"{tls_fix(error.problem)}, then {resend}"
            )
        return (
            f"{stored}: no connection to the service; check --url (UDB_URL) and that the "
            f"service is running, then {resend}"
        )
    if isinstance(error, UnexpectedResponse):
        where = (
            "the service or a proxy in front of it is failing"
            if error.http_status >= 500
            else "check --url (UDB_URL) and any proxy in between"
        )
        return (
            f"{stored}: HTTP {error.http_status} is not an answer of the service ({where}); "
            f"{resend}: the service stores a report at most once"
        )
    if isinstance(error, FaultError):
        return (
            f"{stored}: the service failed ({error.error_code or 'a Receiver fault'}); {resend}: "
            "it stores a report at most once; if this goes on, give the CorrelationID to the "
            "service's operator"
        )
    if not error.may_be_stored:
        return f"{stored}: nothing reached the service; {resend}"
    return f"{stored}: no answer came; {resend}: the service stores a report at most once"


#: how ``udb send-batch`` sends rows again
RESUME = "run the same command with --resume"


def batch_advice(code: str, error: UdbError | None) -> str:
    """What to do about the refused rows of a batch with ``code`` (see :data:`REFUSED_CODES`).

    ``error`` is one such row's exception when this run saw one (a row of an
    earlier run is known only by its code).
    """
    if code == faults.TRANSACTION_REUSED.error_code:
        return (
            "refused: nothing was stored; their transaction ids belong to other reports: "
            f"{RESUME}, which sends them under new transaction ids"
        )
    if error is not None:
        return error_advice(error, RESUME)
    if code == TLSHandshakeError.__name__:
        return (
            "not stored: the TLS handshake failed, so nothing reached the service; "
            f"{tls_fix(None)}, then {RESUME}"
        )
    if code == ReportError.__name__:
        return "nothing was sent: correct those rows"
    if code in (faults.SCHEMA.error_code, faults.TOO_LARGE.error_code):
        return f"refused: nothing was stored; {fault_fix(code)}"
    return f"refused: nothing was stored; {fault_fix(code)}, then {RESUME}"


def read_failure(error: UdbError) -> str:
    """One line for a read-back that failed (``udb fetch``, ``udb reconcile``): what went
    wrong and what to fix; a read stores nothing, so it can always simply be run again."""
    if isinstance(error, ReportError):
        return str(error)
    if isinstance(error, TLSHandshakeError):
        return f"{error}; {tls_fix(error.problem)}"
    if isinstance(error, FaultError):
        what = error.details or error.error_message or error.reason
        head = f"{error.error_code or 'fault'} {error.reason}: {what}"
        correlation = f" (CorrelationID {error.correlation_id})" if error.correlation_id else ""
        if error.error_code == faults.ACCESS_DENIED.error_code:
            fix = (
                "the system may not read for this institution, or its certificate is not "
                "registered: check --institution, --system and --cert"
            )
        elif isinstance(error, SenderFault):
            fix = fault_fix(error.error_code)
        else:
            fix = "the service failed; run again later"
        return f"{head}{correlation}; {fix}"
    if isinstance(error, UnexpectedResponse):
        return f"{error}; check --url (UDB_URL) and any proxy in between, then run again"
    if isinstance(error, ConnectError):
        return f"{error}; check --url (UDB_URL) and that the service is running"
    return f"{error}; run again"
