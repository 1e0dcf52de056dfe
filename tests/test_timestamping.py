"""TimestampAuthority: RFC 3161 over HTTP to a real local TSA, and every way it fails.

Whatever goes wrong (down, slow, refusing, misconfigured, a wrong clock), the
caller gets TimestampUnavailable, quickly, and no token.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from domain.errors import InvalidInputError
from domain.evidence.checkpoint import Checkpoint
from domain.evidence.timestamp import verify_timestamp
from infrastructure.settings import Settings
from infrastructure.timestamping import (
    TimestampAuthority,
    TimestampUnavailable,
    time_stamp_request,
    timestamp_authority,
)
from tests.tsa import LocalTSA, local_tsa

BODY = Checkpoint(origin="example.gov.vn/ledger", size=7, root=bytes(range(32))).body()


@pytest.fixture(scope="module")
def tsa() -> Iterator[LocalTSA]:
    with local_tsa() as running:
        yield running


@pytest.fixture(autouse=True)
def behaving(tsa: LocalTSA) -> Iterator[None]:
    yield
    tsa.reset()


def authority(tsa: LocalTSA, timeout: float = 5.0) -> TimestampAuthority:
    return TimestampAuthority(tsa.url, [tsa.ca_pem], timeout)


def unavailable(tsa: LocalTSA, match: str, timeout: float = 5.0) -> float:
    """How long it took to learn the TSA gives no token."""
    started = time.monotonic()
    with pytest.raises(TimestampUnavailable, match=match) as caught:
        authority(tsa, timeout).stamp(BODY)
    assert caught.value.code == "timestamp-unavailable"
    return time.monotonic() - started


def test_checkpoint_body_stamped_over_http_verifies_offline(tsa: LocalTSA) -> None:
    before = tsa.requests
    token = authority(tsa).stamp(BODY)
    assert tsa.requests == before + 1
    verdict = verify_timestamp(token, BODY, [tsa.ca_pem])
    assert verdict.tsa == "CN=Test TSA,O=Test TSA Operator,C=VN"


def test_tsa_answering_500_is_unavailable(tsa: LocalTSA) -> None:
    tsa.mode = "error-500"
    unavailable(tsa, "answered HTTP 500")


def test_tsa_refusing_the_request_is_unavailable_with_its_reason(tsa: LocalTSA) -> None:
    tsa.mode = "rejection"
    unavailable(tsa, r"refused the request: rejection \(policy not accepted; "
                     r"unaccepted_policy\)")


def test_tsa_that_does_not_echo_the_nonce_is_unavailable(tsa: LocalTSA) -> None:
    tsa.mode = "wrong-nonce"  # a replayed or mixed-up answer
    unavailable(tsa, "did not echo the request's nonce")


def test_tsa_signing_with_a_certificate_without_the_eku_is_unavailable(tsa: LocalTSA) -> None:
    tsa.mode = "no-eku"
    unavailable(tsa, "does not verify: .* not a TSA's")


def test_tsa_whose_clock_is_wrong_is_unavailable(tsa: LocalTSA) -> None:
    tsa.clock_offset = -timedelta(hours=1)
    unavailable(tsa, "more than 300 s from this server's clock")


def test_tsa_that_hangs_is_unavailable_after_the_timeout(tsa: LocalTSA) -> None:
    tsa.mode = "hang"
    assert unavailable(tsa, "did not answer: ReadTimeout", timeout=0.3) < 2


def test_tsa_that_is_down_is_unavailable_at_once() -> None:
    with local_tsa() as stopped:  # its own port, closed on leaving
        pass
    assert unavailable(stopped, "did not answer: ConnectError") < 1


def test_settings_name_the_tsa_and_its_certificates(tmp_path: Path, tsa: LocalTSA) -> None:
    assert timestamp_authority(Settings(data=tmp_path)) is None
    with pytest.raises(InvalidInputError, match="DOCLEDGER_TSA_CERTS is not"):
        timestamp_authority(Settings(data=tmp_path, tsa_url=tsa.url))
    with pytest.raises(InvalidInputError, match="cannot read TSA certificates"):
        timestamp_authority(Settings(data=tmp_path, tsa_url=tsa.url,
                                     tsa_certs=tmp_path / "missing.pem"))
    pem = tmp_path / "tsa.pem"
    pem.write_bytes(tsa.ca_pem)
    configured = timestamp_authority(Settings(data=tmp_path, tsa_url=tsa.url, tsa_certs=pem,
                                              tsa_timeout=2.5))
    assert configured is not None and configured.timeout == 2.5
    verify_timestamp(configured.stamp(BODY), BODY, [tsa.ca_pem])


def test_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    monkeypatch.setenv("DOCLEDGER_TSA_URL", "http://127.0.0.1:9/tsa")
    monkeypatch.setenv("DOCLEDGER_TSA_CERTS", str(tmp_path / "tsa.pem"))
    settings = Settings()
    assert settings.tsa_url == "http://127.0.0.1:9/tsa"
    assert settings.tsa_certs == tmp_path / "tsa.pem"


def test_request_is_the_der_documented_in_docs_ledger_md() -> None:
    body = Checkpoint(origin="example.gov.vn/ledger", size=42, root=bytes(range(32))).body()
    documented = Path(__file__).parents[1].joinpath("docs", "ledger.md").read_text()
    block = documented.split("the request is these 69 bytes (hex):\n\n```\n")[1].split("```")[0]
    assert time_stamp_request(body, 0x0102030405060708) == bytes.fromhex(block)
    assert len(bytes.fromhex(block)) == 69


def test_time_stamp_errors_are_http_problems_of_their_own() -> None:
    from api.http.problems import status_for
    from domain.evidence.timestamp import TimestampError

    assert status_for(TimestampError("altered token")) == 422  # not 401: no one's identity
    assert status_for(TimestampUnavailable("TSA down")) == 503
