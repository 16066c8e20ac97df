"""The floor of each stage of a report, measured in isolation for ``python -m bench.wrk``.

Each figure is CPU time per item (milliseconds), of this process unless said otherwise:

* ``xmlsec``: lxml parses a signed body and python-xmlsec verifies its signature with the
  certificate's key (the cryptography's own floor, none of our checks);
* ``verify``: :func:`udb.wssecurity.verify` of a parsed signed body (ours: every check);
* ``parse_validate``: :func:`udb.soap.envelope.parse` and ``checked_payload`` (schema) of
  the same report unsigned;
* ``stored``: :func:`udb.service.reports.submit` of a new report in-process (one unit of
  work on the benchmark's database), this process and PostgreSQL apart;
* ``endpoint``: :meth:`udb.api.endpoint.Endpoint.post` of fresh bodies in one thread, as
  ``udb serve`` configures it, without HTTP and without the request log (one request at
  a time, the log would write each record in a transaction of its own; under load it
  writes many a transaction): the request path without a server, this process and
  PostgreSQL apart;
* ``http``: an empty ASGI answer (:mod:`bench.empty_app`) under granian with the server's
  workers, driven by wrk: the server's CPU per request.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from bench import measure


def per_item_ms(items: Sequence[bytes], work: Callable[[bytes], object]) -> float:
    """CPU milliseconds of this process per item, over every item once."""
    started = time.process_time()
    for item in items:
        work(item)
    return (time.process_time() - started) / len(items) * 1000


def xmlsec_floor(bodies: Sequence[bytes], cert_pem: bytes) -> float:
    import xmlsec
    from lxml import etree

    from udb import ns

    key = xmlsec.Key.from_memory(cert_pem, xmlsec.constants.KeyDataFormatCertPem)

    def check(body: bytes) -> None:
        root = etree.fromstring(body)
        signature = root.find(f".//{{{ns.DS}}}Signature")
        context = xmlsec.SignatureContext()
        context.key = key
        for element in root.iter():
            if element.get(ns.qname(ns.WSU, "Id")) is not None:
                context.register_id(element, "Id", ns.WSU)
        context.verify(signature)

    return per_item_ms(bodies, check)


def verify_ms(bodies: Sequence[bytes]) -> float:
    from udb import wssecurity
    from udb.soap import envelope
    from udb.soap.version import SoapVersion
    from udb.wssecurity import SecurityPolicy

    policy = SecurityPolicy()
    parsed = [envelope.parse(body, SoapVersion.SOAP12) for body in bodies]
    now = datetime.now(UTC)
    started = time.process_time()
    for one in parsed:
        wssecurity.verify(one, policy=policy, now=now)
    return (time.process_time() - started) / len(parsed) * 1000


def parse_validate_ms(bodies: Sequence[bytes]) -> float:
    from udb import contract, wssecurity
    from udb.soap import envelope
    from udb.soap.version import SoapVersion
    from udb.wssecurity import SecurityPolicy

    contract.prepare()
    policy, now = SecurityPolicy(), datetime.now(UTC)

    def check(body: bytes) -> None:
        parsed = envelope.parse(body, SoapVersion.SOAP12)
        envelope.checked_payload(parsed, wssecurity.verify(parsed, policy=policy, now=now))

    return per_item_ms(bodies, check)


def stored_ms(database_url: str, cprs: Sequence[str], count: int) -> tuple[float, float]:
    """(this process, PostgreSQL) CPU ms per report of ``reports.submit`` in-process."""
    from udb.demo import AARHUS_SYSTEM
    from udb.domain.model import ContactBlock, ReportContent, Submission
    from udb.service.reports import ReportPolicy, submit
    from udb.storage import open_store

    store = open_store(database_url)
    policy = ReportPolicy()
    try:
        at = datetime.now(UTC)
        submissions = [
            Submission(
                AARHUS_SYSTEM,
                str(uuid.uuid4()),
                ReportContent(
                    AARHUS_SYSTEM,
                    cprs[i % len(cprs)],
                    751001,
                    ContactBlock("Mette Testvejleder", "mette@test.example", None, at),
                ),
                at,
                str(uuid.uuid4()),
            )
            for i in range(count + 50)
        ]
        for warm in submissions[:50]:  # the pool's connections and the statements prepared
            submit(warm, store, policy)
        database = measure.database_cpu()
        started = time.process_time()
        for one in submissions[50:]:
            if not submit(one, store, policy).ok:
                raise RuntimeError("a stored report of the floor was not accepted")
        own = (time.process_time() - started) / count * 1000
        return own, measure.database_cpu_since(database) / count * 1000
    finally:
        store.close()


def endpoint_ms(database_url: str, bodies: Sequence[bytes], *, signed: bool) -> tuple[float, float]:
    """(this process, PostgreSQL) CPU ms per request of ``Endpoint.post``, in one thread.

    ``bodies`` must not have been sent before (a signature is accepted once).
    """
    import logging

    from udb.api.app import create_app
    from udb.config import Settings
    from udb.soap.version import SoapVersion

    # as under udb serve --log-level warning, but without development mode's warning a
    # request (written to this terminal, it would be measured as the path's own cost)
    logging.getLogger("udb").setLevel(logging.ERROR)
    settings = Settings(database_url=database_url, insecure_dev_mode=not signed)
    app = create_app(settings)
    app.startup()
    endpoint = app.endpoint
    content_type = SoapVersion.SOAP12.content_type
    try:
        for warm in bodies[:50]:
            endpoint.post(warm, content_type, datetime.now(UTC))
        database = measure.database_cpu()
        started = time.process_time()
        for body in bodies[50:]:
            reply = endpoint.post(body, content_type, datetime.now(UTC))
            if reply.outcome != "accepted":
                raise RuntimeError(f"a request of the floor was answered {reply.outcome}")
        count = len(bodies) - 50
        own = (time.process_time() - started) / count * 1000
        return own, measure.database_cpu_since(database) / count * 1000
    finally:
        app.shutdown()
