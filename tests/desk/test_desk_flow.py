"""End to end in a real browser, on both backends: A sends from the CLI (over the
server's API); B's clerk, signed in, sees it arrive live, accepts, assigns and
completes it; A's outbox shows each state."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

import pytest

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

    inbox = page.context.new_page()  # the inbox stays open in a second tab
    inbox.goto(f"{desk.url}/desk/inbox")
    inbox.wait_for_selector("#live.ok")
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
    # the open inbox followed each step without a reload
    inbox.locator("#rows tr", has_text=SUBJECT).locator(".state[data-state=completed]").wait_for()
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
    assert page.locator("#send-status").inner_text() == (
        "Dữ liệu nhập chưa đúng: «Trích yếu» chưa điền.")
    page.click("a.lang")  # the same refusal in English
    page.fill("#s-notation", "UBND-VP")
    page.fill("#s-place", "Huế")
    page.fill("#s-signer", "Trần Thị B")
    page.check(f"input[name=recipients][value='{B}']")
    page.locator("#send button[type=submit]").click()
    page.wait_for_selector("#send-status.error")
    assert page.locator("#send-status").inner_text() == (
        "Some input is not right: «Subject» is empty.")
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


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_a_recall_is_answered_from_the_document_page(desk: Desk, new_page: Any,
                                                     tmp_path: Path) -> None:
    doc = send_from_cli(desk, tmp_path)
    assert desk.cli("recall", doc, "--as", A, "--reason", "Gửi nhầm").exit_code == 0
    page = sign_in(new_page(), desk, B)
    page.goto(f"{desk.url}/desk/documents/{doc}")
    assert {f.get_attribute("data-act") for f in page.locator("#actions form").all()} == {
        "agree_recall", "refuse_recall"}
    page.fill("#refuse_recall-reason", "Đã xử lý một phần")
    page.locator("form[data-act=refuse_recall] button").click()
    page.wait_for_selector("#my-state[data-state=arrived]")  # back where it was before
    assert page.locator("table[data-recipient] tr[data-status='16']").count() == 1


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_readme_screenshot(desk: Desk, new_page: Any, tmp_path: Path) -> None:
    """The README's picture of an inbox: a few documents in several states, each shown.
    Saved beside the other screenshots; DOCLEDGER_DESK_README_SHOT=1 remakes
    docs/images/desk-inbox.png itself."""
    subjects = [("Về việc tổ chức Hội nghị tổng kết công tác năm 2026", "3", "2026-12-05"),
                ("Về việc báo cáo tình hình giải ngân vốn đầu tư công", "1", "2026-11-20"),
                ("Về việc triển khai Nghị định 30/2020/NĐ-CP về công tác văn thư", "0",
                 "2026-12-31"),
                ("Về việc góp ý dự thảo Quy chế tiếp nhận văn bản điện tử", "2", "2026-12-15")]
    docs = []
    for subject, priority, due in subjects:
        sent = desk.cli("send", "--as", A, "--to", B, "--subject", subject, "--notation",
                        "UBND-VP", "--priority", priority, "--due", due)
        docs.append(sent.output.strip().splitlines()[-1])
    for doc in docs[1:3]:
        assert desk.cli("accept", doc, "--as", B).exit_code == 0
    assert desk.cli("assign", docs[2], "--as", B, "--unit", "Văn phòng", "--officer",
                    "Nguyễn Thị Hoa", "--due", "2026-12-20").exit_code == 0
    page = sign_in(new_page(), desk, B)
    page.wait_for_selector("#live.ok")
    for doc in docs:  # every document in the inbox, as the picture shows it
        assert page.locator(f"a[href='/desk/documents/{doc}']").count() >= 1
    shots = Path(__file__).parent / "screenshots"
    target = (Path(__file__).parents[2] / "docs" / "images" / "desk-inbox.png"
              if os.environ.get("DOCLEDGER_DESK_README_SHOT") else shots / "readme-inbox.png")
    target.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(target))
