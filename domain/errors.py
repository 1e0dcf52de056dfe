"""One error hierarchy for the whole domain.

Every refusal the ledger makes is one of these; the command line and the HTTP
API map them to exit codes and problem types. Each carries a stable ``code``.
"""

from __future__ import annotations


class DocLedgerError(Exception):
    """Base of every error the ledger raises on purpose."""

    code = "docledger-error"


class InvalidInputError(DocLedgerError):
    """Input could not be parsed into a valid command or value."""

    code = "invalid-input"


class InvalidEnvelopeError(InvalidInputError):
    """The DSSE envelope is malformed."""

    code = "invalid-envelope"


class InvalidCommandError(InvalidInputError):
    """The command payload is malformed or breaks a field rule."""

    code = "invalid-command"


class VerificationError(DocLedgerError):
    """A signature, key or digest check failed."""

    code = "verification-failed"


class InvalidSignatureError(VerificationError):
    """The signature does not verify over the envelope's payload."""

    code = "invalid-signature"


class UnknownKeyError(VerificationError):
    """The key id names no key of the acting party."""

    code = "unknown-key"


class KeyNotActiveError(VerificationError):
    """The key was not yet effective at the command's issue time."""

    code = "key-not-active"


class KeyRevokedError(VerificationError):
    """The key has been revoked."""

    code = "key-revoked"


class StaleCommandError(VerificationError):
    """The command's issue time is outside the allowed clock-skew window."""

    code = "stale-command"


class DigestMismatchError(VerificationError):
    """Bytes do not match the digest they were declared with."""

    code = "digest-mismatch"


class NotFoundError(DocLedgerError):
    """The named agency, document, delivery or blob does not exist."""

    code = "not-found"


class ForbiddenError(DocLedgerError):
    """The acting party may not perform this act."""

    code = "forbidden"


class ConflictError(DocLedgerError):
    """The command conflicts with the ledger's current state."""

    code = "conflict"


class DuplicateError(ConflictError):
    """The thing already exists (duplicate document, agency, recipient …)."""

    code = "duplicate"


class CommandIdConflictError(ConflictError):
    """The command id was used before with different payload bytes."""

    code = "command-id-conflict"


class IllegalTransitionError(ConflictError):
    """The act is not allowed in the current state."""

    code = "illegal-transition"


class ConcurrencyError(ConflictError):
    """Another command changed the same records at the same time; retry."""

    code = "concurrent-modification"


class NotInitialisedError(DocLedgerError):
    """The ledger has not been initialised."""

    code = "not-initialised"


class AuditFailure(DocLedgerError):
    """The stored history does not hold: names the first bad position."""

    code = "audit-failure"

    def __init__(self, position: int | None, message: str) -> None:
        self.position = position
        self.reason = message
        where = f"notification {position}" if position is not None else "ledger"
        super().__init__(f"{where}: {message}")


class AuditIncompleteError(DocLedgerError):
    """The audit could not finish (a worker lost the store, say): no finding about
    the history, and no verdict either."""

    code = "audit-incomplete"


class ForkRefusedError(VerificationError):
    """The ledger's tree does not extend a checkpoint it signed: nothing is signed.

    Its database was rolled back or damaged; see docs/ledger.md."""

    code = "fork-refused"


# what the store says when it refuses to number a new event with a position the
# Merkle log covers already (see infrastructure.log_store)
POSITION_COVERED = "docledger: position covered by the Merkle log"


class LogRollbackError(VerificationError):
    """The event log lost or changed events the Merkle log covers: sequencing stopped.

    Its tail was deleted or its database restored to an earlier state."""

    code = "log-rolled-back"


class StoreUnavailableError(DocLedgerError):
    """The store (the database) cannot be reached or does not answer in time; retry.

    Says nothing about the request itself: the same request may succeed later.
    """

    code = "store-unavailable"


class ReceiptPendingError(StoreUnavailableError):
    """The command is committed but its receipt could not be made yet: the same
    command bytes sent again answer with the receipt."""

    code = "committed-receipt-pending"

    def __init__(self, command_id: str, message: str) -> None:
        self.command_id = command_id
        super().__init__(message)


class CertificateError(InvalidInputError):
    """A certificate (a trust anchor, or one backing an agency's key) is refused."""

    code = "certificate-refused"


class UntrustedCertificateError(CertificateError):
    """The certificate does not chain to a trust anchor in force at the time."""

    code = "untrusted-certificate"


class CertificateNotValidError(CertificateError):
    """The certificate is expired or not yet valid at the time."""

    code = "certificate-not-valid"


class CertificateUsageError(CertificateError):
    """The certificate's key usage does not allow signing (digitalSignature)."""

    code = "certificate-usage"


class CertificateNameError(CertificateError):
    """The certificate does not name the agency it is registered for."""

    code = "certificate-name-mismatch"


class KeyExpiredError(KeyNotActiveError):
    """The key's certificate had expired (or was not yet valid) at the ledger's time."""

    code = "key-expired"


class RevocationEvidenceError(CertificateError):
    """A CRL or OCSP response not signed by the issuer it claims, or not about it."""

    code = "invalid-revocation-evidence"


class CertificateRevokedError(KeyRevokedError):
    """The key's certificate was revoked, by the evidence the ledger held, before
    the time of the signature."""

    code = "certificate-revoked"
