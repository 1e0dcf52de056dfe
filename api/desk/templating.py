"""Jinja2 pages of the desk: autoescaped, every user string through ``shown``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.desk.i18n import COOKIE, lang_of, translator
from domain.text import display

HERE = Path(__file__).parent
VIETNAM = timezone(timedelta(hours=7), "ICT")

env = Environment(loader=FileSystemLoader(HERE / "templates"),
                  autoescape=select_autoescape(default=True, default_for_string=True))


def shown(value: object) -> str:
    """A user-supplied string as the desk shows it: bidi and control characters as
    visible ``<U+XXXX>`` (then autoescaped as any text)."""
    return "" if value is None else display(str(value))


def vn_time(value: object) -> str:
    """An ISO time (UTC or with offset) in Vietnam's time, dd/mm/yyyy HH:MM."""
    if not value:
        return ""
    try:
        at = datetime.fromisoformat(str(value))
    except ValueError:
        return shown(value)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(VIETNAM).strftime("%d/%m/%Y %H:%M")


def vn_date(value: object) -> str:
    """An ISO date as dd/mm/yyyy."""
    if not value:
        return ""
    try:
        return datetime.fromisoformat(str(value)[:10]).strftime("%d/%m/%Y")
    except ValueError:
        return shown(value)


def today_vn() -> str:
    return datetime.now(VIETNAM).date().isoformat()


env.filters["shown"] = shown
env.filters["vn_time"] = vn_time
env.filters["vn_date"] = vn_date


def render(request: Request, template: str, *, status: int = 200,
           agency: str | None = None, **context: Any) -> HTMLResponse:
    """A page in the clerk's language; ``agency`` is the signed-in one (None: signed out)."""
    lang = lang_of(request.cookies.get(COOKIE))
    html = env.get_template(template).render(
        t=translator(lang), lang=lang, agency=agency, path=request.url.path,
        query=request.url.query, **context)
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
