"""``GET /metrics``: the ledger's publication in the Prometheus text format (0.0.4).

A handful of gauges and one counter, written out here: the format is a few lines
of text, and the numbers come from the publisher's report (the same as
``/readyz``'s ``witnessing``), so no metrics library is needed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from api.http.deps import ContainerDep
from infrastructure.views.replica import Replica

router = APIRouter(tags=["health"])

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class MetricsResponse(PlainTextResponse):
    media_type = CONTENT_TYPE


@router.get("/metrics", response_class=MetricsResponse)
def metrics(c: ContainerDep) -> str:
    """Signed and published checkpoint sizes, the publication lag and, per witness,
    the time of its last cosignature and how often it did not cosign."""
    text = exposition(c.service.log.publisher.report())
    return text if c.service.replica is None else text + replica_exposition(c.service.replica)


STATES = ("streaming", "lagging", "down", "promoted")


def replica_exposition(replica: Replica) -> str:
    """The replica's state (one gauge per state, 1 for the current one), its lag and
    the view reads each source answered (``primary-*``: why not the replica)."""
    status = replica.status()
    lag = -1.0 if status.lag_seconds is None else status.lag_seconds
    lines = ["# HELP docledger_replica_state 1 for the replica's state as last probed.",
             "# TYPE docledger_replica_state gauge"]
    lines += [f'docledger_replica_state{{state="{s}"}} {int(s == status.state)}' for s in STATES]
    lines += ["# HELP docledger_replica_lag_seconds How stale the replica's reads may be "
              "(-1: not known, it is down or promoted).",
              "# TYPE docledger_replica_lag_seconds gauge",
              f"docledger_replica_lag_seconds {_number(lag)}",
              "# HELP docledger_view_reads_total View reads by the source that answered them.",
              "# TYPE docledger_view_reads_total counter"]
    lines += [f'docledger_view_reads_total{{source="{source}"}} {count}'
              for source, count in sorted(replica.counts().items())]
    return "\n".join(lines) + "\n"


def exposition(report: dict[str, Any]) -> str:
    witnesses: dict[str, dict[str, Any]] = report["witnesses"]
    lines: list[str] = []

    def metric(name: str, kind: str, help: str, samples: list[tuple[str, float]]) -> None:
        lines.extend([f"# HELP {name} {help}", f"# TYPE {name} {kind}"])
        lines.extend(f"{name}{labels} {_number(value)}" for labels, value in samples)

    metric("docledger_checkpoint_signed_size", "gauge",
           "Tree size of the latest checkpoint the ledger signed.",
           [("", report["signed_size"])])
    metric("docledger_checkpoint_published_size", "gauge",
           "Tree size of the latest published (witnessed) checkpoint.",
           [("", report["published_size"])])
    metric("docledger_publication_lag_seconds", "gauge",
           "Seconds the oldest signed checkpoint not yet published has waited (0: none).",
           [("", report["lag_seconds"])])
    metric("docledger_witness_last_success_timestamp_seconds", "gauge",
           "Unix time of the witness's last valid cosignature in this process (0: none).",
           [(_label(name), _unix(w["last_success"])) for name, w in witnesses.items()])
    metric("docledger_witness_refusals_total", "counter",
           "Requests the witness did not answer with a valid cosignature, in this process.",
           [(_label(name), w["refusals"]) for name, w in witnesses.items()])
    metric("docledger_witness_refused_history", "gauge",
           "1 while the witness reports having seen another history (a fork or a rollback).",
           [(_label(name), any(a["witness"] == name for a in report["refused_history"]))
            for name in witnesses])
    return "\n".join(lines) + "\n"


def _label(witness: str) -> str:
    escaped = witness.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'{{witness="{escaped}"}}'


def _unix(iso: str | None) -> float:
    return 0.0 if iso is None else datetime.fromisoformat(iso).timestamp()


def _number(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) else str(int(value))
