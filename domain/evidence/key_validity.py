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

A key a certificate vouches for is, besides, valid only within the certificate's
validity period, ``not_before <= T <= not_after`` (RFC 5280 4.1.2.5: both ends
inclusive): its validity is the intersection of the two.

The ledger's command check, a document's history, the audit's replay and the
offline bundle verifier all decide with ``key_valid_at`` (docs/commands.md,
"Key validity"; docs/trust.md).
"""

from __future__ import annotations

from datetime import datetime


def key_valid_at(at: datetime, *, effective_from: datetime,
                 revoked_at: datetime | None, not_before: datetime | None = None,
                 not_after: datetime | None = None) -> bool:
    """Whether a key effective from ``effective_from`` and revoked at
    ``revoked_at`` (None: never), its certificate valid from ``not_before`` to
    ``not_after`` (None: no certificate), covers an event stamped ``at``."""
    return (effective_from <= at and (revoked_at is None or at < revoked_at)
            and certificate_covers(at, not_before=not_before, not_after=not_after))


def certificate_covers(at: datetime, *, not_before: datetime | None,
                       not_after: datetime | None) -> bool:
    return ((not_before is None or not_before <= at)
            and (not_after is None or at <= not_after))
