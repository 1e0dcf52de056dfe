"""How each stored event changes the view tables.

Handlers read the stored state as JSON (no aggregate is rebuilt), so a rebuild
runs at the speed of the database. Every topic in the log is named here: an
unknown topic stops the worker with the notification id, never skipped.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from eventsourcing.persistence import Notification

from domain.errors import DocLedgerError
from domain.exchange.codes import STATE_AFTER, VIETNAM_TIME, Status
from domain.search_text import party_word, word_key, word_text
from domain.stored_state import state_object, time_text
from domain.topics import (
    AGENCY,
    AUDITOR,
    COMMAND_RECORD,
    DELIVERY,
    DOCUMENT,
    GATEWAY_RECEIPT,
    REGISTER,
    REVOCATION,
    ROOT,
    TRUST,
    event,
)

Op = tuple[str, tuple[Any, ...]]  # SQL with %s placeholders and {t:name} table names
Handler = Callable[[Notification, dict[str, Any]], list[Op]]

NO_DUE_DATE = "9999-12-31"


class UnhandledEventError(DocLedgerError):
    """A stored event the views cannot apply; the worker stops on it."""

    code = "views-stuck"

    def __init__(self, notification_id: int, topic: str, reason: str) -> None:
        self.notification_id = notification_id
        self.topic = topic
        self.reason = reason
        super().__init__(f"notification {notification_id} ({topic}): {reason}")


def at(state: dict[str, Any]) -> str:
    return time_text(state["timestamp"])


def on(state: dict[str, Any]) -> str:
    """The act's date in Vietnam's time: registers and statistics count by it."""
    return datetime.fromisoformat(at(state)).astimezone(VIETNAM_TIME).date().isoformat()


def signed_payload(state: dict[str, Any]) -> dict[str, Any]:
    """The payload of the envelope the event carries: a command, or the ledger's statement."""
    payload: dict[str, Any] = json.loads(base64.b64decode(state["envelope"]["payload"]))
    return payload


def actor(payload: dict[str, Any]) -> tuple[str, str]:
    who = payload.get("actor")
    return ("ledger", "") if who is None else (who["agency"], who["staff"])


def source_of(payload: dict[str, Any]) -> str | None:
    """The digest of the message a command was made from (``source``, schema 2)."""
    source = (payload.get("fields") or {}).get("source") if "actor" in payload else None
    return str(source["sha256"]) if isinstance(source, dict) else None


def signature_of(payload: dict[str, Any]) -> str | None:
    """What the XML signature of that message said, in a word and the signer:
    ``valid: <certificate subject>``, ``invalid: <reason>``, ``absent``; None
    for a command without a source or one signed before the result was recorded."""
    source = (payload.get("fields") or {}).get("source") if "actor" in payload else None
    found = source.get("signature") if isinstance(source, dict) else None
    if not isinstance(found, dict):
        return None
    status = str(found["status"])
    if status == "valid":
        return f"valid: {found['certificate']['subject']}"
    return f"invalid: {found['reason']}" if status == "invalid" else status


def link(sha256: str, document: str) -> Op:
    """Who may read these bytes: the parties of ``document``. A pair already there
    stays (a revision may carry the same bytes again). Portable, unlike INSERT OR
    IGNORE / ON CONFLICT DO NOTHING."""
    return ("INSERT INTO {t:v_attachments} (sha256, document_id) "
            "SELECT CAST(%s AS TEXT), CAST(%s AS TEXT) WHERE NOT EXISTS "
            "(SELECT 1 FROM {t:v_attachments} WHERE sha256 = %s AND document_id = %s)",
            (sha256, document, sha256, document))


def document_source(n: Notification, s: dict[str, Any]) -> list[Op]:
    """The message the sender's command was made from is readable as its attachments are."""
    sha = source_of(signed_payload(s))
    return [] if sha is None else [link(sha, str(n.originator_id))]


# ---- agencies and documents ------------------------------------------------------------


def agency_registered(n: Notification, s: dict[str, Any]) -> list[Op]:
    return [("INSERT INTO {t:v_agencies} (code, name, words) VALUES (%s, %s, %s)",
             (s["code"], s["name"], word_text(f"{s['code']} {s['name']}")))]


def attachments(n: Notification, s: dict[str, Any]) -> list[Op]:
    """Link each attachment digest to the document."""
    return [link(a["sha256"], str(n.originator_id)) for a in s["attachments"]]


def document_created(n: Notification, s: dict[str, Any]) -> list[Op]:
    h = s["header"]
    return [("INSERT INTO {t:v_documents} (document_id, sender, sender_document_id, notation, "
             "reference, number, year, subject, type_name, priority, due_date, state, "
             "created_at, issued_at, sent_at, revision) VALUES "
             "(%s, %s, %s, %s, %s, NULL, NULL, %s, %s, %s, %s, 'draft', %s, NULL, NULL, 0)",
             (str(n.originator_id), s["sender"], s["document_id"], h["code_notation"],
              "?/" + h["code_notation"], h["subject"], h["document_type"]["type_name"],
              h["priority"], h["due_date"], at(s))), search_sender(n, s),
            *attachments(n, s), *document_source(n, s)]


def subject_text(header: dict[str, Any]) -> str:
    """The folded words of a document's type and subject (``quyet dinh ve viec …``)."""
    return word_text(f"{header['document_type']['type_name']} {header['subject']}")


def search_sender(n: Notification, s: dict[str, Any]) -> Op:
    """The sender is party to its document from creation: its search row, the
    words of the subject, the notation, its own code and name (folded)."""
    h = s["header"]
    subject_words = subject_text(h)
    notation_words = word_text(h["code_notation"])
    return ("INSERT INTO {t:v_search} (seq, agency, party, document_id, role, sender, "
            "sender_name, reference, reference_key, subject, type_name, promulgated_on, sent_on, "
            "subject_words, meta_words, words) SELECT CAST(%s AS BIGINT), CAST(%s AS TEXT), "
            "CAST(%s AS TEXT), CAST(%s AS TEXT), 'sender', CAST(%s AS TEXT), a.name, "
            "CAST(%s AS TEXT), "
            "CAST(%s AS TEXT), CAST(%s AS TEXT), CAST(%s AS TEXT), CAST(%s AS TEXT), NULL, "
            "CAST(%s AS TEXT), CAST(%s AS TEXT) || a.words, CAST(%s AS TEXT) || a.words "
            "FROM {t:v_agencies} a WHERE a.code = %s",
            (n.id, s["sender"], party_word(s["sender"]), str(n.originator_id), s["sender"],
             "?/" + h["code_notation"],
             word_key(h["code_notation"]), h["subject"], h["document_type"]["type_name"],
             str(h["promulgation_date"]), subject_words, notation_words,
             subject_words + notation_words, s["sender"]))


def document_signed(n: Notification, s: dict[str, Any]) -> list[Op]:
    return [("UPDATE {t:v_documents} SET state = 'signed' WHERE document_id = %s",
             (str(n.originator_id),))]


def document_issued(n: Notification, s: dict[str, Any]) -> list[Op]:
    doc = str(n.originator_id)
    return [
        ("UPDATE {t:v_documents} SET state = 'issued', number = %s, year = %s, issued_at = %s, "
         "reference = %s || '/' || notation WHERE document_id = %s",
         (s["number"], s["year"], at(s), str(s["number"]), doc)),
        ("INSERT INTO {t:v_register} (agency, direction, year, number, document_id, "
         "delivery_id, reference, subject, counterpart, registered_on) SELECT sender, 'outgoing', "
         "year, number, document_id, NULL, reference, subject, '', %s FROM {t:v_documents} "
         "WHERE document_id = %s", (on(s), doc)),
        # the number joins the reference: "?/QĐ-UBND" becomes "12/QĐ-UBND"
        ("UPDATE {t:v_search} SET reference = CAST(%s AS TEXT) || substr(reference, 2), "
         "reference_key = CASE WHEN reference_key = '' THEN CAST(%s AS TEXT) "
         "ELSE CAST(%s AS TEXT) || ' ' || reference_key END, "
         "meta_words = ' ' || CAST(%s AS TEXT) || meta_words, "
         "words = subject_words || ' ' || CAST(%s AS TEXT) || meta_words WHERE document_id = %s",
         (*[str(s["number"])] * 5, doc)),
    ]


def document_sent(n: Notification, s: dict[str, Any]) -> list[Op]:
    doc = str(n.originator_id)
    recipients = ", ".join(s["recipients"])
    return [
        ("UPDATE {t:v_documents} SET state = 'sent', sent_at = COALESCE(sent_at, %s) "
         "WHERE document_id = %s", (at(s), doc)),
        ("UPDATE {t:v_register} SET counterpart = CASE WHEN counterpart = '' THEN %s "
         "ELSE counterpart || ', ' || %s END WHERE direction = 'outgoing' AND document_id = %s",
         (recipients, recipients, doc)),
        ("UPDATE {t:v_search} SET sent_on = COALESCE(sent_on, %s) "
         "WHERE document_id = %s AND role = 'sender'", (on(s), doc)),
        *document_source(n, s),
    ]


def document_revised(n: Notification, s: dict[str, Any]) -> list[Op]:
    return [("UPDATE {t:v_documents} SET revision = %s WHERE document_id = %s",
             (s["revision"], str(n.originator_id))), *attachments(n, s),
            *document_source(n, s)]


def attachment_validated(n: Notification, s: dict[str, Any]) -> list[Op]:
    """The ledger's report on a PDF attachment, kept whole (without the certificates
    and tokens it keeps for verifiers) for the document's readers."""
    report = signed_payload(s)
    shown = {**report, "signatures": [{k: v for k, v in sig.items() if k != "evidence"}
                                      for sig in report["signatures"]]}
    return [("INSERT INTO {t:v_pdf_reports} (document_id, version, sha256, name, verdict, at, "
             "report) VALUES (%s, %s, %s, %s, %s, %s, %s)",
             (str(n.originator_id), n.originator_version, s["sha256"],
              report["attachment"]["name"], s["verdict"], at(s),
              json.dumps(shown, ensure_ascii=False, sort_keys=True)))]
def document_header_revised(n: Notification, s: dict[str, Any]) -> list[Op]:
    """An update's new header: what the views show of it (a delivery keeps the
    deadline its recipient may have set; the registers keep what was entered)."""
    h, doc = s["header"], str(n.originator_id)
    return [("UPDATE {t:v_documents} SET subject = %s, type_name = %s, priority = %s, "
             "due_date = %s WHERE document_id = %s",
             (h["subject"], h["document_type"]["type_name"], h["priority"], h["due_date"],
              doc)),
            ("UPDATE {t:v_deliveries} SET subject = %s, type_name = %s, priority = %s "
             "WHERE document_id = %s",
             (h["subject"], h["document_type"]["type_name"], h["priority"], doc)),
            ("UPDATE {t:v_search} SET subject = %s, type_name = %s, promulgated_on = %s, "
             "subject_words = %s, words = CAST(%s AS TEXT) || meta_words WHERE document_id = %s",
             (h["subject"], h["document_type"]["type_name"], str(h["promulgation_date"]),
              subject_text(h), subject_text(h), doc))]


# ---- deliveries --------------------------------------------------------------------------


def incoming_stamped(n: Notification, s: dict[str, Any]) -> list[Op]:
    """A stamped copy: a line of the timeline, and readable as the document's files are."""
    stamp = signed_payload(s)
    detail = (f"{stamp['copy']['name']}: stamped copy, incoming no. {stamp['incoming_number']} "
              f"of {stamp['registered_on']}")
    return [*timeline(n, s, detail), link(s["copy"]["sha256"], stamp["document"])]


def delivery_dispatched(n: Notification, s: dict[str, Any]) -> list[Op]:
    return [("INSERT INTO {t:v_deliveries} (delivery_id, document_id, sender, recipient, "
             "reference, subject, type_name, priority, due_date, due_key, state, "
             "state_before_recall, "
             "status_code, incoming_number, incoming_year, lead_unit, officer, arrived_on, "
             "accepted_on, refused_on, completed_on, updated_at, revision) "
             "SELECT %s, %s, %s, %s, %s, subject, type_name, %s, %s, %s, 'dispatched', NULL, NULL, "
             "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, %s, 0 FROM {t:v_documents} "
             "WHERE document_id = %s",
             (str(n.originator_id), s["document"], s["sender"], s["recipient"], s["reference"],
              s["priority"], s["due_date"], due_key(s["due_date"]), at(s), s["document"])),
            search_recipient(n, s)]


def search_recipient(n: Notification, s: dict[str, Any]) -> Op:
    """The recipient is party from dispatch: a copy of the sender's search row
    (an agency sending to itself keeps the one row)."""
    return ("INSERT INTO {t:v_search} (seq, agency, party, document_id, role, sender, "
            "sender_name, reference, reference_key, subject, type_name, promulgated_on, sent_on, "
            "subject_words, meta_words, words) SELECT CAST(%s AS BIGINT), CAST(%s AS TEXT), "
            "CAST(%s AS TEXT), document_id, 'recipient', sender, sender_name, reference, "
            "reference_key, subject, type_name, promulgated_on, CAST(%s AS TEXT), subject_words, "
            "meta_words, words "
            "FROM {t:v_search} WHERE document_id = %s AND role = 'sender' AND NOT EXISTS "
            "(SELECT 1 FROM {t:v_search} WHERE document_id = %s AND agency = %s)",
            (n.id, s["recipient"], party_word(s["recipient"]), on(s), s["document"],
             s["document"], s["recipient"]))


def due_key(due_date: str | None) -> str:
    """Due date as a sort key that is never NULL (no due date sorts last)."""
    return due_date or NO_DUE_DATE


def timeline(n: Notification, s: dict[str, Any], detail: str) -> list[Op]:
    """The event's row of its document's timeline; and, for a command made from a
    message (``source``), that message made readable by the document's parties."""
    payload = signed_payload(s)
    who, staff = actor(payload)
    event = n.topic.rsplit(".", 1)[-1]
    ops: list[Op] = [(
        "INSERT INTO {t:v_timeline} (delivery_id, version, document_id, recipient, "
        "status_code, event, at, actor, staff, detail, source, signature) SELECT "
        "delivery_id, %s, document_id, recipient, %s, %s, %s, %s, %s, %s, %s, %s "
        "FROM {t:v_deliveries} WHERE delivery_id = %s",
        (n.originator_version, s.get("status"), event, at(s), who, staff, detail,
         source_of(payload), signature_of(payload), str(n.originator_id)))]
    sha = source_of(payload)
    if sha is not None:
        ops.append(("INSERT INTO {t:v_attachments} (sha256, document_id) "
                    "SELECT CAST(%s AS TEXT), document_id FROM {t:v_deliveries} d "
                    "WHERE delivery_id = %s AND NOT EXISTS (SELECT 1 FROM {t:v_attachments} a "
                    "WHERE a.sha256 = %s AND a.document_id = d.document_id)",
                    (sha, str(n.originator_id), sha)))
    return ops


def status_change(extra: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
                  detail: Callable[[dict[str, Any]], str] = lambda s: "") -> Handler:
    """A delivery event carrying a status code: set state, code, times, and log it."""

    def handle(n: Notification, s: dict[str, Any]) -> list[Op]:
        code = s["status"]
        columns: dict[str, Any] = {"status_code": code, "updated_at": at(s)}
        columns.update(extra(s) if extra else {})
        sets = ", ".join(f"{c} = %s" for c in columns)
        if code == Status.RECALL_REQUESTED:
            state_sql = "state_before_recall = state, state = 'recall_requested'"
        elif code == Status.RECALL_REFUSED:
            state_sql = "state = state_before_recall"
        else:
            state_sql = f"state = '{STATE_AFTER[code].value}'"
        return [
            (f"UPDATE {{t:v_deliveries}} SET {state_sql}, {sets} WHERE delivery_id = %s",
             (*columns.values(), str(n.originator_id))),
            *timeline(n, s, detail(s)),
        ]

    return handle


def delivery_accepted(n: Notification, s: dict[str, Any]) -> list[Op]:
    ops = status_change(lambda s: {"incoming_number": s["incoming_number"],
                                   "incoming_year": s["year"], "accepted_on": on(s)},
                        lambda s: f"incoming no. {s['incoming_number']}")(n, s)
    ops.append(("INSERT INTO {t:v_register} (agency, direction, year, number, document_id, "
                "delivery_id, reference, subject, counterpart, registered_on) SELECT recipient, "
                "'incoming', %s, %s, document_id, delivery_id, reference, subject, sender, %s "
                "FROM {t:v_deliveries} WHERE delivery_id = %s",
                (s["year"], s["incoming_number"], on(s), str(n.originator_id))))
    return ops


def delivery_revised(n: Notification, s: dict[str, Any]) -> list[Op]:
    return [("UPDATE {t:v_deliveries} SET revision = %s, updated_at = %s WHERE delivery_id = %s",
             (s["revision"], at(s), str(n.originator_id)))]


def delivery_removed(n: Notification, s: dict[str, Any]) -> list[Op]:
    """The sender's update took the recipient off: terminal, no status code of its own
    (the last one stays), a timeline row with the reason."""
    return [("UPDATE {t:v_deliveries} SET state = 'removed', revision = %s, updated_at = %s "
             "WHERE delivery_id = %s", (s["revision"], at(s), str(n.originator_id))),
            *timeline(n, s, s["reason"]),
            ("DELETE FROM {t:v_search} WHERE role = 'recipient' AND document_id = "
             "(SELECT document_id FROM {t:v_deliveries} WHERE delivery_id = %s) AND agency = "
             "(SELECT recipient FROM {t:v_deliveries} WHERE delivery_id = %s)",
             (str(n.originator_id), str(n.originator_id)))]


def ignored(n: Notification, s: dict[str, Any]) -> list[Op]:
    return []


E = event  # the stored topic of an aggregate's event (domain/topics.py)

HANDLERS: dict[str, Handler] = {
    E(AGENCY, "Registered"): agency_registered,
    E(AGENCY, "KeyAdded"): ignored,
    E(AGENCY, "KeyRevoked"): ignored,
    E(AGENCY, "CertificateAdded"): ignored,
    E(TRUST, "Opened"): ignored,
    E(TRUST, "AnchorAdded"): ignored,
    E(TRUST, "AnchorRemoved"): ignored,
    E(REVOCATION, "Opened"): ignored,
    E(REVOCATION, "Recorded"): ignored,
    E(AUDITOR, "Registered"): ignored,
    E(AUDITOR, "KeyRevoked"): ignored,
    E(ROOT, "Initialised"): ignored,
    E(COMMAND_RECORD, "Accepted"): ignored,
    E(GATEWAY_RECEIPT, "Recorded"): ignored,  # infrastructure/gateway.py indexes them
    E(REGISTER, "Opened"): ignored,  # numbers come with the acts
    E(REGISTER, "NumberTaken"): ignored,
    E(DOCUMENT, "Created"): document_created,
    E(DOCUMENT, "Signed"): document_signed,
    E(DOCUMENT, "Issued"): document_issued,
    E(DOCUMENT, "Sent"): document_sent,
    E(DOCUMENT, "Revised"): document_revised,
    E(DOCUMENT, "AttachmentValidated"): attachment_validated,
    E(DOCUMENT, "HeaderRevised"): document_header_revised,
    E(DELIVERY, "Dispatched"): delivery_dispatched,
    E(DELIVERY, "Arrived"): status_change(lambda s: {"arrived_on": on(s)}),
    E(DELIVERY, "Accepted"): delivery_accepted,
    E(DELIVERY, "Refused"): status_change(
        lambda s: {"refused_on": on(s)}, lambda s: s["reason"]),
    E(DELIVERY, "Assigned"): status_change(
        lambda s: {"lead_unit": s["lead_unit"], "officer": s["officer"],
                   **({"due_date": s["due_date"], "due_key": s["due_date"]}
                      if s["due_date"] else {})},
        lambda s: s["lead_unit"] + (f" / {s['officer']}" if s["officer"] else "")),
    E(DELIVERY, "ProgressReported"): status_change(detail=lambda s: s["note"]),
    E(DELIVERY, "Completed"): status_change(
        lambda s: {"completed_on": on(s)}, lambda s: s["note"]),
    E(DELIVERY, "RecallRequested"): status_change(detail=lambda s: s["reason"]),
    E(DELIVERY, "RecallAgreed"): status_change(detail=lambda s: s["reason"]),
    E(DELIVERY, "RecallRefused"): status_change(detail=lambda s: s["reason"]),
    E(DELIVERY, "Revised"): delivery_revised,
    E(DELIVERY, "Removed"): delivery_removed,
    E(DELIVERY, "IncomingStamped"): incoming_stamped,
}


def ops_for(n: Notification) -> list[Op]:
    """The view changes one stored event makes; raises UnhandledEventError."""
    handler = HANDLERS.get(n.topic)
    if handler is None:
        raise UnhandledEventError(n.id, n.topic, "no view handles this topic")
    try:
        return handler(n, state_object(n.state))
    except (ValueError, KeyError, TypeError) as exc:
        raise UnhandledEventError(n.id, n.topic, f"cannot read the event: {exc!r}") from None
