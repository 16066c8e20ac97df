"""Client SDK for IndberetningKontaktJobOgUddOensker v1: report to UDB from Python.

A municipal guidance system sends each report as a :class:`Report` and gets a
:class:`Result` (accepted, or rejected with FejlKode 14, 15, 86, 101 or 280)::

    from datetime import datetime
    from zoneinfo import ZoneInfo
    from udb.client import Contact, JobWish, Report, UdbClient

    dk = ZoneInfo("Europe/Copenhagen")
    report = Report(
        "1503084232",                        # CPR number of the young person
        751001,                              # KUI institution number of the home municipality
        contact=Contact("Mette Sørensen", "mette@example.dk",
                        datetime(2026, 11, 20, 9, 15, tzinfo=dk), phone="4520304050"),
        job=JobWish("Tømrer", datetime(2026, 11, 20, 9, 20, tzinfo=dk)),
    )
    with UdbClient("https://udb.example.dk", system_name="Vejledningssystem-Aarhus",
                   cert="client.pem", key="client-key.pem") as client:
        result = client.send(report)         # signed (WS-Security), retried where safe
        print(result.accepted, result.code, result.text, result.correlation_id)

:class:`AsyncUdbClient` is the same for asyncio (``await client.send(report)``,
``async for item in client.send_many(reports)``).

Reading back (the service HentKontaktJobOgUddOensker v1, on the same base URL
at :data:`FETCH_ENDPOINT_PATH`): what UDB holds for given CPR numbers, or every
young person of the municipality whose data changed since a moment::

    persons = client.fetch(751001, ["1503084232", "2002104321"])   # requests of 100
    for person in persons:                   # a FetchedPerson per number, in order
        if person.found and person.job is not None:
            print(person.job.value.text, person.job.reported_by, person.job.received_at)
        elif not person.found:
            print(person.code, person.text)  # 14, 86 or 15: no data

    changes = client.changes(751001, since)  # a Changes iterator over every page
    for person in changes:
        ...
    since = changes.until                    # AendretTil: give it as since next time

A block is a :class:`Fetched` (``value``: the :class:`Contact`, :class:`JobWish`
or :class:`EducationWish`; ``reported_by``; ``received_at``). Reads are signed
and retried like reports, each attempt with a new transaction id (a read
stores nothing); they raise the same exceptions (a foreign or tampered page
token: :class:`SchemaFault`; a system not authorised for the institution's
changes: :class:`AccessDeniedFault`).

What happens on the way:

* the report is checked against the contract when it is made
  (:class:`ReportError`, naming the field, never the value);
* it is written as the SOAP 1.2 request of ``docs/examples/request.xml`` with
  a ``SystemTransactionID`` (a new UUID4 unless given) and signed with the
  system's certificate, afresh for each attempt;
* failures after which the very same request may succeed (no answer, HTTP
  5xx, fault IPL000001, FejlKode 101) are retried with exponential backoff and
  full jitter under the same transaction id (:class:`RetryPolicy`): the
  service answers a repeated transaction with its original answer and stores
  it once. Hard (14, 15, 86) and soft (280) rejections and Sender faults are
  never retried;
* after the last attempt the last outcome is what the caller gets: a 101
  :class:`Result` is returned, an exception is raised. Both carry ``attempts``
  and the transaction id, and ``retryable`` says whether to resend later
  (unchanged, with the same transaction id). There is no separate
  "retries exhausted" error. An exception's ``may_be_stored`` says whether
  the service may have stored the report (over every attempt): ``False`` when
  nothing was sent or the service refused it, ``True`` when a request went
  out and no usable answer came back.

Exceptions (every one a :class:`UdbError`; messages never hold personal data)::

    UdbError                       .system_transaction_id, .attempts, .retryable, .may_be_stored
    ├── ReportError                raised before sending (not stored); a ValueError (.field)
    ├── TransportError             no answer came; retried
    │   ├── ConnectError           the connection could not be made: not stored
    │   │   └── TLSHandshakeError  TLS refused (.problem, .ssl_reason): not stored; not retried
    │   ├── TimeoutException       connecting (not stored), sending or waiting (may be stored)
    │   └── NetworkError           the connection broke, or the HTTP exchange failed
    ├── UnexpectedResponse         not an answer of this service (.http_status); retried if 5xx
    └── FaultError                 a SOAP fault: .error_code, .correlation_id, .details,
        │                          .reason, .error_message, .http_status
        ├── SenderFault            the request is at fault: not stored; never retried
        │   ├── SchemaFault                IPL000002  not valid against the schema
        │   ├── SecurityFault              IPL000003  WS-Security missing or invalid
        │   ├── AccessDeniedFault          IPL000004  certificate / system name not registered
        │   ├── TransactionIdReusedFault   IPL000005  transaction id used for another report
        │   └── BodyTooLargeFault          IPL000006  request body over the limit
        └── ServerFault            IPL000001 (any Receiver fault): may be stored; retried

Development servers: ``sign=False`` (and no ``cert``/``key``) sends unsigned
requests, which only ``udb serve --insecure-dev-mode`` accepts.
"""

from udb.client._async import AsyncUdbClient
from udb.client._changes import AsyncChanges, Changes
from udb.client._exceptions import (
    AccessDeniedFault,
    BodyTooLargeFault,
    ConnectError,
    FaultError,
    NetworkError,
    ReportError,
    SchemaFault,
    SecurityFault,
    SenderFault,
    ServerFault,
    TimeoutException,
    TLSHandshakeError,
    TransactionIdReusedFault,
    TransportError,
    UdbError,
    UnexpectedResponse,
)
from udb.client._fetched import Fetched, FetchedPerson
from udb.client._read_wire import FETCH_ENDPOINT_PATH
from udb.client._report import Contact, EducationWish, JobWish, Report
from udb.client._result import BatchItem, Result
from udb.client._retry import RetryPolicy
from udb.client._sync import UdbClient
from udb.client._wire import ENDPOINT_PATH
from udb.domain.model import ErrorCode, ErrorKind

__all__ = [
    "ENDPOINT_PATH",
    "FETCH_ENDPOINT_PATH",
    "AccessDeniedFault",
    "AsyncChanges",
    "AsyncUdbClient",
    "BatchItem",
    "BodyTooLargeFault",
    "Changes",
    "ConnectError",
    "Contact",
    "EducationWish",
    "ErrorCode",
    "ErrorKind",
    "FaultError",
    "Fetched",
    "FetchedPerson",
    "JobWish",
    "NetworkError",
    "Report",
    "ReportError",
    "Result",
    "RetryPolicy",
    "SchemaFault",
    "SecurityFault",
    "SenderFault",
    "ServerFault",
    "TLSHandshakeError",
    "TimeoutException",
    "TransactionIdReusedFault",
    "TransportError",
    "UdbClient",
    "UdbError",
    "UnexpectedResponse",
]

# Public names read as udb.client.X (in reprs and tracebacks), as httpx does.
for _name in __all__:
    _member = globals()[_name]
    if isinstance(_member, type) and _member.__module__.startswith("udb.client."):
        _member.__module__ = __name__
del _name, _member
