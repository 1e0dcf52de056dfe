"""The HTTP API's reads: views, documents, attachments and the inbox stream, on both backends."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.client import LedgerClient, ProblemError
from api.http.app import create_app
from domain.evidence.keys import Ed25519Signer
from domain.verification.bundle import verify_bundle
from infrastructure.blobs import INCOMING_PREFIX
from infrastructure.ledger import DataFolder
from infrastructure.views.store import ViewStore
from tests.api.http_support import client_for
from tests.factories import OTHER, RECIPIENT, SENDER, ManualClock, World, header
from tests.views_support import accepted_row_via_a_separate_worker, send, vn_today

AUDITOR = "inspectorate-1"


@contextmanager
def api(world: World, **settings: Any) -> Iterator[TestClient]:
    """The real app over the world; its views follow the log in-process on both
    backends (with PostgreSQL a separate worker usually does: see the
    read-your-writes test) unless ``views_in_process=False`` is given."""
    with TestClient(create_app(world.settings.model_copy(
            update={"views_in_process": True, **settings}))) as http:
        yield http


def register_auditor(world: World, auditor_id: str = AUDITOR) -> Ed25519Signer:
    signer = Ed25519Signer.generate()
    world.act("registrar", "auditor.register", {
        "auditor_id": auditor_id, "name": "Thanh tra Chính phủ",
        "keys": [signer.public_key.to_spec()]})
    return signer


def auditor_client(http: TestClient, signer: Ed25519Signer,
                   auditor_id: str = AUDITOR) -> LedgerClient:
    return LedgerClient("http://testserver", f"auditor/{auditor_id}", signer,
                        http=http)  # type: ignore[arg-type]


def attachment(data: bytes, name: str = "qd.pdf") -> dict[str, Any]:
    return {"name": name, "media_type": "application/pdf", "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest()}


def put(http: TestClient, client: LedgerClient | None, data: bytes, *, digest: str | None = None,
        content_type: str = "application/octet-stream", **kw: Any) -> Any:
    return http.put(f"/v1/attachments/{digest or hashlib.sha256(data).hexdigest()}",
                    content=data, headers={"content-type": content_type, **kw.pop("headers", {})},
                    auth=client.auth if client else None, **kw)  # type: ignore[arg-type]


def accept(world: World, doc: str, agency: str = RECIPIENT) -> None:
    world.act(agency, "delivery.accept", {"document": doc})


# ---- views -----------------------------------------------------------------------------------


def test_inbox_pages_with_an_opaque_cursor_and_filters(world: World) -> None:
    docs = [send(world, (RECIPIENT,), priority=p) for p in (0, 3, 1)]
    accept(world, docs[0])
    with api(world) as http:
        reader = client_for(http, world, RECIPIENT)
        first = reader.get(f"/v1/agencies/{RECIPIENT}/inbox", limit=2)
        assert [r["document_id"] for r in first["items"]] == [docs[1], docs[2]]
        assert first["next"] is not None
        second = reader.get(f"/v1/agencies/{RECIPIENT}/inbox", limit=2, cursor=first["next"])
        assert [r["document_id"] for r in second["items"]] == [docs[0]]
        assert second["next"] is None
        accepted = reader.get(f"/v1/agencies/{RECIPIENT}/inbox", state="accepted")
        assert [r["document_id"] for r in accepted["items"]] == [docs[0]]
        several = reader.get(f"/v1/agencies/{RECIPIENT}/inbox", state=["accepted", "arrived"])
        assert len(several["items"]) == 3
        assert reader.get(f"/v1/agencies/{RECIPIENT}/inbox", overdue=True)["items"] == []
        with pytest.raises(ProblemError) as bad:
            reader.get(f"/v1/agencies/{RECIPIENT}/inbox", cursor="not-a-cursor")
        assert bad.value.status == 422
        with pytest.raises(ProblemError) as bad_state:
            reader.get(f"/v1/agencies/{RECIPIENT}/inbox", state="lost")
        assert bad_state.value.problem["type"] == "urn:docledger:problem:invalid-request"


def test_outbox_lists_sent_documents_with_each_recipients_state(world: World) -> None:
    doc = send(world, (RECIPIENT, OTHER))
    accept(world, doc)
    with api(world) as http:
        out = client_for(http, world, SENDER).get(f"/v1/agencies/{SENDER}/outbox", limit=1)
    assert out["next"] is None and out["items"][0]["document_id"] == doc
    assert {r["recipient"]: r["state"] for r in out["items"][0]["recipients"]} == {
        RECIPIENT: "accepted", OTHER: "arrived"}


def test_register_as_json_and_csv(world: World) -> None:
    doc = send(world, (RECIPIENT,))
    accept(world, doc)
    year = vn_today(world).year
    with api(world) as http:
        reader = client_for(http, world, RECIPIENT)
        data = reader.get(f"/v1/agencies/{RECIPIENT}/registers/incoming/{year}")
        csv_response = http.get(f"/v1/agencies/{RECIPIENT}/registers/incoming/{year}",
                                params={"format": "csv"}, auth=reader.auth)
    assert [(e["number"], e["document_id"], e["counterpart"]) for e in data["entries"]] == [
        (1, doc, SENDER)]
    assert csv_response.status_code == 200
    assert csv_response.headers["content-type"].startswith("text/csv")
    lines = csv_response.text.splitlines()
    assert lines[0].startswith("Số đến") and lines[1].startswith("1,")


def test_statistics_for_a_period(world: World) -> None:
    accept(world, send(world, (RECIPIENT,)))
    send(world, (RECIPIENT,))
    today = vn_today(world).isoformat()
    with api(world) as http:
        reader = client_for(http, world, RECIPIENT)
        figures = reader.get(f"/v1/agencies/{RECIPIENT}/statistics", **{"from": today, "to": today})
        with pytest.raises(ProblemError) as backwards:
            reader.get(f"/v1/agencies/{RECIPIENT}/statistics",
                       **{"from": today, "to": "2000-01-01"})
    assert (figures["received"], figures["accepted"], figures["from"]) == (2, 1, today)
    assert backwards.value.status == 422


def test_read_your_writes_with_a_separate_view_worker(world: World) -> None:
    """Views fed by another worker: wait_for makes the read include the command."""
    doc = send(world, (RECIPIENT,))
    with api(world, views_in_process=False) as http:
        row = accepted_row_via_a_separate_worker(world, http, doc)
    assert row["state"] == "accepted"


# ---- documents ---------------------------------------------------------------------------------


def test_status_history_and_bundle(world: World) -> None:
    doc = send(world, (RECIPIENT,))
    accept(world, doc)
    auditor = register_auditor(world)
    with api(world) as http:
        sender = client_for(http, world, SENDER)
        status = sender.get(f"/v1/documents/{doc}/status")
        history = auditor_client(http, auditor).get(f"/v1/documents/{doc}/history")
        bundle = client_for(http, world, RECIPIENT).get(f"/v1/documents/{doc}/bundle")
        vkey = http.get("/v1/log/vkey").text.strip()
    assert status["state"] == "sent"
    assert [t["status_code"] for t in status["timeline"]] == ["01", "03"]
    assert history["verified"] is True
    assert [e["event"] for e in history["entries"]][-2:] == ["Arrived", "Accepted"]
    assert {e["signed_by"] for e in history["entries"]} == {SENDER, RECIPIENT, "ledger"}
    assert bundle["document"] == doc
    verify_bundle(bundle, vkey)


def test_a_tampered_history_is_the_ledgers_failure_not_the_callers(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    import api.http.routes.documents as documents
    from domain.errors import InvalidSignatureError

    def broken(*args: Any) -> Any:
        raise InvalidSignatureError("document v2: the signature does not verify")

    doc = send(world, (RECIPIENT,))
    monkeypatch.setattr(documents, "document_history", broken)
    with api(world) as http, pytest.raises(ProblemError) as info:
        client_for(http, world, SENDER).get(f"/v1/documents/{doc}/history")
    assert info.value.status == 500
    assert info.value.problem["type"] == "urn:docledger:problem:audit-failure"


# ---- attachments -------------------------------------------------------------------------------


def test_upload_then_reference_then_fetch_as_a_party(world: World) -> None:
    data = b"%PDF-1.7 quyet dinh"
    with api(world) as http:
        sender = client_for(http, world, SENDER)
        first = put(http, sender, data)
        again = put(http, sender, data)
        assert (first.status_code, again.status_code) == (201, 200)
        assert first.json() == {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
                                "stored": True}
        outcome = world.act(SENDER, "document.create", {
            "document_id": "G22,2026/11/27,with-attachment", "header": header(),
            "attachments": [attachment(data)]})
        with_file = str(outcome.result["document"])
        world.act(SENDER, "document.sign", {"document": with_file,
                                            "signer": {"full_name": "Nguyễn Văn B"}})
        world.act(SENDER, "document.issue", {"document": with_file})
        digest = hashlib.sha256(data).hexdigest()
        path = f"/v1/attachments/{digest}"
        recipient = client_for(http, world, RECIPIENT)
        with pytest.raises(ProblemError) as before_sending:
            recipient.get(path)
        assert before_sending.value.status == 404
        world.act(SENDER, "document.send", {"document": with_file, "recipients": [RECIPIENT]})
        fetched = http.get(path, auth=recipient.auth)
        assert fetched.status_code == 200 and fetched.content == data
        assert fetched.headers["content-type"] == "application/octet-stream"
        assert http.get(path, auth=sender.auth).content == data
        with pytest.raises(ProblemError) as other:
            client_for(http, world, OTHER).get(path)
        assert other.value.status == 404
        # a revision with the same bytes again keeps one link
        world.act(SENDER, "document.revise", {"document": with_file, "business_type": 2,
                                              "attachments": [attachment(data)],
                                              "reason": "đính chính"})
        assert http.get(path, auth=recipient.auth).status_code == 200
        views = ViewStore(world.app)
        assert views.query("SELECT document_id FROM {t:v_attachments} WHERE sha256 = %s",
                           [digest]) == [{"document_id": with_file}]


def test_upload_is_refused_and_writes_nothing(world: World) -> None:
    data = b"the real bytes"
    wrong = hashlib.sha256(b"other bytes").hexdigest()
    blobs = DataFolder(world.settings.data).blobs
    with api(world, max_upload_bytes=64) as http:
        sender = client_for(http, world, SENDER)
        mismatch = put(http, sender, data, digest=wrong)
        media = put(http, sender, data, content_type="application/pdf")
        unsigned = put(http, None, data)
        big = put(http, sender, b"x" * 65)

        def chunks() -> Iterator[bytes]:  # no Content-Length: refused while reading
            yield b"x" * 40
            yield b"x" * 40

        request = http.build_request("PUT", f"/v1/attachments/{wrong}", content=chunks(),
                                     headers={"content-type": "application/octet-stream"})
        streamed = http.send(request, auth=sender.auth)
        # a forged signature is refused over the head, before the body is read
        forged = http.send(http.build_request(
            "PUT", f"/v1/attachments/{wrong}", content=chunks(),
            headers={"content-type": "application/octet-stream", "signature-input": "sig1=()",
                     "signature": "sig1=:AA==:"}))
        auditor = auditor_client(http, register_auditor(world))
        by_auditor = put(http, auditor, data)
    assert (mismatch.status_code, mismatch.json()["type"]) == (
        422, "urn:docledger:problem:digest-mismatch")
    assert media.status_code == 415
    assert unsigned.status_code == 401
    assert big.status_code == 413 and big.json()["type"].endswith("payload-too-large")
    assert "content-length" not in {k.lower() for k in request.headers}
    assert streamed.status_code == 413
    assert forged.status_code == 401
    assert by_auditor.status_code == 403
    assert not blobs.path_for(wrong).exists()
    assert not blobs.path_for(hashlib.sha256(data).hexdigest()).exists()
    assert list(blobs.root.glob(f"{INCOMING_PREFIX}*")) == []  # no bytes left half-stored


# ---- the inbox stream ----------------------------------------------------------------------------


def sse_events(text: str) -> list[dict[str, str]]:
    events = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines()
                      if ": " in line and not line.startswith(":"))
        if "event" in fields:
            events.append(fields)
    return events


def test_stream_sends_changes_made_after_it_opened(world: World, clock: ManualClock) -> None:
    send(world, (RECIPIENT,))  # a change before the stream opened: never sent
    clock.advance(seconds=1)
    doc = send(world, (RECIPIENT,))
    with api(world) as http:
        reader = client_for(http, world, RECIPIENT)
        with http.stream("GET", f"/v1/agencies/{RECIPIENT}/inbox/stream",
                         params={"max_events": 1, "timeout": 15}, auth=reader.auth) as response:
            frames = response.iter_text()
            opened = next(frames)  # the first frame: the stream's start is fixed
            clock.advance(seconds=1)
            accept(world, doc)
            text = opened + "".join(frames)  # it ends after max_events, or empty at timeout
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert opened.startswith("retry:") and sse_events(opened) == []
    events = sse_events(text)
    assert [e["event"] for e in events] == ["delivery"]
    row = json.loads(events[0]["data"])
    assert (row["document_id"], row["state"]) == (doc, "accepted")


def test_stream_resumes_after_last_event_id_and_ends_on_timeout(world: World,
                                                                 clock: ManualClock) -> None:
    first = send(world, (RECIPIENT,))
    clock.advance(seconds=1)
    second = send(world, (RECIPIENT,))
    send(world, (OTHER,))  # another agency's inbox: never in this stream
    with api(world) as http:
        reader = client_for(http, world, RECIPIENT)
        url = f"/v1/agencies/{RECIPIENT}/inbox/stream"
        everything = http.get(url, params={"timeout": 0.2},
                              headers={"Last-Event-ID": "Cg"}, auth=reader.auth)  # "\n": start
        events = sse_events(everything.text)
        assert [json.loads(e["data"])["document_id"] for e in events] == [first, second]
        resumed = http.get(url, params={"timeout": 0.2},
                           headers={"Last-Event-ID": events[0]["id"]}, auth=reader.auth)
        bad = http.get(url, params={"timeout": 0.2}, headers={"Last-Event-ID": "%%%"},
                       auth=reader.auth)
    assert [json.loads(e["data"])["document_id"] for e in sse_events(resumed.text)] == [second]
    assert bad.status_code == 422
