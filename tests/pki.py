"""A complete test PKI, with a CRL and an OCSP responder served on loopback.

``TestPKI`` stands in for the state's certification authorities: a root (in the
place of the Ban Cơ yếu Chính phủ root CA), an intermediate issuing CA, and agency
end-entity certificates made by ``issue``: RSA-2048, ECDSA P-256 or P-384 (or
Ed25519), with keyUsage digitalSignature + nonRepudiation, the agency code in the
subject's ``UID`` attribute (``attribute=`` names another, ``code=None`` none), an
AIA pointing at the OCSP responder and a CRL distribution point pointing at the
CRL, both on 127.0.0.1 at the port the server took when it started.

Ready made: ``rsa``, ``p256`` and ``p384`` for ``tests.factories.SENDER``,
``expired`` (its validity over a month ago) and ``revoked`` (revoked an hour before
the PKI was made, reason keyCompromise); ``revoke(issued, at, reason)`` revokes
another. Both the CRL (issued by the intermediate, made at each request, listing
every revocation with its time and reason) and the OCSP answers are computed from
the revocations as they stand when asked.

Keys are made once per test process (``_key``, cached by label): an RSA key takes
tens of milliseconds, so the session fixture ``pki`` (tests/conftest.py) makes the
whole PKI once and tests issue what else they need from it. ``running_pki()`` is
the context manager for code outside pytest. The certificates are made as
infrastructure/certificate_authority.py makes them (the demo's CA too).
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal
from urllib.parse import unquote

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID

from infrastructure.certificate_authority import (
    CODE_ATTRIBUTES,
    Issued,
    PrivateKey,
    builder_under,
    hash_for,
    root_ca,
    sign_by,
    signing_usage,
    subject_name,
)
from tests.factories import SENDER

KeyKind = Literal["rsa", "rsa1024", "p256", "p384", "ed25519"]

CRL_TYPE = "application/pkix-crl"
OCSP_REQUEST = "application/ocsp-request"
OCSP_RESPONSE = "application/ocsp-response"

# the subject attributes ``issue(attribute=...)`` can hold the agency code in
ATTRIBUTES = CODE_ATTRIBUTES


@cache
def _key(label: str, kind: KeyKind) -> PrivateKey:
    """One key per (label, kind) for the test process."""
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "rsa1024":
        return rsa.generate_private_key(public_exponent=65537, key_size=1024)
    if kind == "p256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "p384":
        return ec.generate_private_key(ec.SECP384R1())
    return ed25519.Ed25519PrivateKey.generate()


def pem_bundle(*issued: Issued) -> bytes:
    """Certificates one after another, as a ``--chain`` file holds them."""
    return b"".join(i.pem for i in issued)


@dataclass(frozen=True)
class Revocation:
    at: datetime
    reason: x509.ReasonFlags


class TestPKI:
    """Root, intermediate, agency certificates, and the loopback server answering
    for their revocation status (``start`` before issuing: the certificates name
    its port)."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(self, label: str = "Test PKI") -> None:
        self.label = label
        self.made = datetime.now(UTC).replace(microsecond=0)
        self.revocations: dict[int, Revocation] = {}
        # what the intermediate issued, by serial: the OCSP responder answers for these
        self._issued: dict[int, x509.Certificate] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.root: Issued
        self.intermediate: Issued

    # -- the server ---------------------------------------------------------

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the PKI first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def crl_url(self) -> str:
        """The intermediate's CRL (the end-entity certificates' distribution point)."""
        return f"{self.base_url}/crl/intermediate.crl"

    @property
    def root_crl_url(self) -> str:
        return f"{self.base_url}/crl/root.crl"

    @property
    def ocsp_url(self) -> str:
        return f"{self.base_url}/ocsp"

    def start(self) -> TestPKI:
        pki = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                if self.path == "/crl/intermediate.crl":
                    self._reply(CRL_TYPE, pki.crl())
                elif self.path == "/crl/root.crl":
                    self._reply(CRL_TYPE, pki.crl(issuer=pki.root))
                elif self.path.startswith("/ocsp/"):
                    request = base64.b64decode(unquote(self.path[len("/ocsp/"):]))
                    self._reply(OCSP_RESPONSE, pki.ocsp_answer(request))
                else:
                    self.send_error(404)

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if self.path.rstrip("/") == "/ocsp":
                    self._reply(OCSP_RESPONSE, pki.ocsp_answer(body))
                else:
                    self.send_error(404)

            def _reply(self, content_type: str, body: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self._make_standard()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- certificates -------------------------------------------------------

    def _name(self, common: str, *, code: str | None = None,
              attribute: str = "UID", organization: str | None = None) -> x509.Name:
        return subject_name(common, organization=organization or self.label, code=code,
                            attribute=attribute)

    def _make_standard(self) -> None:
        now = self.made
        root_key = _key(f"{self.label}/root", "rsa")
        root_name = self._name("Root CA (stands in for Ban Cơ yếu Chính phủ)")
        self.root = root_ca(root_key, root_name, not_before=now - timedelta(days=3650),
                            not_after=now + timedelta(days=3650))
        self.intermediate = self.issue(
            "Intermediate CA", kind="rsa", issuer=self.root, ca=True, code=None,
            not_before=now - timedelta(days=1800), not_after=now + timedelta(days=1800))
        self.rsa = self.issue("Agency RSA", code=SENDER, kind="rsa")
        self.p256 = self.issue("Agency P-256", code=SENDER, kind="p256")
        self.p384 = self.issue("Agency P-384", code=SENDER, kind="p384")
        self.expired = self.issue("Agency expired", code=SENDER, kind="p256",
                                  key_label="expired",
                                  not_before=now - timedelta(days=400),
                                  not_after=now - timedelta(days=30))
        self.revoked = self.issue("Agency revoked", code=SENDER, kind="p256",
                                  key_label="revoked")
        self.revoke(self.revoked, at=now - timedelta(hours=1))

    def issue(self, common: str, *, code: str | None = SENDER, kind: KeyKind = "p256",
              attribute: str = "UID", issuer: Issued | None = None, ca: bool = False,
              not_before: datetime | None = None, not_after: datetime | None = None,
              digital_signature: bool = True, key_label: str | None = None,
              organization: str | None = None) -> Issued:
        """A certificate issued by ``issuer`` (the intermediate by default). Its key
        is cached by ``key_label`` (default: ``common``) and ``kind``."""
        issuer = issuer or self.intermediate
        key = _key(f"{self.label}/{key_label or common}", kind)
        builder = builder_under(
            issuer, key, self._name(common, code=code, attribute=attribute,
                                    organization=organization),
            not_before=not_before or self.made - timedelta(days=1),
            not_after=not_after or self.made + timedelta(days=730), ca=ca,
            digital_signature=digital_signature)
        if self._server is not None:
            crl = self.root_crl_url if issuer is self.root else self.crl_url
            builder = builder.add_extension(x509.CRLDistributionPoints([
                x509.DistributionPoint(full_name=[x509.UniformResourceIdentifier(crl)],
                                       relative_name=None, reasons=None, crl_issuer=None)]),
                critical=False)
            if not ca:
                builder = builder.add_extension(x509.AuthorityInformationAccess([
                    x509.AccessDescription(AuthorityInformationAccessOID.OCSP,
                                           x509.UniformResourceIdentifier(self.ocsp_url))]),
                    critical=False)
        issued = sign_by(builder, issuer, key)
        if issuer is getattr(self, "intermediate", None):
            with self._lock:
                self._issued[issued.serial] = issued.cert
        return issued

    def self_signed(self, common: str = "Self-signed agency", *, code: str = SENDER,
                    kind: KeyKind = "p256") -> Issued:
        """An end-entity certificate that vouches for itself."""
        key = _key(f"{self.label}/{common}", kind)
        name = self._name(common, code=code)
        cert = (x509.CertificateBuilder()
                .subject_name(name).issuer_name(name)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(self.made - timedelta(days=1))
                .not_valid_after(self.made + timedelta(days=730))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(signing_usage(True), critical=True)
                .sign(key, hash_for(key)))
        return Issued(cert=cert, key=key)

    # -- revocation ---------------------------------------------------------

    def revoke(self, issued: Issued, *, at: datetime,
               reason: x509.ReasonFlags = x509.ReasonFlags.key_compromise) -> None:
        with self._lock:
            self.revocations[issued.serial] = Revocation(at=at, reason=reason)

    def unrevoke(self, issued: Issued) -> None:
        with self._lock:
            self.revocations.pop(issued.serial, None)

    def crl(self, *, issuer: Issued | None = None, this_update: datetime | None = None,
            next_update: timedelta = timedelta(days=7)) -> bytes:
        """A DER CRL by ``issuer`` (the intermediate by default), made now, listing
        the revocations of the certificates it issued."""
        issuer = issuer or self.intermediate
        now = this_update or datetime.now(UTC).replace(microsecond=0)
        builder = (x509.CertificateRevocationListBuilder()
                   .issuer_name(issuer.cert.subject)
                   .last_update(now)
                   .next_update(now + next_update)
                   .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                       issuer.key.public_key()), critical=False))
        if issuer is self.intermediate:
            with self._lock:
                listed = dict(self.revocations)
            for serial, revocation in sorted(listed.items()):
                builder = builder.add_revoked_certificate(
                    x509.RevokedCertificateBuilder()
                    .serial_number(serial)
                    .revocation_date(revocation.at)
                    .add_extension(x509.CRLReason(revocation.reason), critical=False)
                    .build())
        crl = builder.sign(issuer.key, hash_for(issuer.key))
        return crl.public_bytes(serialization.Encoding.DER)

    def ocsp_answer(self, request_der: bytes) -> bytes:
        """The responder's answer to a DER OCSP request, signed by the intermediate
        itself (the issuer of the certificates it answers for)."""
        try:
            request = ocsp.load_der_ocsp_request(request_der)
        except ValueError:
            return ocsp.OCSPResponseBuilder.build_unsuccessful(
                ocsp.OCSPResponseStatus.MALFORMED_REQUEST).public_bytes(
                    serialization.Encoding.DER)
        return self.ocsp_response(request.serial_number, nonce=_nonce(request))

    def ocsp_response(self, serial: int, *, nonce: bytes | None = None,
                      produced: datetime | None = None) -> bytes:
        """A DER OCSP response for the certificate ``serial`` the intermediate issued."""
        subject = self._issued_by_serial(serial)
        if subject is None:
            return ocsp.OCSPResponseBuilder.build_unsuccessful(
                ocsp.OCSPResponseStatus.UNAUTHORIZED).public_bytes(serialization.Encoding.DER)
        now = produced or datetime.now(UTC).replace(microsecond=0)
        with self._lock:
            revocation = self.revocations.get(serial)
        builder = ocsp.OCSPResponseBuilder().add_response(
            cert=subject, issuer=self.intermediate.cert, algorithm=hashes.SHA256(),
            cert_status=(ocsp.OCSPCertStatus.REVOKED if revocation
                         else ocsp.OCSPCertStatus.GOOD),
            this_update=now, next_update=now + timedelta(days=1),
            revocation_time=revocation.at if revocation else None,
            revocation_reason=revocation.reason if revocation else None,
        ).responder_id(ocsp.OCSPResponderEncoding.HASH, self.intermediate.cert)
        if nonce is not None:
            builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
        response = builder.sign(self.intermediate.key, hashes.SHA256())
        return response.public_bytes(serialization.Encoding.DER)

    def ocsp_request(self, issued: Issued) -> bytes:
        """A DER OCSP request for ``issued`` (what a client would POST)."""
        return (ocsp.OCSPRequestBuilder()
                .add_certificate(issued.cert, self.intermediate.cert, hashes.SHA256())
                .build().public_bytes(serialization.Encoding.DER))

    def _issued_by_serial(self, serial: int) -> x509.Certificate | None:
        with self._lock:
            return self._issued.get(serial)


def _nonce(request: ocsp.OCSPRequest) -> bytes | None:
    try:
        return request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    except x509.ExtensionNotFound:
        return None


@contextmanager
def running_pki(label: str = "Test PKI") -> Iterator[TestPKI]:
    """A started PKI, its server stopped on the way out."""
    pki = TestPKI(label).start()
    try:
        yield pki
    finally:
        pki.stop()
