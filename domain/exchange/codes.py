"""Codes and enumerations of the exchange standard (edXML, QCVN 102:2016)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from enum import StrEnum

from domain.errors import InvalidInputError

# ddd.dd.dd.Xdd: four dot-separated groups of letters and digits, 13 characters,
# the last group starting with a letter (000.00.00.G22, 001.00.20.TT2).
AGENCY_CODE = re.compile(r"[0-9A-Z]{3}\.[0-9A-Z]{2}\.[0-9A-Z]{2}\.[A-Z][0-9A-Z]{2}")

# Registers run from 1 January to 31 December in Vietnam's time (UTC+7, no DST).
VIETNAM_TIME = timezone(timedelta(hours=7), "ICT")


def check_agency_code(code: str) -> str:
    """Return ``code`` if it is a valid 13-character agency code, else raise."""
    if not isinstance(code, str) or not AGENCY_CODE.fullmatch(code):
        raise InvalidInputError(
            f"invalid agency code {code!r}: expected ddd.dd.dd.Xdd (13 characters)"
        )
    return code


def register_year(at: datetime) -> int:
    """The register year an act at ``at`` belongs to."""
    return at.astimezone(VIETNAM_TIME).year


class Status(StrEnum):
    """Status message codes reported back to the sender."""

    ARRIVED = "01"
    REFUSED = "02"
    ACCEPTED = "03"
    ASSIGNED = "04"
    IN_PROGRESS = "05"
    COMPLETED = "06"
    RECALL_REQUESTED = "13"
    RECALL_AGREED = "15"
    RECALL_REFUSED = "16"


class DeliveryState(StrEnum):
    """Where a delivery stands, as the recipient's inbox shows it."""

    ARRIVED = "arrived"
    ACCEPTED = "accepted"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    REFUSED = "refused"
    RECALLED = "recalled"
    RECALL_REQUESTED = "recall_requested"
    REMOVED = "removed"  # taken off the recipients by the sender's update (no status code)


# The one table from a status code to the state it leaves a delivery in, read by
# the Delivery aggregate and by the views. RECALL_REFUSED is not in it: it returns
# the delivery to the state it had when the recall was requested.
STATE_AFTER: dict[str, DeliveryState] = {
    Status.ARRIVED: DeliveryState.ARRIVED,
    Status.REFUSED: DeliveryState.REFUSED,
    Status.ACCEPTED: DeliveryState.ACCEPTED,
    Status.ASSIGNED: DeliveryState.ASSIGNED,
    Status.IN_PROGRESS: DeliveryState.IN_PROGRESS,
    Status.COMPLETED: DeliveryState.COMPLETED,
    Status.RECALL_REQUESTED: DeliveryState.RECALL_REQUESTED,
    Status.RECALL_AGREED: DeliveryState.RECALLED,
}

# States in which the recipient still owes the document its handling: a due
# date passed in one of them is overdue.
OPEN_STATES: tuple[DeliveryState, ...] = (
    DeliveryState.ARRIVED, DeliveryState.ACCEPTED, DeliveryState.ASSIGNED,
    DeliveryState.IN_PROGRESS, DeliveryState.RECALL_REQUESTED,
)


# An OrganId as edXML messages carry it: the 13-character code, and the shorter
# forms the wild shows (28.22.H17, 01.02.G22, vxp.saas.03): two to five
# dot-separated groups of 1–8 letters or digits. Whether the agency exists is
# the ledger's question, not the format's.
EDXML_ORGAN_ID = re.compile(r"[0-9A-Za-z]{1,8}(?:\.[0-9A-Za-z]{1,8}){1,4}")


def check_edxml_organ_id(code: str) -> str:
    """Return ``code`` if it has the shape of an edXML OrganId, else raise."""
    if not isinstance(code, str) or not EDXML_ORGAN_ID.fullmatch(code):
        raise InvalidInputError(
            f"invalid OrganId {code!r}: expected dot-separated groups of letters "
            "and digits (000.00.00.G22)"
        )
    return code
