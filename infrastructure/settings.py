"""One settings object, read from DOCLEDGER_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.errors import InvalidInputError
from domain.evidence.pdf_report import PdfSignaturePolicy, Requirement
from domain.exchange.edxml_signature_policy import SignaturePolicy


class Settings(BaseSettings):
    """Where the ledger keeps its data and which database it uses."""

    model_config = SettingsConfigDict(env_prefix="DOCLEDGER_", extra="ignore")

    env: Literal["development", "production"] = "development"
    data: Path = Path("docledger-data")
    backend: Literal["sqlite", "postgres"] = "sqlite"
    pg_host: str = "127.0.0.1"
    pg_port: int = 5432
    pg_db: str = "docledger"
    pg_user: str = "postgres"
    pg_password: SecretStr = SecretStr("")
    pg_schema: str = "public"
    # A streaming replica the views are read from (docs/replicas.md): host:port
    # (user, password and database as for the primary) or a libpq DSN; none: the
    # primary serves every read. A replica further behind than replica_max_lag
    # seconds, down or promoted is not read; the primary answers instead.
    pg_replica: str | None = None
    replica_max_lag: float = 2.0
    origin: str = "docledger.local/ledger"
    max_clock_skew_seconds: int = 300
    checkpoint_every: int = 256  # sign a checkpoint after this many new events …
    checkpoint_seconds: float = 10.0  # … or when the latest is this old and the log grew
    # A C2SP tlog-policy file: the witnesses asked to cosign each checkpoint and the
    # quorum a checkpoint needs before it is published (docs/ledger.md, "Witness
    # policy"). None: every signed checkpoint is published at once, as it is signed.
    witness_policy: Path | None = None
    witness_timeout: float = 5.0  # seconds per request to one witness
    # Views follow the log inside each process (the embedded default); with
    # PostgreSQL a separate worker (`docledger project --follow`) usually does.
    views_in_process: bool | None = None
    # Aggregates kept in memory between commands; before each command (or group)
    # the log written since is read and whatever another process changed is
    # evicted (infrastructure/cache_guard.py), so several processes stay correct. 0: off.
    aggregate_cache: int = 10_000
    # Commit concurrent commands together, a few milliseconds' worth per transaction
    group_commit: bool = True
    # HTTP API
    max_upload_bytes: int = 25 * 2**20
    request_max_age_seconds: int = 300  # how old a signed request may be
    ready_max_view_lag: int = 10_000  # /readyz fails when the views are further behind
    # How long a caller waits on a store that is locked or does not answer before
    # it is told the store is unavailable (see docs/faults.md): a write on a
    # locked SQLite file; PostgreSQL's answer to the liveness question asked
    # while a statement waits (a busy server's statements are never cut)
    sqlite_lock_timeout: int = 30
    pg_io_timeout: float = 2.0
    # RFC 3161 time-stamping of each published checkpoint (docs/ledger.md,
    # "Trusted time"): the TSA's URL (none: no time-stamps), a PEM file of the
    # certificates its tokens must chain to, and how long to wait for it
    tsa_url: str | None = None
    tsa_certs: Path | None = None
    tsa_timeout: float = 5.0
    # The XML signature of an edXML message (docs/edxml.md, "XML signatures"):
    # which results refuse the message (record: none; refuse-invalid: an invalid
    # one; require-valid: an invalid or absent one), and a PEM file of the roots
    # a signer's certificate should chain to (none: chain_trusted is not judged)
    edxml_signature: SignaturePolicy = "record"
    edxml_trust: Path | None = None
    # where `docledger trust add` says the anchor's certificates hold the agency code,
    # unless --code-attribute says otherwise (docs/trust.md)
    certificate_code_attribute: Literal["UID", "serialNumber", "OU"] = "UID"
    # Signed PDF attachments (docs/signed-pdf.md): whether the ledger reads them
    # (against the trust anchors the registrar put in force), and per document type
    # code (JSON, e.g. {"1": "require-valid", "*": "record"}) which reports refuse one
    pdf_signatures: bool = True
    # stamp the incoming number and date on a copy of each PDF a recipient accepts
    pdf_stamp_incoming: bool = True
    pdf_signature_policy: dict[str, Requirement] = {}

    def pdf_policy(self) -> PdfSignaturePolicy:
        return PdfSignaturePolicy(by_type=dict(self.pdf_signature_policy))
    # OrganIds of the wild that are not 13-character agency codes (28.22.H17), each
    # with the code of the agency it names (JSON object; docs/edxml.md, "Agency codes")
    edxml_organ_ids: dict[str, str] = {}

    def edxml_trust_anchors(self) -> list[bytes]:
        """The contents of the ``edxml_trust`` PEM file; none when it is not set."""
        if self.edxml_trust is None:
            return []
        try:
            return [self.edxml_trust.read_bytes()]
        except OSError as exc:
            raise InvalidInputError(f"cannot read DOCLEDGER_EDXML_TRUST "
                                    f"{self.edxml_trust}: {exc.strerror}") from None

    @property
    def follow_views_in_process(self) -> bool:
        if self.views_in_process is not None:
            return self.views_in_process
        return self.backend == "sqlite"

    def eventsourcing_env(self) -> dict[str, str]:
        """The environment eventsourcing selects its recorder (and cache) from."""
        cache = ({"AGGREGATE_CACHE_MAXSIZE": str(self.aggregate_cache),
                  "AGGREGATE_CACHE_FASTFORWARD": "n"} if self.aggregate_cache else {})
        return cache | self._recorder_env()

    def _recorder_env(self) -> dict[str, str]:
        if self.backend == "sqlite":
            return {
                "PERSISTENCE_MODULE": "infrastructure.sqlite_store:SchemaLockedSQLiteFactory",
                "SQLITE_DBNAME": str(self.data / "ledger.sqlite"),
                "SQLITE_LOCK_TIMEOUT": str(self.sqlite_lock_timeout),
            }
        return {
            # eventsourcing's, with every wait on the server bounded
            "PERSISTENCE_MODULE": "infrastructure.pg_store:BoundedPostgresFactory",
            "POSTGRES_HOST": self.pg_host,
            "POSTGRES_PORT": str(self.pg_port),
            "POSTGRES_DBNAME": self.pg_db,
            "POSTGRES_USER": self.pg_user,
            "POSTGRES_PASSWORD": self.pg_password.get_secret_value(),
            "POSTGRES_SCHEMA": self.pg_schema,
            "POSTGRES_CONNECT_TIMEOUT": "5",
            "POSTGRES_LOCK_TIMEOUT": "10",
            "POSTGRES_IO_TIMEOUT": str(self.pg_io_timeout),
        }
