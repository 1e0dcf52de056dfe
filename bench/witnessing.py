"""The cost of witnessing: checkpoints published with three witnesses on loopback.

Starts three ``docledger witness serve`` processes on 127.0.0.1 (each with its
own key and SQLite store, which it writes durably before it answers) and two
ledgers in temporary folders: one without a witness policy, one whose policy
asks the three and needs two (``group 2``). Each round adds one command to each
ledger, then times, on the first, signing a checkpoint (published at once, as
without a policy), and on the second, signing one and publishing it: asking the
three witnesses in parallel, checking their cosignatures and storing the
cosigned note. The baseline is the first, measured in the same rounds.
"""

from __future__ import annotations

import argparse
import atexit
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.scratch import scratch_settings
from bench.stats import median, percentile
from domain.evidence.checkpoint import NoteKey
from domain.evidence.keys import Ed25519Signer
from infrastructure.keyfiles import load_public_key, write_key_pair
from infrastructure.ledger import DataFolder, init_ledger
from infrastructure.service import LedgerService, bootstrap
from infrastructure.settings import Settings
from infrastructure.witness_folder import WitnessFolder

AGENCY = "000.00.00.G22"
WITNESSES = 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_witness(folder: Path, name: str,
                  log_vkey: str) -> tuple[str, str, subprocess.Popen[bytes]]:
    """(its vkey, its URL, its process), answering."""
    key = WitnessFolder(folder).init(name, [log_vkey])
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli_witness", "serve", "--data", str(folder), "--host",
         "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return key.vkey(), url, process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"witness {name} did not start")


def ledger(prefix: str) -> tuple[Settings, str]:
    """A new ledger with one agency whose key the data folder holds; its vkey."""
    settings = scratch_settings(prefix, backend="sqlite", checkpoint_every=10**9,
                                checkpoint_seconds=10**9)
    app = init_ledger(settings)
    service = bootstrap(settings, app=app)
    folder = DataFolder(settings.data)
    signer = Ed25519Signer.generate()
    write_key_pair(signer, folder.agency_key(AGENCY))
    service.act("registrar", "agency.register", {
        "code": AGENCY, "name": "Văn phòng", "keys": [signer.public_key.to_spec()]})
    vkey = NoteKey.from_public_key(app.root().origin, load_public_key(folder.ledger_key)).vkey()
    service.close()
    return settings, vkey


def command(service: LedgerService, n: int) -> None:
    service.act(AGENCY, "document.create", {
        "document_id": f"{AGENCY},2026/12/01,bench-{n}",
        "header": {"code_notation": "CV", "document_type": {"type": 1, "type_name": "Công văn"},
                   "subject": "Về việc đo", "promulgation_place": "Hà Nội",
                   "promulgation_date": "2026-12-01", "signer": {"full_name": "Nguyễn Văn B"}}})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checkpoints", type=int, default=200)
    args = parser.parse_args()

    plain_settings, _ = ledger("bench-witnessing-plain-")
    settings, vkey = ledger("bench-witnessing-")
    root = Path(tempfile.mkdtemp(prefix="bench-witnesses-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    started = [start_witness(root / f"w{i}", f"w{i}.bench.test/witness", vkey)
               for i in range(WITNESSES)]
    try:
        policy = settings.data / "witnesses.policy"
        policy.write_text(f"log {vkey}\n" + "".join(
            f"witness w{i} {wkey} {url}\n" for i, (wkey, url, _) in enumerate(started))
            + f"group two 2 {' '.join(f'w{i}' for i in range(WITNESSES))}\nquorum two\n")
        plain = bootstrap(plain_settings)
        witnessed = bootstrap(settings.model_copy(update={"witness_policy": policy}))
        signing, publishing = [], []
        for n in range(args.checkpoints):
            command(plain, n)
            command(witnessed, n)
            t0 = time.perf_counter()
            plain.log.issue_checkpoint(force=True)
            t1 = time.perf_counter()
            witnessed.log.issue_checkpoint(force=True)
            published = witnessed.log.publish()
            t2 = time.perf_counter()
            if published is None or published.size != witnessed.log.size:
                raise SystemExit(f"round {n}: the checkpoint was not published")
            signing.append(t1 - t0)
            publishing.append(t2 - t1)
        witnessed.log.publisher.stop()
    finally:
        for _, _, process in started:
            process.terminate()
            process.wait(10)
    ms = 1000
    print(f"{WITNESSES} witness processes on 127.0.0.1, quorum 2; {args.checkpoints} "
          f"checkpoints each (sqlite)")
    print(f"{'figure':48} {'median ms':>10} {'p99 ms':>8} {'× baseline':>11}")
    for name, samples in (("baseline: sign a checkpoint, no witnesses", signing),
                          ("sign and publish, 3 witnesses, quorum 2", publishing)):
        print(f"{name:48} {median(samples) * ms:10.3f} {percentile(samples, 99) * ms:8.3f} "
              f"{median(samples) / median(signing):11.1f}")
    print(f"checkpoints/s: signing alone {1 / median(signing):,.0f}, published with "
          f"witnesses {1 / median(publishing):,.0f}")


if __name__ == "__main__":
    main()
