"""The axis gateway's key and the agencies reached only through the axis.

An agency that is not on the ledger reaches it only as edXML messages the axis
delivers; the ledger records a message only as its sender's signed command, and
holds no key of such an agency. So the registrar registers it with the
gateway's key (the connector's own Ed25519 key, ``keys/axis-gateway.key`` in the
data folder), and the connector signs that agency's commands with it: each is
the gateway's word for what the axis delivered, and carries the message's bytes
as its ``source``. An agency is *external* exactly when the gateway's key is one
of its keys in effect; one with keys of its own is a *member* (docs/axis.md,
"Agencies reached through the axis").
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from domain.errors import DuplicateError, InvalidInputError
from domain.evidence.keys import Ed25519Signer, PublicKey
from domain.exchange.agency import Agency
from domain.exchange.codes import check_agency_code
from domain.exchange.ids import REGISTRAR
from domain.ledger.application import DocLedger, Outcome
from infrastructure.keyfiles import load_public_key, write_key_pair
from infrastructure.ledger import DataFolder
from infrastructure.service import LedgerService

Kind = Literal["external", "member"]


def gateway_key(folder: DataFolder, *, create: bool = False) -> PublicKey | None:
    """The gateway's public key; made first with ``create``; None if there is none."""
    path = folder.gateway_key
    if not path.exists():
        if not create:
            return None
        write_key_pair(Ed25519Signer.generate(), path)
    return load_public_key(path)


class Agencies:
    """Which agencies of the ledger are external (they hold the gateway's key) and
    which are members. Answers are kept until ``refresh``, which the importer and
    the exporter call at each message and each listing: a connector that follows
    sees an agency the registrar registers meanwhile."""

    def __init__(self, app: DocLedger, folder: DataFolder) -> None:
        self.app = app
        self.folder = folder
        self.gateway: PublicKey | None = None
        self._kinds: dict[str, Kind | None] = {}
        self.refresh()

    def refresh(self) -> None:
        self.gateway = gateway_key(self.folder)
        self._kinds.clear()

    def kind(self, code: str) -> Kind | None:
        """``external``, ``member``, or None for an agency the ledger does not know."""
        if code not in self._kinds:
            self._kinds[code] = self._kind(code)
        return self._kinds[code]

    def is_external(self, code: str) -> bool:
        return self.kind(code) == "external"

    def _kind(self, code: str) -> Kind | None:
        agency = self.app.find(Agency, Agency.id_for(code))
        if agency is None:
            return None
        entry = None if self.gateway is None else agency.keys.get(self.gateway.keyid)
        return "external" if entry is not None and entry.revoked_at is None else "member"


def register_external(service: LedgerService, code: str, name: str, *,
                      registrar_key: Path | None = None) -> Outcome | None:
    """Register ``code`` as reached through the axis: ``agency.register`` signed by
    the registrar with the gateway's key (made if missing). None if it is
    registered so already; an agency with keys of its own is refused."""
    code = check_agency_code(code)
    key = gateway_key(service.folder, create=True)
    assert key is not None
    kind = Agencies(service.app, service.folder).kind(code)
    if kind == "external":
        return None
    if kind == "member":
        raise DuplicateError(f"agency {code} is registered with keys of its own: it signs its "
                             "own acts and is not reached through the axis")
    if not name.strip():
        raise InvalidInputError(f"agency {code} needs a name to be registered")
    return service.act(REGISTRAR, "agency.register",
                       {"code": code, "name": name, "keys": [key.to_spec()]},
                       key=registrar_key,
                       staff="registrar")
