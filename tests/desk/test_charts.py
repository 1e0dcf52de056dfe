"""The statistics charts' geometry and figures, without a browser."""

from __future__ import annotations

import re
from pathlib import Path

from api.desk.charts import PLOT_HEIGHT, TOP, bar_chart, nice_ceiling, number


def test_scale_tops_at_a_round_figure_with_whole_ticks() -> None:
    assert [nice_ceiling(v) for v in (0, 1, 3, 7, 14, 60, 100, 2537)] == [
        1, 1, 5, 10, 20, 100, 100, 5000]
    chart = bar_chart(chart_id="c", title="t", desc="d", categories=["01", "02"],
                      series=[("received", [3, 0]), ("resolved", [2, None])])
    assert [t.text for t in chart.ticks] == ["0", "1", "2", "3", "4", "5"]
    tallest = chart.bars[0]
    assert (tallest.y, tallest.height) == (TOP + PLOT_HEIGHT * 2 / 5, PLOT_HEIGHT * 3 / 5)
    # a figure of 0 is a bar of no height; no figure (None) draws no bar at all
    assert [(b.tip, b.height) for b in chart.bars[1:]] == [
        ("01 — resolved: 2", PLOT_HEIGHT * 2 / 5), ("02 — received: 0", 0)]


def test_rates_stay_on_a_hundred_percent_scale() -> None:
    chart = bar_chart(chart_id="r", title="t", desc="d", categories=["a"], maximum=100,
                      suffix="%", series=[("rate", [93.1])])
    assert chart.ticks[-1].text == "100%" and chart.bars[0].tip == "a — rate: 93.1%"


def test_figures_read_as_each_language_writes_them() -> None:
    assert (number(2537, "vi"), number(93.1, "vi"), number(100.0, "vi")) == ("2.537", "93,1",
                                                                            "100")
    assert (number(2537, "en"), number(93.1, "en")) == ("2,537", "93.1")


def test_long_unit_names_are_cut_under_the_bars_only() -> None:
    name = "Phòng Văn hóa và Thông tin huyện"
    chart = bar_chart(chart_id="u", title="t", desc="d", categories=[name],
                      series=[("received", [1])])
    assert chart.labels[0].text == "Phòng Văn hóa…" and chart.bars[0].tip.startswith(name)


# ---- contrast of what axe cannot measure: SVG text and bars ---------------------------

CSS = (Path(__file__).parents[2] / "api" / "desk" / "static" / "reports.css").read_text(
    encoding="utf-8")


def luminance(hex_colour: str) -> float:
    digits = hex_colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    channels = [int(digits[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_on_white(hex_colour: str) -> float:
    return 1.05 / (luminance(hex_colour) + 0.05)


def fill_of(selector: str) -> str:
    rule = re.escape(selector) + r"\s*\{[^}]*?(?:fill|background):\s*(#[0-9a-fA-F]{3,6})"
    found = re.search(rule, CSS)
    assert found, selector
    return found.group(1)


def test_chart_text_and_bars_are_readable_on_white() -> None:
    for text in (".chart-axis", ".chart-label"):  # WCAG AA for small text
        assert contrast_on_white(fill_of(text)) >= 4.5, text
    for n in range(3):  # graphics: 3:1, and the legend's swatch is the bar's colour
        bar = fill_of(f".chart-series-{n}")
        assert contrast_on_white(bar) >= 3, n
        assert fill_of(f".legend .legend-{n}::before") == bar
