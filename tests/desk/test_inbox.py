"""The inbox's filters, sorts and paging, and who may open a document page."""

from __future__ import annotations

from typing import Any

import pytest

from api.desk import clerk
from tests.desk.conftest import A, B, C, Desk, sign_in

pytestmark = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)


def send(desk: Desk, subject: str, priority: str, due: str) -> str:
    sent = desk.cli("send", "--as", A, "--to", B, "--subject", subject, "--notation", "UBND",
                    "--priority", priority, "--due", due)
    assert sent.exit_code == 0, sent.output
    return str(sent.output.strip().splitlines()[-1])


def subjects(page: Any) -> list[str]:
    return [s.strip() for s in page.locator("#rows td.subject").all_inner_texts()]


def test_filters_sorts_and_pages(desk: Desk, new_page: Any,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    send(desk, "late", "0", "2020-01-01")
    urgent = send(desk, "urgent", "3", "2031-06-01")
    send(desk, "soon", "1", "2030-01-01")
    assert desk.cli("accept", urgent, "--as", B).exit_code == 0
    assert desk.cli("assign", urgent, "--as", B, "--unit", "Phòng Tư pháp", "--officer",
                    "Hoa").exit_code == 0
    page = sign_in(new_page(), desk, B)
    assert subjects(page) == ["urgent", "soon", "late"]  # by urgency
    page.select_option("#f-sort", "due")
    page.click(".filters button")
    assert subjects(page) == ["late", "soon", "urgent"]
    page.check("#f-overdue")
    page.click(".filters button")
    assert subjects(page) == ["late"]
    assert page.locator("#rows tr.is-overdue .badge.overdue").count() == 1
    page.goto(f"{desk.url}/desk/inbox?status=assigned")
    assert subjects(page) == ["urgent"]
    page.goto(f"{desk.url}/desk/inbox?unit=Phòng Tư pháp&officer=Hoa")
    assert subjects(page) == ["urgent"]
    page.goto(f"{desk.url}/desk/inbox?officer=Lan")
    assert subjects(page) == []

    monkeypatch.setattr(clerk, "PER_PAGE", 2)  # the server runs in this process
    page.goto(f"{desk.url}/desk/inbox?sort=due")
    assert subjects(page) == ["late", "soon"]
    page.click("a[rel=next]")
    assert subjects(page) == ["urgent"]
    assert page.locator("a[rel=next]").count() == 0
    assert "sort=due" in page.url and "page=2" in page.url
    page.click("a[rel=prev]")
    assert subjects(page) == ["late", "soon"]


def test_a_third_agency_cannot_open_the_document_page(desk: Desk, new_page: Any) -> None:
    doc = send(desk, "between A and B", "0", "2031-01-01")
    page = sign_in(new_page(), desk, C)
    answer = page.goto(f"{desk.url}/desk/documents/{doc}")
    assert answer.status == 404  # as for a document that does not exist
    assert "between A and B" not in page.content()
    assert page.locator("#not-found").count() == 1
