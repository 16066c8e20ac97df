"""The client's public surface, its options, and its conversation with the real endpoint."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import re
from pathlib import Path
from types import ModuleType

import httpx
import pytest

import udb.client
from tests.support import SYSTEM
from tests.unit.clientsupport import (
    BASE,
    CPR,
    Script,
    ServiceTransport,
    keys,
    sample_report,
)
from udb import ns, wssecurity
from udb.client import (
    AccessDeniedFault,
    AsyncUdbClient,
    SecurityFault,
    UdbClient,
    UdbError,
)
from udb.domain.clock import utc_now
from udb.soap import envelope
from udb.soap.version import SoapVersion

ENDPOINT = "http://udb.test/services/UDB/IndberetningKontaktJobOgUddOensker/v1"


# The public surface ------------------------------------------------------------------------


def test_the_exported_members_are_exactly_the_public_ones() -> None:
    public = {name for name in dir(udb.client) if not name.startswith("_")}
    # the public subpackages are attributes once something imported them
    subpackages = {name for name in public if isinstance(getattr(udb.client, name), ModuleType)}
    assert subpackages <= {"batch", "cli"}
    assert public - subpackages == set(udb.client.__all__)
    for name in udb.client.__all__:
        member = getattr(udb.client, name)
        if isinstance(member, type) and name not in ("ErrorCode", "ErrorKind"):
            assert member.__module__ == "udb.client", name


def _documented_tree() -> dict[str, str]:
    """{exception: its parent} as drawn in the module docstring."""
    doc = udb.client.__doc__ or ""
    block = doc.split("Exceptions (", 1)[1].split("\n\n", 2)[1]
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in block.splitlines():
        match = re.match(r"^([ │├└─]*)([A-Z]\w+)", line)
        if match is None:
            continue
        depth, name = len(match[1]), match[2]
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            parents[name] = stack[-1][1]
        stack.append((depth, name))
    return parents


def test_the_exception_tree_in_the_docstring_is_the_real_one() -> None:
    documented = _documented_tree()
    exported = {
        name
        for name in udb.client.__all__
        if isinstance(getattr(udb.client, name), type)
        and issubclass(getattr(udb.client, name), UdbError)
    }
    assert set(documented) | {"UdbError"} == exported
    for name, parent in documented.items():
        cls = getattr(udb.client, name)
        assert getattr(udb.client, parent) in cls.__bases__, (name, parent)


# Options -------------------------------------------------------------------------------------


def make(**options: object) -> UdbClient:
    cert, key = keys()
    settings: dict[str, object] = {"system_name": SYSTEM, "cert": cert, "key": key}
    settings.update(options)
    return UdbClient(BASE, **settings)  # type: ignore[arg-type]


@pytest.mark.parametrize("base_url", [BASE, BASE + "/", ENDPOINT, ENDPOINT + "/", BASE + "/?x=1"])
def test_the_endpoint_is_below_the_base_url(base_url: str) -> None:
    cert, key = keys()
    with UdbClient(base_url, system_name=SYSTEM, cert=cert, key=key) as c:
        assert c.endpoint == ENDPOINT and c.system_name == SYSTEM


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cert": None}, "insecure-dev-mode"),
        ({"key": None}, "insecure-dev-mode"),
        ({"sign": False}, "drop sign=False"),
        ({"system_name": " "}, "SystemName"),
        ({"system_name": "x" * 101}, "SystemName"),
        ({"digest": "md5"}, "digest"),
        ({"key": keys("another")[1]}, "does not belong"),
        ({"cert": "/nonexistent/client.pem"}, "cannot read the certificate"),
    ],
)
def test_unusable_options_fail_at_construction(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make(**options)


@pytest.mark.parametrize("base_url", ["ftp://udb.test", "udb.test", "http://"])
def test_a_base_url_must_be_http(base_url: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        UdbClient(base_url, system_name=SYSTEM, sign=False)


@pytest.mark.skipif(importlib.util.find_spec("h2") is not None, reason="h2 is installed")
def test_http2_needs_h2() -> None:
    with pytest.raises(ValueError, match="h2"):
        make(http2=True)


def test_keys_from_files(tmp_path: Path) -> None:
    cert, key = keys()
    (tmp_path / "client.pem").write_bytes(cert)
    (tmp_path / "client-key.pem").write_bytes(key)
    script = Script(None)
    with UdbClient(
        BASE,
        system_name=SYSTEM,
        cert=tmp_path / "client.pem",
        key=str(tmp_path / "client-key.pem"),
        transport=httpx.MockTransport(script),
    ) as c:
        assert c.send(sample_report()).accepted


def test_tls_options_build_a_context(tmp_path: Path) -> None:
    from udb.wssecurity.certs import make_dev_certificates

    paths = make_dev_certificates(tmp_path, system_name=SYSTEM)
    with make(ca=paths.ca_cert, client_cert=(paths.client_cert, paths.client_key)) as c:
        assert c.endpoint == ENDPOINT
    with pytest.raises(ValueError, match="CA bundle"):
        make(ca=tmp_path / "missing.pem")
    with pytest.raises(ValueError, match="client certificate"):
        make(client_cert=(paths.client_cert, paths.server_key))


def test_close_and_context_managers() -> None:
    c = make()
    with c as entered:
        assert entered is c
    assert c._http.is_closed
    c.close()  # closing again is harmless

    async def main() -> None:
        cert, key = keys()
        a = AsyncUdbClient(BASE, system_name=SYSTEM, cert=cert, key=key)
        async with a as entered:
            assert entered is a
        assert a._http.is_closed

    asyncio.run(main())


def test_timeouts_are_on_by_default() -> None:
    with make() as c:
        assert c._http.timeout == httpx.Timeout(10.0)
    with make(timeout=2.5) as c:
        assert c._http.timeout.read == 2.5


# Signing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("digest", "method"), [("sha256", "rsa-sha256"), ("sha1", "rsa-sha1")])
def test_requests_are_signed_as_the_platform_expects(digest: str, method: str) -> None:
    script = Script(None)
    with make(digest=digest, transport=httpx.MockTransport(script)) as c:
        c.send(sample_report())
    (request,) = script.requests
    parsed = envelope.parse(request.content, SoapVersion.SOAP12)
    root = parsed.envelope
    verified = wssecurity.verify(parsed, policy=wssecurity.SecurityPolicy(), now=utc_now())
    assert isinstance(verified, wssecurity.VerifiedMessage)
    assert verified.payload.tag == ns.qname(ns.IPL, "IndberetningKontaktJobOgUddOenskerRequest")
    assert verified.uses_sha1 is (digest == "sha1")
    assert f"#{method}".encode() in request.content
    assert root.find(f"{{{ns.SOAP12_ENV}}}Header/{{{ns.WSSE}}}Security") is not None


# The real endpoint in-process ----------------------------------------------------------------


def test_the_real_endpoint_accepts_rejects_and_pings(tmp_path: Path) -> None:
    service = ServiceTransport(tmp_path)
    cert, key = keys()
    try:
        with UdbClient(BASE, system_name=SYSTEM, cert=cert, key=key, transport=service) as c:
            assert c.ping() is True
            assert c.send(sample_report()).accepted
            unknown = c.send(sample_report("0101014230"))
            assert (unknown.accepted, unknown.code) == (False, 14)
        with (
            UdbClient(
                BASE,
                system_name="Vejledningssystem-Koebenhavn",
                cert=cert,
                key=key,
                transport=service,
            ) as other,
            pytest.raises(AccessDeniedFault) as caught,
        ):
            other.send(sample_report())
        assert caught.value.error_code == "IPL000004" and caught.value.http_status == 400
    finally:
        service.close()


def test_unsigned_requests_only_for_an_insecure_development_server(tmp_path: Path) -> None:
    secure, insecure = (
        ServiceTransport(tmp_path / "a"),
        ServiceTransport(tmp_path / "b", required=False),
    )
    try:
        with UdbClient(BASE, system_name=SYSTEM, sign=False, transport=insecure) as c:
            assert c.send(sample_report()).accepted
            assert c.ping()
        unsigned = UdbClient(BASE, system_name=SYSTEM, sign=False, transport=secure)
        with unsigned as c, pytest.raises(SecurityFault) as caught:
            c.send(sample_report())
        assert caught.value.error_code == "IPL000003" and not caught.value.retryable
    finally:
        secure.close()
        insecure.close()


def test_no_personal_data_in_the_clients_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    service = ServiceTransport(tmp_path, lose=1, fail=2)
    cert, key = keys()
    caplog.set_level(logging.DEBUG, logger="udb.client")
    try:
        with UdbClient(BASE, system_name=SYSTEM, cert=cert, key=key, transport=service) as c:
            result = c.send(sample_report(name="Privat Navn"))
        assert result.accepted and result.attempts == 3
    finally:
        service.close()
    client_lines = [r.getMessage() for r in caplog.records if r.name == "udb.client"]
    assert len(client_lines) == 2 and all(result.system_transaction_id in m for m in client_lines)
    text = "\n".join(client_lines)
    for secret in (CPR, "Privat Navn", "mette.sorensen", "4520304050", "Tømrer"):
        assert secret not in text
