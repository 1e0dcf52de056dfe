"""A streaming replica of the test PostgreSQL server, made with PostgreSQL's own tools.

``pg_basebackup -R -X stream`` copies the test cluster into a temporary folder
and ``pg_ctl`` starts it as a hot standby on a free port; one replica serves the
session (the copy takes a few seconds). A physical replication slot of its own
keeps the primary's WAL for the standby while it is stopped or paused; a copy
whose WAL stream still found its first segment recycled ("requested WAL segment
… has already been removed", seen under the other tests' writes) is made
again, up to three times. The slot is dropped with
the replica, and a slot an interrupted run left behind is dropped at the next.
The server refuses to run as root, so as root the tools run as the ``postgres``
user. When CI is set, a replica that
cannot be made fails the tests instead of skipping them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from tests.conftest import PG

BIN = Path(os.environ.get("DOCLEDGER_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
READY_TIMEOUT = 30.0
SLOT_PREFIX = "docledger_test_replica_"
BASEBACKUP_ATTEMPTS = 3


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ReplicaCluster:
    """A hot standby of the test server, started and stopped (and promoted) at will."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()
        self.slot = SLOT_PREFIX + folder.name.rsplit("-", 1)[-1].lower()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def create(self) -> None:
        """A fresh base backup of the test server, configured as a standby."""
        for attempt in range(BASEBACKUP_ATTEMPTS):
            shutil.rmtree(self.data, ignore_errors=True)
            self.drop_slot()  # a promoted copy's, or a failed attempt's: start from now
            try:
                self._run("pg_basebackup", "-h", PG["host"], "-p", str(PG["port"]), "-U",
                          PG["user"], "-D", str(self.data), "-R", "-X", "stream", "-c",
                          "fast", "-C", "-S", self.slot)
                break
            except RuntimeError as exc:
                # the backup's own fast checkpoint, with the other tests' writes, can
                # recycle the segment its WAL stream starts in before the stream asks
                if "has already been removed" not in str(exc) or (
                        attempt == BASEBACKUP_ATTEMPTS - 1):
                    raise
        # Debian keeps the primary's configuration outside its data folder: the
        # standby gets its own (max_connections and friends as the defaults, which
        # must not be below the primary's)
        (self.data / "postgresql.conf").write_text(
            f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
            f"unix_socket_directories = '{self.folder}'\nhot_standby = on\n"
            "shared_buffers = 32MB\nfsync = off\nwal_receiver_status_interval = 1s\n")
        (self.data / "pg_hba.conf").write_text("local all all trust\n"
                                               "host all all 127.0.0.1/32 trust\n")
        (self.data / "pg_ident.conf").write_text("")
        self._own(self.data)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"), "-w",
                  "-t", str(int(READY_TIMEOUT)), "start")
        deadline = time.monotonic() + READY_TIMEOUT
        while self.in_recovery() is None:  # accepting connections as a standby
            if time.monotonic() > deadline:
                raise RuntimeError(f"the replica did not answer: {self.log()}")
            time.sleep(0.1)

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def drop_slot(self) -> None:
        """Drop this replica's slot on the primary (none: nothing to do)."""
        deadline = time.monotonic() + 10  # a stopped standby's sender lets go soon after
        with psycopg.connect(**PG, autocommit=True) as conn:
            while True:
                row = conn.execute("SELECT active FROM pg_replication_slots WHERE "
                                   "slot_name = %s", (self.slot,)).fetchone()
                if row is None:
                    return
                if not row[0] or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            conn.execute("SELECT pg_drop_replication_slot(%s)", (self.slot,))

    def promote(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-w", "promote")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def in_recovery(self) -> bool | None:
        """Whether the server is a standby; None when it does not answer."""
        try:
            with psycopg.connect(host="127.0.0.1", port=self.port, user=PG["user"],
                                 dbname=PG["dbname"], connect_timeout=2) as conn:
                row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
                return bool(row and row[0])
        except psycopg.Error:
            return None

    def execute(self, sql: str) -> None:
        with psycopg.connect(host="127.0.0.1", port=self.port, user=PG["user"],
                             dbname=PG["dbname"], autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def streaming(self) -> ReplicaCluster:
        """This replica as a streaming standby again: started, replaying, not promoted."""
        if self.in_recovery() is False:  # promoted: it diverged; copy the primary again
            self.stop()
            self.create()
        if not self.running() or self.in_recovery() is None:
            self.start()
        self.execute("SELECT pg_wal_replay_resume()")
        return self

    def log(self) -> str:
        path = self.folder / "log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def _run(self, tool: str, *args: str, check: bool = True) -> None:
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run([*as_postgres, str(BIN / tool), *args], capture_output=True,
                              text=True, timeout=120)
        if check and done.returncode != 0:
            raise RuntimeError(f"{tool} failed: {done.stderr.strip()} {self.log()}")

    def _own(self, path: Path) -> None:
        if os.geteuid() == 0:
            shutil.chown(path, "postgres")
            for child in path.iterdir():
                if child.is_file():
                    shutil.chown(child, "postgres")


@contextmanager
def make_replica() -> Iterator[ReplicaCluster]:
    """A streaming replica of the test server in a temporary folder, removed after."""
    folder = Path(tempfile.mkdtemp(prefix="docledger-replica-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    cluster = ReplicaCluster(folder)
    drop_stale_slots()
    try:
        cluster.create()
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        cluster.drop_slot()
        shutil.rmtree(folder, ignore_errors=True)


def drop_stale_slots() -> None:
    """Slots of replicas an interrupted run left behind: inactive, they would keep the
    primary's WAL for ever."""
    with psycopg.connect(**PG, autocommit=True) as conn:
        conn.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                     "WHERE slot_name LIKE %s AND NOT active", (SLOT_PREFIX + "%",))


@pytest.fixture(scope="session")
def pg_replica(postgres_available: None) -> Iterator[ReplicaCluster]:
    """One streaming replica of the test server for the session; each test gets it
    streaming (restarted, resumed or made afresh after a promotion)."""
    made = make_replica()
    try:
        cluster = made.__enter__()
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        if os.environ.get("CI"):
            pytest.fail(f"a PostgreSQL replica is required in CI and could not start: {exc}")
        pytest.skip(f"no PostgreSQL replica: {exc}")
    yield cluster
    made.__exit__(None, None, None)


@pytest.fixture
def standby(pg_replica: ReplicaCluster) -> ReplicaCluster:
    return pg_replica.streaming()
