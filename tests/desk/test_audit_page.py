"""The auditor's page end to end: a bundle file verified step by step in the
browser against the pinned ledger key, a tampered copy red at the step
verify-bundle names, and an auditor signed in fetching a bundle by document id."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain.evidence.cosignature import CosignerKey
from domain.evidence.keys import Ed25519Signer
from domain.evidence.policy import Policy
from domain.verification.bundle import BundleError, verify_bundle
from domain.verification.bundle_parse import STEPS
from infrastructure.keyfiles import write_key_pair
from tests.desk.conftest import A, B, Desk, screenshot
from tests.pdf_support import unsigned_pdf

AUDITOR = "kiem-toan-1"
LAST = max(STEPS)  # 11: PDF signatures


def sent_document(desk: Desk, *attach: Path) -> str:
    sent = desk.cli("send", "--as", A, "--to", B, "--subject", "Về việc <b>kiểm toán</b>",
                    "--notation", "VPCP-TTĐT", "--json",
                    *(arg for path in attach for arg in ("--attach", str(path))))
    assert sent.exit_code == 0, sent.output
    doc: str = json.loads(sent.output)["document"]
    assert desk.cli("accept", doc, "--as", B).exit_code == 0
    return doc


def bundle_of(desk: Desk, doc: str, target: Path) -> dict[str, Any]:
    made = desk.cli("bundle", doc, "-o", str(target))
    assert made.exit_code == 0, made.output
    return json.loads(target.read_text())  # type: ignore[no-any-return]


def vkey_of(desk: Desk) -> str:
    printed = desk.cli("checkpoint", "--vkey")
    assert printed.exit_code == 0, printed.output
    return printed.output.strip()


def flipped_payload_byte(bundle: dict[str, Any]) -> dict[str, Any]:
    """The recipient's acceptance, one byte of its signed command changed."""
    event = next(e for e in bundle["events"] if e["topic"].endswith("Delivery.Accepted"))
    state = json.loads(base64.b64decode(event["state"]))
    payload = bytearray(base64.b64decode(state["envelope"]["payload"]))
    payload[10] ^= 0x01
    state["envelope"]["payload"] = base64.b64encode(bytes(payload)).decode()
    event["state"] = base64.b64encode(json.dumps(state).encode()).decode()
    return bundle


def statuses(page: Any) -> dict[int, str]:
    return {int(li.get_attribute("data-step")): li.get_attribute("data-status")
            for li in page.query_selector_all("#steps > li")}


def pin(page: Any, vkey: str) -> None:
    page.fill("#vkey", vkey)
    page.click("#pin button[type=submit]")
    page.wait_for_selector("#pinned.ok")


def test_auditor_page_verifies_a_bundle_and_turns_red_on_a_tampered_copy(
        desk: Desk, new_page: Any, tmp_path: Path) -> None:
    doc = sent_document(desk)
    bundle = bundle_of(desk, doc, tmp_path / "bundle.json")
    vkey = vkey_of(desk)
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(flipped_payload_byte(json.loads(json.dumps(bundle)))))
    try:
        verify_bundle(json.loads(tampered.read_text()), vkey)
    except BundleError as exc:
        python_step = exc.step
    assert python_step == 3

    page = new_page()
    page.goto(f"{desk.url}/desk/audit")  # public: a file needs no session
    pin(page, vkey)
    page.set_input_files("#bundle-file", str(tmp_path / "bundle.json"))
    page.wait_for_selector("#verdict[data-verdict=ok]")
    assert statuses(page) == {n: "ok" for n in range(1, LAST + 1)}
    assert doc in page.inner_text("#steps li[data-step='1']")
    screenshot(page, "desk-audit")

    page.reload()  # the pinned key is remembered in this browser
    page.wait_for_selector("#pinned.ok")
    page.set_input_files("#bundle-file", str(tampered))
    page.wait_for_selector("#verdict[data-verdict=failed]")
    assert page.get_attribute("#verdict", "data-step") == str(python_step)
    assert statuses(page) == {1: "ok", 2: "ok", 3: "failed",
                              **{n: "not-reached" for n in range(4, LAST + 1)}}
    assert "not in the checkpointed log" in page.inner_text("#steps li[data-step='3']")
    screenshot(page, "desk-audit-tampered")

    # a witness policy pinned too: this ledger's checkpoint has no cosignature
    witness = CosignerKey.from_public_key("witness.example/w1",
                                          Ed25519Signer.generate().public_key)
    policy = f"witness w1 {witness.vkey()}\nquorum w1\n"
    with pytest.raises(BundleError, match="QuorumError") as caught:
        verify_bundle(bundle, vkey, policy=Policy.parse(policy))
    page.fill("#policy", policy)
    page.click("#pin button[type=submit]")
    page.wait_for_selector("#pinned.ok")
    page.set_input_files("#bundle-file", str(tmp_path / "bundle.json"))
    page.wait_for_selector("#verdict[data-verdict=failed]")
    assert page.get_attribute("#verdict", "data-step") == str(caught.value.step) == "2"
    assert "witness quorum 'w1' NOT met" in page.inner_text("#steps li[data-step='2']")

    # a key whose hash is not its own is refused when pinned
    other = vkey.split("+")[0] + "+" + "00000000" + "+" + vkey.split("+", 2)[2]
    page.fill("#vkey", other)
    page.click("#pin button[type=submit]")
    page.wait_for_selector("#pinned.error")


def test_an_auditor_signed_in_fetches_a_bundle_by_document_id(
        desk: Desk, new_page: Any, tmp_path: Path) -> None:
    doc = sent_document(desk)
    key = tmp_path / "auditor.key"
    write_key_pair(Ed25519Signer.generate(), key)  # as docledger keygen writes it
    registered = desk.cli("auditor", "register", AUDITOR, "Kiểm toán nhà nước",
                          "--pubkey", f"{key}.pub")
    assert registered.exit_code == 0, registered.output

    page = new_page()
    page.goto(f"{desk.url}/desk/signin")
    page.fill("#agency", f"auditor/{AUDITOR}")
    page.set_input_files("#keyfile", str(key))
    page.click("#signin button[type=submit]")
    page.wait_for_url(f"{desk.url}/desk/audit")
    pin(page, vkey_of(desk))
    page.fill("#document-id", doc)
    page.click("#by-id button[type=submit]")
    page.wait_for_selector("#verdict[data-verdict=ok]")
    assert statuses(page) == {n: "ok" for n in range(1, LAST + 1)}

    # an auditor's session reads audit trails only: not a clerk's inbox or commands
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    with httpx.Client(base_url=desk.url, cookies=cookies) as client:
        assert client.get("/desk/inbox", follow_redirects=False).status_code == 303
        assert client.post("/desk/api/commands", json={}).status_code == 403
        assert client.get(f"/desk/api/bundle/{doc}").status_code == 200
    assert httpx.get(f"{desk.url}/desk/api/bundle/{doc}").status_code == 401


def test_a_pdf_report_is_listed_and_its_re_check_left_to_verify_bundle(
        desk: Desk, new_page: Any, tmp_path: Path) -> None:
    pdf = tmp_path / "qd.pdf"
    pdf.write_bytes(unsigned_pdf())
    # the ledger reads the PDF with pyHanko (asyncio.run): not on Playwright's loop
    with ThreadPoolExecutor(1) as apart:
        doc = apart.submit(sent_document, desk, pdf).result()
    bundle = bundle_of(desk, doc, tmp_path / "bundle.json")
    vkey = vkey_of(desk)
    python_lines: list[str] = []
    verify_bundle(bundle, vkey, lambda n, text: python_lines.append(text) if n == LAST else None)
    assert len(python_lines) == 1 and "qd.pdf: absent" in python_lines[0]

    page = new_page()
    page.goto(f"{desk.url}/desk/audit")
    pin(page, vkey)
    page.set_input_files("#bundle-file", str(tmp_path / "bundle.json"))
    page.wait_for_selector("#verdict[data-verdict=partial]")
    # every step verified; the PDF's signatures, validated again with pyHanko, amber
    assert statuses(page) == {**{n: "ok" for n in range(1, LAST)}, LAST: "partial"}
    detail = page.inner_text(f"#steps li[data-step='{LAST}']")
    assert python_lines[0] in detail
    not_here = page.get_attribute("#steps", "data-not-here")  # in the page's language
    assert f"{not_here}: " in detail and "verify-bundle --attachment" in detail
