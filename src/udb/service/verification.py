"""The verification report: what an enrolled system did in the test environment, judged.

:func:`verify_system` reads every request the test environment kept of one system
(:class:`udb.service.testenv_recorder.Recorder`) and judges it check by check
(:data:`CHECKS`), each ``passed``, ``failed`` or ``not tried``, with evidence (times
and CorrelationIDs) and, for a failure, what to change. The verdict is ``ready``
only when every check passed. Nothing personal is shown: CPR numbers masked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from udb.service.testenv import TestEnvError
from udb.service.verification_checks import (
    CHECKS,
    FAILED,
    NOT_TRIED,
    PASSED,
    Check,
    Evidence,
    FaultCodes,
)
from udb.storage.base import Store

__all__ = [
    "CHECKS",
    "FAILED",
    "NOT_TRIED",
    "PASSED",
    "Check",
    "Evidence",
    "FaultCodes",
    "VerificationReport",
    "verify_system",
]


@dataclass(frozen=True, slots=True)
class VerificationReport:
    system: str
    institution: int
    made_at: datetime
    requests: int
    checks: tuple[Check, ...] = field(default_factory=tuple)

    @property
    def verdict(self) -> str:
        return "ready" if all(c.status == PASSED for c in self.checks) else "not ready"

    def as_dict(self) -> dict[str, object]:
        return {
            "system": self.system,
            "verdict": self.verdict,
            "institution": self.institution,
            "made_at": self.made_at.isoformat(),
            "requests": self.requests,
            "checks": [c.as_dict() for c in self.checks],
        }


def verify_system(store: Store, name: str, now: datetime, codes: FaultCodes) -> VerificationReport:
    """Judge what enrolled system ``name`` did (:class:`TestEnvError` if not enrolled)."""
    with store.unit_of_work(readonly=True) as uow:
        slot = next((s for s in uow.testenv.slots() if s.system_name == name), None)
        if slot is None:
            raise TestEnvError(f"no enrolled system is named {name} (udb testenv list)")
        system = uow.systems.get(name)
        certificates = [] if system is None else uow.systems.certificates(system.id)
        requests = uow.testenv.requests(name)
    checks = tuple(check(requests, certificates, codes) for check in CHECKS)
    return VerificationReport(name, slot.institution_number, now, len(requests), checks)
