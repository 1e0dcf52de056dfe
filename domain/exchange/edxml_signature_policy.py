"""Which XML signature results refuse an edXML message (DOCLEDGER_EDXML_SIGNATURE).

Kept apart from the check itself, which needs lxml and signxml: the settings
name the policy in every process, most of which never read an edXML message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from domain.errors import InvalidCommandError, InvalidInputError

if TYPE_CHECKING:
    from domain.exchange.edxml_signature import SignatureEvidence

SignaturePolicy = Literal["record", "require-valid", "refuse-invalid"]


class EdxmlSignatureRefused(InvalidInputError):  # noqa: N818 - a refusal, not a fault
    """The signature policy refuses an edXML message whose signature is invalid or absent."""

    code = "edxml-signature-refused"


class SignatureEvidenceMismatch(InvalidCommandError):  # noqa: N818 - a refusal
    """A command records of its source's XML signature something other than what the
    ledger finds in the source's bytes."""

    code = "signature-evidence-mismatch"


def check_policy(evidence: SignatureEvidence, policy: SignaturePolicy) -> None:
    """Refuse the message if ``policy`` does not accept its signature's ``evidence``.

    ``record`` accepts every result; ``refuse-invalid`` refuses an invalid
    signature; ``require-valid`` refuses an invalid or absent one. An untrusted
    chain is recorded, not refused, by every policy.
    """
    if policy == "record" or evidence.status == "valid":
        return
    if evidence.status == "invalid":
        raise EdxmlSignatureRefused(f"the message's XML signature is invalid "
                                    f"({evidence.reason}); the policy is {policy}")
    if policy == "require-valid":
        raise EdxmlSignatureRefused("the message carries no XML signature; the policy is "
                                    "require-valid")
