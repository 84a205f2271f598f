"""report.html: the run's record, self-contained, rendering in a real browser; charts are the dashboard's."""

from __future__ import annotations

import re
from collections import Counter

from local.report.html_report import render_report
from local.report.insights import QualityNumbers, split_parked, trend_from_rows
from local.report.sparklines import sparkline
from tests.local.browser import dump_dom

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


def _report() -> str:
    return render_report(
        title="t",
        facts=[("scale", "tiny")],
        timings=[("ingest", 1.5)],
        tables={"surgical_robots": 5},
        quality=QUALITY,
        dashboard_command="lake serve --workdir data/demo --open",
        view_tables={"v_counts": (["n"], [(3,)])},
    )


def test_report_is_self_contained_and_draws_no_chart_of_its_own():
    # GIVEN a rendered report WHEN we look for anything that would need the network, or a chart
    html = _report()
    # THEN there are no scripts, stylesheets, images, SVG or URLs: the dashboard is the one chart implementation
    assert "<script" not in html and "<link" not in html and "<img" not in html and "<svg" not in html
    assert re.findall(r"https?://", html) == []
    assert "lake serve --workdir data/demo --open" in html


def test_report_escapes_every_value_from_the_data():
    # GIVEN values from the data that look like markup (a view cell, a reason, a section note)
    html = render_report(
        title="a <b>", facts=[("scale", "<i>tiny</i>")], timings=[], tables={}, quality=QUALITY,
        dashboard_command="lake serve", view_tables={"v_x": (["col<"], [("<script>alert(1)</script>", 1.5)])},
        sections=[("alerts & more", "note <u>", ["robot"], [("R&D",)])],
    )
    # THEN the engine escapes each of them; only the template's own tags remain
    assert "<script" not in html and "<i>" not in html and "<u>" not in html and "<b>" not in html
    for escaped in ("&lt;script&gt;alert(1)&lt;/script&gt;", "col&lt;", "R&amp;D", "alerts &amp; more",
                    "note &lt;u&gt;", "&lt;i&gt;tiny&lt;/i&gt;", "<title>a &lt;b&gt;</title>"):
        assert escaped in html
    assert '<td class="n">1.5</td>' in html


def test_report_renders_its_tables_in_chromium(tmp_path):
    # GIVEN the report on disk WHEN headless Chromium lays it out
    path = tmp_path / "report.html"
    path.write_text(_report())
    dom = dump_dom(path, tmp_path / "profile")
    # THEN the reconciliation rows hold the fixture's counts, row by row
    cells = [re.findall(r"<td[^>]*>([^<]*)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", dom)]
    assert ["surgical_procedures", "90", "3", "1", "7"] in cells and ["surgical_robots", "5", "0", "0", "0"] in cells
    assert ["bad_enum", "2"] in cells and ["unknown_entity", "1"] in cells
    assert Counter(len(c) for c in cells)[5] == 2


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
