"""verify_timestamp: RFC 3161 tokens of a real (local) TSA over checkpoint bodies.

Each way a token can mislead a reader is a test named after it, and must be
refused with TimestampError saying which check failed.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import cms, tsp
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI
from fastapi.testclient import TestClient

from domain.errors import InvalidInputError
from domain.evidence.checkpoint import Checkpoint
from domain.evidence.timestamp import (
    TimestampError,
    TimeVerdict,
    read_certificates,
    verify_timestamp,
)
from infrastructure.timestamping import time_stamp_request
from tests.tsa import LocalTSA

BODY = Checkpoint(origin="example.gov.vn/ledger", size=42, root=bytes(range(32))).body()
OTHER_BODY = Checkpoint(origin="example.gov.vn/ledger", size=43, root=bytes(32)).body()


@pytest.fixture(scope="module")
def tsa() -> LocalTSA:
    return LocalTSA()  # tokens are made without HTTP here: not started


@pytest.fixture(autouse=True)
def behaving(tsa: LocalTSA) -> Iterator[None]:
    yield
    tsa.reset()


@pytest.fixture(scope="module")
def token(tsa: LocalTSA) -> bytes:
    return tsa.token(BODY)


def refused(token: bytes, match: str, body: str = BODY,
            trusted: list[bytes] | None = None, tsa: LocalTSA | None = None) -> None:
    assert trusted is not None or tsa is not None
    with pytest.raises(TimestampError, match=match) as caught:
        verify_timestamp(token, body, trusted if trusted is not None else [tsa.ca_pem])
    assert caught.value.code == "invalid-timestamp"


def signed_content(token: bytes) -> tuple[int, int]:
    """Where the TSTInfo (what the TSA signs) lies in the token's bytes."""
    tst_info = cms.ContentInfo.load(token)["content"]["encap_content_info"]["content"]
    start = token.index(tst_info.contents)
    return start, start + len(tst_info.contents)


def test_token_over_the_checkpoint_body_gives_the_tsa_time(tsa: LocalTSA,
                                                           token: bytes) -> None:
    verdict = verify_timestamp(token, BODY, [tsa.ca_pem])
    assert abs(verdict.gen_time - datetime.now(UTC)) < timedelta(minutes=1)
    assert verdict.gen_time.tzinfo is UTC and verdict.no_later_than == verdict.gen_time
    assert verdict.tsa == "CN=Test TSA,O=Test TSA Operator,C=VN"
    assert verdict.as_dict() == {
        "gen_time": verdict.gen_time.isoformat().replace("+00:00", "Z"),
        "no_later_than": verdict.gen_time.isoformat().replace("+00:00", "Z"),
        "accuracy_seconds": 0.0, "tsa": verdict.tsa, "serial": str(verdict.serial)}
    # the TSA's own certificate may be the trusted one, in DER as well as PEM
    tsa_der = tsa.tsa.cert.public_bytes(serialization.Encoding.DER)
    assert verify_timestamp(token, BODY, [tsa_der]) == verdict
    # a PEM bundle of several certificates, the trusted one among them
    elsewhere = LocalTSA("Elsewhere", keys="impostor").ca_pem
    assert verify_timestamp(token, BODY, [elsewhere + tsa.ca_pem]) == verdict


def test_accuracy_moves_the_no_later_than_bound(tsa: LocalTSA) -> None:
    tsa.accuracy = timedelta(seconds=1, milliseconds=500)
    verdict = verify_timestamp(tsa.token(BODY), BODY, [tsa.ca_pem])
    assert verdict.no_later_than - verdict.gen_time == timedelta(seconds=1.5)
    assert verdict.as_dict()["accuracy_seconds"] == 1.5


def test_token_for_another_checkpoint_body_is_refused(tsa: LocalTSA, token: bytes) -> None:
    refused(token, "not the SHA-256 of this checkpoint body", body=OTHER_BODY, tsa=tsa)
    refused(tsa.token(OTHER_BODY), "time-stamps other bytes", tsa=tsa)


def test_token_whose_imprint_is_hashed_with_another_algorithm_is_refused(
        tsa: LocalTSA) -> None:
    refused(tsa.token(BODY, "sha512"), "hashed with sha512, not sha256", tsa=tsa)


def test_token_with_a_flipped_byte_in_what_the_tsa_signed_is_refused(
        tsa: LocalTSA, token: bytes) -> None:
    start, end = signed_content(token)
    for position in range(start, end, 9):  # the imprint, the time, the serial, the nonce …
        flipped = bytearray(token)
        flipped[position] ^= 0x01
        with pytest.raises(TimestampError):
            verify_timestamp(bytes(flipped), BODY, [tsa.ca_pem])


def test_backdated_token_is_refused(tsa: LocalTSA, token: bytes) -> None:
    start, end = signed_content(token)
    year = str(datetime.now(UTC).year).encode()
    at = token.index(year, start, end)  # the genTime, YYYYMMDDhhmmss…
    backdated = token[:at] + str(int(year) - 1).encode() + token[at + 4:]
    refused(backdated, "signature of TSA CN=Test TSA.* does not verify", tsa=tsa)


def test_token_whose_signature_was_altered_is_refused(tsa: LocalTSA, token: bytes) -> None:
    signature = cms.ContentInfo.load(token)["content"]["signer_infos"][0]["signature"]
    at = token.index(signature.contents) + 100
    refused(token[:at] + bytes([token[at] ^ 0x80]) + token[at + 1:], "does not verify",
            tsa=tsa)


def test_token_from_an_untrusted_tsa_is_refused(tsa: LocalTSA) -> None:
    impostor = LocalTSA("Test TSA", keys="impostor")  # the same name, its own keys, CA
    refused(impostor.token(BODY), "does not chain to a trusted certificate", tsa=tsa)
    refused(impostor.token(BODY), "does not chain",
            trusted=[tsa.tsa.cert.public_bytes(serialization.Encoding.PEM)])


def test_token_signed_with_a_certificate_without_the_time_stamping_eku_is_refused(
        tsa: LocalTSA) -> None:
    tsa.mode = "no-eku"
    token = tsa.token(BODY)
    refused(token, "not a TSA's: its extended key usage is not exactly id-kp-timeStamping",
            tsa=tsa)
    # also when that very certificate is the trusted one (no path to check usage on)
    refused(token, "not a TSA's", trusted=[tsa.tsa_without_eku.pem])


def test_token_signed_with_a_non_critical_time_stamping_eku_is_refused(
        tsa: LocalTSA) -> None:
    tsa.mode = "eku-not-critical"
    refused(tsa.token(BODY), "id-kp-timeStamping is not critical", tsa=tsa)


def test_token_signed_after_the_tsa_certificate_expired_is_refused(tsa: LocalTSA) -> None:
    tsa.clock_offset = timedelta(days=365)  # a TSA whose clock runs a year ahead
    refused(tsa.token(BODY), "does not chain to a trusted certificate valid at", tsa=tsa)


@pytest.mark.parametrize("junk", [b"", b"\x30\x03\x02\x01\x01", b"not a token at all"])
def test_bytes_that_are_not_a_token_are_refused(tsa: LocalTSA, junk: bytes) -> None:
    refused(junk, "time-stamp token", tsa=tsa)


def test_a_certificate_or_a_truncated_token_is_not_a_token(tsa: LocalTSA,
                                                           token: bytes) -> None:
    refused(tsa.tsa.cert.public_bytes(serialization.Encoding.DER), "time-stamp token", tsa=tsa)
    refused(token[:-10], "time-stamp token", tsa=tsa)
    refused(token + b"\x00", "time-stamp token", tsa=tsa)


def test_trusted_certificates_that_are_missing_or_not_certificates_are_bad_input(
        token: bytes) -> None:
    with pytest.raises(InvalidInputError, match="no trusted TSA certificate"):
        verify_timestamp(token, BODY, [])
    with pytest.raises(InvalidInputError, match="not an X.509 certificate"):
        verify_timestamp(token, BODY, [b"-----BEGIN CERTIFICATE-----\nAAAA\n"])
    with pytest.raises(InvalidInputError, match="not an X.509 certificate"):
        read_certificates(base64.b64encode(b"junk"))


def test_verification_runs_inside_and_outside_a_running_event_loop(
        tsa: LocalTSA, token: bytes) -> None:
    """pyHanko's checks are asynchronous: verify_timestamp runs them from plain
    code, from an API worker thread (no loop there) and from within a loop."""
    app = FastAPI()

    @app.get("/sync")
    def in_worker_thread() -> dict[str, str]:
        return {"tsa": verify_timestamp(token, BODY, [tsa.ca_pem]).tsa}

    @app.get("/async")
    async def in_the_loop() -> dict[str, str]:
        return {"tsa": verify_timestamp(token, BODY, [tsa.ca_pem]).tsa}

    with TestClient(app) as client:
        assert client.get("/sync").json()["tsa"] == "CN=Test TSA,O=Test TSA Operator,C=VN"
        assert client.get("/async").json()["tsa"] == "CN=Test TSA,O=Test TSA Operator,C=VN"

    async def nested() -> TimeVerdict:
        return verify_timestamp(token, BODY, [tsa.ca_pem])

    assert asyncio.run(nested()).tsa == "CN=Test TSA,O=Test TSA Operator,C=VN"


def test_token_signed_over_a_sha1_digest_is_refused(tsa: LocalTSA) -> None:
    stamper = tsa.stamper()
    stamper.override_md = "sha1"  # the imprint stays SHA-256; the signature uses SHA-1
    request = tsp.TimeStampReq.load(time_stamp_request(BODY, nonce=5))
    token = stamper.request_tsa_response(request)["time_stamp_token"].dump()
    refused(token, r"signed with a weak algorithm \(sha1, ", tsa=tsa)


def test_token_whose_signature_does_not_name_the_tsa_certificate_is_refused(
        tsa: LocalTSA) -> None:
    tsa.mode = "no-signing-certificate"  # certificate substitution would go unnoticed
    refused(tsa.token(BODY), "does not sign the signing-certificate attribute", tsa=tsa)


OPENSSL_TSA = """[tsa]
default_tsa = local
[local]
serial = {dir}/serial
signer_cert = {dir}/tsa.pem
signer_key = {dir}/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
accuracy = secs:1
ess_cert_id_alg = sha256
"""


def test_tokens_interoperate_with_openssl_ts(tsa: LocalTSA, token: bytes,
                                             tmp_path: Path) -> None:
    """A token of OpenSSL's TSA (ESS signing-certificate v2, an accuracy) verifies
    here, and OpenSSL verifies ours: neither side checks only itself."""
    openssl = shutil.which("openssl")
    if openssl is None:
        if os.environ.get("CI"):
            pytest.fail("the openssl command is required in CI")
        pytest.skip("no openssl command")
    (tmp_path / "tsa.pem").write_bytes(tsa.tsa.pem)
    (tmp_path / "ca.pem").write_bytes(tsa.ca_pem)
    (tmp_path / "tsa.key").write_bytes(tsa.tsa.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    (tmp_path / "serial").write_text("01\n")
    (tmp_path / "tsa.cnf").write_text(OPENSSL_TSA.format(dir=tmp_path))
    (tmp_path / "query").write_bytes(time_stamp_request(BODY, nonce=12345))

    def run(*args: str) -> None:
        done = subprocess.run([openssl, "ts", *args], capture_output=True, timeout=30,
                              cwd=tmp_path)
        assert done.returncode == 0, done.stderr

    run("-reply", "-queryfile", "query", "-config", "tsa.cnf", "-token_out", "-out", "theirs")
    verdict = verify_timestamp((tmp_path / "theirs").read_bytes(), BODY, [tsa.ca_pem])
    assert verdict.accuracy == timedelta(seconds=1) and verdict.tsa == tsa.name.join(
        ("CN=", ",O=Test TSA Operator,C=VN"))
    (tmp_path / "ours").write_bytes(token)
    (tmp_path / "body").write_text(BODY)
    run("-verify", "-token_in", "-in", "ours", "-data", "body", "-CAfile", "ca.pem")
