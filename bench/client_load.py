"""The sending side of ``bench/client.py``: one batch of signed reports, in a process of its own.

``bench/client.py`` starts this once per run, so that the client's CPU time is
its own and not the driver's::

    python bench/client_load.py sdk   --url http://127.0.0.1:8080 --cert client.pem \\
        --key client-key.pem --cpr-file cprs.txt --offset 0 --reports 10000 --concurrency 16
    python bench/client_load.py async ...        # AsyncUdbClient.send_many
    python bench/client_load.py zeep  ... --wsdl http://127.0.0.1:8080/services/...?wsdl

Each run:

* makes the reports before the clock starts: report ``i`` is about the young
  person on line ``offset + i`` of ``--cpr-file``, with a contact person, a
  job wish and an education wish registered a minute ago, texts numbered ``i``;
* ``sdk``: :meth:`udb.client.UdbClient.send_many` (``concurrency`` threads, one
  ``httpx.Client`` with keep-alive, every request signed by the SDK as it is
  sent, the SDK's default retry policy); ``async``: the same with
  :class:`udb.client.AsyncUdbClient` on one event loop; ``zeep``: zeep 4 with
  its own ``BinarySignature`` (RSA-SHA256/SHA-256) after a ``Timestamp``
  plugin, answers not verified (the service does not sign them), exactly as
  ``tests/e2e/test_zeep_wssecurity.py`` does, from the served WSDL, called from a
  thread pool of ``concurrency`` threads, each thread with its own zeep client
  (its own ``requests`` session: a session is not thread-safe);
* measures, around the sending only: the wall time, this process's CPU time
  (every thread, user and system), the CPU time of ``--server-pid`` and its
  children (the server, or the stub), the whole machine's busy time, and each
  report's latency (the call of ``send``, or of zeep's operation: building,
  signing, the HTTP exchange and reading the answer);
* then, single-threaded and after the clock, the CPU cost of each stage of a
  report on its own (``--stages N`` reports): for the SDK making the
  ``Report``, writing the envelope, signing it, reading the answer; for zeep
  serialising the envelope and signing it;
* prints one JSON object (the last line of its output).

The exit status is 0 if every report was answered ``Ok=true``.
``--profile FILE`` records this process with py-spy (``--format raw``, all
threads, idle threads left out) while it sends; with ``--profile-gil`` only the
thread holding the GIL (the Python CPU time; C code that releases the GIL, such
as xmlsec's signing, is then not in it).
"""

# zeep has no type hints: its calls are untyped.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures as cf
import contextlib
import importlib
import json
import math
import os
import queue
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psutil
import xmlsec

from udb import wssecurity
from udb.client import (
    AsyncUdbClient,
    BatchItem,
    Contact,
    EducationWish,
    JobWish,
    Report,
    Result,
    UdbClient,
    _wire,
)
from udb.domain.model import Outcome
from udb.soap.messages import Identifier, report_response
from udb.soap.version import SoapVersion

SYSTEM = "Vejledningssystem-Aarhus"
INSTITUTION = 751001
DK = ZoneInfo("Europe/Copenhagen")
SERVICE = "IndberetningKontaktJobOgUddOenskerService"
SOAP12_PORT = "IndberetningKontaktJobOgUddOenskerSoap12Port"
TNS = "http://ipl.stil.dk/services/udb/indberetningkontaktjoboguddoensker/v1.0"
SOAP12_BINDING = f"{{{TNS}}}IndberetningKontaktJobOgUddOenskerSoap12Binding"
OPERATION = "IndberetningKontaktJobOgUddOensker"


# the reports --------------------------------------------------------------------


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


def zeep_kwargs(spec: Spec) -> dict[str, Any]:
    name, mail, phone = spec.contact
    return {
        "Identifier": {"SystemName": SYSTEM, "SystemTransactionID": str(uuid.uuid4())},
        "Message": {
            "IndberetningKontaktJobOgUddOenskerRequest": {
                "ModtagerSystemID": SYSTEM,
                "CPRNr": spec.cpr,
                "KommuneInstitutionNummer": INSTITUTION,
                "KommuneKontakt": {
                    "KontaktNavn": name,
                    "KontaktMail": mail,
                    "KontaktTelefon": phone,
                    "KontaktRegistreringstid": spec.registered,
                },
                "JobOnsker": {"JobOnsker": spec.job, "JobRegistreringstid": spec.registered},
                "UddannelsesOnsker": {
                    "UddannelsesOnsker": spec.education,
                    "UddannelseRegistreringstid": spec.registered,
                },
            }
        },
    }


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


def percentile(ordered: Sequence[float], p: float) -> float:
    """Nearest rank, as bench/loadgen.py."""
    if not ordered:
        return 0.0
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def tree_cpu(pid: int | None) -> tuple[float, float]:
    """User and system CPU seconds of process ``pid`` and its descendants (0 without one)."""
    if pid is None:
        return 0.0, 0.0
    user = system = 0.0
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0, 0.0
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = proc.cpu_times()
            user += times.user
            system += times.system
    return user, system


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
            box_after = psutil.cpu_times()
            idle = (box_after.idle + getattr(box_after, "iowait", 0.0)) - (
                box.idle + getattr(box, "iowait", 0.0)
            )
            self.values = {
                "elapsed_s": elapsed,
                "client_user_s": own_after.user - own.user,
                "client_system_s": own_after.system - own.system,
                "server_user_s": server_after[0] - server[0],
                "server_system_s": server_after[1] - server[1],
                "box_busy_cores": (sum(box_after) - sum(box) - idle) / max(elapsed, 1e-9),
            }


class Recorder:
    """py-spy recording this very process (all threads, idle ones left out) while it sends."""

    def __init__(self, output: Path | None, rate: int = 97, *, gil: bool = False) -> None:
        self.output = output
        self.rate = rate
        self.gil = gil
        self.process: subprocess.Popen[bytes] | None = None

    @contextlib.contextmanager
    def recording(self) -> Iterator[None]:
        if self.output is None:
            yield
            return
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        log = self.output.with_suffix(".log").open("wb")
        self.process = subprocess.Popen(
            [
                py_spy,
                "record",
                "--pid",
                str(os.getpid()),
                "--rate",
                str(self.rate),
                "--format",
                "raw",
                "--nonblocking",
                *(["--gil"] if self.gil else []),
                "--output",
                str(self.output),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        time.sleep(1.5)  # attached before the sending starts
        try:
            yield
        finally:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


# the SDK --------------------------------------------------------------------------


class TimedUdbClient(UdbClient):
    """``UdbClient`` noting how long each ``send`` (as ``send_many`` calls it) took."""

    latencies_ms: list[float]

    def send(self, report: Report, *, transaction_id: str | None = None) -> Result:
        started = time.perf_counter()
        try:
            return super().send(report, transaction_id=transaction_id)
        finally:
            self.latencies_ms.append((time.perf_counter() - started) * 1000)


class TimedAsyncUdbClient(AsyncUdbClient):
    """``AsyncUdbClient`` noting how long each ``send`` took."""

    latencies_ms: list[float]

    async def send(self, report: Report, *, transaction_id: str | None = None) -> Result:
        started = time.perf_counter()
        try:
            return await super().send(report, transaction_id=transaction_id)
        finally:
            self.latencies_ms.append((time.perf_counter() - started) * 1000)


def run_sdk(args: argparse.Namespace, items: list[Spec], clock: Clock, rec: Recorder) -> Tally:
    tally = Tally()
    started = time.process_time()
    reports = [sdk_report(spec) for spec in items]
    tally_construct = time.process_time() - started
    options: dict[str, Any] = {
        "system_name": SYSTEM,
        "cert": args.cert,
        "key": args.key,
        "timeout": 60.0,
    }
    if args.kind == "sdk":
        client = TimedUdbClient(args.url, **options)
        client.latencies_ms = tally.latencies_ms
        with client, rec.recording(), clock.measure():
            for item in client.send_many(reports, concurrency=args.concurrency):
                tally.add_item(item)
    else:
        searches = ImportSearches()

        async def send_all() -> None:
            client = TimedAsyncUdbClient(args.url, **options)
            client.latencies_ms = tally.latencies_ms
            async with client:
                with rec.recording(), searches.installed(), clock.measure():
                    async for item in client.send_many(reports, concurrency=args.concurrency):
                        tally.add_item(item)

        asyncio.run(send_all())
        tally.imports_searched = dict(searches.counts)
    clock.values["construct_cpu_s"] = tally_construct
    return tally


def sdk_stages(
    args: argparse.Namespace, items: list[Spec]
) -> tuple[dict[str, float], dict[str, float]]:
    """CPU ms per report of each stage of ``UdbClient.send``, one thread, no I/O.

    The same calls the SDK makes (``udb.client._wire`` and ``udb.wssecurity.sign``,
    internal modules of the SDK), on reports like the batch's. Besides (not
    stages): the RSA signature alone, with the ``xmlsec.Key`` loaded from PEM for
    each signature as ``sign()`` does, and loaded once; and one failed import,
    which httpcore's asyncio path makes several times a request when ``sniffio``
    is not installed.
    """
    key, cert = Path(args.key).read_bytes(), Path(args.cert).read_bytes()
    answer = report_response(
        SoapVersion.SOAP12,
        Identifier(SYSTEM, "00000000-0000-4000-8000-000000000000"),
        str(uuid.uuid4()),
        Outcome.accepted(),
    )
    transaction = "00000000-0000-4000-8000-000000000000"

    def per_report(work: Callable[[Spec], object]) -> float:
        started = time.process_time()
        for spec in items:
            work(spec)
        return 1000 * (time.process_time() - started) / len(items)

    reports = {spec.index: sdk_report(spec) for spec in items}
    unsigned = {
        i: _wire.report_envelope(r, system_name=SYSTEM, transaction_id=transaction)
        for i, r in reports.items()
    }

    def read(_spec: Spec) -> Result:
        got = _wire.read_report_answer(
            200, answer, system_name=SYSTEM, transaction_id=transaction, correlation_id=None
        )
        return Result.of(
            got.ok,
            got.code,
            got.text,
            correlation_id=got.correlation_id,
            system_transaction_id=transaction,
        )

    wssecurity.sign(unsigned[items[0].index], key_pem=key, cert_pem=cert)  # the key pair checked
    stages = {
        "Report(...) with its checks": per_report(sdk_report),
        "envelope written (_wire.report_envelope)": per_report(
            lambda s: _wire.report_envelope(
                reports[s.index], system_name=SYSTEM, transaction_id=str(uuid.uuid4())
            )
        ),
        "signed (wssecurity.sign)": per_report(
            lambda s: wssecurity.sign(unsigned[s.index], key_pem=key, cert_pem=cert)
        ),
        "answer read (_wire.read_report_answer + Result)": per_report(read),
    }
    signed_info = os.urandom(1024)
    loaded_once = xmlsec.Key.from_memory(key, xmlsec.constants.KeyDataFormatPem)

    def rsa(key_object: Callable[[], Any]) -> Callable[[Spec], object]:
        def work(_spec: Spec) -> object:
            context = xmlsec.SignatureContext()
            context.key = key_object()
            return context.sign_binary(signed_info, xmlsec.constants.TransformRsaSha256)

        return work

    def failed_import(_spec: Spec) -> None:
        with contextlib.suppress(ImportError):
            importlib.import_module("udb_bench_no_such_module")

    asides = {
        "RSA-SHA256 (xmlsec), key loaded from PEM for each signature, as sign() does": per_report(
            rsa(lambda: xmlsec.Key.from_memory(key, xmlsec.constants.KeyDataFormatPem))
        ),
        "RSA-SHA256 (xmlsec), the same key loaded once and reused": per_report(
            rsa(lambda: loaded_once)
        ),
        "one failed import (httpcore's `import sniffio` when sniffio is missing)": per_report(
            failed_import
        ),
    }
    return stages, asides


class ImportSearches:
    """Counts the module searches (``sys.meta_path``) made while it is installed.

    A module already imported is found in ``sys.modules`` without a search; a
    search made again and again is an import that fails each time.
    """

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        self.counts[fullname] += 1
        return  # the other finders go on as before

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        sys.meta_path.insert(0, self)
        try:
            yield
        finally:
            sys.meta_path.remove(self)


# zeep -----------------------------------------------------------------------------


def zeep_plugins(key: str, cert: str) -> Any:
    """A Timestamp, then zeep's BinarySignature (SHA-256), answers not verified.

    As ``tests/e2e/test_zeep_wssecurity.py`` (python-zeep issues #996, #997).
    """
    import xmlsec
    from zeep.wsse import BinarySignature, Compose
    from zeep.wsse import utils as wsse_utils

    class Timestamp:
        def apply(self, envelope: Any, headers: Any) -> tuple[Any, Any]:
            created = datetime.now(UTC)
            security = wsse_utils.get_security_header(envelope)
            security.append(
                wsse_utils.WSU.Timestamp(
                    wsse_utils.WSU.Created(wsse_utils.get_timestamp(created, zulu_timestamp=True)),
                    wsse_utils.WSU.Expires(
                        wsse_utils.get_timestamp(
                            created + timedelta(minutes=5), zulu_timestamp=True
                        )
                    ),
                )
            )
            return envelope, headers

        def verify(self, envelope: Any) -> Any:
            return envelope

    class RequestSignature(BinarySignature):
        def verify(self, envelope: Any) -> Any:
            return envelope

    return Compose(
        [
            Timestamp(),
            RequestSignature(
                key,
                cert,
                signature_method=xmlsec.constants.TransformRsaSha256,
                digest_method=xmlsec.constants.TransformSha256,
            ),
        ]
    )


def zeep_proxy(args: argparse.Namespace) -> Any:
    """A service proxy from the served WSDL, posting to ``--url`` (the server or the stub)."""
    import requests
    import zeep

    transport = zeep.Transport(session=requests.Session(), timeout=60, operation_timeout=60)
    client = zeep.Client(args.wsdl, wsse=zeep_plugins(args.key, args.cert), transport=transport)
    endpoint = args.url.rstrip("/")
    if not endpoint.endswith(_wire.ENDPOINT_PATH):
        endpoint += _wire.ENDPOINT_PATH
    return client, client.create_service(SOAP12_BINDING, endpoint)


def run_zeep(args: argparse.Namespace, items: list[Spec], clock: Clock, rec: Recorder) -> Tally:
    from zeep.exceptions import Fault

    tally = Tally()
    proxies: queue.Queue[Any] = queue.Queue()
    for _ in range(args.concurrency):
        proxies.put(zeep_proxy(args)[1])
    calls = [zeep_kwargs(spec) for spec in items]

    def one(kwargs: dict[str, Any]) -> str:
        proxy = proxies.get()
        started = time.perf_counter()
        try:
            answer = getattr(proxy, OPERATION)(**kwargs)
        except Fault as exc:
            return f"error:Fault {exc.message}"
        except Exception as exc:  # a transport failure: counted, not raised
            return f"error:{type(exc).__name__}"
        finally:
            tally.latencies_ms.append((time.perf_counter() - started) * 1000)
            proxies.put(proxy)
        svar = answer.Message.IndberetningSvar
        return "ok" if svar.Ok is True else f"rejected:{svar.Fejl.FejlKode}"

    with (
        cf.ThreadPoolExecutor(args.concurrency, thread_name_prefix="zeep") as pool,
        rec.recording(),
        clock.measure(),
    ):
        for outcome in pool.map(one, calls):
            kind, _, what = outcome.partition(":")
            if kind == "ok":
                tally.ok += 1
            elif kind == "rejected":
                tally.rejected[what] += 1
            else:
                tally.errors[what] += 1
    return tally


def zeep_stages(
    args: argparse.Namespace, items: list[Spec]
) -> tuple[dict[str, float], dict[str, float]]:
    """CPU ms per report of zeep's serialising and its signing (wsse plugins), one thread."""
    client, proxy = zeep_proxy(args)
    binding = proxy._binding
    calls = [zeep_kwargs(spec) for spec in items]
    wsse, client.wsse = client.wsse, None  # serialised without the plugins first
    started = time.process_time()
    envelopes = [binding._create(OPERATION, (), kwargs, client=client)[0] for kwargs in calls]
    serialised = time.process_time() - started
    started = time.process_time()
    for envelope in envelopes:
        wsse.apply(envelope, {})
    signed = time.process_time() - started
    return {
        "envelope serialised (binding._create)": 1000 * serialised / len(items),
        "signed (Timestamp + BinarySignature.apply)": 1000 * signed / len(items),
    }, {}


# main -------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=("sdk", "async", "zeep"))
    parser.add_argument("--url", required=True, help="the service's base URL (or the stub's)")
    parser.add_argument("--wsdl", help="zeep: the WSDL's URL (the server's ?wsdl)")
    parser.add_argument("--cert", required=True, help="the client certificate (PEM)")
    parser.add_argument("--key", required=True, help="its private key (PEM)")
    parser.add_argument("--cpr-file", type=Path, required=True)
    parser.add_argument("--offset", type=int, default=0, help="first line of --cpr-file to use")
    parser.add_argument("--reports", type=int, default=10000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--server-pid", type=int, help="the server (or stub) whose CPU is read")
    parser.add_argument("--stages", type=int, default=300, help="reports timed per stage (300)")
    parser.add_argument("--profile", type=Path, help="py-spy raw output file")
    parser.add_argument(
        "--profile-gil", action="store_true", help="py-spy --gil: the GIL holder only"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.reports < 1 or args.concurrency < 1:
        raise SystemExit("--reports and --concurrency must be positive")
    if args.kind == "zeep" and not args.wsdl:
        raise SystemExit("zeep needs --wsdl")
    items = specs(args.cpr_file, args.offset, args.reports)
    clock = Clock(args.server_pid)
    recorder = Recorder(args.profile, gil=args.profile_gil)
    run = run_zeep if args.kind == "zeep" else run_sdk
    tally = run(args, items, clock, recorder)
    stages: dict[str, float] = {}
    asides: dict[str, float] = {}
    if args.stages > 0:
        sample = items[: args.stages]
        timing = zeep_stages if args.kind == "zeep" else sdk_stages
        stages, asides = timing(args, sample)
    ordered = sorted(tally.latencies_ms)
    values = clock.values
    answered = tally.ok + sum(tally.rejected.values())
    summary = {
        "kind": args.kind,
        "reports": args.reports,
        "concurrency": args.concurrency,
        "ok": tally.ok,
        "rejected": dict(tally.rejected),
        "errors": dict(tally.errors),
        "retried": tally.retried,
        "answered": answered,
        "reports_per_s": args.reports / max(values["elapsed_s"], 1e-9),
        "latency_ms": {
            "p50": percentile(ordered, 50),
            "p90": percentile(ordered, 90),
            "p99": percentile(ordered, 99),
            "max": ordered[-1] if ordered else 0.0,
        },
        "stages_ms": stages,
        "asides_ms": asides,
        "imports_searched": tally.imports_searched,
        "profile": str(args.profile) if args.profile else None,
        "profile_gil": bool(args.profile_gil),
        **values,
    }
    print(json.dumps(summary), flush=True)
    return 0 if tally.ok == args.reports else 1


if __name__ == "__main__":
    sys.exit(main())
