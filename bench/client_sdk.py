"""The client benchmark's SDK runs: ``UdbClient.send_many`` and ``AsyncUdbClient.send_many``.

:func:`run_sdk` sends a batch with one client (``concurrency`` threads and one
``httpx.Client`` with keep-alive; or one event loop), every request signed by
the SDK as it is sent, with the SDK's default retry policy, noting each
``send``'s latency. :func:`sdk_stages` then times each stage of a report on
its own, in one thread, without I/O.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import xmlsec

from bench.client_batch import SYSTEM, Clock, Spec, Tally, sdk_report
from bench.profile import recording
from udb import wssecurity
from udb.client import AsyncUdbClient, Report, Result, UdbClient, _wire
from udb.domain.model import Outcome
from udb.soap.messages import Identifier, report_response
from udb.soap.version import SoapVersion


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


def run_sdk(args: argparse.Namespace, items: list[Spec], clock: Clock) -> Tally:
    """``send_many`` of the batch (``args.kind``: ``sdk`` or ``async``), measured by ``clock``."""
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
        with client, recording(args.profile, gil=args.profile_gil), clock.measure():
            for item in client.send_many(reports, concurrency=args.concurrency):
                tally.add_item(item)
    else:
        searches = ImportSearches()

        async def send_all() -> None:
            client = TimedAsyncUdbClient(args.url, **options)
            client.latencies_ms = tally.latencies_ms
            async with client:
                with (
                    recording(args.profile, gil=args.profile_gil),
                    searches.installed(),
                    clock.measure(),
                ):
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
