"""Real witnesses for the tests: ``docledger witness serve`` processes on loopback.

    with running_witnesses(tmp_path, [ledger_vkey], count=3) as (a, b, c):
        httpx.post(f"{a.url}/add-checkpoint", content=body)
        b.kill()        # SIGKILL: a witness that is down
        b.restart()     # the same folder and port again (state kept)

Each witness is initialised (as ``docledger witness init`` does) in its own folder under
``root`` and serves on a free 127.0.0.1 port; every one started is stopped when
the block ends. ``add_log`` trusts one more log while it runs.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from domain.evidence.checkpoint import Checkpoint, NoteKey, sign_note
from domain.evidence.cosignature import AddCheckpoint, CosignerKey
from domain.evidence.keys import Ed25519Signer
from domain.evidence.merkle import CompactRange, assemble, consistency_ranges, leaf_hash
from infrastructure.witness_folder import WitnessFolder
from tests.waiting import wait_until

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


class WitnessStartError(RuntimeError):
    """A witness process did not start or did not answer in time."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def docledger(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``docledger ARGS`` as a process."""
    return subprocess.run([sys.executable, "-m", "api", *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "COLUMNS": "200"})


@dataclass
class RunningWitness:
    name: str
    vkey: str  # its cosignature/v1 verifier key
    data: Path
    port: int
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def key(self) -> CosignerKey:
        return CosignerKey.parse(self.vkey)

    @property
    def log(self) -> Path:
        return self.data / "serve.log"

    def policy_line(self) -> str:
        """This witness as a c2sp.org/tlog-policy line (named by its key name)."""
        return f"witness {self.name} {self.vkey} {self.url}\n"

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        if self.running():
            return
        self.process = _spawn(self)
        if not wait_until(self._answers, START_TIMEOUT):
            self.kill()
            raise WitnessStartError(f"witness {self.name} did not answer in "
                                    f"{START_TIMEOUT}s:\n{self.output()}")

    def _answers(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            raise WitnessStartError(f"witness {self.name} exited:\n{self.output()}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        """SIGKILL: the witness stops at once, as a crash would stop it."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT)

    def stop(self) -> None:
        """SIGINT, uvicorn's graceful shutdown; SIGKILL if it hangs."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self) -> None:
        """Stop it (if running) and start it again on the same folder and port."""
        self.stop()
        self.start()

    def add_log(self, vkey: str) -> None:
        """Trust one more log (the running witness reads its list again)."""
        WitnessFolder(self.data).add_log(vkey, None)


def init_witness(data: Path, name: str, log_vkeys: Sequence[str]) -> RunningWitness:
    """What ``docledger witness init`` does, in ``data``; not started."""
    key = WitnessFolder(data).init(name, list(log_vkeys))
    return RunningWitness(name=name, vkey=key.vkey(), data=data, port=free_port())


@contextmanager
def running_witnesses(root: Path, log_vkeys: Sequence[str], *, count: int = 1,
                      names: Sequence[str] | None = None) -> Iterator[list[RunningWitness]]:
    """``count`` witnesses (or one per name in ``names``) trusting ``log_vkeys``, each
    started and answering; all stopped at the end."""
    names = list(names) if names is not None else [
        f"witness-{i}.docledger.test/w" for i in range(count)]
    witnesses = [init_witness(root / f"witness-{i}", name, log_vkeys)
                 for i, name in enumerate(names)]
    try:
        for witness in witnesses:
            witness.process = _spawn(witness)
        deadline = time.monotonic() + START_TIMEOUT
        for witness in witnesses:  # started together, waited for one by one
            if not wait_until(witness._answers, max(0.1, deadline - time.monotonic())):
                raise WitnessStartError(f"witness {witness.name} did not answer:\n"
                                        f"{witness.output()}")
        yield witnesses
    finally:
        for witness in witnesses:
            witness.stop()


def _spawn(witness: RunningWitness) -> subprocess.Popen[bytes]:
    witness.starts += 1
    with witness.log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "api.cli_witness", "serve", "--data", str(witness.data),
             "--host", "127.0.0.1", "--port", str(witness.port), "--log-level", "warning"],
            stdout=out, stderr=subprocess.STDOUT)


class ToyLog:
    """A small log for the tests: leaves in a real RFC 9162 tree, checkpoints signed
    with its own key, consistency proofs from the tree's stored subtrees."""

    def __init__(self, origin: str, signer: Ed25519Signer | None = None,
                 leaves: Sequence[bytes] = ()) -> None:
        self.signer = signer or Ed25519Signer.generate()
        self.key = NoteKey.from_public_key(origin, self.signer.public_key)
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.leaves: list[bytes] = []
        self.tree = CompactRange(on_node=lambda level, i, h: self.nodes.__setitem__((level, i), h))
        for leaf in leaves:
            self.append(leaf)

    @property
    def vkey(self) -> str:
        return self.key.vkey()

    @property
    def size(self) -> int:
        return self.tree.size

    def append(self, data: bytes) -> None:
        self.leaves.append(data)
        self.tree.append(leaf_hash(data))

    def grow(self, count: int, tag: str = "entry") -> ToyLog:
        for _ in range(count):
            self.append(f"{tag} {self.size}".encode())
        return self

    def fork(self) -> ToyLog:
        """The same key and the same leaves so far: a second history from here on."""
        return ToyLog(self.key.name, self.signer, self.leaves)

    def checkpoint(self) -> str:
        body = Checkpoint(origin=self.key.name, size=self.size, root=self.tree.root()).body()
        return sign_note(body, self.key, self.signer)

    def proof(self, old: int) -> list[bytes]:
        if old == 0 or old == self.size:
            return []
        return assemble(consistency_ranges(old, self.size), self.nodes)

    def request(self, old: int, proof: list[bytes] | None = None,
                note: str | None = None) -> bytes:
        """An add-checkpoint body from ``old`` to the current checkpoint."""
        return AddCheckpoint(old_size=old, proof=self.proof(old) if proof is None else proof,
                             note=note or self.checkpoint()).encode()
