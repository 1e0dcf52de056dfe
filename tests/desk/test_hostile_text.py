"""A subject holding markup and bidirectional controls is shown as text, escaped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.desk.conftest import A, B, Desk, screenshot, sign_in
from tests.desk.test_desk_flow import send_from_cli

# the end-to-end flow runs on both backends; these check the desk itself
pytestmark = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)

HOSTILE = ('<script>window.pwned=1</script><img src=x onerror="window.pwned=2">'
           " Hợp đồng \u202egpj.exe\u2066 &amp;")


def test_a_subject_with_script_and_bidi_controls_renders_escaped(
        desk: Desk, new_page: Any, tmp_path: Path) -> None:
    page = sign_in(new_page(), desk, B)
    page.wait_for_selector("#live.ok")
    doc = send_from_cli(desk, tmp_path, subject=HOSTILE)
    cell = page.locator("#rows td.subject")
    cell.wait_for()  # arrived live: the row was parsed from the server's escaped HTML
    shown = cell.inner_text()
    assert "<script>window.pwned=1</script>" in shown
    assert "<U+202E>gpj.exe<U+2066> &amp;" in shown
    assert "\u202e" not in shown
    page.reload()
    assert "<U+202E>gpj.exe" in page.locator("#rows td.subject").inner_text()
    page.goto(f"{desk.url}/desk/documents/{doc}")
    assert "<U+202E>gpj.exe<U+2066>" in page.locator("#subject").inner_text()
    assert page.locator("main script, main img").count() == 0
    assert page.evaluate("window.pwned") is None
    screenshot(page, "document-hostile")
    outbox = sign_in(new_page(), desk, A)
    outbox.goto(f"{desk.url}/desk/outbox")
    assert "<script>" in outbox.locator("#outbox td.subject").inner_text()
    assert outbox.evaluate("window.pwned") is None
