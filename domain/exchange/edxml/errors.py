"""Errors of the edXML format layer: each names the element and the line.

Every refusal of an edXML message is an ``EdxmlError`` (an ``InvalidInputError``,
so the command line and the HTTP API already map it); the subclass and its
``code`` say what kind of refusal it is.
"""

from __future__ import annotations

from domain.errors import InvalidInputError


class EdxmlError(InvalidInputError):
    """An edXML message was refused; ``element`` and ``line`` say where."""

    code = "invalid-edxml"

    def __init__(self, reason: str, *, element: str, line: int | None = None) -> None:
        self.reason = reason
        self.element = element
        self.line = line
        where = f"line {line}" if line is not None else "line unknown"
        super().__init__(f"edXML <{element}> at {where}: {reason}")

    def at(self, element: str, line: int | None) -> EdxmlError:
        """The same refusal placed at ``element``/``line`` (a model check raised it
        before the parser could say where)."""
        if self.line is not None:
            return self
        reason = self.reason if self.element == element else f"{self.element}: {self.reason}"
        return type(self)(reason, element=element, line=line)


class EdxmlSyntaxError(EdxmlError):
    """The bytes are not well-formed XML."""

    code = "edxml-not-well-formed"


class EdxmlNamespaceError(EdxmlError):
    """An undeclared prefix, or an element in a namespace edXML does not use."""

    code = "edxml-namespace"


class EdxmlMissingElementError(EdxmlError):
    """A mandatory element (DocumentId, Code, PromulgationDate, From, To …) is absent."""

    code = "edxml-missing-element"


class EdxmlInvalidValueError(EdxmlError):
    """An element's value breaks its rule (a date that does not exist, a bad code …)."""

    code = "edxml-invalid-value"


class EdxmlAttachmentError(EdxmlError):
    """An attachment's bytes do not match its declared content type or digest."""

    code = "edxml-attachment-mismatch"


class EdxmlHostileInputError(EdxmlError):
    """A DTD, an entity, a zip bomb or an oversized message: refused unexpanded."""

    code = "edxml-hostile-input"
