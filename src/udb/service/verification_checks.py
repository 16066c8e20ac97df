"""The checks of the verification report, one function each, in the report's order
(:data:`CHECKS`), and the values they answer; :mod:`udb.service.verification` runs them.

Each check takes every kept request of one system (oldest first), the certificates pinned to
it and the fault codes to look for, and answers ``passed``, ``failed`` or ``not tried`` with
evidence (times and CorrelationIDs) and, for a failure, what to change.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from udb.domain import cpr as cprnr
from udb.domain.model import BlockKind, ClientCertificate
from udb.storage.records import TestEnvRequest

PASSED, FAILED, NOT_TRIED = "passed", "failed", "not tried"
#: the Timestamp's Created must lie this close to the moment of receipt
CLOCK_WINDOW = timedelta(seconds=60)
#: the requests ``faults-fixed`` looks at, newest first
LAST_REQUESTS = 10
#: rejections after which the same content must never be sent again
HARD = ("14", "15", "86")
_CREATED = re.compile(r"<(?:[\w.-]+:)?Created>\s*([^<]{10,40}?)\s*</")


@dataclass(frozen=True, slots=True)
class FaultCodes:
    """The IPL fault codes the checks look for (the caller reads them from the contract)."""

    #: the faults that say the request was wrong (Sender)
    sender: frozenset[str]
    #: the fault of a SystemTransactionID used again for other content
    transaction_reused: str


@dataclass(frozen=True, slots=True)
class Evidence:
    """One request that shows a check's result."""

    at: datetime
    correlation_id: str
    note: str

    def as_dict(self) -> dict[str, str]:
        return {
            "time": self.at.isoformat(),
            "correlation_id": self.correlation_id,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class Check:
    id: str
    status: str
    detail: str
    evidence: tuple[Evidence, ...] = ()
    #: for a failure: what to change
    fix: str = ""

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "id": self.id,
            "status": self.status,
            "detail": self.detail,
            "evidence": [e.as_dict() for e in self.evidence],
        }
        if self.fix:
            out["fix"] = self.fix
        return out


Judge = Callable[[Sequence[TestEnvRequest], Sequence[ClientCertificate], FaultCodes], Check]


def _ev(r: TestEnvRequest, note: str) -> Evidence:
    return Evidence(r.received_at, r.correlation_id, note)


def _answer(r: TestEnvRequest) -> str:
    if r.outcome == "accepted":
        return "accepted"
    if r.outcome == "rejected":
        return f"rejected {r.code}"
    if r.outcome == "fault":
        return f"fault {r.code}"
    return r.outcome


def _reports(requests: Sequence[TestEnvRequest]) -> list[TestEnvRequest]:
    return [r for r in requests if r.operation != "Ping" and r.system_transaction_id]


def check_signed(
    requests: Sequence[TestEnvRequest],
    certificates: Sequence[ClientCertificate],
    codes: FaultCodes,
) -> Check:
    pinned = {c.fingerprint for c in certificates}
    if not requests:
        return Check("signed", NOT_TRIED, "no request received yet")
    recent = list(requests)[-LAST_REQUESTS:]
    wrong = [r for r in recent if r.certificate_fingerprint not in pinned]
    if wrong:
        return Check(
            "signed",
            FAILED,
            f"{len(wrong)} of the last {len(recent)} requests were not signed with the "
            "enrolled certificate",
            tuple(
                _ev(r, f"{_answer(r)}: {r.details or 'unsigned or another certificate'}")
                for r in wrong[:5]
            ),
            "sign every request (Timestamp and Body) with the enrolled certificate's key; "
            "see docs/vendor-guide.md, Certificates",
        )
    sha1 = [r for r in recent if r.uses_sha1]
    detail = f"the last {len(recent)} requests were signed with the enrolled certificate"
    if sha1:
        detail += "; warning: SHA-1 was used, move to RSA-SHA256 and SHA-256 digests"
    return Check("signed", PASSED, detail, tuple(_ev(r, "SHA-1") for r in sha1[:3]))


def _created(r: TestEnvRequest) -> datetime | None:
    if r.timestamp_created is not None:
        return r.timestamp_created
    found = _CREATED.search(r.body)
    if found is None:
        return None
    try:
        value = datetime.fromisoformat(found.group(1).replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def check_clock(
    requests: Sequence[TestEnvRequest],
    certificates: Sequence[ClientCertificate],
    codes: FaultCodes,
) -> Check:
    timed = [(r, c) for r in requests if (c := _created(r)) is not None]
    if not timed:
        return Check("clock", NOT_TRIED, "no request with a Timestamp received yet")
    off = [(r, c) for r, c in timed if abs(r.received_at - c) > CLOCK_WINDOW]
    if off:
        return Check(
            "clock",
            FAILED,
            f"{len(off)} of {len(timed)} Timestamps were more than 60 s from the moment of receipt",
            tuple(
                _ev(r, f"Created {(c - r.received_at).total_seconds():+.0f} s from receipt")
                for r, c in off[:5]
            ),
            "set the system's clock by NTP and write Created as the time of signing, in UTC",
        )
    worst = max(abs((c - r.received_at).total_seconds()) for r, c in timed)
    return Check(
        "clock",
        PASSED,
        f"{len(timed)} Timestamps, each within {worst:.1f} s of receipt",
    )


def check_accepted(
    requests: Sequence[TestEnvRequest],
    certificates: Sequence[ClientCertificate],
    codes: FaultCodes,
) -> Check:
    accepted = [r for r in _reports(requests) if r.outcome == "accepted"]
    missing = [k.value for k in BlockKind if not any(k.value in r.blocks for r in accepted)]
    evidence = tuple(_ev(r, "accepted: " + ", ".join(r.blocks)) for r in accepted[:5])
    if not accepted:
        return Check("accepted", NOT_TRIED, "no report accepted yet")
    if missing:
        return Check(
            "accepted",
            FAILED,
            f"{len(accepted)} report(s) accepted, none carrying " + ", ".join(missing),
            evidence,
            "report the contact person (KommuneKontakt), the job wish (JobOnsker) and the "
            "education wish (UddannelsesOnsker) of an 'accepted' test person",
        )
    return Check(
        "accepted",
        PASSED,
        f"{len(accepted)} report(s) accepted, carrying each of the three blocks",
        evidence,
    )


def _check_answer(code: str) -> Judge:
    def judge(
        requests: Sequence[TestEnvRequest],
        certificates: Sequence[ClientCertificate],
        codes: FaultCodes,
    ) -> Check:
        got = [r for r in _reports(requests) if r.outcome == "rejected" and r.code == code]
        if not got:
            return Check(
                f"answer-{code}",
                NOT_TRIED,
                f"no report answered {code} yet (docs/test-environment.md: which person)",
            )
        return Check(
            f"answer-{code}",
            PASSED,
            f"answered {code} {len(got)} time(s)",
            tuple(_ev(r, f"rejected {code}, CPR {cprnr.mask(r.cpr or '')}") for r in got[:3]),
        )

    return judge


def check_retry_101(
    requests: Sequence[TestEnvRequest],
    certificates: Sequence[ClientCertificate],
    codes: FaultCodes,
) -> Check:
    reports = _reports(requests)
    first_101 = [r for r in reports if r.outcome == "rejected" and r.code == "101"]
    if not first_101:
        return Check("retry-101", NOT_TRIED, "no report answered 101 yet")
    good, bad = [], []
    resends: set[str] = set()  # 101s that are themselves a renamed resend, told once
    for r in first_101:
        if r.correlation_id in resends:
            continue
        later = [x for x in reports if x.received_at > r.received_at]
        same = [x for x in later if x.system_transaction_id == r.system_transaction_id]
        renamed = [
            x
            for x in later
            if x.content_sha256 == r.content_sha256
            and x.system_transaction_id != r.system_transaction_id
        ]
        if renamed:
            resends.update(x.correlation_id for x in renamed)
            note = (
                "answered 101; the same report came again under a new SystemTransactionID "
                f"(CorrelationID {renamed[0].correlation_id}, {_answer(renamed[0])})"
            )
            bad.append(_ev(r, note))
        elif any(x.content_sha256 != r.content_sha256 for x in same):
            bad.append(_ev(r, "the same SystemTransactionID sent again with other content"))
        elif any(x.outcome == "accepted" for x in same):
            good.append(_ev(r, "101, then the same report again under the same id, accepted"))
        else:
            bad.append(_ev(r, "answered 101 and not yet sent again"))
    if bad:
        return Check(
            "retry-101",
            FAILED,
            f"{len(bad)} of {len(bad) + len(good)} answers 101 were not retried correctly",
            tuple(bad[:5]),
            "after 101, send the same report again, unchanged, with the same "
            "SystemTransactionID (signed anew), after a pause",
        )
    return Check("retry-101", PASSED, f"{len(good)} retried correctly after 101", tuple(good[:3]))


def check_no_resend_hard(
    requests: Sequence[TestEnvRequest],
    certificates: Sequence[ClientCertificate],
    codes: FaultCodes,
) -> Check:
    reports = _reports(requests)
    hard = [r for r in reports if r.outcome == "rejected" and r.code in HARD and not r.repeated]
    if not hard:
        return Check("no-resend-hard", NOT_TRIED, "no report rejected with 14, 15 or 86 yet")
    resent = []
    for r in hard:
        again = [
            x
            for x in reports
            if x.received_at > r.received_at and x.content_sha256 == r.content_sha256
        ]
        resent += [
            _ev(x, f"the content rejected {r.code} at {r.received_at:%H:%M:%S} again")
            for x in again[:1]
        ]
    if resent:
        return Check(
            "no-resend-hard",
            FAILED,
            f"{len(resent)} report(s) rejected with 14, 15 or 86 were sent again",
            tuple(resent[:5]),
            "never resend a report rejected with 14, 15 or 86: the register decides it; "
            "correct the data in the system first",
        )
    return Check(
        "no-resend-hard",
        PASSED,
        f"{len(hard)} report(s) rejected with 14, 15 or 86, none sent again",
        tuple(_ev(r, f"rejected {r.code}") for r in hard[:3]),
    )


def check_correct_280(
    requests: Sequence[TestEnvRequest],
    certificates: Sequence[ClientCertificate],
    codes: FaultCodes,
) -> Check:
    reports = _reports(requests)
    rejected = [r for r in reports if r.outcome == "rejected" and r.code == "280"]
    if not rejected:
        return Check("correct-280", NOT_TRIED, "no report answered 280 yet")
    good, bad = [], []
    for r in rejected:
        later = [x for x in reports if x.received_at > r.received_at and x.cpr == r.cpr]
        if any(x.content_sha256 == r.content_sha256 for x in later):
            bad.append(_ev(r, "the report rejected 280 was sent again unchanged"))
        elif any(
            x.outcome == "accepted" and x.system_transaction_id != r.system_transaction_id
            for x in later
        ):
            good.append(_ev(r, "280, then the corrected report as a new transaction, accepted"))
        else:
            bad.append(_ev(r, "answered 280 and no corrected report accepted since"))
    if bad:
        return Check(
            "correct-280",
            FAILED,
            f"{len(bad)} of {len(rejected)} answers 280 were not followed by a correction",
            tuple(bad[:5]),
            "after 280, correct the registration time (not in the future) and send the "
            "report as a new transaction (a new SystemTransactionID)",
        )
    return Check("correct-280", PASSED, f"{len(good)} corrected after 280", tuple(good[:3]))


def check_unique_ids(
    requests: Sequence[TestEnvRequest],
    certificates: Sequence[ClientCertificate],
    codes: FaultCodes,
) -> Check:
    reports = _reports(requests)
    reused = [r for r in requests if r.outcome == "fault" and r.code == codes.transaction_reused]
    if not reports and not reused:
        return Check("unique-transaction-ids", NOT_TRIED, "no report received yet")
    if reused:
        return Check(
            "unique-transaction-ids",
            FAILED,
            f"{len(reused)} request(s) reused a SystemTransactionID for other content (IPL000005)",
            tuple(_ev(r, codes.transaction_reused) for r in reused[:5]),
            "give every new report a new SystemTransactionID (a UUID); reuse one only to "
            "resend the same report unchanged",
        )
    return Check("unique-transaction-ids", PASSED, f"{len(reports)} report(s), no IPL000005")


def check_faults_fixed(
    requests: Sequence[TestEnvRequest],
    certificates: Sequence[ClientCertificate],
    codes: FaultCodes,
) -> Check:
    if not requests:
        return Check("faults-fixed", NOT_TRIED, "no request received yet")
    recent = list(requests)[-LAST_REQUESTS:]
    sender = [r for r in recent if r.outcome == "fault" and r.code in codes.sender]
    if sender:
        return Check(
            "faults-fixed",
            FAILED,
            f"{len(sender)} Sender fault(s) among the last {len(recent)} requests",
            tuple(_ev(r, f"{r.code}: {r.details or ''}".rstrip(": ")) for r in sender[:5]),
            "fix what each fault names (udb check-message explains a saved request), then "
            "send again",
        )
    return Check("faults-fixed", PASSED, f"no Sender fault among the last {len(recent)} requests")


#: every check, in the order of the report
CHECKS: tuple[Judge, ...] = (
    check_signed,
    check_clock,
    check_accepted,
    _check_answer("14"),
    _check_answer("15"),
    _check_answer("86"),
    _check_answer("280"),
    check_retry_101,
    check_no_resend_hard,
    check_correct_280,
    check_unique_ids,
    check_faults_fixed,
)
