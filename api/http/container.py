"""What the API process holds: the ledger service and the nonce store."""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import InvalidInputError
from infrastructure.nonces import NonceStore
from infrastructure.service import LedgerService, bootstrap
from infrastructure.settings import Settings
from infrastructure.tiles import TileSource, tile_checkpoint


@dataclass
class Container:
    settings: Settings
    service: LedgerService
    nonces: NonceStore
    tiles: TileSource

    @classmethod
    def open(cls, settings: Settings) -> Container:
        check_safe_for(settings)
        service = bootstrap(settings)
        # with witnesses, checkpoints are published in the background: commands never wait
        service.log.publisher.start()
        return cls(settings=settings, service=service, nonces=NonceStore.beside(service.app),
                   tiles=TileSource(service.log.store, lambda: tile_checkpoint(service)))

    def close(self) -> None:
        self.service.log.publisher.stop()
        self.service.close()


DEVELOPMENT_MARKER = "DEVELOPMENT"


def check_safe_for(settings: Settings) -> None:
    """In production, refuse development keys and key files others can read."""
    if settings.env != "production":
        return
    keys = settings.data / "keys"
    if (keys / DEVELOPMENT_MARKER).exists():
        raise InvalidInputError(
            f"refusing to start in production: {keys} holds development keys (made by "
            "'docledger demo'); initialise a ledger with 'docledger init' for production")
    for name in ("ledger.key", "registrar.key"):
        path = keys / name
        if path.exists() and path.stat().st_mode & 0o077:
            raise InvalidInputError(f"refusing to start in production: {path} is readable "
                                    "by others (chmod 600)")
