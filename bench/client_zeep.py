"""The client benchmark's zeep runs: zeep 4 with its own WS-Security plugin.

zeep's ``BinarySignature`` (RSA-SHA256/SHA-256) after a ``Timestamp`` plugin,
answers not verified (the service does not sign them), exactly as
``tests/e2e/test_zeep_wssecurity.py`` does, from the served WSDL, called from a
thread pool of ``concurrency`` threads, each thread with its own zeep client
(its own ``requests`` session: a session is not thread-safe).
:func:`zeep_stages` then times zeep's serialising and its signing on their own.
"""

# zeep has no type hints: its calls are untyped.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import argparse
import concurrent.futures as cf
import queue
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.client_batch import INSTITUTION, SYSTEM, Clock, Spec, Tally
from bench.profile import recording
from udb.client import _wire

TNS = "http://ipl.stil.dk/services/udb/indberetningkontaktjoboguddoensker/v1.0"
SOAP12_BINDING = f"{{{TNS}}}IndberetningKontaktJobOgUddOenskerSoap12Binding"
OPERATION = "IndberetningKontaktJobOgUddOensker"


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


def run_zeep(args: argparse.Namespace, items: list[Spec], clock: Clock) -> Tally:
    """The batch from a thread pool, one zeep client per thread, measured by ``clock``."""
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
        recording(args.profile, gil=args.profile_gil),
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
