"""The ledger's validation report of a PDF attachment's signatures, and the policy
that may refuse a document for it (docs/signed-pdf.md).

The report is a ledger statement (``attachment.validated``): the ledger's word on
what it found when the document's attachments came in, signed like
``ledger.accepted`` and committed with the command that brought the file. What
was found (``Findings``) comes from an adapter that reads the PDF
(infrastructure/pdf_signatures.py); this module only shapes it into the
statement, judges it, and applies the policy. It imports no PDF library.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from domain.errors import InvalidInputError
from domain.evidence.statements import timestamp_text

STATEMENT = "attachment.validated"

Verdict = Literal["valid", "invalid", "absent"]
Requirement = Literal["record", "require-valid"]
ANY_TYPE = "*"  # the policy's entry for every document type it does not name


class PdfSignatureRefused(InvalidInputError):  # noqa: N818 - a refusal, not a fault
    """The policy requires a valid PDF signature for this document type, and an
    attachment's signature is invalid or absent."""

    code = "pdf-signature-refused"


@dataclass(frozen=True, kw_only=True)
class Findings:
    """What reading one PDF found: one entry per signature (docs/signed-pdf.md lists
    their fields), or the reason the file could not be read as a PDF."""

    signatures: list[dict[str, Any]] = field(default_factory=list)
    problem: str | None = None

    @property
    def verdict(self) -> Verdict:
        """``absent`` without signatures, ``valid`` when every one is, else ``invalid``
        (an unreadable file is invalid: it claims to be a PDF and is not one)."""
        if self.problem is not None:
            return "invalid"
        if not self.signatures:
            return "absent"
        return "valid" if all(s.get("valid") is True for s in self.signatures) else "invalid"


class AttachmentValidator(Protocol):
    """Reads an attachment the ledger holds and, if it is a PDF, checks its signatures
    at ``at`` against ``anchors`` (DER certificates); None for any other file."""

    def validate(self, sha256: str, at: datetime, anchors: Sequence[bytes]
                 ) -> Findings | None: ...


def validated_statement(*, command_id: str, document: str, attachment: Mapping[str, Any],
                        at: datetime, anchors: Sequence[str],
                        findings: Findings) -> dict[str, Any]:
    """The ledger's report on one PDF attachment (serialised by ``statement_bytes``);
    ``anchors``: the SHA-256 fingerprints of the trust anchors in force at ``at``."""
    return {
        "type": STATEMENT,
        "cause": command_id,
        "document": document,
        "attachment": {k: attachment[k] for k in ("name", "media_type", "size", "sha256")},
        "at": timestamp_text(at),
        "anchors": sorted(anchors),
        "verdict": findings.verdict,
        "problem": findings.problem,
        "signatures": findings.signatures,
    }


class Revocation(Protocol):
    """A revocation of a certificate, as the ledger's recorded evidence says."""

    @property
    def at(self) -> datetime: ...

    @property
    def reason(self) -> str: ...

    @property
    def recorded_at(self) -> datetime: ...


def with_revocation(signature: Mapping[str, Any], known: Revocation | None) -> dict[str, Any]:
    """The signature's entry with its ``revoked`` field: null, or when, why and since
    when the ledger knew; a revoked signer's signature is not valid."""
    if known is None:
        return {**signature, "revoked": None}
    return {**signature, "valid": False, "revoked": {
        "at": timestamp_text(known.at), "reason": known.reason,
        "recorded_at": timestamp_text(known.recorded_at)}}


def findings_of(statement: Mapping[str, Any]) -> Findings:
    """The findings a stored report holds (the audit's replay hands them back)."""
    return Findings(signatures=list(statement["signatures"]), problem=statement["problem"])


@dataclass(frozen=True, kw_only=True)
class PdfSignaturePolicy:
    """Per document type code (``header.document_type.type``, as text; ``*`` for the
    rest): ``require-valid`` refuses a document whose PDF attachment's signature is
    invalid or absent; ``record`` (the default) records the report and accepts."""

    by_type: Mapping[str, Requirement] = field(default_factory=dict)

    def requirement(self, document_type: int) -> Requirement:
        return self.by_type.get(str(document_type), self.by_type.get(ANY_TYPE, "record"))

    def check(self, document_type: int, attachment: Mapping[str, Any],
              findings: Findings) -> None:
        """Refuse (``PdfSignatureRefused``) what this type's requirement does not accept."""
        if self.requirement(document_type) == "record" or findings.verdict == "valid":
            return
        reasons = findings.problem or "; ".join(
            summary(s) for s in findings.signatures) or "it carries no signature"
        raise PdfSignatureRefused(
            f"attachment {attachment['name']!r} ({attachment['sha256']}): PDF signature "
            f"{findings.verdict} ({reasons}); documents of type {document_type} require a "
            "valid one")


def summary(signature: Mapping[str, Any]) -> str:
    """One line on one signature: who, the verdict, the coverage and what is wrong."""
    signer = signature.get("signer") or {}
    problems = [p for p in (
        None if signature.get("intact") else "not intact",
        None if signature.get("trusted") else f"untrusted ({signature.get('trust_problem')})",
        None if signature.get("modification") in ("none", "lta-updates", None)
        else f"modified after signing ({signature.get('modification')})",
        None if not signature.get("revoked")
        else f"revoked at {signature['revoked']['at']} ({signature['revoked']['reason']})",
    ) if p]
    verdict = "valid" if signature.get("valid") else "invalid"
    detail = f": {', '.join(problems)}" if problems and verdict == "invalid" else ""
    return (f"signed by {signer.get('subject', '?')}, {verdict}{detail}, "
            f"coverage {signature.get('coverage')}")


def report_lines(statement: Mapping[str, Any]) -> list[str]:
    """Lines for people: one per signature, or the verdict when there is none."""
    attachment = statement.get("attachment") or {}
    head = f"{attachment.get('name', '?')}"
    signatures = statement.get("signatures") or []
    if not signatures:
        why = f" ({statement['problem']})" if statement.get("problem") else ""
        return [f"{head}: {statement.get('verdict')}{why}"]
    return [f"{head}: {summary(s)}" for s in signatures]
