"""Bar charts drawn on the server as SVG geometry: no chart library, no script.

A chart here is numbers only (positions, sizes) plus the texts to show; the
template writes the SVG and escapes every text, and static CSS colours it by
class (the Content-Security-Policy allows no inline style). The figures
themselves are in the table printed beside each chart: the chart is a picture
of that table, with a title and a description for assistive technology.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

PLOT_HEIGHT = 180
TOP, BOTTOM, LEFT, RIGHT = 16, 40, 48, 12
LABEL_CHARS = 14


@dataclass(frozen=True, kw_only=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: int
    tip: str  # e.g. "Tháng 03 — Đã nhận: 12"


@dataclass(frozen=True, kw_only=True)
class Text:
    x: float
    y: float
    text: str


@dataclass(frozen=True, kw_only=True)
class Chart:
    id: str
    title: str
    desc: str
    width: int
    height: int
    bars: tuple[Bar, ...]
    labels: tuple[Text, ...]  # one under each category
    ticks: tuple[Text, ...]  # the value axis, with a grid line at each y
    legend: tuple[str, ...]  # series names, in series order
    plot_left: int
    plot_right: int


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 × 10^k at or above ``value`` (at least 1)."""
    if value <= 1:
        return 1
    power = 10.0 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[:LABEL_CHARS - 1] + "…"


def bar_chart(*, chart_id: str, title: str, desc: str, categories: list[str],
              series: list[tuple[str, list[float | None]]], maximum: float | None = None,
              slot: int = 44, suffix: str = "",
              fmt: Callable[[float], str] | None = None) -> Chart:
    """Grouped vertical bars: one group per category, one bar per series.

    A value None (no figure, e.g. no on-time rate without completions) draws no bar.
    """
    fmt = fmt or (lambda v: number(v, "en"))
    top = maximum or nice_ceiling(max((v for _, vs in series for v in vs if v is not None),
                                      default=0))
    per_bar = (slot - 8) / max(len(series), 1)
    bars: list[Bar] = []
    for c, category in enumerate(categories):
        for s, (name, values) in enumerate(series):
            value = values[c]
            if value is None:
                continue
            height = PLOT_HEIGHT * min(value, top) / top
            bars.append(Bar(x=round(LEFT + c * slot + 4 + s * per_bar, 1),
                            y=round(TOP + PLOT_HEIGHT - height, 1), width=round(per_bar - 1, 1),
                            height=round(height, 1), series=s,
                            tip=f"{category} — {name}: {fmt(value)}{suffix}"))
    labels = tuple(Text(x=LEFT + c * slot + slot / 2, y=TOP + PLOT_HEIGHT + 16, text=short(c_))
                   for c, c_ in enumerate(categories))
    steps = next(n for n in (4, 5, 2, 1) if (top / n) % 1 == 0)  # whole-number ticks
    ticks = tuple(Text(x=LEFT - 6, y=round(TOP + PLOT_HEIGHT * (1 - i / steps), 1),
                       text=f"{fmt(top * i / steps)}{suffix}") for i in range(steps + 1))
    width = LEFT + slot * max(len(categories), 1) + RIGHT
    return Chart(id=chart_id, title=title, desc=desc, width=width,
                 height=TOP + PLOT_HEIGHT + BOTTOM, bars=tuple(bars), labels=labels,
                 ticks=ticks, legend=tuple(name for name, _ in series), plot_left=LEFT,
                 plot_right=width - RIGHT)


def number(value: float, lang: str) -> str:
    """A figure as the clerk reads it: 2.537 and 93,1 in Vietnamese, 2,537 and 93.1 in
    English (at most one decimal)."""
    text = f"{value:,.1f}".removesuffix(".0")
    return text.translate(str.maketrans(",.", ".,")) if lang == "vi" else text
