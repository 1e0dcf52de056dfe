"""The demo's certificates and signed PDF: a demo root CA standing in for the state's
(Ban Cơ yếu Chính phủ) and an intermediate under it, trusted by the registrar; one
agency with an RSA-2048 certificate naming its code, which signs its commands and a
PDF with that certificate (docs/trust.md, docs/signed-pdf.md).

The CA lives in the demo's data folder, ``demo-ca/`` (keys mode 0600), made on the
first demo and reused by ``--again``. It is no certification authority: its
certificates say so in their organisation, and no real ledger trusts them.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from api.render import out
from domain.exchange.agency import Agency
from domain.exchange.trust import TrustAnchors
from infrastructure.certificate_authority import (
    Issued,
    builder_under,
    root_ca,
    sign_by,
    subject_name,
)
from infrastructure.keyfiles import load_command_signer
from infrastructure.pdf_signing import one_page_pdf, sign_pdf
from infrastructure.service import LedgerService

FOLDER = "demo-ca"
ORGANIZATION = "docledger DEMO CA, not a real CA"
ROOT_NAME = "DEMO Root CA (stands in for Ban Co yeu Chinh phu)"
INTERMEDIATE_NAME = "DEMO Issuing CA"


@dataclass(frozen=True)
class CertifiedSender:
    """An agency's certificate, the intermediate above it, and its private key's file."""

    code: str
    issued: Issued
    intermediate: Issued
    key_file: Path


def certified_sender(service: LedgerService, code: str, name: str) -> CertifiedSender:
    """The demo CA, trusted by the registrar, and ``code``'s certificate from it,
    registered with ``agency.add_cert``: made on the first demo, reused after."""
    folder = service.settings.data / FOLDER
    root = _kept(folder, "demo-root-ca", _make_root)
    intermediate = _kept(folder, "demo-intermediate-ca",
                         lambda: _make_intermediate(root))
    agency = _kept(folder, code, lambda: _make_agency(intermediate, code, name))
    _trust(service, root)
    _register(service, code, name, agency, intermediate)
    return CertifiedSender(code=code, issued=agency, intermediate=intermediate,
                           key_file=folder / f"{code}.key")


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _make_root() -> Issued:
    now = _now()
    return root_ca(_rsa(), subject_name(ROOT_NAME, organization=ORGANIZATION),
                   not_before=now - timedelta(days=1), not_after=now + timedelta(days=3650))


def _make_intermediate(root: Issued) -> Issued:
    now, key = _now(), _rsa()
    return sign_by(builder_under(
        root, key, subject_name(INTERMEDIATE_NAME, organization=ORGANIZATION),
        not_before=now - timedelta(days=1), not_after=now + timedelta(days=1825), ca=True),
        root, key)


def _make_agency(intermediate: Issued, code: str, name: str) -> Issued:
    now, key = _now(), _rsa()
    return sign_by(builder_under(
        intermediate, key, subject_name(name, organization=ORGANIZATION, code=code),
        not_before=now - timedelta(days=1), not_after=now + timedelta(days=730)),
        intermediate, key)


def _kept(folder: Path, stem: str, make: Callable[[], Issued]) -> Issued:
    """``stem``.pem and ``stem``.key (0600) in ``folder``: read, or made and written."""
    cert_file, key_file = folder / f"{stem}.pem", folder / f"{stem}.key"
    if cert_file.exists() and key_file.exists():
        return Issued.from_pem(cert_file.read_bytes(), key_file.read_bytes())
    issued = make()
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as written:
        written.write(issued.key_pem)
    cert_file.write_bytes(issued.pem)
    return issued


def _b64(der: bytes) -> str:
    return base64.b64encode(der).decode()


def _trust(service: LedgerService, root: Issued) -> None:
    sha256 = hashlib.sha256(root.der).hexdigest()
    trust = service.app.find(TrustAnchors, TrustAnchors.id_for())
    if trust is not None and sha256 in trust.anchors:
        return
    service.act("registrar", "trust.add_anchor",
                {"certificate": _b64(root.der),
                 "code_attribute": service.settings.certificate_code_attribute},
                staff="registrar")
    out.print(f"\ntrust anchor added by the registrar: {root.cert.subject.rfc4514_string()} "
              f"(sha256 {sha256[:12]}…), the demo's stand-in for the state CA")


def _register(service: LedgerService, code: str, name: str, agency: Issued,
              intermediate: Issued) -> None:
    keyid = load_command_signer(service.settings.data / FOLDER / f"{code}.key").keyid
    record = service.app.find(Agency, Agency.id_for(code))
    if record is not None and keyid in record.keys:
        return
    service.act("registrar", "agency.add_cert",
                {"code": code, "certificate": _b64(agency.der),
                 "chain": [_b64(intermediate.der)]}, staff="registrar")
    cert = agency.cert
    out.print(f"certificate of {code} {name} registered (RSA-2048, key {keyid[:12]}…): "
              f"subject {cert.subject.rfc4514_string()}, issuer "
              f"{cert.issuer.rfc4514_string()}, valid {cert.not_valid_before_utc:%Y-%m-%d} "
              f"to {cert.not_valid_after_utc:%Y-%m-%d}", highlight=False)


def signed_pdf(sender: CertifiedSender, lines: list[str]) -> bytes:
    """A one-page A4 PDF of ``lines``, signed (PAdES) with the sender's certificate."""
    return sign_pdf(one_page_pdf(lines, width=595, height=842), sender.issued,
                    chain=[sender.intermediate])


def document_lines(agency_name: str, header: dict[str, Any]) -> list[str]:
    """What the demo's PDF shows of a document: its sender, type, subject, place and date."""
    on = date.fromisoformat(header["promulgation_date"])
    signer = header["signer"]
    return [agency_name.upper(), "", header["document_type"]["type_name"].upper(),
            header["subject"], "",
            f"{header['promulgation_place']}, ngày {on.day:02d} tháng {on.month:02d} năm "
            f"{on.year}", "", signer["competence"], signer["position"], signer["full_name"]]
