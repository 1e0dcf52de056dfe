"""Every desk page: the CSP and no inline code, both languages, keyboard, tablet width."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from api.desk.csp import CSP
from tests.desk.conftest import B, Desk, screenshot, sign_in

# the end-to-end flow runs on both backends; these check the desk itself
pytestmark = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)

PAGES = ("inbox", "outbox", "send", "search", "registers", "statistics", "audit")


def test_every_page_carries_the_csp_and_no_inline_script_or_style(desk: Desk,
                                                                   signed_in: Any) -> None:
    page = signed_in(B)
    for name in (*PAGES, "signin"):
        answer = page.goto(f"{desk.url}/desk/{name}")
        assert answer.status == 200, name
        assert answer.headers["content-security-policy"] == CSP
        assert answer.headers["x-content-type-options"] == "nosniff"
        html = answer.text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), name
        assert " style=" not in html and "<style" not in html, name
    static = httpx.get(f"{desk.url}/desk/static/js/dsse.js")
    assert static.status_code == 200 and "javascript" in static.headers["content-type"]
    assert httpx.get(f"{desk.url}/desk/inbox").status_code == 303  # signed out: to sign-in


def test_the_sign_in_page_in_both_languages(desk: Desk, new_page: Any) -> None:
    page = new_page()
    page.goto(f"{desk.url}/desk/signin")
    assert page.locator("html").get_attribute("lang") == "vi"
    assert "Đăng nhập" in page.locator("h1").inner_text()
    screenshot(page, "signin")
    page.click("a.lang")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "Sign in with the agency's key"


def test_the_inbox_is_keyboard_navigable_and_fits_a_tablet(desk: Desk, new_page: Any) -> None:
    page = sign_in(new_page(820), desk, B)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Văn bản đến"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.locator("#inbox th", has_text="Trạng thái").is_visible()  # state stays
    screenshot(page, "inbox-tablet")
