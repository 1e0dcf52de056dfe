"""A bundle's checkpoint time-stamp (docs/bundle.md, step 2): reported when it
verifies against the TSA certificates given, refused when it does not."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from domain.errors import InvalidInputError
from domain.evidence.checkpoint import Checkpoint, NoteKey, open_checkpoint
from domain.verification import bundle as b
from tests.domain.test_bundle_verify import Ledger, fails_at
from tests.tsa import LocalTSA


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    return Ledger()


@pytest.fixture(scope="module")
def tsa() -> LocalTSA:
    return LocalTSA()


@pytest.fixture(scope="module")
def plain(ledger: Ledger) -> dict[str, Any]:
    return ledger.bundle()


def body_of(bundle: dict[str, Any], ledger: Ledger) -> str:
    return open_checkpoint(bundle["checkpoint"], NoteKey.parse(ledger.vkey)).body()


def stamped(bundle: dict[str, Any], token: bytes) -> dict[str, Any]:
    return {**copy.deepcopy(bundle), "checkpoint_timestamp": base64.b64encode(token).decode()}


@pytest.fixture(scope="module")
def bundle(plain: dict[str, Any], ledger: Ledger, tsa: LocalTSA) -> dict[str, Any]:
    return stamped(plain, tsa.token(body_of(plain, ledger)))


def verify(bundle: dict[str, Any], ledger: Ledger,
           tsa_certs: list[bytes]) -> tuple[b.BundleSummary, list[tuple[int, str]]]:
    steps: list[tuple[int, str]] = []
    summary = b.verify_bundle(bundle, ledger.vkey, lambda n, text: steps.append((n, text)),
                              tsa_certs=tsa_certs)
    return summary, steps


def test_time_stamped_checkpoint_is_reported_with_the_tsa_time(
        bundle: dict[str, Any], ledger: Ledger, tsa: LocalTSA) -> None:
    summary, steps = verify(bundle, ledger, [tsa.ca_pem])
    size = summary.checkpoint_size
    assert summary.checkpoint_time is not None
    when = summary.checkpoint_time.gen_time.isoformat().replace("+00:00", "Z")
    assert steps[1][0] == 2 and steps[1][1].startswith(f"checkpoint of size {size} signed")
    assert steps[2] == (2, f"checkpoint of size {size} existed no later than {when}, "
                           f"per TSA CN=Test TSA,O=Test TSA Operator,C=VN")
    assert [n for n, _ in steps] == [1, 2, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert summary.as_dict()["checkpoint_timestamp"] == {
        "checked": True, **summary.checkpoint_time.as_dict()}


def test_time_stamp_without_tsa_certificates_is_reported_unchecked(
        bundle: dict[str, Any], ledger: Ledger) -> None:
    summary, steps = verify(bundle, ledger, [])
    assert steps[2] == (2, f"checkpoint of size {summary.checkpoint_size} carries an RFC 3161 "
                           f"time-stamp, not checked: no TSA certificate was given")
    assert summary.checkpoint_time is None
    assert summary.as_dict()["checkpoint_timestamp"] == {"checked": False}


def test_bundle_without_a_time_stamp_reports_none(plain: dict[str, Any], ledger: Ledger,
                                                  tsa: LocalTSA) -> None:
    summary, steps = verify(plain, ledger, [tsa.ca_pem])
    assert [n for n, _ in steps] == list(range(1, 11))
    assert summary.as_dict()["checkpoint_timestamp"] is None


def test_time_stamp_of_another_checkpoint_moved_into_the_bundle_fails_at_step_2(
        plain: dict[str, Any], ledger: Ledger, tsa: LocalTSA) -> None:
    this = Checkpoint.parse(body_of(plain, ledger))
    earlier = Checkpoint(origin=this.origin, size=this.size - 1, root=bytes(32)).body()
    moved = stamped(plain, tsa.token(earlier))
    error = fails_at_with(moved, ledger, [tsa.ca_pem])
    assert "the checkpoint's time-stamp does not verify" in str(error)
    assert "time-stamps other bytes" in str(error)


def test_time_stamp_with_a_flipped_byte_fails_at_step_2(
        bundle: dict[str, Any], ledger: Ledger, tsa: LocalTSA) -> None:
    token = bytearray(base64.b64decode(bundle["checkpoint_timestamp"]))
    token[len(token) - 40] ^= 0x01  # in the TSA's signature
    error = fails_at_with(stamped(bundle, bytes(token)), ledger, [tsa.ca_pem])
    assert "does not verify over the token's content" in str(error)


def test_time_stamp_from_an_untrusted_tsa_fails_at_step_2(
        plain: dict[str, Any], ledger: Ledger, tsa: LocalTSA) -> None:
    impostor = LocalTSA("Test TSA", keys="impostor")
    forged = stamped(plain, impostor.token(body_of(plain, ledger)))
    error = fails_at_with(forged, ledger, [tsa.ca_pem])
    assert "does not chain to a trusted certificate" in str(error)
    # trusted, that TSA's token verifies: the refusal was about whom the reader trusts
    verify(forged, ledger, [impostor.ca_pem])


@pytest.mark.parametrize("value", ["not base64!", "", 17, None])
def test_checkpoint_timestamp_that_is_not_a_base64_token_fails_at_step_1(
        plain: dict[str, Any], ledger: Ledger, value: Any) -> None:
    fails_at(1, {**plain, "checkpoint_timestamp": value}, ledger.vkey, "checkpoint_timestamp")


def test_tsa_certificate_that_is_not_a_certificate_is_bad_input(
        bundle: dict[str, Any], ledger: Ledger) -> None:
    with pytest.raises(InvalidInputError, match="not an X.509 certificate"):
        verify(bundle, ledger, [b"not a certificate"])


def fails_at_with(bundle: dict[str, Any], ledger: Ledger,
                  tsa_certs: list[bytes]) -> b.BundleError:
    with pytest.raises(b.BundleError) as caught:
        verify(bundle, ledger, tsa_certs)
    assert caught.value.step == 2 and str(caught.value).startswith("step 2 (checkpoint) failed")
    return caught.value
