"""Strict in what is refused: every hostile or broken message gets a typed error
naming the element and its line (tests/assets/edxml/hostile, one case per file),
and the attacks are refused before anything is expanded or fetched."""

from __future__ import annotations

import base64
import io
import re
import socket
import time
import zipfile
from collections.abc import Iterator

import pytest

from domain.errors import InvalidInputError
from domain.exchange.edxml import zipped
from domain.exchange.edxml.errors import (
    EdxmlAttachmentError,
    EdxmlError,
    EdxmlHostileInputError,
    EdxmlInvalidValueError,
    EdxmlMissingElementError,
    EdxmlNamespaceError,
    EdxmlSyntaxError,
)
from domain.exchange.edxml.parse import MAX_MESSAGE_BYTES, parse_edxml
from tests.domain.edxml.support import HOSTILE, SAMPLES, line_of, read

# file, error type, element named, a marker on the line named (or its n-th occurrence)
CASES: list[tuple[str, type[EdxmlError], str, str | tuple[str, int]]] = [
    ("not-well-formed", EdxmlSyntaxError, "StaffInfo", "</edXML:MessageHeader>"),
    ("undeclared-prefix", EdxmlNamespaceError, "Reference", "xlink:href"),
    ("unknown-namespace", EdxmlNamespaceError, "x:Priority", "<x:Priority"),
    ("no-namespace", EdxmlNamespaceError, "edXML", "<edXML>"),
    ("missing-document-id", EdxmlMissingElementError, "MessageHeader/DocumentId",
     "<edXML:MessageHeader>"),
    ("missing-code", EdxmlMissingElementError, "MessageHeader/Code",
     "<edXML:MessageHeader>"),
    ("missing-promulgation-date", EdxmlMissingElementError,
     "PromulgationInfo/PromulgationDate", "<edXML:PromulgationInfo>"),
    ("missing-from", EdxmlMissingElementError, "MessageHeader/From",
     "<edXML:MessageHeader>"),
    ("missing-to", EdxmlMissingElementError, "MessageHeader/To", "<edXML:MessageHeader>"),
    ("invalid-date", EdxmlInvalidValueError, "PromulgationDate", "2014/02/30</"),
    ("invalid-organ-id", EdxmlInvalidValueError, "OrganId", "H41 (Nghệ An)"),
    ("invalid-status-code", EdxmlInvalidValueError, "StatusCode", "<edXML:StatusCode>"),
    ("attachment-type-mismatch", EdxmlAttachmentError, "ContentType",
     "<ContentType>application/pdf"),
    ("attachment-digest-mismatch", EdxmlAttachmentError, "ContentTransferEncoded",
     "<edXML:ContentTransferEncoded"),
    ("attachment-not-base64", EdxmlInvalidValueError, "ContentTransferEncoded",
     "<edXML:ContentTransferEncoded"),
    ("repeated-document-id", EdxmlInvalidValueError, "DocumentId",
     ("<edXML:DocumentId>", 2)),
    ("attachment-without-payload", EdxmlMissingElementError,
     "Attachment/ContentTransferEncoded", "<Attachment>"),
    ("duplicate-content-id", EdxmlInvalidValueError, "ContentId",
     ("<edXML:Reference>", 2)),
    ("billion-laughs", EdxmlHostileInputError, "!DOCTYPE", "<!DOCTYPE"),
    ("external-entity-file", EdxmlHostileInputError, "!DOCTYPE", "<!DOCTYPE"),
]


def refusal(data: bytes) -> EdxmlError:
    with pytest.raises(EdxmlError) as caught:
        parse_edxml(data)
    return caught.value


@pytest.mark.parametrize(("name", "kind", "element", "where"), CASES,
                         ids=[c[0] for c in CASES])
def test_hostile_message_is_refused_naming_element_and_line(
        name: str, kind: type[EdxmlError], element: str,
        where: str | tuple[str, int]) -> None:
    data = read(HOSTILE / f"{name}.edxml")
    error = refusal(data)
    assert type(error) is kind
    assert isinstance(error, InvalidInputError) and error.code == kind.code
    line = line_of(data, *where) if isinstance(where, tuple) else line_of(data, where)
    assert (error.element, error.line) == (element, line)
    assert f"<{element}>" in str(error) and f"line {line}" in str(error)


# --- XML bombs and external entities ---------------------------------------------

def utf16(data: bytes) -> bytes:
    """The same message in UTF-16: the DOCTYPE scan of the prolog does not see it,
    so the XML parser's own settings are what refuse it."""
    text = data.decode("utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"')
    return text.encode("utf-16")


def test_billion_laughs_is_refused_without_expanding() -> None:
    data = read(HOSTILE / "billion-laughs.edxml")  # &lol9; is 10^9 "lol"s
    for attempt in (data, utf16(data)):
        started = time.perf_counter()
        error = refusal(attempt)
        assert isinstance(error, EdxmlHostileInputError)
        assert error.element in ("!DOCTYPE", "!ENTITY") and error.line is not None
        assert time.perf_counter() - started < 1.0  # nothing was expanded
        assert "lollollol" not in str(error)


def test_external_entity_is_not_read() -> None:
    data = read(HOSTILE / "external-entity-file.edxml")  # &xxe; is file:///etc/passwd
    for attempt in (data, utf16(data)):
        error = refusal(attempt)
        assert isinstance(error, EdxmlHostileInputError)
        assert "root:" not in str(error)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP port on 127.0.0.1 that records whether anyone connected."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    yield server
    server.close()


def test_external_entity_over_the_network_is_not_fetched(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    status = read(SAMPLES / "status-01-arrived.edxml")
    declaration = b'<?xml version="1.0" encoding="UTF-8"?>\r\n'
    entity = (f'<!DOCTYPE edXML [<!ENTITY xxe SYSTEM "http://127.0.0.1:{port}/secret">]>'
              "\r\n").encode()
    external_dtd = f'<!DOCTYPE edXML SYSTEM "http://127.0.0.1:{port}/evil.dtd">\r\n'.encode()
    for doctype in (entity, external_dtd):
        data = status.replace(declaration, declaration + doctype).replace(
            "Nguyễn Văn A".encode(), b"&xxe;")
        for attempt in (data, utf16(data)):
            assert isinstance(refusal(attempt), EdxmlHostileInputError)
    with pytest.raises(BlockingIOError):
        listener.accept()  # no connection was ever made


# --- zip bombs -------------------------------------------------------------------

def with_payload(payload: bytes) -> bytes:
    """The 2019 download with its zipped attachment replaced by ``payload``."""
    data = read(SAMPLES / "document-downloaded-from-vxp-2019.edxml")
    return re.sub(rb"(<edXML:ContentTransferEncoded[^>]*>)[^<]*",
                  lambda m: m.group(1) + base64.b64encode(payload), data)


@pytest.fixture(scope="module")
def zip_bomb() -> bytes:
    """A real high-ratio zip: 65 MiB of zeros in about 65 KB."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("5c7082fe-4ac3-4b46-961e-e2439bfae484.PDF",
                         bytes(zipped.MAX_EXPANDED_BYTES + 1024 * 1024))
    return buffer.getvalue()


def test_zip_bomb_is_refused_at_the_expansion_bound(zip_bomb: bytes) -> None:
    assert len(zip_bomb) * 500 < zipped.MAX_EXPANDED_BYTES  # ratio above 500:1
    data = with_payload(zip_bomb)
    error = refusal(data)
    assert isinstance(error, EdxmlHostileInputError)
    assert (error.element, error.line) == ("ContentTransferEncoded",
                                           line_of(data, "<edXML:ContentTransferEncoded"))
    assert "zip bomb" in str(error)


def test_zip_with_too_many_entries_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for number in range(zipped.MAX_ENTRIES + 1):
            archive.writestr(f"{number}.txt", b"")
    error = refusal(with_payload(buffer.getvalue()))
    assert isinstance(error, EdxmlHostileInputError)
    assert error.element == "ContentTransferEncoded"


def test_zip_within_the_bounds_is_accepted() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.pdf", b"%PDF-1.4 " + bytes(1024 * 1024))
    parse_edxml(with_payload(buffer.getvalue()))


def test_oversized_message_is_refused_unread() -> None:
    error = refusal(b" " * (MAX_MESSAGE_BYTES + 1))
    assert isinstance(error, EdxmlHostileInputError) and error.element == "edXML"


def test_deeply_nested_elements_are_refused_at_the_parsers_depth_limit() -> None:
    status = read(SAMPLES / "status-01-arrived.edxml")
    nested = b"<edXML:Extra>" * 5000 + b"</edXML:Extra>" * 5000
    data = status.replace(b"<edXML:StatusCode>", nested + b"<edXML:StatusCode>")
    error = refusal(data)
    assert isinstance(error, EdxmlHostileInputError)
    assert error.line == line_of(data, "<edXML:Extra>") and "256" in str(error)


def test_text_node_past_ten_megabytes_is_refused() -> None:
    error = refusal(with_payload(b"PK\x03\x04" + bytes(7_600_000)))
    assert isinstance(error, EdxmlHostileInputError)
    assert "Text node too long" in str(error)
