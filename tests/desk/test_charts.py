"""The statistics charts' geometry and figures, without a browser."""

from __future__ import annotations

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
