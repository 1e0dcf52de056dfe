"""The liberal edXML parser: what the wild sends, read into the model.

Liberal where the field notes show the wild varies (docs/edxml.md, "Format"):
prefixed or unprefixed elements, ``Signature`` in the edXML or the XML-DSig
namespace, children in any order (``Bussiness`` before or after the
``TraceHeader``s), ``yyyy/MM/dd`` or ``dd/MM/yyyy`` dates, timestamps without a
zone (Vietnam's time), CRLF, a BOM, an empty ``ResponseFor``, attachments inline
or zipped. Strict everywhere else: every refusal is an ``EdxmlError`` naming the
element and its line, and hostile input (a DTD, entities, a zip bomb, an
oversized message) is refused before anything is expanded or fetched.
"""

from __future__ import annotations

import re

from lxml import etree

from domain.exchange.edxml.elements import (
    Element,
    is_signature,
    qname,
    shown,
)
from domain.exchange.edxml.errors import (
    EdxmlError,
    EdxmlHostileInputError,
    EdxmlNamespaceError,
    EdxmlSyntaxError,
)
from domain.exchange.edxml.model import (
    DOCLEDGER_NS,
    EDXML_NS,
    Message,
)
from domain.exchange.edxml.read import Reader

# A message with its attachments inline; larger ones are refused unread. libxml2
# without huge_tree also refuses a single text node over 10,000,000 bytes, which
# bounds one inline (base64) attachment at about 7.5 MB.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


def _parser() -> etree.XMLParser:
    # No entity is substituted, nothing is fetched, no DTD is loaded, and
    # libxml2's size limits stay on; comments and processing instructions are
    # not content.
    return etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False,
        dtd_validation=False, remove_comments=True, remove_pis=True,
        collect_ids=False,
    )


def parse_edxml(data: bytes) -> Message:
    """Read an edXML document or status message; raise ``EdxmlError`` if refused."""
    if not isinstance(data, bytes):
        raise EdxmlSyntaxError("an edXML message is bytes", element="edXML", line=None)
    if len(data) > MAX_MESSAGE_BYTES:
        raise EdxmlHostileInputError(
            f"message of {len(data)} bytes is larger than {MAX_MESSAGE_BYTES}",
            element="edXML", line=None)
    _refuse_doctype(data)
    root = _well_formed(data)
    _check_namespaces(root)
    if qname(root) != (EDXML_NS, "edXML"):
        raise EdxmlNamespaceError(
            f"the root element is {shown(root)}, not edXML in {EDXML_NS}",
            element=shown(root), line=root.sourceline)
    return Reader().message(root)


# --- hostile input and well-formedness -------------------------------------------

_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_FIRST_ELEMENT = re.compile(rb"<(?![?!])")


def _refuse_doctype(data: bytes) -> None:
    """Refuse a DTD in the prolog before the XML parser sees it: entities (the
    billion laughs, XXE) can only be declared there."""
    start = _FIRST_ELEMENT.search(data)
    prolog = data if start is None else data[:start.start()]
    found = _DOCTYPE.search(prolog)
    if found:
        raise EdxmlHostileInputError(
            "a DTD (DOCTYPE) is refused: edXML declares no entities",
            element="!DOCTYPE", line=prolog.count(b"\n", 0, found.start()) + 1)


def _well_formed(data: bytes) -> Element:
    parser = _parser()
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as error:
        raise _syntax_error(error, parser.error_log) from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        # a DOCTYPE the prolog scan missed (another encoding): still refused
        raise EdxmlHostileInputError("a DTD (DOCTYPE) is refused", element="!DOCTYPE",
                                     line=1)
    return root


def _syntax_error(error: etree.XMLSyntaxError, log: etree._ListErrorLog) -> EdxmlError:
    # this parse's first error is where the damage is; later ones follow from it
    entry = log[0] if len(log) else None
    line = (entry.line if entry is not None else error.lineno) or None
    message = (entry.message if entry is not None else str(error)).strip()
    if "XML_PARSE_HUGE" in message:
        # libxml2's own bounds (nesting deeper than 256, a text node over 10 MB);
        # the element is not named in its message, so the document is
        return EdxmlHostileInputError(f"past the parser's limits ({message})",
                                      element="edXML", line=line)
    if "amplification" in message or "entity" in message.lower():
        return EdxmlHostileInputError(f"entities are refused ({message})",
                                      element="!ENTITY", line=line)
    if entry is not None and entry.domain_name == "NAMESPACE":
        match = re.search(r" on (\S+)", message)
        return EdxmlNamespaceError(message, element=match.group(1) if match else "?",
                                   line=line)
    match = re.search(r"tag mismatch: (\S+)|[Ee]lement (\S+)|tag (\S+)", message)
    element = next((g for g in match.groups() if g), "?") if match else "?"
    return EdxmlSyntaxError(f"not well-formed XML: {message}", element=element, line=line)


def _check_namespaces(root: Element) -> None:
    """Every element is in the edXML namespace, except inside ``Signature`` (kept
    as found) and docledger's digest extension."""
    stack = [root]
    while stack:
        element = stack.pop()
        if not isinstance(element.tag, str):
            raise EdxmlHostileInputError("an entity reference is refused",
                                         element="!ENTITY", line=element.sourceline)
        namespace, local = qname(element)
        if is_signature(element) or (namespace, local) == (DOCLEDGER_NS, "Digest"):
            continue
        if namespace != EDXML_NS:
            raise EdxmlNamespaceError(
                f"namespace {namespace or '(none)'} is not edXML's ({EDXML_NS})",
                element=shown(element), line=element.sourceline)
        stack.extend(reversed(list(element)))

