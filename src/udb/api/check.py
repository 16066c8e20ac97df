"""The request path without a database: what ``udb check-message`` finds in a message.

:func:`check` runs the steps of :meth:`udb.api.endpoint.Endpoint.post` on one
message, with the service's default settings and at a given instant, and
stops before the register (no store, no replay cache). It calls the
service's own functions and reports each refusal in the service's words::

    IPL000003 the Timestamp has expired
    IPL000002 line 19, column 11: element KontaktNavn: value is longer than the maximum length 100
    280 Registreringstid for kontakt, uddannelses- eller jobønsker må ikke fremdateres (...)

Where the service stops at the first failing step, the checker goes on where
the next step can still look, so that independent problems are all listed:

1. the body's size (IPL000006, the default limit);
2. the SOAP version: from the ``Content-Type`` when one is given
   (:func:`udb.api.endpoint.soap_version`; an envelope of the other version is
   IPL000002 and is then read in its own version), else from the envelope's
   namespace, said in a note;
3. :func:`udb.soap.envelope.parse`: not well-formed or not an envelope ends the check;
4. :func:`udb.wssecurity.verify` with the default policy at ``at``: the first
   problem of the WS-Security header (IPL000003); a certificate other than
   ``certificate`` is IPL000004 (the words for a certificate pinned to no
   system); SHA-1 is a warning, as the service only logs it;
5. :func:`udb.soap.envelope.checked_payload` on the Body, signed or not
   (IPL000002, every schema violation with line and column), then
   :func:`udb.api.endpoint.admit` (an unsigned message is IPL000003) and
   :func:`udb.soap.messages.operation`;
6. for a report with a valid Body: :func:`udb.soap.messages.read_submission`,
   ModtagerSystemID against SystemName (:func:`udb.service.reports.check_recipient`,
   IPL000004), a CPR number that encodes no birth date
   (:func:`udb.domain.rules.no_birth_date`, 14) and registration times after
   ``at`` (:func:`udb.domain.rules.blocks_in_future`, 280).

Lines never carry personal data: a CPR number is masked (:func:`udb.domain.cpr.mask`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from lxml import etree

from udb import ns, safexml, wssecurity
from udb.api.endpoint import admit, body_too_large, soap_version
from udb.config import Security, Settings
from udb.domain import cpr as cprnr
from udb.domain import rules
from udb.domain.clock import DANISH_TZ
from udb.domain.model import BlockKind, ErrorCode
from udb.service.errors import NOT_PINNED, AccessDenied
from udb.service.reports import ReportPolicy, check_recipient
from udb.soap import envelope, faults, messages
from udb.soap.version import SoapVersion
from udb.wssecurity.tokens import certificate_of

__all__ = ["Finding", "MessageCheck", "check"]

#: the element that holds each block's registration time, for the 280 line
_TIME_ELEMENTS = {
    BlockKind.KONTAKT: "KontaktRegistreringstid",
    BlockKind.JOB: "JobRegistreringstid",
    BlockKind.UDDANNELSE: "UddannelseRegistreringstid",
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One line of the answer: a problem (its fault or error code), a warning or a note."""

    #: "IPL000002" ... or "14", "280" for a problem; "warning" or "note" otherwise
    code: str
    text: str
    problem: bool = True

    def __str__(self) -> str:
        return f"{self.code} {self.text}" if self.problem else f"{self.code}: {self.text}"


@dataclass(frozen=True, slots=True)
class MessageCheck:
    """Everything :func:`check` found, in the order of the request path."""

    findings: tuple[Finding, ...]
    #: the operation the Body asks for, when that could be told
    operation: messages.Operation | None = None

    @property
    def problems(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.problem)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def verdict(self) -> str:
        """The line for a message without problems: what the register still decides."""
        if self.operation is messages.Operation.PING:
            return (
                "OK: the service would answer this Ping (up, or down without its database) "
                "if the certificate is pinned to a client system (else IPL000004)"
            )
        return (
            "OK: the service would refuse nothing here before its register, which decides "
            "14, 86 and 15, and whether the certificate is pinned to SystemName (IPL000004)"
        )


@dataclass(slots=True)
class _Found:
    lines: list[Finding] = field(default_factory=list)

    def refused(self, exc: Exception) -> None:
        """The fault the service answers ``exc`` with: one line per violation."""
        code = faults.spec_for(exc).error_code
        if isinstance(exc, faults.InvalidRequest):
            self.lines.extend(Finding(code, str(violation)) for violation in exc.violations)
        else:
            self.lines.append(Finding(code, faults.details_for(exc) or ""))

    def add(self, code: str, text: str, *, problem: bool = True) -> None:
        self.lines.append(Finding(code, text, problem))


def check(
    data: bytes,
    *,
    at: datetime,
    content_type: str | None = None,
    certificate: x509.Certificate | None = None,
    security: Security | None = None,
    report_policy: ReportPolicy | None = None,
    max_body_bytes: int | None = None,
) -> MessageCheck:
    """What the service would refuse in ``data`` received at ``at``, before its register.

    ``content_type`` is the header the message would be sent with (None: the
    envelope's version is assumed); ``certificate`` the one pinned to the
    sending system, if known. The other settings default to the service's.
    ``at`` must be timezone-aware.
    """
    security = security or Security()
    report_policy = report_policy or ReportPolicy()
    limit = max_body_bytes or Settings().max_body_bytes
    found = _Found()
    if len(data) > limit:
        found.refused(body_too_large(limit))
    parsed = _parse(data, content_type, found)
    if parsed is None:
        return MessageCheck(tuple(found.lines))
    message: wssecurity.VerifiedMessage | wssecurity.UnsignedMessage | None = None
    try:
        message = wssecurity.verify(parsed, policy=security.policy, now=at)
    except wssecurity.SecurityError as exc:
        found.refused(exc)
    _compare_certificate(parsed, message, certificate, found)
    body = parsed.bodies[0] if len(parsed.bodies) == 1 else None
    request: envelope.CheckedRequest | None = None
    try:  # the Body as the schema sees it, also when its signature failed
        request = envelope.checked_payload(parsed, message or wssecurity.UnsignedMessage(body))
    except faults.InvalidRequest as exc:
        found.refused(exc)
    if message is not None:
        try:
            admit(message, security)
        except wssecurity.SecurityError as exc:
            found.refused(exc)
        if isinstance(message, wssecurity.VerifiedMessage) and message.uses_sha1:
            found.add(
                "warning",
                "the signature uses SHA-1: the service accepts it unless its operator turns "
                "SHA-1 off (UDB_WSSE_ALLOW_SHA1=false), and logs each use; sign with RSA-SHA256",
                problem=False,
            )
    if request is None:
        if body is not None and body.find(messages.REPORT) is not None:
            found.add(
                "note",
                "ModtagerSystemID, the CPR number and the registration times are checked once "
                "the Body is valid",
                problem=False,
            )
        return MessageCheck(tuple(found.lines))
    try:
        operation = messages.operation(request)
    except faults.InvalidRequest as exc:
        found.refused(exc)
        return MessageCheck(tuple(found.lines))
    if operation is messages.Operation.REPORT:
        _check_report(
            request, message or wssecurity.UnsignedMessage(body), at, report_policy, found
        )
    return MessageCheck(tuple(found.lines), operation)


def _envelope_version(data: bytes) -> SoapVersion | None:
    """The SOAP version of the document's Envelope; None if it is none (parse says why)."""
    try:
        root = safexml.parse(data)
    except (safexml.XmlSyntaxError, safexml.UnsafeXml):
        return None
    name = etree.QName(root)
    return SoapVersion.for_envelope_ns(name.namespace) if name.localname == "Envelope" else None


def _parse(data: bytes, content_type: str | None, found: _Found) -> envelope.ParsedEnvelope | None:
    """The envelope, in the Content-Type's version, else in its own; None: nothing to check."""
    own = _envelope_version(data)
    if content_type is None:
        version = own or SoapVersion.SOAP12
        media = version.content_type.split(";")[0]
        source = " from the envelope's namespace" if own else ""
        found.add(
            "note",
            f"no --content-type given: SOAP {version.value} ({media}) assumed{source}",
            problem=False,
        )
    else:
        try:
            version = soap_version(content_type)
        except faults.InvalidRequest as exc:
            found.refused(exc)
            version = own or SoapVersion.SOAP12
    try:
        return envelope.parse(data, version)
    except faults.InvalidRequest as exc:
        found.refused(exc)
    if own is None or own is version:
        return None
    return envelope.parse(data, own)  # go on in the envelope's own version


def _compare_certificate(
    parsed: envelope.ParsedEnvelope,
    message: wssecurity.VerifiedMessage | wssecurity.UnsignedMessage | None,
    pinned: x509.Certificate | None,
    found: _Found,
) -> None:
    """IPL000004 when the message carries a certificate other than ``pinned``.

    The certificate is the verified one, or after a failed verification the
    one token of the one Security header, if it can be read.
    """
    if pinned is None:
        return
    carried: x509.Certificate | None = None
    if isinstance(message, wssecurity.VerifiedMessage):
        carried = message.certificate
    elif message is None and len(parsed.security_headers) == 1:
        tokens = parsed.security_headers[0].findall(ns.qname(ns.WSSE, "BinarySecurityToken"))
        if len(tokens) == 1:
            try:
                carried = certificate_of(tokens[0])
            except wssecurity.SecurityError:
                carried = None
    if carried is None:
        return
    sent, expected = (c.fingerprint(hashes.SHA256()).hex() for c in (carried, pinned))
    if sent != expected:
        found.refused(  # the fault of the one table, as the service answers it
            AccessDenied(
                f"{NOT_PINNED} (the message's certificate has SHA-256 {sent[:16]}…, "
                f"--cert's {expected[:16]}…)"
            )
        )


def _check_report(
    request: envelope.CheckedRequest,
    message: wssecurity.VerifiedMessage | wssecurity.UnsignedMessage,
    at: datetime,
    policy: ReportPolicy,
    found: _Found,
) -> None:
    """The checks of a valid report that need no register: names, CPR number, 280."""
    try:
        submission = messages.read_submission(
            request, message, received_at=at, correlation_id="check-message"
        )
    except faults.InvalidRequest as exc:
        found.refused(exc)
        return
    report = submission.report
    try:
        check_recipient(report, submission.system_name)
    except AccessDenied as exc:
        found.refused(exc)
    code = rules.no_birth_date(report)
    if code is not None:
        found.add(
            str(int(code)),
            f"{code.text} (CPRNr {cprnr.mask(report.cpr)}: its first six digits are no date, "
            "so no register holds it)",
        )
    late = rules.blocks_in_future(report, at, policy.future_tolerance)
    if late:
        code = ErrorCode.FUTURE_REGISTRATION
        names = ", ".join(_TIME_ELEMENTS[block.kind] for block in late)
        when = at.astimezone(DANISH_TZ).isoformat(timespec="seconds")
        found.add(str(int(code)), f"{code.text} ({names} after {when})")
