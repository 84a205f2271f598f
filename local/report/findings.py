"""What the demo reports beyond the trends: alerts raised, their accuracy, trend classes.

Read from the local analytics engine after a run (`collect_findings`), rendered for the
terminal (`findings_text`) and as report sections (`findings_sections`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from local.analytics.alert_scoring import Score, accuracy_note, accuracy_rows, measure
from local.analytics.alerting import COLUMNS as ALERT_COLUMNS
from local.analytics.alerting import alerts_summary
from local.tabular import render

TREND_VIEWS = {
    "v_facility_outcome_trend_class": ("facility_id", "metric"),
    "v_robot_reliability_trend_class": ("robot_id", "facility_id"),
}
CLASSES = ("improving", "stable", "declining", "insufficient data")
Section = tuple[str, str, list[str], list[tuple[Any, ...]]]


@dataclass
class Findings:
    as_of: datetime | None
    raised: list[dict[str, Any]]
    accuracy: list[Score]
    trend_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    trend_changes: list[tuple[Any, ...]] = field(default_factory=list)  # (view, subject, metric, class, z)


def collect_findings(con: Any, raised: Sequence[dict[str, Any]]) -> Findings:
    """`raised`: the alert events this run raised (details)."""
    (as_of,) = con.execute("SELECT as_of FROM analytics.as_of").fetchone()
    found = Findings(as_of, list(raised), measure(con))
    for view, (subject, detail) in TREND_VIEWS.items():
        rows = con.execute(f"SELECT {subject}, {detail}, trend_class, z_score FROM analytics.{view}"
                           f" ORDER BY {subject}, {detail}").fetchall()
        counts = dict.fromkeys(CLASSES, 0)
        for who, what, trend, z in rows:
            counts[trend] = counts.get(trend, 0) + 1
            if trend in ("improving", "declining"):
                found.trend_changes.append((view, who, what, trend, None if z is None else round(float(z), 2)))
        found.trend_counts[view] = counts
    return found


def findings_text(f: Findings) -> str:
    out = ["", f"analytics as of {f.as_of:%Y-%m-%d %H:%M} UTC (the data's last timestamp)" if f.as_of else ""]
    out.append(alerts_summary(f.raised))
    columns, rows = accuracy_rows(f.accuracy)
    out += ["", "alert accuracy against the recorded failures:", render(columns, rows), f"  ({accuracy_note(f.accuracy)})"]
    out += ["", "trend classes (Mann-Kendall over the last 12 months, |Z| >= 1.96):"]
    out.append(render(["view", *CLASSES], [(v, *[c.get(k, 0) for k in CLASSES]) for v, c in f.trend_counts.items()]))
    if f.trend_changes:
        out.append(render(["view", "who", "what", "class", "z"], f.trend_changes[:12]))
    return "\n".join(line for line in out if line is not None)


def findings_sections(f: Findings) -> list[Section]:
    columns, rows = accuracy_rows(f.accuracy)
    top = sorted(f.raised, key=lambda d: -abs(float(d["peak_z"])))[:50]
    return [
        ("Alerts raised by this run",
         f"{len(f.raised)} events (one per robot and metric episode), strongest first; all of them are in "
         "state/alerts.ndjson (`lake alerts`).",
         list(ALERT_COLUMNS), [tuple(d.get(c) for c in ALERT_COLUMNS) for d in top]),
        ("Alert accuracy", accuracy_note(f.accuracy), columns, rows),
        ("Trend classes", "Mann-Kendall trend test over the last 12 months; the improving and declining ones below.",
         ["view", *CLASSES], [(v, *[c.get(k, 0) for k in CLASSES]) for v, c in f.trend_counts.items()]),
        ("Improving and declining", "", ["view", "who", "what", "class", "z"], list(f.trend_changes)),
    ]
