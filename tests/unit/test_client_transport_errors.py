"""Every way a request can fail, as the SDK tells it: which exception, stored or not, retried.

httpx raises its exceptions with the cause beneath as ``__cause__`` (an
``ssl.SSLError``, a ``ConnectionRefusedError``); the transport here raises them
the same way, so the client reads the same chain as it does off the network.
"""

from __future__ import annotations

import asyncio
import errno
import pickle
import socket
import ssl
from pathlib import Path

import httpx
import pytest

from tests.support import SYSTEM
from tests.unit.clientsupport import BASE, Script, client, keys, sample_report
from udb.client import (
    AccessDeniedFault,
    AsyncUdbClient,
    ConnectError,
    NetworkError,
    RetryPolicy,
    SecurityFault,
    ServerFault,
    TimeoutException,
    TLSHandshakeError,
    TransportError,
    UdbClient,
    UdbError,
    UnexpectedResponse,
)
from udb.contract import faults

BAD_GATEWAY = httpx.Response(502, text="<html>Bad Gateway</html>")


def caused(exc: httpx.RequestError, cause: BaseException) -> httpx.RequestError:
    exc.__cause__ = cause
    return exc


def ssl_error(reason: str, text: str) -> ssl.SSLError:
    """An SSLError as ssl raises it after an alert or a local failure."""
    return ssl.SSLError(1, f"[SSL: {reason}] {text} (_ssl.c:2580)")


def verify_error(code: int, message: str) -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(
        1, f"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {message} (_ssl.c:1006)"
    )
    error.reason = "CERTIFICATE_VERIFY_FAILED"
    error.verify_code = code
    error.verify_message = message
    return error


def failing(failure: object, **options: object) -> tuple[UdbError, Script]:
    """The exception ``send`` raises when every attempt meets ``failure``."""
    script = Script(failure)
    with client(script, **options) as c, pytest.raises(UdbError) as caught:
        c.send(sample_report(), transaction_id="tx-fail")
    return caught.value, script


# No connection: nothing was sent ------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "raised", "words"),
    [
        (
            caused(httpx.ConnectError("[Errno 111] Connection refused"), ConnectionRefusedError()),
            ConnectError,
            "cannot connect to udb.test:80: the connection was refused",
        ),
        (
            caused(
                httpx.ConnectError("[Errno -2] Name or service not known"),
                socket.gaierror(-2, "Name or service not known"),
            ),
            ConnectError,
            "cannot connect to udb.test:80: the host name is unknown",
        ),
        (
            caused(
                httpx.ConnectError("[Errno 101] Network is unreachable"),
                OSError(errno.ENETUNREACH, "Network is unreachable"),
            ),
            ConnectError,
            "the network or the host is unreachable",
        ),
        (httpx.ProxyError("407 Proxy Authentication Required"), ConnectError, "through the proxy"),
        (httpx.ConnectTimeout("timed out"), TimeoutException, "timed out connecting to udb.test"),
        (httpx.PoolTimeout("no connection"), TimeoutException, "free connection"),
        (httpx.LocalProtocolError("bad header"), NetworkError, "could not be sent"),
    ],
)
def test_a_failure_before_the_request_left_is_not_stored_and_retried(
    failure: httpx.RequestError, raised: type[TransportError], words: str
) -> None:
    error, script = failing(failure)
    assert type(error) is raised
    assert words in str(error)
    assert error.may_be_stored is False
    assert error.retryable is True and error.attempts == 5 and len(script.requests) == 5
    assert error.system_transaction_id == "tx-fail"


# A request went out and no answer came: it may have been stored ----------------------------


@pytest.mark.parametrize(
    ("failure", "raised", "words"),
    [
        (httpx.ReadTimeout("timed out"), TimeoutException, "waiting for the answer"),
        (httpx.WriteTimeout("timed out"), TimeoutException, "sending the request"),
        (httpx.ReadError("reset"), NetworkError, "broke while waiting for the answer"),
        (httpx.WriteError("broken pipe"), NetworkError, "broke while the request was sent"),
        (
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            NetworkError,
            "broke before the answer came",
        ),
        (
            caused(httpx.ReadError("bad record mac"), ssl_error("SSLV3_ALERT_BAD_RECORD_MAC", "x")),
            NetworkError,
            "broke while waiting",
        ),
    ],
)
def test_no_answer_after_the_request_left_may_be_stored_and_is_retried(
    failure: httpx.RequestError, raised: type[TransportError], words: str
) -> None:
    error, script = failing(failure)
    assert type(error) is raised
    assert words in str(error)
    assert error.may_be_stored is True
    assert error.retryable is True and error.attempts == 5 and len(script.requests) == 5


def test_an_earlier_attempt_without_an_answer_makes_a_later_refusal_unsure() -> None:
    refused = caused(httpx.ConnectError("refused"), ConnectionRefusedError())
    error, _ = failing(refused)
    assert error.may_be_stored is False
    mixed = Script(httpx.ReadTimeout("lost"), refused)
    with client(mixed) as c, pytest.raises(ConnectError) as caught:
        c.send(sample_report())
    assert caught.value.attempts == 5
    assert caught.value.may_be_stored is True  # the first request may have been stored


# The TLS handshake failed: nothing reached the service, and it is not retried --------------


@pytest.mark.parametrize(
    ("failure", "problem", "words", "client_cert"),
    [
        (
            caused(
                httpx.ReadError("tlsv13 alert certificate required"),
                ssl_error("TLSV13_ALERT_CERTIFICATE_REQUIRED", "tlsv13 alert certificate required"),
            ),
            "client-cert-missing",
            "the server asks for a TLS client certificate and none was given "
            "(TLSV13_ALERT_CERTIFICATE_REQUIRED)",
            False,
        ),
        (
            caused(
                httpx.ConnectError("handshake failure"),
                ssl_error("SSLV3_ALERT_HANDSHAKE_FAILURE", "sslv3 alert handshake failure"),
            ),
            "client-cert-missing",
            "asks for a TLS client certificate",
            False,
        ),
        (
            caused(
                httpx.ReadError("bad certificate"),
                ssl_error("SSLV3_ALERT_BAD_CERTIFICATE", "sslv3 alert bad certificate"),
            ),
            "client-cert-refused",
            "the server refused the TLS client certificate (SSLV3_ALERT_BAD_CERTIFICATE)",
            True,
        ),
        (
            caused(
                httpx.ReadError("unknown ca"),
                ssl_error("TLSV1_ALERT_UNKNOWN_CA", "tlsv1 alert unknown ca"),
            ),
            "client-cert-refused",
            "refused the TLS client certificate",
            True,
        ),
        (
            caused(
                httpx.ConnectError("verify failed"),
                verify_error(20, "unable to get local issuer certificate"),
            ),
            "server-cert-untrusted",
            "not issued by a CA this client trusts (unable to get local issuer certificate)",
            True,
        ),
        (
            caused(httpx.ConnectError("verify failed"), verify_error(62, "Hostname mismatch")),
            "hostname-mismatch",
            "the server's certificate is not valid for the name udb.test",
            True,
        ),
        (
            caused(
                httpx.ConnectError("verify failed"), verify_error(10, "certificate has expired")
            ),
            "cert-expired",
            "the server's certificate has expired, or this machine's clock is wrong",
            True,
        ),
        (
            caused(
                httpx.ConnectError("wrong version number"),
                ssl_error("WRONG_VERSION_NUMBER", "wrong version number"),
            ),
            "not-tls",
            "does not speak TLS there",
            False,
        ),
        (
            caused(httpx.ConnectError("other"), ssl_error("NO_CIPHERS_AVAILABLE", "no ciphers")),
            "other",
            "the TLS handshake with udb.test:80 failed (NO_CIPHERS_AVAILABLE)",
            False,
        ),
    ],
)
def test_a_failed_tls_handshake_is_not_stored_and_not_retried(
    failure: httpx.RequestError, problem: str, words: str, client_cert: bool, tmp_path: Path
) -> None:
    # the transport replaces the network, so client_cert is given only for what it tells
    cert, key = keys()
    script = Script(failure)
    options: dict[str, object] = {}
    if client_cert:
        (tmp_path / "client.pem").write_bytes(cert)
        (tmp_path / "client-key.pem").write_bytes(key)
        options["client_cert"] = (tmp_path / "client.pem", tmp_path / "client-key.pem")
    with client(script, **options) as c, pytest.raises(TLSHandshakeError) as caught:
        c.send(sample_report())
    error = caught.value
    assert isinstance(error, ConnectError)
    assert error.problem == problem
    assert words in str(error)
    assert error.may_be_stored is False and error.retryable is False
    assert error.attempts == 1 and len(script.requests) == 1
    assert cert not in str(error).encode() and key not in str(error).encode()


def test_the_async_client_tells_a_tls_failure_the_same_way() -> None:
    failure = caused(
        httpx.ReadError("tlsv13 alert certificate required"),
        ssl_error("TLSV13_ALERT_CERTIFICATE_REQUIRED", "tlsv13 alert certificate required"),
    )
    script = Script(failure)
    cert, key = keys()

    async def send(transport: Script, attempts: int) -> UdbError:
        async with AsyncUdbClient(
            BASE,
            system_name=SYSTEM,
            cert=cert,
            key=key,
            retry=RetryPolicy(attempts=attempts, initial=0.0, maximum=0.0),
            transport=httpx.MockTransport(transport),
        ) as c:
            try:
                await c.send(sample_report())
            except UdbError as exc:
                return exc
        raise AssertionError("no error")

    error = asyncio.run(send(script, 5))
    assert isinstance(error, TLSHandshakeError) and error.problem == "client-cert-missing"
    assert error.may_be_stored is False and len(script.requests) == 1

    unsure = Script(httpx.ReadTimeout("lost"), httpx.ConnectError("refused"))
    later = asyncio.run(send(unsure, 3))
    assert isinstance(later, ConnectError) and later.may_be_stored is True


# Answers that are not the report's answer -----------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "raised", "stored", "retried"),
    [
        (faults.INTERNAL, ServerFault, True, True),
        (BAD_GATEWAY, UnexpectedResponse, True, True),
        (httpx.Response(404, text="Not Found"), UnexpectedResponse, True, False),
        (faults.SECURITY, SecurityFault, False, False),
        (faults.ACCESS_DENIED, AccessDeniedFault, False, False),
    ],
)
def test_faults_and_foreign_answers_say_whether_the_report_may_be_stored(
    failure: object, raised: type[UdbError], stored: bool, retried: bool
) -> None:
    error, script = failing(failure)
    assert type(error) is raised
    assert error.may_be_stored is stored
    assert error.retryable is retried
    assert len(script.requests) == (5 if retried else 1)


def test_an_invalid_report_is_not_stored() -> None:
    with client(Script(None)) as c, pytest.raises(UdbError) as caught:
        c.send(sample_report(), transaction_id=" ")
    assert caught.value.may_be_stored is False and caught.value.attempts == 0


def test_may_be_stored_survives_pickling() -> None:
    mixed = Script(httpx.ReadTimeout("lost"), httpx.ConnectError("refused"))
    with client(mixed) as c, pytest.raises(ConnectError) as caught:
        c.send(sample_report())
    copy = pickle.loads(pickle.dumps(caught.value))
    assert type(copy) is ConnectError and copy.may_be_stored is True
    assert str(copy) == str(caught.value)
    tls = caused(
        httpx.ConnectError("verify failed"), verify_error(20, "unable to get local issuer")
    )
    error, _ = failing(tls)
    again = pickle.loads(pickle.dumps(error))
    assert isinstance(again, TLSHandshakeError)
    assert again.problem == "server-cert-untrusted" and again.retryable is False


# Files that cannot be used, in words ---------------------------------------------------------


def test_unusable_tls_and_signing_files_are_named_in_words(tmp_path: Path) -> None:
    cert, key = keys()
    other_key = keys("another")[1]
    files = {"cert.pem": cert, "key.pem": key, "other-key.pem": other_key}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    cases: list[tuple[dict[str, object], str]] = [
        (
            {"client_cert": (tmp_path / "cert.pem", tmp_path / "other-key.pem")},
            "the key does not belong to the certificate",
        ),
        (
            {"client_cert": (tmp_path / "key.pem", tmp_path / "key.pem")},
            "it is not a PEM certificate and key",
        ),
        (
            {"client_cert": (tmp_path / "absent.pem", tmp_path / "key.pem")},
            "No such file or directory",
        ),
        ({"ca": tmp_path / "key.pem"}, "it holds no PEM certificate"),
        ({"ca": tmp_path}, "Is a directory"),
        (
            {"cert": tmp_path / "key.pem"},
            "is not a PEM certificate (a file with a -----BEGIN CERTIFICATE----- line)",
        ),
        ({"key": cert}, "the private key is not a PEM private key"),
    ]
    for options, words in cases:
        with pytest.raises(ValueError) as caught:
            UdbClient(BASE, system_name=SYSTEM, **{"cert": cert, "key": key, **options})  # type: ignore[arg-type]
        message = str(caught.value)
        assert words in message, (options, message)
        assert "_ssl.c" not in message and "[SSL" not in message and "Errno" not in message
