"""Bodies without bounds, against a real server (uvicorn process) on both backends.

A read announcing a body, or a command larger than an envelope may be, is refused
with a 413 problem as soon as that is known: from Content-Length before reading,
or once the streamed bytes pass the limit. The server's resident memory
(/proc/PID/status VmRSS) moves by a few MB at most, whatever was sent; an
upload signed by a registered agency included, whose bytes stream to a
temporary file in the blob store (its peak VmHWM, reset through
/proc/PID/clear_refs, is watched), and whose refusal or abandonment leaves no
file behind; and the download of such an attachment, sent from its file.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from api.client import LedgerClient, SignedAuth
from infrastructure.blobs import INCOMING_PREFIX
from infrastructure.keyfiles import load_signer
from infrastructure.ledger import DataFolder
from tests.api.conftest import Cli, LiveServer
from tests.api.http_support import api_for, client_for
from tests.factories import SENDER, World, header
from tests.waiting import wait_until

MB = 2**20
STREAMED = 200 * MB
CHUNK = MB
RSS_SLACK = 16 * MB  # "a few MB": allocator noise, never the body
ANSWER_TIMEOUT = 8.0
UPLOADED = 20 * MB
UPLOAD_PEAK_SLACK = 8 * MB  # an upload held in memory would take UPLOADED at least
UPLOAD_TIMEOUT = 60.0  # the answer to a 20 MiB upload on a busy machine
SETTLE_TIMEOUT = 30.0  # for the server to notice a client gone and clean up
SIGNED_LOOKING = "Signature-Input: sig=(\"@method\");created=1\r\nSignature: sig=:AA==:\r\n"


@pytest.fixture
def server(tmp_path: Path, cli: Cli, serve: Callable[[Path], LiveServer]) -> LiveServer:
    data = tmp_path / "D"
    assert cli("init", "--data", str(data)).returncode == 0
    live = serve(data)
    httpx.get(f"{live.url}/v1/log/vkey", timeout=10)  # warm: first-request allocations
    return live


def rss(server: LiveServer) -> int:
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    line = next(x for x in status.splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


def stream_body(sock: socket.socket, total: int, chunked: bool) -> None:
    """Send ``total`` body bytes; a server that closed the connection ends it early."""
    chunk = (f"{CHUNK:x}\r\n".encode() + b"x" * CHUNK + b"\r\n") if chunked else b"x" * CHUNK
    try:
        for _ in range(total // CHUNK):
            sock.sendall(chunk)
        if chunked:
            sock.sendall(b"0\r\n\r\n")
    except OSError:
        pass


def exchange(sock: socket.socket, head: str, total: int, chunked: bool) -> tuple[int, str, dict]:
    """Send the request head, stream the body beside, read the answer (status, type, body)."""
    sock.sendall(head.encode() + b"\r\n")
    sender = threading.Thread(target=stream_body, args=(sock, total, chunked), daemon=True)
    sender.start()
    response = http.client.HTTPResponse(sock)
    response.begin()
    document = json.loads(response.read())
    sender.join(30)
    assert not sender.is_alive(), "the server stopped reading and did not drain the body"
    return response.status, response.getheader("content-type", ""), document


def still_serves(sock: socket.socket) -> bool:
    """The same connection answers the next request (the rest of the body was drained)."""
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response.status == 200 and json.loads(response.read()) == {"status": "ok"}


def assert_too_large(answer: tuple[int, str, dict]) -> None:
    status, content_type, document = answer
    assert status == 413, document
    assert content_type == "application/problem+json"
    assert document["type"] == "urn:docledger:problem:payload-too-large"


READS = ["/v1/whoami", "/v1/agencies/000.00.00.G22/inbox", "/v1/log/checkpoint"]
COMMAND = "POST /v1/commands HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
UPLOAD = (f"PUT /v1/attachments/{'0' * 64} HTTP/1.1\r\nHost: x\r\n{SIGNED_LOOKING}"
          "Content-Type: application/octet-stream\r\n")


def connect(server: LiveServer) -> socket.socket:
    parts = urlsplit(server.url)
    return socket.create_connection((parts.hostname, parts.port), timeout=ANSWER_TIMEOUT)


def test_streamed_200mb_bodies_are_413_and_server_memory_stays_put(server: LiveServer) -> None:
    """Signed and public reads (no body at all) and a command (2 MiB at most), chunked."""
    heads = [f"GET {path} HTTP/1.1\r\nHost: x\r\n{SIGNED_LOOKING}" for path in READS]
    before = rss(server)
    for head in [*heads, COMMAND]:
        with connect(server) as sock:
            answer = exchange(sock, head + "Transfer-Encoding: chunked\r\n", STREAMED,
                              chunked=True)
            assert_too_large(answer)
            assert still_serves(sock), "the refused body broke the keep-alive connection"
        assert rss(server) - before < RSS_SLACK, head


def test_huge_content_length_is_413_before_the_body_is_read(server: LiveServer) -> None:
    """800 MB announced, 1 MB sent: the answer comes at once, on every route with a body."""
    heads = [f"GET {path} HTTP/1.1\r\nHost: x\r\n{SIGNED_LOOKING}" for path in READS]
    before = rss(server)
    for head in [*heads, COMMAND, UPLOAD]:
        with connect(server) as sock:
            assert_too_large(exchange(sock, head + "Content-Length: 800000000\r\n", MB,
                                      chunked=False))
    assert rss(server) - before < RSS_SLACK


def test_forged_upload_streamed_200mb_is_401_before_its_body_is_read(server: LiveServer) -> None:
    """The upload's signature is checked over its head: a forger costs the server no body."""
    before = rss(server)
    with connect(server) as sock:
        status, content_type, document = exchange(
            sock, UPLOAD + "Transfer-Encoding: chunked\r\n", STREAMED, chunked=True)
    assert (status, content_type) == (401, "application/problem+json"), document
    assert document["type"] == "urn:docledger:problem:unauthenticated"
    assert rss(server) - before < RSS_SLACK


def test_upload_whose_body_differs_from_the_signed_digest_is_401_and_stores_nothing(
        world: World) -> None:
    """The head is verified before the body is read; the body is still bound to it."""
    signed_bytes, sent_bytes = b"the signed bytes", b"other bytes, same size"
    digest = hashlib.sha256(sent_bytes).hexdigest()
    with api_for(world) as http:
        request = http.build_request("PUT", f"/v1/attachments/{digest}", content=signed_bytes,
                                     headers={"content-type": "application/octet-stream"})
        request = next(client_for(http, world, SENDER).auth.auth_flow(request))
        swapped = http.build_request("PUT", request.url, content=sent_bytes,
                                     headers={k: v for k, v in request.headers.items()
                                              if k.lower() != "content-length"})
        answer = http.send(swapped)
    assert answer.status_code == 401, answer.text
    assert "digest" in answer.json()["detail"].lower(), answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert not DataFolder(world.settings.data).blobs.path_for(digest).exists()


@pytest.fixture
def agency_server(tmp_path: Path, cli: Cli, serve: Callable[[Path], LiveServer]) -> LiveServer:
    """A live server where SENDER is a registered agency whose key the test holds."""
    data = tmp_path / "D"
    assert cli("init", "--data", str(data)).returncode == 0
    registered = cli("agency", "register", SENDER, "Sở Nội vụ", "--data", str(data))
    assert registered.returncode == 0, registered.stderr
    live = serve(data)
    warm = upload_head(live, b"warm-up bytes") + "Content-Length: 13\r\n"
    with connect(live) as sock:  # first-upload allocations (threads, code paths) are not the body
        sock.sendall(warm.encode() + b"\r\n" + b"warm-up bytes")
        response = http.client.HTTPResponse(sock)
        response.begin()
        assert response.status == 201, response.read()
    return live


def upload_head(server: LiveServer, body: bytes) -> str:
    """The head of a PUT of ``body`` to its digest, signed by SENDER (without a length)."""
    signer = load_signer(DataFolder(server.data).agency_key(SENDER))
    digest = hashlib.sha256(body).hexdigest()
    request = httpx.Request("PUT", f"{server.url}/v1/attachments/{digest}", content=body,
                            headers={"content-type": "application/octet-stream"})
    request = next(SignedAuth(SENDER, signer).auth_flow(request))
    fields = "".join(f"{name}: {value}\r\n" for name, value in request.headers.items()
                     if name.lower() != "content-length")
    return f"PUT /v1/attachments/{digest} HTTP/1.1\r\n{fields}"


def reset_peak(server: LiveServer) -> int:
    """Reset the server's peak resident memory (VmHWM) to now; return VmRSS."""
    Path(f"/proc/{server.process.pid}/clear_refs").write_text("5")
    return rss(server)


def peak(server: LiveServer) -> int:
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    line = next(x for x in status.splitlines() if x.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def incoming_files(server: LiveServer) -> list[Path]:
    return list((server.data / "blobs").glob(f"{INCOMING_PREFIX}*"))


def held_blobs(server: LiveServer) -> set[str]:
    root = server.data / "blobs" / "sha256"
    return {p.parent.name + p.name for p in root.glob("*/*")}


def sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as blob:
        while chunk := blob.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@pytest.fixture
def upload_socket(agency_server: LiveServer) -> Iterator[socket.socket]:
    parts = urlsplit(agency_server.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=UPLOAD_TIMEOUT) as sock:
        yield sock


def test_memory_exhaustion_by_signed_20mb_upload_is_streamed_to_disk(
        agency_server: LiveServer, upload_socket: socket.socket) -> None:
    """A registered agency's 20 MiB upload is stored whole, and the server's peak memory
    moves by a few MB: the bytes went to disk as they came, never held."""
    body = b"x" * UPLOADED
    head = upload_head(agency_server, body) + f"Content-Length: {UPLOADED}\r\n"
    before = reset_peak(agency_server)
    status, _, document = exchange(upload_socket, head, UPLOADED, chunked=False)
    assert status == 201, document
    assert peak(agency_server) - before < UPLOAD_PEAK_SLACK
    digest = hashlib.sha256(body).hexdigest()
    assert document == {"sha256": digest, "size": UPLOADED, "stored": True}
    assert sha256_of_file(DataFolder(agency_server.data).blobs.path_for(digest)) == digest
    assert incoming_files(agency_server) == []


def test_memory_exhaustion_by_signed_oversized_upload_is_413_and_leaves_no_file(
        agency_server: LiveServer, upload_socket: socket.socket) -> None:
    """Chunked past the 25 MiB limit: 413 once the bytes pass it, the peak memory barely
    moves, and neither the temporary file nor a blob is left."""
    total = 32 * MB
    blobs_before = held_blobs(agency_server)
    head = upload_head(agency_server, b"x" * total) + "Transfer-Encoding: chunked\r\n"
    before = reset_peak(agency_server)
    assert_too_large(exchange(upload_socket, head, total, chunked=True))
    assert peak(agency_server) - before < UPLOAD_PEAK_SLACK
    assert still_serves(upload_socket), "the refused upload broke the keep-alive connection"
    assert incoming_files(agency_server) == []
    assert held_blobs(agency_server) == blobs_before


def test_signed_upload_abandoned_mid_body_leaves_no_temporary_file(
        agency_server: LiveServer, upload_socket: socket.socket) -> None:
    """The client sends half of a signed 20 MiB upload and hangs up: the half on disk is
    removed, nothing is filed, and the server goes on serving."""
    blobs_before = held_blobs(agency_server)
    head = upload_head(agency_server, b"x" * UPLOADED) + f"Content-Length: {UPLOADED}\r\n"
    upload_socket.sendall(head.encode() + b"\r\n")
    stream_body(upload_socket, UPLOADED // 2, chunked=False)
    assert wait_until(lambda: any(p.stat().st_size for p in incoming_files(agency_server)),
                      SETTLE_TIMEOUT), "the upload's bytes never reached a temporary file"
    upload_socket.close()
    assert wait_until(lambda: incoming_files(agency_server) == [], SETTLE_TIMEOUT), \
        f"a temporary file outlived the abandoned upload: {incoming_files(agency_server)}"
    assert held_blobs(agency_server) == blobs_before
    assert httpx.get(f"{agency_server.url}/healthz", timeout=10).status_code == 200
    assert wait_until(lambda: "client left during PUT" in agency_server.output(),
                      SETTLE_TIMEOUT), agency_server.output()
    assert "internal error" not in agency_server.output()


def test_memory_exhaustion_by_downloading_a_20mb_attachment(
        agency_server: LiveServer, upload_socket: socket.socket, cli: Cli,
        backend_env: dict[str, str]) -> None:
    """The sender of a document naming a 20 MiB attachment fetches it: the bytes are sent
    from the blob's file a chunk at a time, and the server's peak memory barely moves."""
    body = b"x" * UPLOADED
    digest = hashlib.sha256(body).hexdigest()
    head = upload_head(agency_server, body) + f"Content-Length: {UPLOADED}\r\n"
    status, _, document = exchange(upload_socket, head, UPLOADED, chunked=False)
    assert status == 201, document
    sender = LedgerClient(agency_server.url, SENDER,
                          load_signer(DataFolder(agency_server.data).agency_key(SENDER)))
    created = sender.command("document.create", {
        "document_id": f"{SENDER},{date.today():%Y/%m/%d},large-attachment",
        "header": header(promulgation_date=date.today().isoformat(), due_date=None),
        "attachments": [{"name": "scan.pdf", "media_type": "application/pdf",
                         "size": UPLOADED, "sha256": digest}]})
    if backend_env.get("DOCLEDGER_BACKEND") == "postgres":  # no views worker in the server
        projected = cli("project", "--data", str(agency_server.data))
        assert projected.returncode == 0, projected.stderr
    fetched = hashlib.sha256()
    before = reset_peak(agency_server)
    with sender.http.stream("GET", f"/v1/attachments/{digest}", auth=sender.auth,
                            params={"wait_for": max(created["notification_ids"])}) as response:
        assert response.status_code == 200, response.read()
        for chunk in response.iter_bytes():
            fetched.update(chunk)
    assert peak(agency_server) - before < UPLOAD_PEAK_SLACK
    assert fetched.hexdigest() == digest
