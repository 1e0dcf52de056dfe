"""Reading a PDF's signatures with pyHanko: what the ledger's report records.

A file is a PDF when its bytes start with ``%PDF-``. Each signature of its
AcroForm (PAdES or plain CMS) is validated by pyHanko against the trust anchors
at a given moment, with no network (revocation: only evidence handed in, soft
fail): cryptographic integrity, the signer's chain, the byte ranges it covers and
pyHanko's difference analysis of any incremental update after it. The fields of
one signature's entry are docs/signed-pdf.md's; the verdicts and the policy are
domain/evidence/pdf_report.py's. ``recheck`` is the offline verifier's second look
at a file years later, at the time the report was made, from the evidence the
report kept.
"""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import PdfSignatureStatus
from pyhanko_certvalidator import ValidationContext

from domain.errors import VerificationError
from domain.evidence.pdf_report import Findings, summary


def read_signatures(data: bytes, *, anchors: Sequence[bytes], at: datetime,
                    evidence: Mapping[str, Any] | None = None) -> Findings:
    """Validate every signature of the PDF ``data`` at ``at`` against ``anchors`` (DER
    certificates). ``evidence`` (a report's: certificates, CRLs, OCSP responses) is
    handed to the path builder as well; nothing is fetched."""
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        embedded = list(reader.embedded_signatures)
    except (PdfError, ValueError, KeyError, TypeError) as exc:
        return Findings(problem=f"not a readable PDF: {exc}")
    return Findings(signatures=[_signature(s, anchors, at, evidence or {}) for s in embedded])


def _context(anchors: Sequence[bytes], at: datetime, embedded: EmbeddedPdfSignature,
             evidence: Mapping[str, Any]) -> ValidationContext:
    kept = [asn1_x509.Certificate.load(base64.b64decode(c))
            for c in evidence.get("certificates", [])]
    return ValidationContext(
        trust_roots=[asn1_x509.Certificate.load(a) for a in anchors],
        other_certs=[*embedded.other_embedded_certs, *kept],
        moment=at, allow_fetching=False, revocation_mode="soft-fail",
        crls=[base64.b64decode(c) for c in evidence.get("crls", [])],
        ocsps=[base64.b64decode(o) for o in evidence.get("ocsp", [])],
    )


def _signature(embedded: EmbeddedPdfSignature, anchors: Sequence[bytes], at: datetime,
               evidence: Mapping[str, Any]) -> dict[str, Any]:
    context = _context(anchors, at, embedded, evidence)
    entry: dict[str, Any] = {"field": str(embedded.field_name),
                             "signer": _certificate(embedded.signer_cert),
                             "byte_ranges": _ranges(embedded)}
    try:
        status = validate_pdf_signature(embedded, context, context)
    except (SignatureValidationError, PdfError, ValueError, KeyError, TypeError) as exc:
        return entry | {"signing_time": None, "timestamp": None, "intact": False,
                        "trusted": False, "trust_problem": None, "coverage": None,
                        "modification": None, "valid": False,
                        "problem": f"cannot be validated: {exc}",
                        "evidence": _evidence(embedded, None, evidence)}
    return entry | {
        "signing_time": _time(status.signer_reported_dt),
        "timestamp": _timestamp(status),
        "intact": bool(status.intact and status.valid),
        "trusted": bool(status.trusted),
        "trust_problem": _name(status.trust_problem_indic),
        "coverage": _name(status.coverage),
        "modification": _name(status.modification_level),
        "valid": bool(status.bottom_line),
        "problem": None,
        "evidence": _evidence(embedded, status, evidence),
    }


def _certificate(cert: asn1_x509.Certificate) -> dict[str, str | None]:
    parsed = x509.load_der_x509_certificate(cert.dump())
    return {"subject": parsed.subject.rfc4514_string(),
            "issuer": parsed.issuer.rfc4514_string(),
            "serial": str(parsed.serial_number),
            "sha256": hashlib.sha256(cert.dump()).hexdigest(),
            "not_before": _time(parsed.not_valid_before_utc),
            "not_after": _time(parsed.not_valid_after_utc)}


def _ranges(embedded: EmbeddedPdfSignature) -> list[list[int]]:
    """The signed byte ranges as [offset, length] pairs (the /ByteRange array)."""
    numbers = [int(n) for n in embedded.byte_range]
    return [numbers[i:i + 2] for i in range(0, len(numbers), 2)]


def _timestamp(status: PdfSignatureStatus) -> dict[str, Any] | None:
    ts = status.timestamp_validity
    if ts is None:
        return None
    return {"time": _time(ts.timestamp), "tsa": _certificate(ts.signing_cert),
            "intact": bool(ts.intact and ts.valid), "trusted": bool(ts.trusted)}


def _evidence(embedded: EmbeddedPdfSignature, status: PdfSignatureStatus | None,
              given: Mapping[str, Any]) -> dict[str, Any]:
    """What a verifier needs years later: the chain (the validation path when there is
    one, else the certificates the signature carries), the time-stamp token, and the
    revocation evidence used."""
    path = status.validation_path if status is not None else None
    # from the signer to the anchor (the path itself runs from the anchor down)
    certs = (list(path.iter_certs(include_root=True))[::-1] if path is not None
             else [embedded.signer_cert, *embedded.other_embedded_certs])
    token = _timestamp_token(embedded)
    return {"certificates": list(dict.fromkeys(base64.b64encode(c.dump()).decode()
                                               for c in certs)),
            "timestamp_token": None if token is None else base64.b64encode(token).decode(),
            "crls": list(given.get("crls", [])), "ocsp": list(given.get("ocsp", []))}


def _timestamp_token(embedded: EmbeddedPdfSignature) -> bytes | None:
    attrs = embedded.signer_info["unsigned_attrs"]
    if not isinstance(attrs, cms.CMSAttributes):
        return None
    for attr in attrs:
        if attr["type"].native == "signature_time_stamp_token":
            return bytes(attr["values"][0].dump())
    return None


def _name(value: Any) -> str | None:
    return None if value is None else str(value.name).lower().replace("_", "-")


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


# ---- the offline verifier's second look --------------------------------------------


def recorded_anchors(report: Mapping[str, Any]) -> list[bytes]:
    """The certificates the report's evidence holds of the anchors it names."""
    named = set(report.get("anchors") or [])
    found = {hashlib.sha256(der).hexdigest(): der for s in report["signatures"]
             for der in map(base64.b64decode, (s.get("evidence") or {}).get("certificates", []))}
    return [der for sha256, der in found.items() if sha256 in named]

COMPARED = ("intact", "trusted", "coverage", "modification", "valid")


def recheck(report: Mapping[str, Any], data: bytes, *, anchors: Sequence[bytes] = ()) -> str:
    """Validate ``data`` again as of the report's time ``at`` (when the ledger held the
    file: its certificates may have expired since), with the evidence the report
    kept; every signature must come out as the report says. ``anchors``: the trust
    anchors the verifier trusts; none: those of the anchors the report names whose
    certificates its evidence holds (what the ledger trusted), and the line says so."""
    at = datetime.fromisoformat(report["at"])
    recorded = list(report["signatures"])
    evidence: dict[str, list[str]] = {"certificates": [], "crls": [], "ocsp": []}
    for s in recorded:
        for kind in evidence:
            evidence[kind] += (s.get("evidence") or {}).get(kind, [])
    chosen = list(anchors) or recorded_anchors(report)
    again = read_signatures(data, anchors=chosen, at=at, evidence=evidence)
    if len(again.signatures) != len(recorded):
        raise VerificationError(f"it has {len(again.signatures)} signature(s); the ledger "
                                f"reported {len(recorded)}")
    # a revocation is the ledger's recorded evidence (docs/trust.md), not the file's
    adjusted = [{**fresh, "valid": False} if theirs.get("revoked") else fresh
                for fresh, theirs in zip(again.signatures, recorded, strict=True)]
    for mine, theirs in zip(adjusted, recorded, strict=True):
        differ = [k for k in COMPARED if mine.get(k) != theirs.get(k)]
        if differ or mine["signer"]["sha256"] != theirs["signer"]["sha256"]:
            shown = ", ".join(f"{k} {mine.get(k)} (reported {theirs.get(k)})" for k in differ)
            raise VerificationError(f"signature {theirs.get('field')}: {shown or 'another signer'}")
    verdict = Findings(signatures=adjusted, problem=again.problem).verdict
    if verdict != report["verdict"]:
        raise VerificationError(f"it re-checks {verdict}; the ledger reported "
                                f"{report['verdict']}")
    whose = ("the trust anchors given" if anchors else
             "the trust anchors the ledger recorded (give --trust-anchor to choose your own)")
    if not recorded:
        what = f"unreadable ({again.problem})" if again.problem else "no signature"
        return f"{what}, as the ledger reported at {report['at']}"
    signed = "; ".join(summary(s) for s in recorded)
    return (f"{len(recorded)} signature(s) re-checked as of {report['at']} against {whose}: "
            f"{signed}")
