"""The desk's search page in a real browser: Vietnamese found without diacritics,
only what the agency is party to, a link to each document, hostile text as words."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from tests.desk.conftest import A, B, C, Desk, screenshot, sign_in

SUBJECT = "Quyết định về việc công nhận xã Đông Sơn đạt chuẩn nông thôn mới"


def send(desk: Desk, sender: str, recipient: str, subject: str) -> str:
    sent = desk.cli("send", "--as", sender, "--to", recipient, "--subject", subject,
                    "--notation", "QĐ-UBND")
    assert sent.exit_code == 0, sent.output
    return sent.output.strip().splitlines()[-1]


def test_search_finds_without_diacritics_only_the_agencys_documents(
        desk: Desk, new_page: Any) -> None:
    mine = send(desk, A, B, SUBJECT)
    send(desk, A, C, SUBJECT + " (bản gửi Sở Tư pháp)")  # the same words, not B's
    page = sign_in(new_page(), desk, B)
    page.goto(f"{desk.url}/desk/search")
    page.fill("#q", "quyet dinh dong son")
    page.click("#search button[type=submit]")
    rows = page.locator("#results tbody tr")
    rows.first.wait_for()
    assert rows.count() == 1 and rows.first.get_attribute("data-document") == mine
    screenshot(page, "search")
    rows.first.get_by_role("link").click()
    page.wait_for_url(re.compile(f"/desk/documents/{mine}"))

    # operators and quotes are words: nothing wider, no error
    hostile = quote('dong OR NEAR(son) * "-x')
    answer = page.goto(f"{desk.url}/desk/search?q={hostile}")
    assert answer.status == 200 and page.locator("#results tbody tr td[colspan]").count() == 1
    answer = page.goto(f"{desk.url}/desk/search?q={'x' * 201}")
    assert answer.status == 422 and page.locator("p.error[role=alert]").count() == 1
    answer = page.goto(f"{desk.url}/desk/search?q=a&from=31/02/2026")
    assert answer.status == 422
