"""Asking one witness to cosign a checkpoint: C2SP tlog-witness ``add-checkpoint``.

One keep-alive HTTP client per witness, which remembers the size the witness
last cosigned and, told another one (409, ``text/x.tlog.size``), asks once more
with a consistency proof from that size. Whatever else the witness answers, or
if it does not, is ``WitnessRefused`` with its status and reason; a refusal that
shows the witness saw another history of the log (422, or a size larger than the
checkpoint offered) is marked as an alarm.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from domain.evidence.cosignature import AddCheckpoint
from domain.evidence.policy import PolicyError, Witness

SIZE_TYPE = "text/x.tlog.size"
REASON_CHARS = 300  # of a witness's answer kept as the reason of a refusal

Proof = Callable[[int, int], list[bytes]]  # (old size, new size) -> consistency proof


class WitnessRefused(Exception):
    """A witness did not cosign: its HTTP status (None: no answer) and why."""

    def __init__(self, status: int | None, reason: str, *, alarm: bool = False,
                 ahead: int | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.alarm = alarm  # it saw another history: a fork, or the ledger rolled back
        self.ahead = ahead  # the larger size it has cosigned, if that is why


class WitnessClient:
    """``add-checkpoint`` requests to one witness over one keep-alive connection."""

    def __init__(self, witness: Witness, *, timeout: float) -> None:
        if witness.url is None:
            raise PolicyError(f"witness {witness.name} has no URL")
        self.witness = witness
        self.url = witness.url.rstrip("/") + "/add-checkpoint"
        self.timeout = timeout
        self.http = httpx.Client(timeout=timeout)
        self.size: int | None = None  # what it last cosigned, as far as this process knows

    def add_checkpoint(self, note: str, size: int, guess: int, proof: Proof) -> str:
        """The witness's answer (signature lines) to ``note`` of ``size`` leaves.

        Starts from the size it last cosigned (else ``guess``: the latest published
        size); told another size (409), retries once from that one.
        """
        old = self.size if self.size is not None else guess
        for attempt in (1, 2):
            if old > size:
                raise WitnessRefused(None, (
                    f"it has cosigned a checkpoint of size {old}, larger than this one "
                    f"({size}): it saw a longer history of this log (the ledger was rolled "
                    "back, or another history was shown to it)"), alarm=True, ahead=old)
            body = AddCheckpoint(old_size=old, proof=[] if old in (0, size) else proof(old, size),
                                 note=note).encode()
            answer = self._post(body)
            if answer.status_code == 200:
                self.size = size
                return answer.text
            if answer.status_code == 409 and attempt == 1:
                old = self.size = _size_of(answer)
                continue
            self.size = None
            raise WitnessRefused(answer.status_code, _reason(answer),
                                 alarm=answer.status_code == 422)
        raise AssertionError("unreachable")  # pragma: no cover

    def _post(self, body: bytes) -> httpx.Response:
        try:
            return self.http.post(self.url, content=body)
        except httpx.TimeoutException:
            raise WitnessRefused(None, f"no answer within {self.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise WitnessRefused(None, f"unreachable: {exc or type(exc).__name__}") from None

    def close(self) -> None:
        self.http.close()


def _size_of(answer: httpx.Response) -> int:
    text = answer.text
    if not answer.headers.get("content-type", "").startswith(SIZE_TYPE) or \
            not text.endswith("\n") or not text[:-1].isdigit():
        raise WitnessRefused(409, f"a 409 answer that is not a {SIZE_TYPE} size: "
                                  f"{text[:REASON_CHARS]!r}")
    return int(text[:-1])


def _reason(answer: httpx.Response) -> str:
    text = " ".join(answer.text.split())[:REASON_CHARS]
    return f"{answer.status_code} {answer.reason_phrase}" + (f": {text}" if text else "")
