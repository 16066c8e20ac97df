"""One batch of signed reports for the client benchmark: what it says, and what is measured.

Report ``i`` of a batch (:class:`Spec`) is about the young person on line
``offset + i`` of the CPR file, with a contact person, a job wish and an
education wish registered a minute ago, texts numbered ``i``: the same for the
SDK (:func:`sdk_report`) and for zeep (:func:`bench.client_zeep.zeep_kwargs`).
:class:`Tally` counts what came back, each report once; :class:`Clock` reads
the wall time and the CPU times (this process, the server's tree, the machine)
around the sending.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psutil

from bench.measure import busy_cores, tree_cpu
from udb.client import BatchItem, Contact, EducationWish, JobWish, Report, Result

SYSTEM = "Vejledningssystem-Aarhus"
INSTITUTION = 751001
DK = ZoneInfo("Europe/Copenhagen")


@dataclass(frozen=True)
class Spec:
    """What report ``index`` says: the same for the SDK and for zeep."""

    index: int
    cpr: str
    registered: datetime

    @property
    def contact(self) -> tuple[str, str, str]:
        return (f"Kontakt Person {self.index}", f"kontakt{self.index}@example.dk", "45203040")

    @property
    def job(self) -> str:
        return f"Tømrer {self.index}"

    @property
    def education(self) -> str:
        return f"Erhvervsuddannelse {self.index}"


def specs(cpr_file: Path, offset: int, count: int) -> list[Spec]:
    cprs = [line.strip() for line in cpr_file.read_text().splitlines() if line.strip()]
    if offset < 0 or offset + count > len(cprs):
        raise SystemExit(f"--cpr-file has {len(cprs)} numbers; {offset}+{count} are needed")
    registered = datetime.now(DK).replace(microsecond=0) - timedelta(minutes=1)
    return [Spec(i, cprs[offset + i], registered) for i in range(count)]


def sdk_report(spec: Spec) -> Report:
    name, mail, phone = spec.contact
    return Report(
        spec.cpr,
        INSTITUTION,
        contact=Contact(name, mail, spec.registered, phone=phone),
        job=JobWish(spec.job, spec.registered),
        education=EducationWish(spec.education, spec.registered),
    )


# measuring ------------------------------------------------------------------------


@dataclass
class Tally:
    """What came back: each report counted once."""

    ok: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    retried: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    #: modules searched for during the sending (AsyncUdbClient), by name
    imports_searched: dict[str, int] = field(default_factory=dict)

    def add_item(self, item: BatchItem) -> None:
        if item.error is not None:
            code = getattr(item.error, "error_code", None)
            self.errors[f"{type(item.error).__name__}{f' {code}' if code else ''}"] += 1
            return
        result = item.result
        if result is None:
            self.errors["no result"] += 1
            return
        self.add_result(result)

    def add_result(self, result: Result) -> None:
        if result.attempts > 1:
            self.retried += 1
        if result.accepted:
            self.ok += 1
        else:
            self.rejected[str(result.code)] += 1


@dataclass
class Clock:
    """The wall time and the CPU times around the sending."""

    server_pid: int | None
    values: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def measure(self) -> Iterator[None]:
        own, server, box = os.times(), tree_cpu(self.server_pid), psutil.cpu_times()
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            own_after, server_after = os.times(), tree_cpu(self.server_pid)
            self.values = {
                "elapsed_s": elapsed,
                "client_user_s": own_after.user - own.user,
                "client_system_s": own_after.system - own.system,
                "server_user_s": server_after[0] - server[0],
                "server_system_s": server_after[1] - server[1],
                "box_busy_cores": busy_cores(box, psutil.cpu_times(), elapsed),
            }
