"""Run every benchmark, print one table of figures, and write BENCHMARKS.md.

    python -m bench            # default sizes, 8 to 20 minutes on 2 cores
    python -m bench --quick    # a smoke run, about 2 minutes
    python -m bench --full     # the performance issue's sizes: 1,000,000 leaves,
                               # 1,000,000 deliveries, ~1,000,000 events (hours)

Each benchmark runs in its own process (``python -m bench.run OUT bench.<name> …``)
so that one's memory and caches never count toward another; its printed lines are
parsed (the scripts keep them stable for this) and its peak resident memory is
read from getrusage. Every figure is set next to a baseline measured in the same
run. PostgreSQL benchmarks use a fresh schema in DOCLEDGER_PG_DB (default: test)
on DOCLEDGER_PG_HOST/PORT (default 127.0.0.1:5432); --no-postgres skips them.

BENCHMARKS.md is rewritten up to its "## Where the time goes" heading; that
section, written by hand from profiles, is kept as it is.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEPT_HEADING = "## Where the time goes"

SIZES: dict[str, dict[str, float]] = {
    "quick": {"leaves": 100_000, "proof_samples": 200, "audit_documents": 200,
              "audit_repeats": 1, "rebuild_documents": 200, "deliveries": 100_000,
              "view_repeats": 1, "view_samples": 200, "write_seconds": 3, "http_seconds": 5,
              "processes_seconds": 4, "ceiling_seconds": 1, "witness_checkpoints": 30,
              "log_documents": 1000},
    "default": {"leaves": 1_000_000, "proof_samples": 500, "audit_documents": 1000,
                "audit_repeats": 3, "rebuild_documents": 1000, "deliveries": 1_000_000,
                "view_repeats": 3, "view_samples": 500, "write_seconds": 10,
                "http_seconds": 20, "processes_seconds": 10, "ceiling_seconds": 3,
                "witness_checkpoints": 200, "log_documents": 10_000},
    # ~34.4 events per generated document: 29,000 documents ≈ 1,000,000 events
    "full": {"leaves": 1_000_000, "proof_samples": 1000, "audit_documents": 29_000,
             "audit_repeats": 1, "rebuild_documents": 29_000, "deliveries": 1_000_000,
             "view_repeats": 1, "view_samples": 1000, "write_seconds": 30,
             "http_seconds": 60, "processes_seconds": 30, "ceiling_seconds": 5,
             "witness_checkpoints": 500, "log_documents": 29_000},
}


@dataclass
class Row:
    bench: str
    figure: str
    median: str
    p99: str = ""
    baseline: str = ""
    ratio: str = ""
    peak: str = ""


@dataclass
class Run:
    name: str
    module: str
    args: list[str]
    backend: str
    parse: Callable[[str, Run], list[Row]]
    stdout: str = ""
    stderr: str = ""
    status: int = 0
    seconds: float = 0.0
    usage: dict = field(default_factory=dict)  # type: ignore[type-arg]
    figures: dict[str, float] = field(default_factory=dict)


# ---------------------------------------------------------------- parsing

NUM = r"([\d,]+(?:\.\d+)?)"


def num(text: str) -> float:
    return float(text.replace(",", ""))


def find(pattern: str, text: str) -> re.Match[str]:
    match = re.search(pattern, text, re.MULTILINE)
    if match is None:
        raise ValueError(f"line not found in the benchmark's output: /{pattern}/")
    return match


def table(text: str, header: str) -> list[tuple[str, float, float, float]]:
    """Rows 'name  median  p99  ratio' printed after the header line."""
    lines = text[find(header, text).end():].splitlines()[1:]
    rows = []
    for line in lines:
        m = re.match(rf"^(\S.*?)\s+{NUM}\s+{NUM}\s+{NUM}$", line.rstrip())
        if m is None:
            break
        rows.append((m.group(1), num(m.group(2)), num(m.group(3)), num(m.group(4))))
    return rows


def ms(value: float) -> str:
    return f"{value:.3f} ms" if value < 10 else f"{value:.1f} ms"


def mib(nbytes: float) -> str:
    return f"{nbytes / 2**20:,.0f} MiB"


def latency_rows(run: Run, rows: list[tuple[str, float, float, float]]) -> list[Row]:
    (base_name, base_med, base_p99, _), *rest = rows
    base_name = base_name.removeprefix("baseline: ")
    out = [Row(run.name, f"baseline: {base_name}", ms(base_med), ms(base_p99), "", "1")]
    for name, med, p99, _ in rest:
        out.append(Row(run.name, name, ms(med), ms(p99), f"{base_name}: {ms(base_med)}",
                       f"{med / base_med:.1f}× the time"))
    return out


def parse_proofs(text: str, run: Run) -> list[Row]:
    size = find(rf"^tree size {NUM}", text).group(1)
    run.name = f"proofs, {size} leaves (SQLite)"
    return latency_rows(run, table(text, r"^figure\s+median ms"))


def parse_tiles(text: str, run: Run) -> list[Row]:
    size = find(rf"^tree size {NUM}", text).group(1)
    run.name = f"tiles over HTTP, {size} leaves (SQLite)"
    return latency_rows(run, table(text, r"^figure\s+median ms"))


def parse_audit(text: str, run: Run) -> list[Row]:
    head = find(rf"^{NUM} commands, {NUM} events; {NUM} cores", text)
    cores = int(num(head.group(3)))
    raw = num(find(rf"raw Ed25519 verifications/s on one core: {NUM}", text).group(1))
    run.name = f"audit, {num(head.group(2)):,.0f} events (SQLite)"
    rows = [Row(run.name, "baseline: raw Ed25519 verifications/s, one core", f"{raw:,.0f}/s")]
    for m in re.finditer(rf"^audit, (\d+) process\(es\): median {NUM} s, {NUM} events/s, "
                         rf"median {NUM}% of the raw rate", text, re.MULTILINE):
        workers, seconds, rate = int(m.group(1)), num(m.group(2)), num(m.group(3))
        ratio = num(m.group(4)) / 100  # each run against the raw rate just before it
        run.figures[f"audit_{workers}"] = ratio
        rows.append(Row(run.name, f"full audit, {workers} process(es): events/s "
                        f"(median run {seconds:.2f} s)", f"{rate:,.0f}/s", "",
                        f"raw × {cores} cores: {raw * cores:,.0f}/s",
                        f"{ratio:.0%} of raw × cores"))
    run.figures["worker_peak"] = num(find(rf"largest worker process: peak RSS {NUM} MiB",
                                          text).group(1)) * 2**20
    return rows


def parse_views(text: str, run: Run) -> list[Row]:
    rows = []
    rebuild = re.search(rf"^rebuild of {NUM} events: median {NUM} s = {NUM} events/s; "
                        rf"reading the log alone: {NUM} events/s", text, re.MULTILINE)
    if rebuild:
        rate, read = num(rebuild.group(3)), num(rebuild.group(4))
        run.figures["rebuild_rate"] = rate
        run.figures["rebuild_events"] = num(rebuild.group(1))
        rows.append(Row(run.name, f"rebuild all views, {rebuild.group(1)} events: events/s "
                        f"(median run {num(rebuild.group(2)):.2f} s)", f"{rate:,.0f}/s", "",
                        f"reading the log: {read:,.0f}/s",
                        f"{rate / read:.2f}× the read rate"))
        memory = find(rf"half the log {NUM} MiB, whole log {NUM} MiB", text)
        rows.append(Row(run.name, "rebuild peak Python memory (tracemalloc), half / whole log",
                        f"{memory.group(1)} / {memory.group(2)} MiB"))
    inbox = re.search(rf"^{NUM} deliveries in the view; the busiest agency has {NUM}", text,
                      re.MULTILINE)
    if inbox:
        inbox_rows = latency_rows(run, table(text, r"^figure\s+median ms"))
        inbox_rows[0].figure += (f" ({inbox.group(1)} deliveries; the busiest agency "
                                 f"has {inbox.group(2)}; pages of 50 rows)")
        rows += inbox_rows
    return rows


def parse_replica(text: str, run: Run) -> list[Row]:
    return latency_rows(run, table(text, r"^figure\s+median ms"))


def parse_log_length(text: str, run: Run) -> list[Row]:
    logs = re.findall(rf"^log of {NUM} events: catch-up after each group commit: median "
                      rf"{NUM} ms, p99 {NUM} ms over {NUM} groups", text, re.MULTILINE)
    if len(logs) != 2:
        raise ValueError("expected a short and a long log in the output")
    (short, s_med, s_p99, _), (long, l_med, l_p99, groups) = logs
    base = num(s_med)
    run.figures["log_length_ratio"] = num(l_med) / base
    return [Row(run.name, f"baseline: catch-up after each group commit, log of {short} events",
                ms(base), ms(num(s_p99)), "", "1"),
            Row(run.name, f"catch-up after each group commit, log of {long} events "
                f"({groups} groups)", ms(num(l_med)), ms(num(l_p99)),
                f"log of {short} events: {ms(base)}", f"{num(l_med) / base:.2f}× the time")]


def parse_write(text: str, run: Run) -> list[Row]:
    plain = find(rf"^plain eventsourcing: {NUM} commands/s, {NUM} events/s", text)
    ours = find(rf"^docledger: +{NUM} commands/s, {NUM} events/s", text)
    ratios = find(rf"^ratio ours / plain, median of the rounds: {NUM} × commands/s, "
                  rf"{NUM} × events/s", text)
    p_cmd, p_ev, o_cmd, o_ev = (num(plain.group(1)), num(plain.group(2)),
                                num(ours.group(1)), num(ours.group(2)))
    # Each round's ratio compares two runs next to each other in time; their
    # median is steadier on a shared machine than the ratio of the medians.
    c_ratio, e_ratio = num(ratios.group(1)), num(ratios.group(2))
    run.figures["commands_ratio"] = c_ratio
    group = re.search(rf"group commit, {NUM} commands per transaction", text)
    ours_name = f"docledger, group commit ({group.group(1)} commands per transaction)" if group \
        else "docledger, one transaction per command"
    rows = [Row(run.name, f"commands/s, {ours_name}", f"{o_cmd:,.0f}/s", "",
                f"plain eventsourcing: {p_cmd:,.0f}/s", f"{c_ratio:.2f}×"),
            Row(run.name, f"events/s, {ours_name}", f"{o_ev:,.0f}/s", "",
                f"plain eventsourcing: {p_ev:,.0f}/s", f"{e_ratio:.2f}×")]
    cpu = re.search(rf"^CPU per command, median round: docledger {NUM} ms here \({NUM} ms of it "
                    rf"the clients' signing\) \+ {NUM} ms PostgreSQL; plain eventsourcing {NUM} "
                    rf"ms here \({NUM} ms of it the clients' signing\) \+ {NUM} ms PostgreSQL",
                    text, re.MULTILINE)
    if cpu:
        o_here, o_sign, o_pg, p_here, p_sign, p_pg = (num(g) for g in cpu.groups())
        # the ledger's CPU: the clients run in the benchmark's process, but an agency
        # signs its commands on its own machine
        ours_cpu, plain_cpu = o_here - o_sign + o_pg, p_here - p_sign + p_pg
        run.figures["cpu_ours"] = ours_cpu
        rows.append(Row(run.name, "CPU per command: ledger process (less the clients' "
                        "signing) + PostgreSQL",
                        f"{o_here - o_sign:.2f} + {o_pg:.2f} ms", "",
                        f"plain eventsourcing: {p_here - p_sign:.2f} + {p_pg:.2f} ms",
                        f"{ours_cpu / plain_cpu:.2f}× the CPU"))
    return rows


def parse_witnessing(text: str, run: Run) -> list[Row]:
    rows = latency_rows(run, table(text, r"^figure\s+median ms"))
    rates = find(rf"^checkpoints/s: signing alone {NUM}, published with witnesses {NUM}", text)
    alone, witnessed = num(rates.group(1)), num(rates.group(2))
    rows.append(Row(run.name, "checkpoints/s, published with 3 witnesses (quorum 2)",
                    f"{witnessed:,.0f}/s", "", f"signing alone: {alone:,.0f}/s",
                    f"{witnessed / alone:.2f}×"))
    return rows


def parse_ceiling(text: str, run: Run) -> list[Row]:
    rows = []
    for m in re.finditer(rf"^\s+(\d+)\s+(\d+)\s+{NUM}\s+{NUM}\s+{NUM}\s+{NUM}\s+{NUM}\s+"
                         rf"{NUM}\s+{NUM}$", text, re.MULTILINE):
        processes, k = int(m.group(1)), int(m.group(2))
        ordered, o_events, o_ms, free, f_events, _, ratio = (num(g) for g in m.groups()[2:])
        rows.append(Row(run.name, f"ordered (table lock + NOTIFY), {processes} writer "
                        f"process(es), {k} event(s) a transaction: transactions/s "
                        f"({ms(o_ms)} each)",
                        f"{ordered:,.0f}/s ({o_events:,.0f} events/s)", "",
                        f"unordered: {free:,.0f}/s ({f_events:,.0f} events/s)",
                        f"{ratio:.2f}×"))
    if not rows:
        raise ValueError("no case lines in the output")
    return rows


def parse_http(text: str, run: Run) -> list[Row]:
    base = find(rf"^trivial FastAPI POST \(baseline\)\s+{NUM}\s+{NUM}\s+{NUM}", text)
    ours = find(rf"^POST /v1/commands \(full flow\)\s+{NUM}\s+{NUM}\s+{NUM}", text)
    b_rate, b_p50, b_p99 = (num(g) for g in base.groups())
    o_rate, o_p50, o_p99 = (num(g) for g in ours.groups())
    retries = find(rf"^commands: {NUM} requests, of which {NUM} retries", text)
    rounds = find(rf"^commands/s ratio, median of the rounds: {NUM} \(rounds: (.*)\)", text)
    ratio = num(rounds.group(1))
    run.figures["http_ratio"], run.figures["http_p99"] = ratio, o_p99
    run.figures["http_rate"], run.figures["http_base_rate"] = o_rate, b_rate
    return [Row(run.name, "trivial FastAPI POST (baseline): requests/s", f"{b_rate:,.0f}/s"),
            Row(run.name, "trivial FastAPI POST (baseline): latency", ms(b_p50), ms(b_p99)),
            Row(run.name, f"POST /v1/commands, full flow: commands/s "
                f"({retries.group(1)} requests, {retries.group(2)} retries after 409)",
                f"{o_rate:,.0f}/s", "", f"trivial POST: {b_rate:,.0f}/s",
                f"{ratio:.3f}× (median of the rounds: {rounds.group(2)})"),
            Row(run.name, "POST /v1/commands, full flow: latency", ms(o_p50), ms(o_p99),
                f"trivial POST: {ms(b_p50)} / {ms(b_p99)}",
                f"{o_p50 / b_p50:.1f}× / {o_p99 / b_p99:.1f}× the time")]


def parse_search(text: str, run: Run) -> list[Row]:
    filled = find(rf"^{NUM} deliveries \({NUM} search rows\) filled in {NUM} s, indexed in "
                  rf"{NUM} s; the busiest agency is party to {NUM}", text)
    rows = latency_rows(run, table(text, r"^figure\s+median ms"))
    rows[0].figure += (f" ({filled.group(1)} deliveries, {filled.group(2)} search rows; the "
                       f"busiest agency is party to {filled.group(5)}; pages of 50 rows)")
    run.figures["search_worst_p99"] = max(num(r.p99.split()[0]) for r in rows[1:])
    return rows


def parse_processes(text: str, run: Run) -> list[Row]:
    rows = []
    cost: dict[int, float] = {}
    for m in re.finditer(
            rf"^processes (\d+): {NUM} commands/s against trivial {NUM}/s = {NUM}×; {NUM} "
            rf"requests, {NUM} retries after 409 \({NUM}%\); {NUM} events a command; CPU per "
            rf"command {NUM} ms server \+ {NUM} ms PostgreSQL \(\+ {NUM} ms clients\); "
            rf"p50 {NUM} ms, p99 {NUM} ms", text, re.MULTILINE):
        n = int(m.group(1))
        rate, base, ratio, requests, retries, share, events, srv, pg, clients, p50, p99 = (
            num(g) for g in m.groups()[1:])
        cost[n] = srv + pg
        conflicts = re.search(rf"^conflicts, {n} process\(es\): {NUM} events", text,
                              re.MULTILINE)
        rerun = f"; {conflicts.group(1)} events rolled back and run again" if conflicts else ""
        rows += [Row(run.name, f"{n} process(es): commands/s ({requests:,.0f} requests, "
                     f"{retries:,.0f} retries after 409 = {share:.2f}%{rerun}; {events:.2f} "
                     "events a command)", f"{rate:,.0f}/s", "", f"trivial POST, {n} process(es): "
                     f"{base:,.0f}/s", f"{ratio:.3f}×"),
                 Row(run.name, f"{n} process(es): latency", ms(p50), ms(p99)),
                 Row(run.name, f"{n} process(es): CPU per command, servers + their PostgreSQL "
                     f"backends (clients apart: {clients:.2f} ms)", f"{srv:.2f} + {pg:.2f} ms")]
    if len(cost) < 2:
        raise ValueError("fewer than two process counts in the output")
    first, last = min(cost), max(cost)
    run.figures["cpu_growth"] = cost[last] / cost[first]
    run.figures["processes"] = last
    rows[-1].baseline = f"{first} process(es): {cost[first]:.2f} ms"
    rows[-1].ratio = f"{cost[last] / cost[first]:.2f}× the CPU"
    projection = find(rf"^projection for (\d+) cores: {NUM} commands/s \(CPU: .*?= {NUM}/s; "
                      rf"store ceiling .*?= {NUM}/s", text)
    cores = int(projection.group(1))
    run.figures["projection"] = num(projection.group(2))
    rows.append(Row(run.name, f"projected for {cores} cores: commands/s (cores ÷ CPU per "
                    f"command of {last} processes, capped by the store's ordered insert)",
                    f"{num(projection.group(2)):,.0f}/s", "",
                    f"CPU bound {num(projection.group(3)):,.0f}/s, store bound "
                    f"{num(projection.group(4)):,.0f}/s"))
    return rows


# ---------------------------------------------------------------- running

def search_runs(size: dict[str, float], postgres: bool) -> list[Run]:
    """Search at a million deliveries: its own flag (about 4 minutes a backend)."""
    args = ["--deliveries", str(int(size["deliveries"]))]
    runs = [Run("search (SQLite)", "bench.search", args, "sqlite", parse_search)]
    if postgres:
        runs.append(Run("search (PostgreSQL)", "bench.search", args, "postgres", parse_search))
    return runs


def plan(size: dict[str, float], postgres: bool) -> list[Run]:
    def a(*items: object) -> list[str]:
        return [str(int(i)) if isinstance(i, float) else str(i) for i in items]

    views_args = a("--documents", size["rebuild_documents"], "--deliveries", size["deliveries"],
                   "--repeats", size["view_repeats"], "--samples", size["view_samples"])
    write = a("--seconds", size["write_seconds"])
    runs = [
        Run("proofs (SQLite)", "bench.proofs",
            a("--leaves", size["leaves"], "--samples", size["proof_samples"]), "sqlite",
            parse_proofs),
        Run("tiles (SQLite)", "bench.tiles",
            a("--leaves", size["leaves"], "--samples", size["proof_samples"]), "sqlite",
            parse_tiles),
        Run("audit (SQLite)", "bench.audit", a("--documents", size["audit_documents"],
                                              "--repeats", size["audit_repeats"]), "sqlite",
            parse_audit),
        Run("views (SQLite)", "bench.views", views_args, "sqlite", parse_views),
        Run("write path (SQLite, 1 thread)", "bench.write_path",
            ["--backend", "sqlite", "--threads", "1", *write], "sqlite", parse_write),
        Run("witnessing (SQLite, 3 witness processes on loopback)", "bench.witnessing",
            a("--checkpoints", size["witness_checkpoints"]), "sqlite", parse_witnessing),
    ]
    if postgres:
        runs += [
            Run("views (PostgreSQL)", "bench.views", views_args, "postgres", parse_views),
            Run("views from a streaming replica (PostgreSQL, pg_basebackup on this machine)",
                "bench.replica", a("--documents", 100, "--samples", 200), "postgres",
                parse_replica),
            Run("write path (PostgreSQL, 1 thread)", "bench.write_path",
                ["--backend", "postgres", "--threads", "1", *write], "postgres", parse_write),
            Run("write path (PostgreSQL, 16 threads)", "bench.write_path",
                ["--backend", "postgres", "--threads", "16", *write], "postgres", parse_write),
            Run("write path (PostgreSQL, 16 threads, group commit)", "bench.write_path",
                ["--backend", "postgres", "--threads", "16", "--group-commit", *write],
                "postgres", parse_write),
            Run("Merkle log length (PostgreSQL)", "bench.log_length",
                a("--documents", size["log_documents"]), "postgres", parse_log_length),
            Run("store ceiling (PostgreSQL, writer processes)", "bench.store_ceiling",
                a("--seconds", size["ceiling_seconds"]), "postgres", parse_ceiling),
            Run("HTTP (PostgreSQL, 16 clients, uvicorn 1 worker)", "bench.http",
                a("--clients", 16, "--seconds", size["http_seconds"]), "postgres",
                parse_http),
            Run("API processes (PostgreSQL, 16 clients, 1 and 2 servers on one port)",
                "bench.processes", a("--clients", 16, "--seconds", size["processes_seconds"]),
                "postgres", parse_processes),
        ]
    return runs


def execute(run: Run, pg_db: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCLEDGER_")}
    env["DOCLEDGER_BACKEND"] = run.backend
    env["DOCLEDGER_PG_DB"] = pg_db
    for key in ("DOCLEDGER_PG_HOST", "DOCLEDGER_PG_PORT", "DOCLEDGER_PG_USER",
                "DOCLEDGER_PG_PASSWORD"):
        if key in os.environ:
            env[key] = os.environ[key]
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bench.run", out, run.module, *run.args],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    run.seconds = time.perf_counter() - started
    run.stdout, run.stderr, run.status = done.stdout, done.stderr, done.returncode
    try:
        run.usage = json.loads(Path(out).read_text() or "{}")
    except (OSError, ValueError):
        run.usage = {}
    finally:
        Path(out).unlink(missing_ok=True)


def rows_of(run: Run) -> list[Row]:
    if run.status != 0:
        tail = (run.stderr or run.stdout).strip().splitlines()[-1:] or ["no output"]
        return [Row(run.name, f"FAILED (exit {run.status}): {tail[0][:120]}", "")]
    try:
        rows = run.parse(run.stdout, run)
    except ValueError as exc:
        return [Row(run.name, f"UNPARSED: {exc}", "")]
    if run.usage and rows:
        peak = mib(run.usage["self"]["max_rss_bytes"])
        if run.module in ("bench.http", "bench.processes"):
            peak += f" (server {mib(run.usage['children']['max_rss_bytes'])})"
        elif "worker_peak" in run.figures:
            peak += f" (largest worker {mib(run.figures['worker_peak'])})"
        rows[0].peak = peak
    return rows


# ---------------------------------------------------------------- machine

def machine(pg_db: str, postgres: bool) -> list[tuple[str, str]]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
                  .group(1))  # type: ignore[union-attr]
        memory = f"{kib / 2**20:.1f} GiB"
    except (OSError, AttributeError):
        memory = "unknown"
    system = platform.platform()
    try:
        pretty = re.search(r'^PRETTY_NAME="?([^"\n]*)', Path("/etc/os-release").read_text(),
                           re.MULTILINE)
        if pretty:
            system = f"{pretty.group(1)}, kernel {platform.release()}"
    except OSError:
        pass
    pg = "not measured (--no-postgres)"
    if postgres:
        try:
            import psycopg

            with psycopg.connect(host=os.environ.get("DOCLEDGER_PG_HOST", "127.0.0.1"),
                                 port=int(os.environ.get("DOCLEDGER_PG_PORT", "5432")),
                                 user=os.environ.get("DOCLEDGER_PG_USER", "postgres"),
                                 password=os.environ.get("DOCLEDGER_PG_PASSWORD", ""),
                                 dbname=pg_db, connect_timeout=5) as conn:
                row = conn.execute("SHOW server_version").fetchone()
                pg = f"{row[0] if row else '?'} (same machine, 127.0.0.1, database {pg_db})"
        except Exception as exc:  # reported, not fatal
            pg = f"unreachable: {exc}".splitlines()[0]
    return [("CPU", f"{cpu}, {os.cpu_count()} cores"), ("Memory", memory),
            ("OS", system), ("Python", platform.python_version()),
            ("SQLite", sqlite3.sqlite_version), ("PostgreSQL", pg)]


def revision() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, capture_output=True, text=True).stdout.strip()
        return head + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        marker = ROOT / ".commit"  # a `git archive` export may carry its commit here
        return marker.read_text().strip()[:12] if marker.exists() else "unknown"


# ---------------------------------------------------------------- output

COLUMNS = ("benchmark", "figure", "median", "p99", "baseline (same run)", "ratio",
           "peak RSS")


def cells(row: Row) -> tuple[str, ...]:
    return (row.bench, row.figure, row.median, row.p99, row.baseline, row.ratio, row.peak)


def text_table(rows: list[Row]) -> str:
    data = [COLUMNS, *(cells(r) for r in rows)]
    widths = [min(60, max(len(r[i]) for r in data)) for i in range(len(COLUMNS))]
    lines, last = [], None
    for r in data:
        shown = list(r)
        if shown[0] == last:
            shown[0] = ""
        else:
            last = shown[0]
        lines.append("  ".join(c.ljust(w) for c, w in zip(shown, widths, strict=True)).rstrip())
    return "\n".join(lines)


def md_table(rows: list[Row]) -> str:
    out = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    last = None
    for r in rows:
        c = list(cells(r))
        if c[0] == last:
            c[0] = ""
        else:
            last = c[0]
        out.append("| " + " | ".join(x.replace("|", "\\|") for x in c) + " |")
    return "\n".join(out)


def verdict_at_least(value: float, goal: float) -> str:
    return "met" if value >= goal else f"**not met**: {goal / value:.2f}× short"


def verdict_at_most(value: float, goal: float) -> str:
    return "met" if value <= goal else f"**not met**: {value / goal:.2f}× over"


def p99_needs(figures: dict[str, float], clients: int) -> str:
    """What the p99 goal asks of throughput: clients that never pause wait, on
    average, clients ÷ commands/s (Little's law); at the run's own spread of p99
    over that mean, p99 < 50 ms needs this many commands/s."""
    if "http_rate" not in figures:
        return ""
    rate, base = figures["http_rate"], figures["http_base_rate"]
    spread = figures["http_p99"] / (clients / rate * 1000)
    needed = clients * spread / 0.050
    return (f" (with {clients} clients that never pause the mean latency is {clients} ÷ "
            f"commands/s, Little's law; at this run's p99 of {spread:.1f}× that mean, "
            f"p99 < 50 ms needs about {needed:,.0f} commands/s, {needed / base:.2f}× the "
            "trivial POST's rate)")


def goals(runs: list[Run]) -> list[str]:
    """The performance issue's goals, each with its same-run figure and met or not."""
    out = []
    group = next((r for r in runs if r.name == "write path (PostgreSQL, 16 threads, group commit)"
                  and "cpu_ours" in r.figures), None)
    if group is not None:
        cpu, ratio = group.figures["cpu_ours"], group.figures["commands_ratio"]
        out.append(f"- Write path, 16 clients, group commit on PostgreSQL: ≤ 0.45 ms of CPU per "
                   f"command (the ledger process, less its clients' signing, + PostgreSQL): "
                   f"measured **{cpu:.2f} ms** — "
                   f"{verdict_at_most(cpu, 0.45)}; ≥ 2× plain eventsourcing's commands/s on the "
                   f"same cores: measured **{ratio:.2f}×** — {verdict_at_least(ratio, 2)}.")
    http = next((r for r in runs if "http_ratio" in r.figures), None)
    if http is not None:
        ratio, p99 = http.figures["http_ratio"], http.figures["http_p99"]
        out.append(f"- HTTP, 16 clients: the full command flow ≥ 0.35× a trivial FastAPI POST: "
                   f"measured **{ratio:.3f}×** — {verdict_at_least(ratio, 0.35)}; p99 < 50 ms: "
                   f"measured **{p99:.1f} ms** — {verdict_at_most(p99, 50)}"
                   + p99_needs(http.figures, clients=16) + ".")
    views = next((r for r in runs if r.module == "bench.views" and r.backend == "postgres"
                  and "rebuild_rate" in r.figures), None)
    if views:
        rate = views.figures["rebuild_rate"]
        verdict = "met" if rate >= 10_000 else f"**not met**: {10_000 / rate:.1f}× short"
        out.append(f"- Rebuild of every view on PostgreSQL at ≥ 10,000 events/s: measured "
                   f"**{rate:,.0f} events/s** over {views.figures['rebuild_events']:,.0f} "
                   f"events — {verdict}.")
    audit = next((r for r in runs if r.module == "bench.audit"), None)
    ratios = {k: v for k, v in audit.figures.items() if k.startswith("audit_")} if audit else {}
    if ratios:
        best = max(ratios.items(), key=lambda kv: kv[1])
        workers = best[0].split("_")[1]
        verdict = ("met" if best[1] >= 0.60
                   else f"**not met**: {0.60 / best[1]:.2f}× short "
                        f"({60 - best[1] * 100:.0f} percentage points)")
        out.append(f"- Full audit at ≥ 60% of raw Ed25519 verifications/s × cores: "
                   f"measured **{best[1]:.0%}** (best, {workers} process(es)) — {verdict}.")
    for run in (r for r in runs if "search_worst_p99" in r.figures):
        worst = run.figures["search_worst_p99"]
        verdict = "met" if worst < 50 else f"**not met**: {worst / 50:.1f}× over"
        out.append(f"- Search, {run.name}, at 1,000,000 deliveries with p99 < 50 ms: the worst "
                   f"figure's p99 is **{worst:.1f} ms** — {verdict}.")
    processes = next((r for r in runs if r.module == "bench.processes"
                      and "cpu_growth" in r.figures), None)
    if processes:
        growth, n = processes.figures["cpu_growth"], int(processes.figures["processes"])
        verdict = "met" if growth <= 1.10 else f"**not met**: {growth:.2f}× the CPU"
        out.append(f"- Many API processes on one PostgreSQL: CPU per command (servers + "
                   f"PostgreSQL) with {n} processes within 1.10× of 1 process's, so commands/s "
                   f"grow with cores: measured **{growth:.2f}×** — {verdict}; projected "
                   f"{processes.figures['projection']:,.0f} commands/s on 16 cores "
                   "(docs/scale.md).")
    return out


def write_markdown(path: Path, command: str, started: datetime.datetime, seconds: float,
                   runs: list[Run], rows: list[Row], about: list[tuple[str, str]]) -> None:
    kept = ""
    if path.exists():
        old = path.read_text(encoding="utf-8")
        if KEPT_HEADING in old:
            kept = old[old.index(KEPT_HEADING):]
    lines = [
        "# Benchmarks",
        "",
        f"Measured {started:%Y-%m-%d %H:%M} UTC by `{command}` in {seconds / 60:.1f} minutes, "
        f"code at {revision()}. Every figure sits next to a baseline measured in the same "
        "run on the same machine; ratios compare the two. Medians of repeats; p99 where a "
        "benchmark times single operations; throughputs are over the whole timed window. "
        "The write path alternates rounds of ours and of the plain alternative, so that a "
        "slow spell of the shared machine slows both; its rates are the median round's, "
        "its ratios the median of the rounds' ratios. Likewise the audit measures raw "
        "Ed25519 right before each run and gives the median of the runs' ratios. "
        "Peak RSS is `ru_maxrss` of the benchmark's own process (each benchmark runs in "
        "its own; bench.http also gives its uvicorn server's, bench.audit its largest worker "
        "process's, sampled from /proc), and includes the set-up "
        "(generating the history, filling the tables). PostgreSQL's own memory is not in it.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in about),
        "",
        "## Figures",
        "",
        md_table(rows),
        "",
        "Per benchmark: " + "; ".join(
            f"`python -m {r.module} {shlex.join(r.args)}`"
            + (" (PostgreSQL)" if r.backend == "postgres" and r.module != "bench.write_path"
               else "") + f" {r.seconds:.0f} s" for r in runs) + ".",
        "",
        "## The performance issue's goals",
        "",
        *(goals(runs) or ["- not measured in this run"]),
        "",
    ]
    path.write_text("\n".join(lines) + ("\n" + kept if kept else ""), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="smoke run, about 2 minutes")
    mode.add_argument("--full", action="store_true",
                      help="1,000,000 leaves / deliveries / events; takes hours")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite benchmarks only")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="run only benchmarks whose name contains NAME (repeatable)")
    parser.add_argument("--search", action="store_true",
                        help="also search at the size's deliveries (bench.search; ~4 min each)")
    parser.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md",
                        help="the Markdown report (default: BENCHMARKS.md at the root)")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    args = parser.parse_args()

    size = SIZES["quick" if args.quick else "full" if args.full else "default"]
    pg_db = os.environ.get("DOCLEDGER_PG_DB", "test")
    runs = plan(size, postgres=not args.no_postgres)
    if args.search:
        runs += search_runs(size, postgres=not args.no_postgres)
    if args.only:
        runs = [r for r in runs if any(o.lower() in r.name.lower() for o in args.only)]
    command = "python -m bench" + "".join(
        f" {a}" for a in sys.argv[1:] if not a.startswith("--output"))
    started_at = datetime.datetime.now(datetime.UTC)
    started = time.perf_counter()
    rows: list[Row] = []
    for i, run in enumerate(runs, 1):
        print(f"[{i}/{len(runs)}] {run.name}: python -m {run.module} {shlex.join(run.args)}",
              file=sys.stderr, flush=True)
        execute(run, pg_db)
        print(f"        {run.seconds:.0f} s, exit {run.status}", file=sys.stderr, flush=True)
        if run.status != 0:
            print(run.stderr[-2000:], file=sys.stderr)
        rows += rows_of(run)
    seconds = time.perf_counter() - started
    print(text_table(rows))
    for line in goals(runs):
        print(line.replace("**", ""))
    print(f"\ntotal {seconds / 60:.1f} minutes", file=sys.stderr)
    if not args.no_write:
        about = machine(pg_db, postgres=not args.no_postgres)
        write_markdown(args.output, command, started_at, seconds, runs, rows, about)
        print(f"wrote {args.output}", file=sys.stderr)
    sys.exit(1 if any(r.status for r in runs) else 0)


if __name__ == "__main__":
    main()
