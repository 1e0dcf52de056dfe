"""A real RFC 3161 time-stamping authority for the tests, served over HTTP.

``LocalTSA`` makes a throwaway CA and a TSA certificate it issued (RSA: pyHanko's
``DummyTimeStamper``, which signs the responses, is RSA-only) and answers
``application/timestamp-query`` POSTs on 127.0.0.1, on a free port, from a thread.
Its ``mode`` makes it misbehave on demand: answer 500, refuse the request,
hang, sign with a certificate lacking the timeStamping EKU, or sign with a
clock that is off. ``stop()`` closes the port.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from asn1crypto import cms, keys, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.sign.timestamps import DummyTimeStamper
from pyhanko.sign.timestamps.api import TimeStamper

from infrastructure.timestamping import TimeStampResp

Mode = Literal["ok", "error-500", "rejection", "hang", "wrong-nonce", "no-eku",
               "eku-not-critical", "no-signing-certificate"]

QUERY = "application/timestamp-query"
REPLY = "application/timestamp-reply"


@dataclass(frozen=True)
class Issued:
    cert: x509.Certificate
    key: rsa.RSAPrivateKey

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def stamper(self, chain: list[Issued], at: datetime | None,
                accuracy: timedelta | None, names_certificate: bool = True) -> DummyTimeStamper:
        as_asn1 = [asn1_x509.Certificate.load(c.cert.public_bytes(serialization.Encoding.DER))
                   for c in chain]
        return _Stamper(
            accuracy=accuracy, names_certificate=names_certificate,
            tsa_cert=asn1_x509.Certificate.load(
                self.cert.public_bytes(serialization.Encoding.DER)),
            tsa_key=keys.PrivateKeyInfo.load(self.key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption())),
            certs_to_embed=as_asn1,  # type: ignore[arg-type]
            fixed_dt=at)


class _Stamper(DummyTimeStamper):
    """pyHanko's test TSA, giving an accuracy in its TSTInfo, or leaving the
    signing-certificate attribute out, when asked to."""

    def __init__(self, *, accuracy: timedelta | None, names_certificate: bool,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.accuracy = accuracy
        self.names_certificate = names_certificate

    def _sign_tst_info(self, tst_info_data: bytes, md_algorithm: str,
                       dt: datetime) -> tuple[bytes, cms.CMSAttributes]:
        signature, signed = super()._sign_tst_info(tst_info_data, md_algorithm, dt)
        if self.names_certificate:
            return signature, signed
        kept = cms.CMSAttributes([a for a in signed
                                  if a["type"].native != "signing_certificate"])
        key = serialization.load_der_private_key(self.tsa_key.dump(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return key.sign(kept.dump(), PKCS1v15(), getattr(hashes, md_algorithm.upper())()), kept

    def _build_tst_info(self, message_imprint: tsp.MessageImprint, dt: datetime,
                        req: tsp.TimeStampReq) -> tsp.TSTInfo:
        info = super()._build_tst_info(message_imprint, dt, req)
        if self.accuracy is not None:
            millis = self.accuracy // timedelta(milliseconds=1)
            info["accuracy"] = tsp.Accuracy({"seconds": millis // 1000,
                                             "millis": millis % 1000 or None})
        return info


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test TSA Operator"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common)])


@cache
def _key(label: str) -> rsa.RSAPrivateKey:
    """One RSA key per label for the test process: making one takes a while."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _issue(subject: str, issuer: Issued | None, *, ca: bool, key: rsa.RSAPrivateKey,
           eku: Literal["critical", "not-critical", "none"] = "critical") -> Issued:
    now = datetime.now(UTC)
    builder = (x509.CertificateBuilder()
               .subject_name(_name(subject))
               .issuer_name(issuer.cert.subject if issuer else _name(subject))
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - timedelta(days=1))
               .not_valid_after(now + timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              critical=False))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=False, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
    else:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=True, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        if eku != "none":
            # RFC 3161, 2.3: the TSA's certificate has exactly this EKU, critical
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]),
                critical=eku == "critical")
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False)
    signer = issuer.key if issuer else key
    return Issued(cert=builder.sign(signer, hashes.SHA256()), key=key)


class LocalTSA:
    """A time-stamping authority on 127.0.0.1: ``url``, and ``ca_pem`` to trust it."""

    def __init__(self, name: str = "Test TSA", *, keys: str = "") -> None:
        """``keys`` labels the keys: LocalTSAs with the same label (by default, the
        same name) share them, one with another label is another authority."""
        self.keys = keys or name
        self.ca = _issue(f"{name} Root CA", None, ca=True, key=_key(f"{self.keys}/ca"))
        self.tsa = _issue(name, self.ca, ca=False, key=_key(f"{self.keys}/tsa"))
        self.name = name
        self.mode: Mode = "ok"
        self.clock_offset = timedelta(0)
        self.accuracy: timedelta | None = None
        self.requests = 0
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    @cached_property
    def tsa_without_eku(self) -> Issued:
        return _issue(f"{self.name} (no EKU)", self.ca, ca=False, eku="none",
                      key=_key(f"{self.keys}/no-eku"))

    @cached_property
    def tsa_eku_not_critical(self) -> Issued:
        return _issue(f"{self.name} (EKU not critical)", self.ca, ca=False,
                      eku="not-critical", key=_key(f"{self.keys}/eku-not-critical"))

    @property
    def ca_pem(self) -> bytes:
        return self.ca.pem

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/tsa"

    def stamper(self) -> DummyTimeStamper:
        """The stamper signing now, per ``mode`` and ``clock_offset``."""
        signer = {"no-eku": self.tsa_without_eku,
                  "eku-not-critical": self.tsa_eku_not_critical}.get(self.mode, self.tsa)
        at = datetime.now(UTC) + self.clock_offset if self.clock_offset else None
        return signer.stamper([self.ca], at, self.accuracy,
                              names_certificate=self.mode != "no-signing-certificate")

    def respond(self, query: bytes) -> bytes:
        """The DER TimeStampResp to a DER TimeStampReq."""
        request = tsp.TimeStampReq.load(query)
        if self.mode == "wrong-nonce":
            request["nonce"] = request["nonce"].native + 1
        if self.mode == "rejection":
            return TimeStampResp({"status": tsp.PKIStatusInfo({
                "status": "rejection", "status_string": ["policy not accepted"],
                "fail_info": tsp.PKIFailureInfo({"unaccepted_policy"})})}).dump()
        return self.stamper().request_tsa_response(request).dump()

    def token(self, body: str, hash_algorithm: str = "sha256") -> bytes:
        """A token over ``body`` made without HTTP (DER TimeStampToken)."""
        stamper: TimeStamper = self.stamper()
        digest = hashes.Hash(getattr(hashes, hash_algorithm.upper())())
        digest.update(body.encode())
        _, request = stamper.request_cms(digest.finalize(), hash_algorithm)
        response = tsp.TimeStampResp.load(self.respond(request.dump()))
        return bytes(response["time_stamp_token"].dump())

    def start(self) -> LocalTSA:
        tsa = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                tsa.requests += 1
                query = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if tsa.mode == "hang":
                    tsa._release.wait(30)
                    return  # closes the connection without an answer
                if tsa.mode == "error-500" or self.headers.get("Content-Type") != QUERY:
                    self.send_error(500 if tsa.mode == "error-500" else 415)
                    return
                answer = tsa.respond(query)
                self.send_response(200)
                self.send_header("Content-Type", REPLY)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True,
                         name="local-tsa").start()
        return self

    def reset(self) -> None:
        """Behave again: mode "ok", the right clock; a hanging request is let go."""
        self.mode, self.clock_offset, self.accuracy = "ok", timedelta(0), None
        self._release.set()
        self._release = threading.Event()

    def stop(self) -> None:
        """Close the port: requests are refused from now on."""
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@contextmanager
def local_tsa(name: str = "Test TSA") -> Iterator[LocalTSA]:
    """A started LocalTSA, stopped on exit."""
    tsa = LocalTSA(name).start()
    try:
        yield tsa
    finally:
        tsa.stop()


def main() -> None:
    """``python -m tests.tsa CA.pem``: serve a local TSA until interrupted, for trying
    the ledger or a benchmark by hand (DOCLEDGER_TSA_URL, DOCLEDGER_TSA_CERTS=CA.pem)."""
    import sys

    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m tests.tsa CA.pem")
    with local_tsa() as tsa:
        with open(sys.argv[1], "wb") as out:
            out.write(tsa.ca_pem)
        print(f"DOCLEDGER_TSA_URL={tsa.url} DOCLEDGER_TSA_CERTS={sys.argv[1]}", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
