"""When a key may sign: the one rule every verifier of this project applies.

A key is valid at instant ``T`` exactly when

    effective_from <= T < revoked_at

(``revoked_at`` absent: no upper bound). The key takes effect at the instant of
the event that added it and loses it at the instant of the event that revoked
it: an event stamped with the revocation instant itself is *not* covered by the
key. A ledger process stamps its commands with strictly increasing times, so no
event it records shares its microsecond with a revocation it recorded, and what
it accepts this rule accepts too (two processes on one store: see the limit in
docs/commands.md).

The ledger's command check, a document's history, the audit's replay and the
offline bundle verifier all decide with ``key_valid_at`` (docs/commands.md,
"Key validity").
"""

from __future__ import annotations

from datetime import datetime


def key_valid_at(at: datetime, *, effective_from: datetime,
                 revoked_at: datetime | None) -> bool:
    """Whether a key effective from ``effective_from`` and revoked at
    ``revoked_at`` (None: never) covers an event stamped ``at``."""
    return effective_from <= at and (revoked_at is None or at < revoked_at)
