"""Every desk page under axe-core (vendored), by keyboard alone, at 1280 and 768 px.

axe runs in the page as served, under the desk's Content-Security-Policy (it is
evaluated through the browser's debugging protocol, not as a page script); a
serious or critical violation (contrast, names, labels, roles …) fails the test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.desk.conftest import A, B, Desk, screenshot, sign_in

AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text(encoding="utf-8")
PAGES = ("inbox", "outbox", "send", "search", "registers", "statistics", "audit")
DOCUMENT_LINK = "main a[href^='/desk/doc']"  # a document's own page, from the inbox
TABLET = 768

SERIOUS_VIOLATIONS = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations
    .filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => `${v.id} (${v.impact}): ${v.help} at `
      + v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", "));
}"""

# every element a keyboard user must be able to reach, numbered in document order
MARK_FOCUSABLE = """() => {
  const all = [...document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]')];
  const reachable = all.filter(el => !el.disabled && !el.closest('[hidden], [inert]')
    && el.getAttribute('tabindex') !== '-1' && el.getClientRects().length > 0
    && getComputedStyle(el).visibility !== 'hidden');
  reachable.forEach((el, i) => el.dataset.kbd = String(i));
  return reachable.length;
}"""

FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body || el.dataset.kbd === undefined) return null;
  const style = getComputedStyle(el);
  const ring = (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0)
    || style.boxShadow !== 'none';
  return {index: Number(el.dataset.kbd), ring, what: el.outerHTML.slice(0, 80)};
}"""


def serious_violations(page: Any) -> list[str]:
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE)
    return page.evaluate(SERIOUS_VIOLATIONS)  # type: ignore[no-any-return]


def tab_through(page: Any) -> tuple[set[int], int, list[str]]:
    """Tab from the top until focus comes round again: what it reached, of how many,
    and which of them showed no focus ring. (Tab also steps through the parts of a
    date field: the same element again is not yet the way round.)"""
    total = page.evaluate(MARK_FOCUSABLE)
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    reached: list[int] = []
    unringed: list[str] = []
    for _ in range(4 * total + 10):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused is None or (reached and focused["index"] == reached[-1]):
            continue
        if focused["index"] in reached:
            break
        reached.append(focused["index"])
        if not focused["ring"]:
            unringed.append(focused["what"])
    return set(reached), total, unringed


def check_page(page: Any, name: str) -> list[str]:
    """axe's serious findings and the keyboard's, for the page on screen."""
    problems = [f"{name}: {v}" for v in serious_violations(page)]
    reached, total, unringed = tab_through(page)
    if len(reached) != total:
        problems.append(f"{name}: Tab reaches {len(reached)} of {total} controls")
    problems += [f"{name}: no visible focus on {what}" for what in unringed]
    screenshot(page, name)
    return problems


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_every_desk_page_passes_axe_and_the_keyboard(desk: Desk, new_page: Any) -> None:
    done = desk.cli("send", "--as", A, "--to", B, "--subject", "Về việc kiểm tra truy cập",
                    "--notation", "CV-VPCP")
    assert done.exit_code == 0, done.output
    page = new_page()
    page.goto(f"{desk.url}/desk/signin")
    problems = check_page(page, "signin")
    sign_in(page, desk, B)
    # every page the navigation offers (a page added later is checked too), and these
    offered = page.eval_on_selector_all("header nav a", "links => links.map(a => a.pathname)")
    names = dict.fromkeys([*PAGES, *(path.removeprefix("/desk/") for path in offered)])
    for name in names:
        page.goto(f"{desk.url}/desk/{name}")
        problems += check_page(page, name)
        if name == "inbox" and page.locator(DOCUMENT_LINK).count():
            page.goto(desk.url + page.locator(DOCUMENT_LINK).first.get_attribute("href"))
            problems += check_page(page, "document")

    tablet = sign_in(new_page(TABLET), desk, B)
    for name in ("inbox", "registers", "statistics"):
        tablet.goto(f"{desk.url}/desk/{name}")
        problems += [f"{name} at {TABLET} px: {v}" for v in serious_violations(tablet)]
        if tablet.evaluate("() => document.documentElement.scrollWidth") > TABLET:
            problems.append(f"{name} at {TABLET} px: the page scrolls sideways")
        screenshot(tablet, f"{name}-tablet")
    assert problems == []
