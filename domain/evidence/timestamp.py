"""RFC 3161 time-stamp tokens over checkpoint bodies, verified offline.

A time-stamping authority (TSA) signs, in a TimeStampToken, that a hash existed
at its clock's time. The ledger has the body of each checkpoint it publishes
stamped: the three lines ``<origin>\\n<size>\\n<base64 root>\\n`` as UTF-8,
hashed with SHA-256 (the message imprint). A reader who trusts the TSA then
knows the checkpoint, and every event it commits to, existed no later than the
token's time, whatever the ledger's own clock said (docs/ledger.md, "Trusted
time (RFC 3161)").

The token's DER structures are read by asn1crypto and its CMS signature and
certificate path are checked by pyHanko; this module only decides what must
hold and says which check failed. Both are imported when a token is first
verified: pyHanko takes about half a second to import, which every command
line process would pay otherwise.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from domain.errors import InvalidInputError, VerificationError

HASH = "sha256"  # of the message imprint; no other is accepted
TIME_STAMPING = "time_stamping"  # id-kp-timeStamping, 1.3.6.1.5.5.7.3.8

T = TypeVar("T")

# pyHanko logs each failed check, with a traceback, before it reports it; the
# failure reaches the caller as a TimestampError. Without a handler of their
# own, those records would go to Python's last-resort handler, on stderr.
for _library in ("pyhanko", "pyhanko_certvalidator"):
    logging.getLogger(_library).addHandler(logging.NullHandler())


class TimestampError(VerificationError):
    """A time-stamp token is malformed, is over other bytes, or its signature or
    TSA certificate does not verify."""

    code = "invalid-timestamp"


@dataclass(frozen=True, kw_only=True)
class TimeVerdict:
    """What a verified token says: the body existed no later than ``no_later_than``."""

    gen_time: datetime  # the TSTInfo's genTime, UTC
    accuracy: timedelta  # the TSTInfo's accuracy; zero when it gives none
    tsa: str  # the TSA certificate's subject (RFC 4514)
    serial: int  # the TSTInfo's serial number

    @property
    def no_later_than(self) -> datetime:
        return self.gen_time + self.accuracy

    def as_dict(self) -> dict[str, Any]:
        return {"gen_time": iso_utc(self.gen_time),
                "no_later_than": iso_utc(self.no_later_than),
                "accuracy_seconds": self.accuracy.total_seconds(),
                "tsa": self.tsa, "serial": str(self.serial)}


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def body_digest(body: str) -> bytes:
    """The message imprint of a checkpoint body: SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(body.encode("utf-8")).digest()


def read_certificates(data: bytes) -> list[bytes]:
    """The DER of each certificate in ``data``: one DER certificate, or PEM
    holding one or more. InvalidInputError if there is none."""
    try:
        if b"-----BEGIN" in data:
            found = x509.load_pem_x509_certificates(data)
        else:
            found = [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise InvalidInputError(f"not an X.509 certificate (PEM or DER): {exc}") from None
    return [cert.public_bytes(serialization.Encoding.DER) for cert in found]


def verify_timestamp(token: bytes, body: str, trusted: Sequence[bytes]) -> TimeVerdict:
    """Verify the DER TimeStampToken ``token`` over checkpoint ``body``.

    ``trusted`` are the certificates (PEM or DER) of the TSA roots to trust, or
    of the TSA itself. Raises TimestampError, saying which check failed.
    """
    from asn1crypto import x509 as asn1_x509

    anchors = [asn1_x509.Certificate.load(der) for data in trusted
               for der in read_certificates(data)]
    if not anchors:
        raise InvalidInputError("no trusted TSA certificate to verify the time-stamp with")
    try:
        return _verify(token, body, anchors)
    except (ValueError, TypeError, KeyError, AttributeError, x509.InvalidVersion) as exc:
        # asn1crypto parses lazily: a malformed part may surface only when read
        raise TimestampError(f"not a well-formed time-stamp token: {exc}") from None


def _verify(token: bytes, body: str, anchors: list[Any]) -> TimeVerdict:
    # The numbered checks of docs/ledger.md, "Trusted time (RFC 3161)".
    # 1. one SignedData holding a TSTInfo, with one signer, every part parsed
    signed_data, info = _parse(token)
    # 2. the token is over this body, hashed with SHA-256 (RFC 3161, 2.4.2)
    imprint = info["message_imprint"]
    algorithm = imprint["hash_algorithm"]["algorithm"].native
    if algorithm != HASH:
        raise TimestampError(f"the token's message imprint is hashed with {algorithm}, "
                             f"not {HASH}")
    if imprint["hashed_message"].native != body_digest(body):
        raise TimestampError("the token's message imprint is not the SHA-256 of this "
                             "checkpoint body: it time-stamps other bytes")
    # 3. the signer is a TSA: its certificate (carried in the token, certReq
    #    was set) has the one critical EKU id-kp-timeStamping (RFC 3161, 2.3)
    signer = _signer_certificate(signed_data)
    subject = x509.load_der_x509_certificate(signer.dump()).subject.rfc4514_string()
    _check_tsa_usage(signer, subject)
    gen_time = info["gen_time"].native.astimezone(UTC)
    # 4. the signature over the TSTInfo verifies (its signed attributes name the
    #    certificate, RFC 3161 2.4.2 / RFC 5816), and the TSA certificate chains
    #    to a trusted one, valid at the token's time
    _check_names_its_certificate(signed_data, subject)
    status = _validate(signed_data, body_digest(body), anchors, gen_time)
    if not (status["intact"] and status["valid"]):
        raise TimestampError(f"the signature of TSA {subject} does not verify over the "
                             f"token's content")
    problem = status["trust_problem_indic"]
    if problem is not None and problem.name.startswith("CRYPTO_CONSTRAINTS"):
        raise TimestampError(f"the token of TSA {subject} is signed with a weak algorithm "
                             f"({status['md_algorithm']}, {status['pkcs7_signature_mechanism']})")
    if problem is not None:
        raise TimestampError(f"the certificate of TSA {subject} does not chain to a trusted "
                             f"certificate valid at {iso_utc(gen_time)} "
                             f"({problem})")
    return TimeVerdict(gen_time=gen_time, accuracy=_accuracy(info), tsa=subject,
                       serial=info["serial_number"].native)


def _validate(signed_data: Any, imprint: bytes, anchors: list[Any],
              moment: datetime) -> dict[str, Any]:
    """pyHanko's checks of a token's signature and its TSA's certificate path."""
    from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
    from pyhanko_certvalidator import ValidationContext

    context = ValidationContext(trust_roots=anchors, allow_fetching=False, moment=moment)
    try:
        status: dict[str, Any] = run_coroutine(
            validate_tst_signed_data(signed_data, context, lambda _: imprint))
    except (ValueError, KeyError) as exc:  # pyHanko's ValueErrorWithMessage among them
        raise TimestampError(f"the token's signature cannot be checked: {exc}") from None
    return status


def _parse(token: bytes) -> tuple[Any, Any]:
    """The SignedData and TSTInfo of a DER TimeStampToken, each part parsed."""
    from asn1crypto import cms, tsp

    try:
        content = cms.ContentInfo.load(token, strict=True)
        if content["content_type"].native != "signed_data":
            raise ValueError("not CMS SignedData")
        signed_data = content["content"]
        encapsulated = signed_data["encap_content_info"]
        if encapsulated["content_type"].native != "tst_info":
            raise ValueError("the SignedData does not hold a TSTInfo")
        info = encapsulated["content"].parsed
        if not isinstance(info, tsp.TSTInfo):
            raise ValueError("the SignedData does not hold a TSTInfo")
        content.native  # noqa: B018 - parses every part now, so a malformed one fails here
        if len(signed_data["signer_infos"]) != 1:
            raise ValueError("a token has exactly one signer")
    except (ValueError, TypeError, KeyError) as exc:
        raise TimestampError(f"not an RFC 3161 time-stamp token: {exc}") from None
    return signed_data, info


def _signer_certificate(signed_data: Any) -> Any:
    from asn1crypto import x509 as asn1_x509

    sid = signed_data["signer_infos"][0]["sid"]
    for choice in signed_data["certificates"] or ():
        cert = choice.chosen
        if not isinstance(cert, asn1_x509.Certificate):
            continue
        if sid.name == "issuer_and_serial_number":
            if (cert.issuer == sid.chosen["issuer"]
                    and cert.serial_number == sid.chosen["serial_number"].native):
                return cert
        elif cert.key_identifier == sid.chosen.native:
            return cert
    raise TimestampError("the token does not carry the TSA's certificate")


def _check_tsa_usage(cert: Any, subject: str) -> None:
    extensions = [e for e in cert["tbs_certificate"]["extensions"] or ()
                  if e["extn_id"].native == "extended_key_usage"]
    if len(extensions) != 1 or extensions[0]["extn_value"].parsed.native != [TIME_STAMPING]:
        raise TimestampError(f"the certificate of {subject} is not a TSA's: its extended key "
                             f"usage is not exactly id-kp-timeStamping")
    if not extensions[0]["critical"].native:
        raise TimestampError(f"the certificate of {subject} is not a TSA's: its extended key "
                             f"usage id-kp-timeStamping is not critical")


def _check_names_its_certificate(signed_data: Any, subject: str) -> None:
    """The ESS signing-certificate attribute (v1 or v2) is signed; pyHanko checks
    that it names the signer's certificate, but accepts its absence."""
    signed = signed_data["signer_infos"][0]["signed_attrs"]
    kinds = {attribute["type"].native for attribute in signed or ()}
    if not kinds & {"signing_certificate", "signing_certificate_v2"}:
        raise TimestampError(f"the token of TSA {subject} does not sign the "
                             f"signing-certificate attribute (RFC 3161, 2.4.2)")


def _accuracy(info: Any) -> timedelta:
    given = info["accuracy"].native
    if not given:
        return timedelta(0)
    return timedelta(seconds=given.get("seconds") or 0, milliseconds=given.get("millis") or 0,
                     microseconds=given.get("micros") or 0)


def run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to its end from synchronous code.

    pyHanko's validation is asynchronous. In a thread without an event loop
    (the command line, a worker thread of the API) it gets a loop of its own;
    called from a thread whose loop is running, it runs in a fresh thread, as
    a loop cannot be entered twice.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(1, thread_name_prefix="timestamp") as pool:
        return pool.submit(asyncio.run, coroutine).result()
