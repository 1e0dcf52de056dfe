"""Witness policies: the C2SP tlog-policy file, and checking a checkpoint against one.

A policy names the logs whose checkpoints it accepts, the witnesses and their
cosignature keys, and the quorum of witnesses that must have cosigned::

    log <vkey> [<url>]
    witness <name> <vkey> [<url>]
    group <name> all|any|<k> <member>...
    quorum <name>|none

Lines are split on spaces and tabs; ``#`` starts a comment line; names are
defined before they are used and each member is listed once per group. The
ledger reads the same file to know which witnesses to ask (their URLs) and the
verifiers read it to judge a checkpoint (the URLs are then unused).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from domain.errors import InvalidInputError, VerificationError
from domain.evidence.checkpoint import (
    Checkpoint,
    CheckpointError,
    NoteKey,
    open_checkpoint,
    split_note,
)
from domain.evidence.cosignature import CosignerKey, cosignatures

NONE = "none"
MAX_ENTRIES = 256
_ALLOWED = re.compile(rb"[\t\n\x20-\x7e\x80-\xff]*")


class PolicyError(InvalidInputError):
    """A policy file that does not follow c2sp.org/tlog-policy."""

    code = "invalid-policy"


class QuorumError(VerificationError):
    """A checkpoint whose cosignatures do not meet the policy's quorum."""

    code = "no-witness-quorum"


@dataclass(frozen=True, kw_only=True)
class Witness:
    name: str  # the policy's name for it
    key: CosignerKey
    url: str | None = None


@dataclass(frozen=True, kw_only=True)
class Group:
    name: str
    threshold: int
    members: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class PolicyVerdict:
    """What a policy found on one checkpoint."""

    checkpoint: Checkpoint
    log: str  # the log key's name that signed it
    cosigned: dict[str, int]  # witness name -> the time its cosignature gives
    missing: list[str]  # the policy's witnesses that did not cosign
    satisfied: bool
    quorum: str

    def describe(self) -> str:
        signed = ", ".join(sorted(self.cosigned)) or "none"
        missing = ", ".join(self.missing) or "none"
        state = "met" if self.satisfied else "NOT met"
        return (f"witness quorum {self.quorum!r} {state} for checkpoint of size "
                f"{self.checkpoint.size}: cosigned by {signed}; missing {missing}")

    def cosigners(self) -> str:
        """Each cosigning witness with the time its cosignature gives (UTC)."""
        return ", ".join(
            f"{name} at {datetime.fromtimestamp(t, UTC).isoformat().replace('+00:00', 'Z')}"
            for name, t in sorted(self.cosigned.items())) or "none"

    def as_dict(self) -> dict[str, object]:
        return {"quorum": self.quorum, "satisfied": self.satisfied,
                "cosigned": dict(sorted(self.cosigned.items())), "missing": self.missing}


@dataclass(frozen=True, kw_only=True)
class Policy:
    logs: list[tuple[NoteKey, str | None]] = field(default_factory=list)
    witnesses: dict[str, Witness] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    quorum: str = NONE

    # ---- parsing --------------------------------------------------------------

    @classmethod
    def parse(cls, text: str | bytes) -> Policy:
        raw = text.encode() if isinstance(text, str) else text
        if not _ALLOWED.fullmatch(raw):
            raise PolicyError("a policy file holds no control characters but tab and newline")
        logs: list[tuple[NoteKey, str | None]] = []
        witnesses: dict[str, Witness] = {}
        groups: dict[str, Group] = {}
        quorum: str | None = None
        for number, line in enumerate(raw.decode(errors="surrogateescape").split("\n"), 1):
            words = line.replace("\t", " ").split()
            if not words or words[0].startswith("#"):
                continue
            where = f"policy line {number}"
            keyword, args = words[0], words[1:]
            try:
                if keyword == "log":
                    logs.append(_log(args, logs, where))
                elif keyword == "witness":
                    witness = _witness(args, witnesses, groups, where)
                    witnesses[witness.name] = witness
                elif keyword == "group":
                    group = _group(args, witnesses, groups, where)
                    groups[group.name] = group
                elif keyword == "quorum":
                    if quorum is not None:
                        raise PolicyError(f"{where}: a policy has exactly one quorum line")
                    if len(args) != 1 or (args[0] != NONE and args[0] not in witnesses
                                          and args[0] not in groups):
                        raise PolicyError(f"{where}: 'quorum <name>' names a witness or group "
                                          "defined above, or 'none'")
                    quorum = args[0]
                else:
                    raise PolicyError(f"{where}: unknown keyword {keyword!r}")
            except CheckpointError as exc:
                raise PolicyError(f"{where}: {exc}") from None
            if len(logs) + len(witnesses) + len(groups) > MAX_ENTRIES:
                raise PolicyError(f"a policy holds at most {MAX_ENTRIES} logs, witnesses and "
                                  "groups")
        if quorum is None:
            raise PolicyError("the policy has no quorum line")
        return cls(logs=logs, witnesses=witnesses, groups=groups, quorum=quorum)

    # ---- judging a checkpoint ---------------------------------------------------

    def evaluate(self, note: str, log_key: NoteKey | None = None) -> PolicyVerdict:
        """Verify the log's signature (``log_key`` or one of the policy's logs) and
        count the witnesses' cosignatures. Raises CheckpointError on a bad log
        signature or a malformed cosignature; returns the verdict otherwise."""
        candidates = [log_key] if log_key is not None else [k for k, _ in self.logs]
        if not candidates:
            raise PolicyError("the policy names no log and no ledger key was given")
        checkpoint, signer = _open_by_any(note, candidates)
        cosigned = cosignatures(note, (w.key for w in self.witnesses.values()))
        by_policy_name = {w.name: cosigned[w.key.name] for w in self.witnesses.values()
                          if w.key.name in cosigned}
        return PolicyVerdict(
            checkpoint=checkpoint, log=signer, cosigned=by_policy_name,
            missing=[name for name in self.witnesses if name not in by_policy_name],
            satisfied=self.witnessed(self.quorum, set(by_policy_name)), quorum=self.quorum)

    def check(self, note: str, log_key: NoteKey | None = None) -> PolicyVerdict:
        """The verdict, or QuorumError naming the witnesses that signed and those missing."""
        verdict = self.evaluate(note, log_key)
        if not verdict.satisfied:
            raise QuorumError(verdict.describe())
        return verdict

    def witnessed(self, name: str, cosigned: set[str]) -> bool:
        if name == NONE:
            return True
        if name in self.witnesses:
            return name in cosigned
        group = self.groups[name]
        return sum(self.witnessed(m, cosigned) for m in group.members) >= group.threshold

    def requires_witnesses(self) -> bool:
        return self.quorum != NONE


def _open_by_any(note: str, keys: Iterable[NoteKey]) -> tuple[Checkpoint, str]:
    split_note(note)
    errors = []
    for key in keys:
        try:
            return open_checkpoint(note, key), key.name
        except CheckpointError as exc:
            errors.append(str(exc))
    raise CheckpointError("no log of the policy signed the checkpoint: " + "; ".join(errors))


def _url(args: list[str], at: int, where: str) -> str | None:
    if len(args) > at + 1:
        raise PolicyError(f"{where}: too many fields")
    return args[at] if len(args) > at else None


def _log(args: list[str], logs: list[tuple[NoteKey, str | None]],
         where: str) -> tuple[NoteKey, str | None]:
    if not args:
        raise PolicyError(f"{where}: 'log <vkey> [<url>]'")
    key = NoteKey.parse(args[0])
    if any(k.raw == key.raw for k, _ in logs):
        raise PolicyError(f"{where}: the same log key is listed twice")
    return key, _url(args, 1, where)


def _witness(args: list[str], witnesses: dict[str, Witness], groups: dict[str, Group],
             where: str) -> Witness:
    if len(args) < 2:
        raise PolicyError(f"{where}: 'witness <name> <vkey> [<url>]'")
    name = args[0]
    _new_name(name, witnesses, groups, where)
    key = CosignerKey.parse(args[1])
    if any(w.key.raw == key.raw for w in witnesses.values()):
        raise PolicyError(f"{where}: the same witness key is listed twice")
    return Witness(name=name, key=key, url=_url(args, 2, where))


def _group(args: list[str], witnesses: dict[str, Witness], groups: dict[str, Group],
           where: str) -> Group:
    if len(args) < 3:
        raise PolicyError(f"{where}: 'group <name> all|any|<k> <member>...'")
    name, rule, members = args[0], args[1], args[2:]
    _new_name(name, witnesses, groups, where)
    for member in members:
        if member not in witnesses and member not in groups:
            raise PolicyError(f"{where}: {member!r} is not a witness or group defined above")
    if len(set(members)) != len(members):
        raise PolicyError(f"{where}: a group lists each member once")
    if rule == "all":
        threshold = len(members)
    elif rule == "any":
        threshold = 1
    elif re.fullmatch(r"[1-9][0-9]*", rule) and int(rule) <= len(members):
        threshold = int(rule)
    else:
        raise PolicyError(f"{where}: the threshold is all, any or 1..{len(members)}")
    return Group(name=name, threshold=threshold, members=tuple(members))


def _new_name(name: str, witnesses: dict[str, Witness], groups: dict[str, Group],
              where: str) -> None:
    if name == NONE or name in witnesses or name in groups:
        raise PolicyError(f"{where}: the name {name!r} is reserved or defined already")
