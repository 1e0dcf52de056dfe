"""The view tables. ``{s}`` is a suffix: live tables have none, a rebuild
writes beside them under ``__new`` and swaps, a check writes under ``__check``."""

from __future__ import annotations

import hashlib

# table -> (columns with types, primary key)
TABLES: dict[str, tuple[list[tuple[str, str]], tuple[str, ...]]] = {
    # words: the code and name folded for search (domain/search_text.py)
    "v_agencies": ([("code", "TEXT"), ("name", "TEXT"), ("words", "TEXT")], ("code",)),
    "v_documents": ([
        ("document_id", "TEXT"), ("sender", "TEXT"), ("sender_document_id", "TEXT"),
        ("notation", "TEXT"), ("reference", "TEXT"), ("number", "INT"), ("year", "INT"),
        ("subject", "TEXT"), ("type_name", "TEXT"), ("priority", "INT"), ("due_date", "TEXT"),
        ("state", "TEXT"), ("created_at", "TEXT"), ("issued_at", "TEXT"), ("sent_at", "TEXT"),
        ("revision", "INT"),
    ], ("document_id",)),
    "v_deliveries": ([
        ("delivery_id", "TEXT"), ("document_id", "TEXT"), ("sender", "TEXT"),
        ("recipient", "TEXT"), ("reference", "TEXT"), ("subject", "TEXT"),
        ("type_name", "TEXT"), ("priority", "INT"), ("due_date", "TEXT"),
        ("due_key", "TEXT"), ("state", "TEXT"), ("state_before_recall", "TEXT"),
        ("status_code", "TEXT"), ("incoming_number", "INT"),
        ("incoming_year", "INT"), ("lead_unit", "TEXT"), ("officer", "TEXT"),
        ("arrived_on", "TEXT"), ("accepted_on", "TEXT"), ("refused_on", "TEXT"),
        ("completed_on", "TEXT"), ("updated_at", "TEXT"), ("revision", "INT"),
    ], ("delivery_id",)),
    "v_timeline": ([
        ("delivery_id", "TEXT"), ("version", "INT"), ("document_id", "TEXT"),
        ("recipient", "TEXT"), ("status_code", "TEXT"), ("event", "TEXT"), ("at", "TEXT"),
        ("actor", "TEXT"), ("staff", "TEXT"), ("detail", "TEXT"),
        # the message the command was made from, and what its XML signature said
        ("source", "TEXT"), ("signature", "TEXT"),
    ], ("delivery_id", "version")),
    "v_register": ([
        ("agency", "TEXT"), ("direction", "TEXT"), ("year", "INT"), ("number", "INT"),
        ("document_id", "TEXT"), ("delivery_id", "TEXT"), ("reference", "TEXT"),
        ("subject", "TEXT"), ("counterpart", "TEXT"), ("registered_on", "TEXT"),
    ], ("agency", "direction", "year", "number")),
    # the ledger's reports on PDF attachments' signatures (attachment.validated)
    "v_pdf_reports": ([
        ("document_id", "TEXT"), ("version", "INT"), ("sha256", "TEXT"), ("name", "TEXT"),
        ("verdict", "TEXT"), ("at", "TEXT"), ("report", "TEXT"),
    ], ("document_id", "version")),
    # one row per document × agency party to it (its sender from creation, each
    # recipient from dispatch until removed); seq is the notification that made
    # it a party: the most recent first, and the full-text index's row id; party:
    # one word naming the agency, indexed with the words (search_index.py)
    "v_search": ([
        ("seq", "INT"), ("agency", "TEXT"), ("party", "TEXT"), ("document_id", "TEXT"),
        ("role", "TEXT"),
        ("sender", "TEXT"), ("sender_name", "TEXT"), ("reference", "TEXT"),
        ("reference_key", "TEXT"), ("subject", "TEXT"), ("type_name", "TEXT"),
        ("promulgated_on", "TEXT"), ("sent_on", "TEXT"), ("subject_words", "TEXT"),
        ("meta_words", "TEXT"), ("words", "TEXT"),
    ], ("seq",)),
    # which documents reference an attachment: who may fetch its bytes
    "v_attachments": ([("sha256", "TEXT"), ("document_id", "TEXT")], ("sha256", "document_id")),
}

INDEXES: dict[str, list[tuple[str, str]]] = {
    "v_deliveries": [
        ("inbox_urgency", "recipient, priority DESC, due_key, delivery_id"),
        ("inbox_due", "recipient, due_key, priority DESC, delivery_id"),
        ("inbox_state", "recipient, state, priority DESC, due_key, delivery_id"),
        ("outbox", "sender, document_id"),
        ("document", "document_id"),
    ],
    "v_documents": [("sender", "sender, state, sent_at")],
    "v_register": [("document", "document_id")],
    "v_search": [
        ("document", "document_id, agency"),
        ("recent", "agency, seq"),
        ("reference", "agency, reference_key, seq"),
        ("promulgated", "agency, promulgated_on, seq"),
        ("sent", "agency, sent_on, seq"),
    ],
    "v_attachments": [("document", "document_id")],
}

VIEWS = ("inbox", "outbox", "status", "registers", "statistics")


# Changes whenever a table, column or index changes: live views built under
# another fingerprint are dropped and rebuilt from the log (ViewStore).
SCHEMA_FINGERPRINT = hashlib.sha256(repr((TABLES, INDEXES)).encode()).hexdigest()[:16]


# Indexes the handlers' own statements find rows by (handlers.py): a table being
# filled needs them from the start, or every such statement scans the table.
FEEDING_INDEXES = frozenset({("v_register", "document"), ("v_search", "document")})


def create_statements(prefix: str, suffix: str, postgres: bool, *,
                      indexes: bool = True) -> list[str]:
    """The tables with their feeding indexes, and the other secondary indexes
    unless ``indexes`` is false (a rebuild creates those once it has filled
    the tables: one sort per index instead of an update on every row change)."""
    types = {"TEXT": "TEXT", "INT": "BIGINT" if postgres else "INTEGER"}
    statements = []
    for table, (columns, key) in TABLES.items():
        cols = ", ".join(f"{name} {types[kind]}" for name, kind in columns)
        statements.append(f"CREATE TABLE IF NOT EXISTS {prefix}{table}{suffix} "
                          f"({cols}, PRIMARY KEY ({', '.join(key)}))")
    return statements + index_statements(prefix, suffix, feeding=True,
                                         deferred=indexes)


def index_statements(prefix: str, suffix: str, *, feeding: bool = True,
                     deferred: bool = True) -> list[str]:
    """The secondary indexes: those feeding needs, those only readers need, or both."""
    return [f"CREATE INDEX IF NOT EXISTS {table}{suffix}_{name} "
            f"ON {prefix}{table}{suffix} ({cols})"
            for table, indexes in INDEXES.items() for name, cols in indexes
            if (feeding if (table, name) in FEEDING_INDEXES else deferred)]
