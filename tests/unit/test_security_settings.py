"""The WS-Security settings, built with the other settings (udb.config.Settings.security)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.unit import wssamples
from udb.cli.serve import serve
from udb.config import ConfigError, Security, Settings
from udb.wssecurity import SecurityPolicy

#: what the message of a trust anchor file without certificates says to do
FIX = ": give the CA certificates that issue the signing certificates (-----BEGIN CERTIFICATE-----)"


def test_secure_by_default() -> None:
    security = Settings().security()
    assert security == Security(policy=SecurityPolicy(), required=True)
    assert security.policy.trust_anchors == ()


def test_the_policy_follows_the_settings() -> None:
    env = {
        "UDB_WSSE_ALLOW_SHA1": "false",
        "UDB_WSSE_CLOCK_SKEW_S": "60",
        "UDB_INSECURE_DEV_MODE": "true",
    }
    security = Settings.from_env(env).security()
    assert security.required is False
    assert security.policy.allow_sha1 is False
    assert security.policy.clock_skew == timedelta(seconds=60)


def test_trust_anchors_are_read_and_checked(tmp_path: Path) -> None:
    pem = tmp_path / "anchors.pem"
    pem.write_bytes(wssamples.ca().cert_pem + wssamples.self_signed().cert_pem)
    anchors = Settings(trust_anchors=str(pem)).security().policy.trust_anchors
    assert anchors == (wssamples.ca().certificate, wssamples.self_signed().certificate)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            None,
            "cannot read the trust anchors {pem}: No such file or directory: check "
            "--trust-anchors (or UDB_TRUST_ANCHORS) and the file's permissions",
        ),
        (b"not a certificate", "the trust anchor file {pem} holds no valid PEM certificate" + FIX),
    ],
)
def test_an_unusable_trust_anchor_file_is_a_config_error(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    pem = tmp_path / "anchors.pem"
    if content is not None:
        pem.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        Settings(trust_anchors=str(pem)).security()
    assert str(caught.value) == message.format(pem=pem)


def test_serve_refuses_to_start_with_an_unusable_trust_anchor_file(tmp_path: Path) -> None:
    pem = tmp_path / "anchors.pem"
    pem.write_bytes(b"not a certificate")
    database = "sqlite:///" + str(tmp_path / "udb.sqlite3")
    result = CliRunner().invoke(serve, ["--trust-anchors", str(pem), "--database", database])
    assert result.exit_code == 1
    assert (
        result.output == f"Error: the trust anchor file {pem} holds no valid PEM certificate{FIX}\n"
    )
    assert not (tmp_path / "udb.sqlite3").exists()  # refused before touching the database
