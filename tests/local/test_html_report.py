"""report.html: self-contained, and its charts render in a real browser with real geometry."""

from __future__ import annotations

import re
from collections import Counter

from local.charts import bar_chart, line_chart, sparkline
from local.html_report import render_report
from local.insights import QualityNumbers, Trend, split_parked, trend_from_rows
from tests.local.browser import chart_geometry

QUALITY = QualityNumbers(
    entities=["surgical_robots", "surgical_procedures"],
    loaded=[5.0, 90.0],
    loaded_after_parent=[0.0, 3.0],
    parked=[0.0, 1.0],
    rejected=[0.0, 7.0],
    reasons={"bad_enum": 2, "malformed_row": 1},
    object_rejections={"unknown_entity": 1},
    parked_rows=[("surgical_procedures", "surgical_robots", 1)],
)
TREND = Trend(
    "v_weekly",
    "success_rate",
    ["2025-01-06", "2025-01-13", "2025-01-20"],
    {"urology": [0.9, 0.8, 0.95], "cardiac": [0.7, None, 0.75]},
)


def _report() -> str:
    return render_report(
        title="t",
        facts=[("scale", "tiny")],
        timings=[("ingest", 1.5)],
        tables={"surgical_robots": 5},
        quality=QUALITY,
        trends=[TREND],
        view_tables={"v_counts": (["n"], [(3,)])},
    )


def test_report_is_self_contained():
    # GIVEN a rendered report WHEN we look for anything that would need the network
    html = _report()
    # THEN there are no scripts, external stylesheets, images or URLs other than the SVG namespace
    assert "<script" not in html and "<link" not in html and "<img" not in html
    assert set(re.findall(r"https?://[^\"' )]+", html)) == {"http://www.w3.org/2000/svg"}


def test_charts_render_with_geometry_in_chromium(tmp_path):
    # GIVEN the report on disk
    path = tmp_path / "report.html"
    path.write_text(_report())
    # WHEN headless Chromium lays it out
    marks = chart_geometry(path, tmp_path)
    # THEN every bar has a box: reconciliation, non-zero stacks per entity (5 | 90, 3, 1, 7) + 2 reason bars
    kinds = Counter(m["tag"] for m in marks)
    assert kinds["rect"] == 1 + 4 + 2
    assert all(m["width"] > 0 and m["height"] > 0 for m in marks if m["tag"] == "rect")
    # AND both trend series are drawn as lines that span the plot
    lines = [m for m in marks if m["tag"] == "path"]
    assert len(lines) == 2 and all(m["width"] > 100 for m in lines)


def test_line_chart_bridges_gaps_and_bar_chart_stacks():
    # GIVEN a series with a gap WHEN drawn THEN one path joins the three present points
    svg = line_chart("t", ["a", "b", "c", "d"], {"s": [1.0, None, 2.0, 3.0]})
    d = re.search(r' d="([^"]+)"', svg).group(1)
    assert d.count("M") == 1 and d.count("L") == 2
    # AND a stacked bar draws one rect per non-zero part
    assert bar_chart("t", ["x", "y"], {"a": [1.0, 0.0], "b": [2.0, 3.0]}).count('class="bar"') == 3


def test_sparkline_spans_low_to_high():
    assert sparkline([0.0, 5.0, 10.0]) == "▁▄█"


def test_trend_from_rows_picks_time_axis_category_and_rate():
    # GIVEN a weekly view with a category and two metrics
    columns = ["week_start", "procedure_category", "procedures", "success_rate"]
    rows = [
        ("2025-01-13", "urology", 4, 0.75),
        ("2025-01-06", "urology", 2, 0.5),
        ("2025-01-06", "cardiac", 1, 1.0),
    ]
    # WHEN a trend is derived
    trend = trend_from_rows("v", columns, rows)
    # THEN x is sorted weeks, the rate is the metric, and series split by category with gaps
    assert trend is not None
    assert trend.x_labels == ["2025-01-06", "2025-01-13"] and trend.metric == "success_rate"
    assert trend.series == {"urology": [0.5, 0.75], "cardiac": [1.0, None]}


def test_trend_from_rows_needs_a_time_axis():
    assert trend_from_rows("v", ["robot_id", "failures"], [("ROBOT-0001", 3)]) is None


def test_rows_parked_at_load_split_into_loaded_since_and_still_waiting() -> None:
    # GIVEN 2,529 procedures parked when their objects were processed, 6 still waiting now
    # THEN 2,523 count as loaded after their parent arrived and 6 as still parked
    assert split_parked(2529, 6) == (2523, 6)
    # a parked row superseded by a newer version of itself never counts twice
    assert split_parked(3, 5) == (0, 3)
    assert split_parked(0, 0) == (0, 0)
