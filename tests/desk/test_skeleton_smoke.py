from __future__ import annotations

from typing import Any

import httpx

from tests.desk.conftest import B, Desk, screenshot


def test_every_nav_page_answers_with_the_csp(desk: Desk, signed_in: Any) -> None:
    page = signed_in(B)
    for name in ("inbox", "outbox", "send", "search", "registers", "statistics", "audit"):
        answer = page.goto(f"{desk.url}/desk/{name}")
        assert answer.status == 200
        assert "script-src 'self'" in answer.headers["content-security-policy"]
    screenshot(page, "smoke")
    assert httpx.get(f"{desk.url}/desk/inbox", follow_redirects=False).status_code == 303
