"""What a command says of its source's XML signature, checked on the bytes the
ledger holds (docs/edxml.md, "The signature in the record").

A command made from an edXML message names the message (``source``, its bytes
in the blob store) and records what its XML signature said (``source.signature``)
at ``checked_at``. The ledger does not take the agency's word for it: before the
command is executed the signature is checked again, on the bytes the ledger
holds, at that moment and with the ledger's trust anchors, and the result must be
the one recorded, else the command is refused (``signature-evidence-mismatch``).
``checked_at`` must lie within the clock-skew window of the ledger's time, so no
moment when an expired certificate was still valid can be chosen. Then the
ledger's policy (DOCLEDGER_EDXML_SIGNATURE) decides whether it is accepted.

The importer checked the same bytes a moment before; a message that becomes four
commands is checked once here (the last results are kept by digest and moment).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from domain.errors import InvalidCommandError
from domain.exchange.commands import Source
from domain.exchange.edxml_signature_policy import (
    EdxmlSignatureRefused,
    SignatureEvidenceMismatch,
    check_policy,
)
from infrastructure.blobs import BlobStore
from infrastructure.settings import Settings

if TYPE_CHECKING:
    from domain.exchange.edxml_signature import SignatureEvidence

KEPT = 32  # results kept: one message's commands come one after another


class SourceSignatures:
    """The ledger's check of ``source.signature`` (domain.ledger.context.SourceChecker)."""

    def __init__(self, blobs: BlobStore, settings: Settings) -> None:
        self.blobs = blobs
        self.settings = settings
        self._kept: OrderedDict[tuple[str, str], SignatureEvidence] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, source: Source, at: datetime) -> None:
        policy = self.settings.edxml_signature
        claimed = source.signature
        if claimed is None:
            if policy != "record":
                raise EdxmlSignatureRefused(
                    "fields.source: the command records no result of its message's XML "
                    f"signature; the policy is {policy}")
            return  # as every command signed before the result was recorded
        moment = datetime.fromisoformat(claimed.checked_at.replace("Z", "+00:00"))
        window = timedelta(seconds=self.settings.max_clock_skew_seconds)
        if abs(at - moment) > window:
            raise InvalidCommandError(
                f"fields.source.signature.checked_at {claimed.checked_at} is more than "
                f"{window.total_seconds():g}s from the ledger's time {at.isoformat()}")
        found = self._evidence(source.sha256, moment, claimed.checked_at)
        recorded: dict[str, Any] = found.recorded()
        if recorded != claimed.model_dump():
            differ = sorted(k for k, v in recorded.items() if claimed.model_dump()[k] != v)
            raise SignatureEvidenceMismatch(
                "fields.source.signature is not what the message's XML signature says on "
                f"the bytes the ledger holds (it differs in {', '.join(differ)}: the "
                f"ledger finds it {found.status})")
        check_policy(found, policy)

    def _evidence(self, sha256: str, moment: datetime, key: str) -> SignatureEvidence:
        # the checker (lxml, signxml) only for a ledger handed a signed source
        from domain.exchange.edxml_signature import check_xml_signature

        with self._lock:
            kept = self._kept.get((sha256, key))
        if kept is not None:
            return kept
        data = self.blobs.verified_path(sha256).read_bytes()
        found = check_xml_signature(data, self.settings.edxml_trust_anchors(), at=moment)
        with self._lock:
            self._kept[(sha256, key)] = found
            while len(self._kept) > KEPT:
                self._kept.popitem(last=False)
        return found
