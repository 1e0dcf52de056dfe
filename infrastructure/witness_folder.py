"""A witness's folder: its key, its name, its list of logs and its store.

    W/witness.key       Ed25519 private key, PEM PKCS#8, mode 0600
    W/witness.key.pub   its public key, PEM
    W/witness.vkey      the witness's name and key as a cosignature/v1 verifier key
    W/logs              the logs it cosigns for: 'log <vkey> [<url>]' lines
    W/witness.db        the latest cosigned checkpoint per log, and kept evidence

The list of logs is read again whenever the file changes, so a log added with
``docledger witness add-log`` is trusted without a restart.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from domain.errors import DuplicateError, InvalidInputError, NotInitialisedError
from domain.evidence.checkpoint import CheckpointError
from domain.evidence.cosignature import CosignerKey, cosign
from domain.evidence.keys import Ed25519Signer
from domain.evidence.witness import (
    Decision,
    Refused,
    TrustedLogs,
    check_signature,
    log_line,
    parse_request,
)
from infrastructure.keyfiles import load_signer, write_key_pair
from infrastructure.witness_store import WitnessStore

log = logging.getLogger("docledger.witness")
LOGS_HEADER = "# the logs this witness cosigns for: log <vkey> [<url>]\n"


@dataclass(frozen=True)
class WitnessFolder:
    path: Path

    @property
    def key_file(self) -> Path:
        return self.path / "witness.key"

    @property
    def vkey_file(self) -> Path:
        return self.path / "witness.vkey"

    @property
    def logs_file(self) -> Path:
        return self.path / "logs"

    @property
    def db_file(self) -> Path:
        return self.path / "witness.db"

    def init(self, name: str, log_vkeys: list[str]) -> CosignerKey:
        """Make a new witness: key, verifier key, list of logs, store."""
        if self.key_file.exists() or self.vkey_file.exists():
            raise DuplicateError(f"{self.path} holds a witness already")
        lines = LOGS_HEADER + "".join(log_line(vkey) for vkey in log_vkeys)
        before = self.logs_file.read_text() if self.logs_file.exists() else ""
        TrustedLogs.parse(before + "\n" + lines)  # refuse a key twice before writing anything
        signer = Ed25519Signer.generate()
        key = CosignerKey.from_public_key(name, signer.public_key)
        write_key_pair(signer, self.key_file)
        self.vkey_file.write_text(key.vkey() + "\n")
        if not self.logs_file.exists():
            self.logs_file.write_text(lines)
        else:  # a list written beforehand: the keys given are added to it
            for vkey in log_vkeys:
                self.add_log(vkey, None)
        WitnessStore(self.db_file)
        return key

    def vkey(self) -> CosignerKey:
        """The witness's name and public key; NotInitialisedError if there is none."""
        try:
            text = self.vkey_file.read_text()
        except FileNotFoundError:
            raise NotInitialisedError(
                f"no witness in {self.path}: run 'docledger witness init --name NAME "
                f"--data {self.path}'") from None
        try:
            return CosignerKey.parse(text)
        except CheckpointError as exc:
            raise InvalidInputError(f"{self.vkey_file}: {exc}") from None

    def signer(self) -> tuple[CosignerKey, Ed25519Signer]:
        """The witness's key, checked against its verifier key."""
        key = self.vkey()
        signer = load_signer(self.key_file)
        if CosignerKey.from_public_key(key.name, signer.public_key) != key:
            raise InvalidInputError(f"{self.key_file} is not the key of {self.vkey_file}")
        return key, signer

    def logs(self) -> TrustedLogs:
        """The logs the witness cosigns for (none if the file is missing)."""
        self.vkey()
        try:
            text = self.logs_file.read_text()
        except FileNotFoundError:
            return TrustedLogs()
        except UnicodeDecodeError:
            raise InvalidInputError(f"{self.logs_file} is not UTF-8 text") from None
        return TrustedLogs.parse(text)

    def add_log(self, vkey: str, url: str | None) -> None:
        """Append a log to the list (replacing the file whole); a key listed is refused."""
        line = log_line(vkey, url)
        current = self.logs_file.read_text() if self.logs_file.exists() else LOGS_HEADER
        if current and not current.endswith("\n"):
            current += "\n"
        TrustedLogs.parse(current + line)
        self.logs()  # a folder with a witness in it
        tmp = self.logs_file.with_name("logs.tmp")
        tmp.write_text(current + line)
        os.replace(tmp, self.logs_file)


class Witness:
    """A running witness: its key, its logs (re-read when the file changes), its store."""

    def __init__(self, folder: WitnessFolder) -> None:
        self.folder = folder
        self.key, self._signer = folder.signer()
        self.store = WitnessStore(folder.db_file)
        self._logs = folder.logs()
        self._logs_stamp = self._stamp()
        self._lock = threading.Lock()

    def _stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.folder.logs_file.stat()
        except FileNotFoundError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def logs(self) -> TrustedLogs:
        """The list of logs, read again when the file changed; a list edited into
        something that does not parse leaves the last good one in force (logged)."""
        with self._lock:
            stamp = self._stamp()
            if stamp != self._logs_stamp:
                self._logs_stamp = stamp
                try:
                    self._logs = self.folder.logs()
                except InvalidInputError as exc:
                    log.error("%s: %s; the previous list of logs stays in force",
                              self.folder.logs_file, exc)
            return self._logs

    def cosign(self, text: str, timestamp: int) -> str:
        return cosign(text, self.key, self._signer, timestamp)

    def add_checkpoint(self, body: bytes) -> tuple[Decision, str | None]:
        """The tlog-witness decision on ``body``, recorded before it is returned; with
        the cosignature lines when it is accepted."""
        request = parse_request(body)
        if isinstance(request, Refused):
            return request, None
        submission = check_signature(request, self.logs())
        if isinstance(submission, Refused):
            return submission, None
        return self.store.submit(submission, body, self.cosign, int(time.time()))
