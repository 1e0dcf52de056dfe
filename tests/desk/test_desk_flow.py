"""End to end in a real browser, on both backends: A sends from the CLI (over the
server's API); B's clerk, signed in, sees it arrive live, accepts, assigns and
completes it; A's outbox shows each state."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from tests.desk.conftest import A, B, Desk, screenshot, sign_in

SUBJECT = "Về việc triển khai Quyết định số 12 năm 2026"


def send_from_cli(desk: Desk, tmp_path: Path, subject: str = SUBJECT) -> str:
    attached = tmp_path / "qd.pdf"
    attached.write_bytes(b"%PDF-1.4 qd 12\n")
    sent = desk.cli("send", "--as", A, "--to", B, "--subject", subject, "--notation", "QĐ-UBND",
                    "--priority", "2", "--due", "2020-01-31", "--attach", str(attached),
                    "--key", str(desk.key(A)), server=True)
    assert sent.exit_code == 0, sent.output
    return sent.output.strip().splitlines()[-1]


def test_a_document_sent_from_the_cli_arrives_live_and_is_handled_in_the_browser(
        desk: Desk, new_page: Any, tmp_path: Path) -> None:
    page = sign_in(new_page(), desk, B)
    page.wait_for_selector("#live.ok")  # the stream is open
    doc = send_from_cli(desk, tmp_path)
    row = page.locator("#rows tr", has_text=SUBJECT)
    row.wait_for()  # no reload: the stream brought it
    assert page.locator("#rows tr.is-overdue", has_text=SUBJECT).count() == 1
    assert row.locator(".badge.p2").count() == 1
    screenshot(page, "inbox")

    row.get_by_role("link").click()
    page.wait_for_url(re.compile(f"/desk/documents/{doc}"))
    assert {f.get_attribute("data-act") for f in page.locator("#actions form").all()} == {
        "accept", "refuse"}  # what the domain allows from 'arrived'
    check = page.locator("button.check")
    check.click()
    page.wait_for_selector(".digest.ok")
    screenshot(page, "document")

    page.locator("form[data-act=accept] button").click()
    page.wait_for_selector("#act-status.ok")
    assert re.search(r"\b1\b", page.locator("#act-status").inner_text())
    page.wait_for_selector("#incoming-number")
    assert page.locator("#incoming-number").inner_text() == "1"
    assert {f.get_attribute("data-act") for f in page.locator("#actions form").all()} == {
        "assign"}

    page.fill("#assign-unit", "Phòng Tư pháp")
    page.fill("#assign-officer", "Nguyễn Văn A")
    page.fill("#assign-due", "2031-12-31")
    page.locator("form[data-act=assign] button").click()
    page.wait_for_selector("#my-state[data-state=assigned]")
    page.locator("form[data-act=complete] button").click()
    page.wait_for_selector("#my-state[data-state=completed]")
    assert page.locator("#no-actions").count() == 1  # nothing more is offered
    signers = page.locator("table[data-recipient] td.mono").all_inner_texts()
    assert sum(B in s for s in signers) >= 3  # accept, assign, complete: B's key signed each

    outbox = sign_in(new_page(), desk, A)
    outbox.goto(f"{desk.url}/desk/outbox")
    mine = outbox.locator(f"#outbox tr[data-document='{doc}'] li[data-recipient='{B}']")
    assert mine.locator(".state").get_attribute("data-state") == "completed"
    screenshot(outbox, "outbox")


def test_the_sending_form_sends_with_an_attachment_uploaded_by_digest(
        desk: Desk, new_page: Any, tmp_path: Path) -> None:
    page = sign_in(new_page(), desk, A)
    page.goto(f"{desk.url}/desk/send")
    page.fill("#s-notation", "UBND-VP")
    page.fill("#s-place", "Huế")
    page.fill("#s-signer", "Trần Thị B")
    page.fill("#s-subject", "")
    page.check(f"input[name=recipients][value='{B}']")
    page.locator("#send button[type=submit]").click()
    page.wait_for_selector("#send-status.error")
    assert page.locator("#s-subject[aria-invalid=true]").count() == 1  # the API named it
    screenshot(page, "send-error")

    page.fill("#s-subject", "Về việc gửi báo cáo quý IV")
    content = b"bao cao quy IV"
    upload = tmp_path / "bao-cao.txt"
    upload.write_bytes(content)
    page.set_input_files("#s-files", str(upload))
    page.locator("#send button[type=submit]").click()
    page.wait_for_selector("#sent-link")
    screenshot(page, "send")
    page.click("#sent-link")
    page.wait_for_selector("button.check")
    assert hashlib.sha256(content).hexdigest() in page.locator("#attachments").inner_text()
