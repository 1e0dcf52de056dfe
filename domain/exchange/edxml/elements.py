"""Reading elements of an edXML tree: names, children, and leaf values.

Every reader names the element and its line when it refuses (``EdxmlError``);
the model's own checks are placed at the element being read (``build``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import TypeVar

from lxml import etree

from domain.exchange.codes import VIETNAM_TIME
from domain.exchange.edxml.errors import (
    EdxmlError,
    EdxmlInvalidValueError,
    EdxmlMissingElementError,
)
from domain.exchange.edxml.model import (
    DOCLEDGER_NS,
    EDXML_NS,
    XMLDSIG_NS,
    RawElement,
    check_organ_id,
    check_text,
)

Element = etree._Element
T = TypeVar("T")


def qname(element: Element) -> tuple[str | None, str]:
    name = etree.QName(element)
    return name.namespace, name.localname


def shown(element: Element) -> str:
    """The element's name as the message spells it (prefix:local)."""
    local = etree.QName(element).localname
    return f"{element.prefix}:{local}" if element.prefix else local


def is_signature(element: Element) -> bool:
    return qname(element) in ((EDXML_NS, "Signature"), (XMLDSIG_NS, "Signature"))



def raw_element(element: Element) -> RawElement:
    xml = etree.tostring(element, method="c14n", exclusive=True, with_comments=False)
    return RawElement(xml.decode("utf-8"))


def local(element: Element) -> str:
    return etree.QName(element).localname


class Kids:
    """An element's children by local name; unknown ones become raw evidence.
    ``Signature`` (in either namespace) is set aside in ``signatures``."""

    def __init__(self, parent: Element, known: tuple[str, ...]) -> None:
        self.parent = parent
        self.by_name: dict[str, list[Element]] = {}
        self.extra: list[RawElement] = []
        self.signatures: list[Element] = []
        for child in parent:
            name = local(child)
            if qname(child) == (DOCLEDGER_NS, "Digest"):
                continue  # docledger's digest extension, read on its own
            if "Signature" in known and is_signature(child):
                self.signatures.append(child)
            elif name in known and etree.QName(child).namespace == EDXML_NS:
                self.by_name.setdefault(name, []).append(child)
            else:
                self.extra.append(raw_element(child))

    def many(self, name: str) -> list[Element]:
        return self.by_name.get(name, [])

    def one(self, name: str) -> Element | None:
        found = self.many(name)
        if len(found) > 1:
            raise EdxmlInvalidValueError(f"{name} appears {len(found)} times",
                                         element=name, line=found[1].sourceline)
        return found[0] if found else None

    def need(self, name: str) -> Element:
        found = self.one(name)
        if found is None:
            raise EdxmlMissingElementError(
                f"{local(self.parent)} has no {name}",
                element=f"{local(self.parent)}/{name}", line=self.parent.sourceline)
        return found

    def text(self, name: str) -> str | None:
        found = self.one(name)
        return None if found is None else text_of(found)

    def need_text(self, name: str) -> str:
        value = text_of(self.need(name))
        if value is None:
            raise EdxmlMissingElementError(f"{name} is empty", element=name,
                                           line=self.need(name).sourceline)
        return value

    def convert(self, name: str, read: Callable[[Element], T]) -> T | None:
        found = self.one(name)
        return None if found is None else read(found)


def text_of(element: Element) -> str | None:
    """An element's text, trimmed; ``None`` if empty. Elements inside are refused.
    A carriage return written as a character reference (``&#xD;``, as .NET's
    serialiser writes it) ends a line like any other: it becomes a line feed."""
    for child in element:
        raise EdxmlInvalidValueError(f"{local(element)} holds text, not elements",
                                     element=local(child), line=child.sourceline)
    value = (element.text or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if not value:
        return None
    try:
        return check_text(value, local(element))
    except EdxmlError as error:
        raise error.at(local(element), element.sourceline) from None


def is_empty(element: Element) -> bool:
    return len(element) == 0 and not (element.text or "").strip()


def build(element: Element, make: Callable[[], T]) -> T:
    """Construct a model value; a refusal of the model is placed at ``element``."""
    try:
        return make()
    except EdxmlError as error:
        raise error.at(local(element), element.sourceline) from None


_YMD = re.compile(r"(\d{4})[/-](\d{1,2})[/-](\d{1,2})")
_DMY = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
# a fraction of a second is read and dropped: the model keeps whole seconds
_TIME = re.compile(r"[ T](\d{1,2}):(\d{2}):(\d{2})(?:[.,]\d{1,9})?(Z|[+-]\d{2}:?\d{2})?")


def date_prefix(text: str, element: Element) -> tuple[date, str]:
    """A date at the start of ``text`` (yyyy/MM/dd, yyyy-MM-dd or dd/MM/yyyy) and
    what follows it."""
    match = _YMD.match(text)
    if match:
        year, month, day = match.groups()
    else:
        match = _DMY.match(text)
        if not match:
            raise EdxmlInvalidValueError(
                f"{text!r} is not a date (yyyy/MM/dd or dd/MM/yyyy)",
                element=local(element), line=element.sourceline)
        day, month, year = match.groups()
    try:
        return date(int(year), int(month), int(day)), text[match.end():]
    except ValueError:
        raise EdxmlInvalidValueError(f"{text!r} is not a date that exists",
                                     element=local(element),
                                     line=element.sourceline) from None


def date_of(element: Element) -> date | None:
    text = text_of(element)
    if text is None:
        return None
    day, rest = date_prefix(text, element)
    if rest:
        raise EdxmlInvalidValueError(f"{text!r} is a date followed by {rest!r}",
                                     element=local(element), line=element.sourceline)
    return day


def timestamp_of(element: Element) -> datetime | None:
    """A timestamp; without a zone it is Vietnam's time (what the SDKs write)."""
    text = text_of(element)
    if text is None:
        return None
    day, rest = date_prefix(text, element)
    match = _TIME.fullmatch(rest)
    if not match:
        raise EdxmlInvalidValueError(
            f"{text!r} is not a timestamp (yyyy/MM/dd HH:mm:ss)",
            element=local(element), line=element.sourceline)
    hour, minute, second, zone = match.groups()
    try:
        moment = datetime(day.year, day.month, day.day, int(hour), int(minute),
                          int(second))
        if zone is None:
            return moment.replace(tzinfo=VIETNAM_TIME)
        offset = "+0000" if zone == "Z" else zone.replace(":", "")
        aware = datetime.strptime(f"{moment:%Y-%m-%dT%H:%M:%S}{offset}",
                                  "%Y-%m-%dT%H:%M:%S%z")
        return aware.astimezone(VIETNAM_TIME)
    except (ValueError, OverflowError):
        raise EdxmlInvalidValueError(f"{text!r} is not a time that exists",
                                     element=local(element),
                                     line=element.sourceline) from None


def count_of(element: Element) -> int | None:
    text = text_of(element)
    if text is None:
        return None
    if not text.isascii() or not text.isdigit():
        raise EdxmlInvalidValueError(f"{text!r} is not a count", element=local(element),
                                     line=element.sourceline)
    return int(text)


def flag_of(element: Element) -> bool | None:
    text = text_of(element)
    if text is None:
        return None
    value = {"true": True, "1": True, "false": False, "0": False}.get(text.lower())
    if value is None:
        raise EdxmlInvalidValueError(f"{text!r} is not true or false",
                                     element=local(element), line=element.sourceline)
    return value


def status_code_of(element: Element) -> str:
    text = text_of(element)
    if text is None or not re.fullmatch(r"0[1-9]|1[0-6]", text):
        raise EdxmlInvalidValueError(f"status code {text!r} is not two digits 01–16",
                                     element="StatusCode", line=element.sourceline)
    return text


def organ_id_of(element: Element) -> str:
    text = text_of(element)
    if text is None:
        raise EdxmlMissingElementError("OrganId is empty", element=local(element),
                                       line=element.sourceline)
    try:
        return check_organ_id(text, local(element))
    except EdxmlError as error:
        raise error.at(local(element), element.sourceline) from None

