"""Fetching revocation evidence for the certificate-backed keys the ledger holds.

``gather`` looks at every live certificate-backed key of every agency, finds its
issuer's certificate (in the chain it was registered with, or among the trust
anchors), and collects, for each issuer, a CRL: from the sources given (URLs or
files) when there are any, else from the certificates' CRL distribution points;
and for each certificate an OCSP response from its AIA OCSP responder (unless
``ocsp`` is off). The ledger checks every piece against its issuer when the
registrar's ``revocation.record`` command carrying them is executed
(domain/exchange/revocations.py); nothing fetched here is trusted as such.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID

from domain.errors import DocLedgerError, InvalidInputError, NotFoundError
from domain.evidence.certificates import certificate_from_b64
from domain.exchange.agency import Agency
from domain.exchange.trust import TrustAnchors
from domain.ledger.application import DocLedger

OCSP_REQUEST = "application/ocsp-request"


class RevocationSourceError(DocLedgerError):
    """A CRL or OCSP source could not be read: nothing is recorded."""

    code = "revocation-source-unavailable"


@dataclass(frozen=True, kw_only=True)
class Held:
    """A live certificate-backed key's certificate and its issuer's."""

    agency: str
    certificate: x509.Certificate
    issuer: x509.Certificate


def held_certificates(app: DocLedger, codes: Sequence[str]) -> list[Held]:
    trust = app.find(TrustAnchors, TrustAnchors.id_for())
    anchors = [] if trust is None else [e.anchor().certificate for e in trust.anchors.values()]
    held = []
    for code in codes:
        agency = app.find(Agency, Agency.id_for(code))
        if agency is None:
            continue
        for event in app.events_of(agency.id):
            if not isinstance(event, Agency.CertificateAdded):
                continue
            entry = agency.keys[event.key["keyid"]]
            if entry.revoked_at is not None:
                continue
            cert = certificate_from_b64(event.certificate)
            candidates = [certificate_from_b64(c, "chain") for c in event.chain] + anchors
            issuer = next((c for c in candidates if c.subject == cert.issuer), None)
            if issuer is not None:
                held.append(Held(agency=code, certificate=cert, issuer=issuer))
    return held


def gather(held: Sequence[Held], *, sources: Sequence[str] = (), ocsp_on: bool = True,
           crl_on: bool = True, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The ``evidence`` field of a ``revocation.record`` command."""
    issuers = {h.issuer.subject.public_bytes(): h.issuer for h in held}
    items: list[dict[str, Any]] = []
    with httpx.Client(timeout=timeout) as http:
        crls = [] if not crl_on else [_read_source(http, s) for s in sources] if sources else [
            _get(http, url) for url in dict.fromkeys(
                url for h in held for url in _crl_urls(h.certificate))]
        for der in crls:
            crl = _load_crl(der)
            issuer = issuers.get(crl.issuer.public_bytes())
            if issuer is not None:
                items.append(_item("crl", crl.public_bytes(serialization.Encoding.DER), issuer))
        if ocsp_on:
            for h in held:
                for url in _ocsp_urls(h.certificate):
                    request = (ocsp.OCSPRequestBuilder()
                               .add_certificate(h.certificate, h.issuer, hashes.SHA256())
                               .build().public_bytes(serialization.Encoding.DER))
                    try:
                        answer = http.post(url, content=request,
                                           headers={"content-type": OCSP_REQUEST})
                        answer.raise_for_status()
                    except httpx.HTTPError as exc:
                        raise RevocationSourceError(f"cannot ask {url}: {exc}") from None
                    items.append(_item("ocsp", answer.content, h.issuer))
    return items


def _item(kind: str, der: bytes, issuer: x509.Certificate) -> dict[str, Any]:
    return {"kind": kind, "data": base64.b64encode(der).decode(),
            "issuer": base64.b64encode(issuer.public_bytes(serialization.Encoding.DER)).decode()}


def _read_source(http: httpx.Client, source: str) -> bytes:
    if source.startswith(("http://", "https://")):
        return _get(http, source)
    try:
        return Path(source).read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"CRL file {source} does not exist") from None


def _get(http: httpx.Client, url: str) -> bytes:
    try:
        answer = http.get(url)
        answer.raise_for_status()
    except httpx.HTTPError as exc:
        raise RevocationSourceError(f"cannot fetch {url}: {exc}") from None
    return answer.content


def _load_crl(data: bytes) -> x509.CertificateRevocationList:
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise InvalidInputError(f"not a CRL (PEM or DER): {exc}") from None


def _crl_urls(cert: x509.Certificate) -> list[str]:
    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return []
    return [name.value for point in points for name in point.full_name or ()
            if isinstance(name, x509.UniformResourceIdentifier)]


def _ocsp_urls(cert: x509.Certificate) -> list[str]:
    try:
        access = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return []
    return [d.access_location.value for d in access
            if d.access_method == AuthorityInformationAccessOID.OCSP
            and isinstance(d.access_location, x509.UniformResourceIdentifier)]


def refresh(service: Any, *, sources: Sequence[str] = (), ocsp_on: bool = True,
            crl_on: bool = True, timeout: float = 10.0) -> Any:
    """Fetch the evidence for every live certificate-backed key and record it with
    the registrar's signed ``revocation.record`` (the outcome); NotFoundError when
    there is nothing to record."""
    codes = [r["code"] for r in service.fresh_views().query(
        "SELECT code FROM {t:v_agencies} ORDER BY code")]
    items = gather(held_certificates(service.app, codes), sources=sources, ocsp_on=ocsp_on,
                   crl_on=crl_on, timeout=timeout)
    if not items:
        raise NotFoundError("no certificate-backed key has revocation evidence to record")
    return service.act("registrar", "revocation.record", {"evidence": items},
                       staff="registrar")
