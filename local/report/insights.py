"""What the demo shows: trends picked from the analytics views, and data-quality numbers.

`trend_from_rows` is pure: given a view's columns and rows it finds a time axis, a metric and
(optionally) a small categorical column to split series by, so the report follows whatever
views `sql/redshift/` defines without naming them here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg

from local.report import ledger_reader
from local.report.run_report import QuarantineStats

_TIME_NAME = re.compile(r"(week|month|day|date|hour|period|quarter|year)", re.IGNORECASE)
_ID_NAME = re.compile(r"(_id$|^id$|_key$)", re.IGNORECASE)
MAX_SERIES = 6
MAX_ROWS = 20000


@dataclass
class Trend:
    view: str
    metric: str
    x_labels: list[str]
    series: dict[str, list[float | None]]
    title: str = ""

    def __post_init__(self) -> None:
        self.title = self.title or f"{self.view}: {self.metric}"


@dataclass
class QualityNumbers:
    """Reconciliation per entity (ledger) plus rejected rows by reason and what is parked.

    The ledger records each object's counts when it was processed, so a row parked then is
    parked in the ledger forever; `loaded_after_parent` is the part of those rows that has
    since been loaded (its parent arrived), `parked` what still waits in `etl.parked_rows`.
    """

    entities: list[str] = field(default_factory=list)
    loaded: list[float] = field(default_factory=list)
    loaded_after_parent: list[float] = field(default_factory=list)
    parked: list[float] = field(default_factory=list)
    rejected: list[float] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)
    object_rejections: dict[str, int] = field(default_factory=dict)
    parked_rows: list[tuple[str, str, int]] = field(default_factory=list)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float | Decimal) and not isinstance(v, bool)


def _label(v: Any) -> str:
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M") if (v.hour or v.minute) else v.strftime("%Y-%m-%d")
    if isinstance(v, date):
        return v.isoformat()
    return str(v)


def trend_from_rows(view: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Trend | None:
    """A chartable trend from a view's rows, or None when it has no time axis and metric."""
    if not rows:
        return None
    cols = list(columns)
    time_cols = [
        c
        for c in cols
        if _TIME_NAME.search(c)
        and all(isinstance(r[cols.index(c)], date | datetime | str | int) for r in rows)
    ]
    if not time_cols:
        return None
    x = time_cols[0]
    xi = cols.index(x)
    metrics = [
        c
        for c in cols
        if c != x
        and not _ID_NAME.search(c)
        and all(r[cols.index(c)] is None or _is_number(r[cols.index(c)]) for r in rows)
        and any(r[cols.index(c)] is not None for r in rows)
    ]
    if not metrics:
        return None
    categories = [
        c
        for c in cols
        if c not in (x, *metrics)
        and not _TIME_NAME.search(c)
        and all(isinstance(r[cols.index(c)], str) or r[cols.index(c)] is None for r in rows)
        and 1 < len({r[cols.index(c)] for r in rows}) <= MAX_SERIES
    ]
    x_values = sorted({r[xi] for r in rows if r[xi] is not None}, key=lambda v: (str(type(v)), v))
    pos = {v: i for i, v in enumerate(x_values)}
    metric = _preferred_metric(metrics)
    mi = cols.index(metric)
    series: dict[str, list[float | None]] = {}
    if categories:
        ci = cols.index(categories[0])
        for r in rows:
            name = str(r[ci])
            series.setdefault(name, [None] * len(x_values))
            if r[xi] is not None and r[mi] is not None:
                series[name][pos[r[xi]]] = float(r[mi])
    else:
        for m in [metric, *[m for m in metrics if m != metric]][:3]:
            k = cols.index(m)
            vals: list[float | None] = [None] * len(x_values)
            for r in rows:
                if r[xi] is not None and r[k] is not None:
                    vals[pos[r[xi]]] = float(r[k])
            series[m] = vals
        metric = ", ".join(series)
    return Trend(view, metric, [_label(v) for v in x_values], series)


def _preferred_metric(metrics: Sequence[str]) -> str:
    """Rates and averages say more about a trend than raw counts."""
    for pattern in ("rate", "avg", "mean", "pct", "ratio"):
        for m in metrics:
            if pattern in m.lower():
                return m
    return metrics[0]


# The demo's main charts: (view, title, SQL returning x, series, value), aggregated over the
# views' finer grain. A chart whose view or columns are missing is left out (see collect_trends).
MAIN_TRENDS: tuple[tuple[str, str, str], ...] = (
    (
        "v_procedure_volume_weekly",
        "Procedures and emergencies per week",
        "SELECT week_start, 'procedures', sum(procedures) FROM analytics.v_procedure_volume_weekly GROUP BY 1"
        " UNION ALL SELECT week_start, 'emergencies', sum(emergencies)"
        " FROM analytics.v_procedure_volume_weekly GROUP BY 1",
    ),
    (
        "v_outcome_trend_monthly",
        "Outcome rates per month (all procedure types)",
        "SELECT month_start, m.name, sum(m.rate * outcomes) / sum(outcomes)"
        " FROM analytics.v_outcome_trend_monthly,"
        " LATERAL (VALUES ('success', success_rate), ('complication', complication_rate),"
        " ('readmission', readmission_rate)) AS m(name, rate) GROUP BY 1, 2",
    ),
    (
        "v_robot_utilization_daily",
        "Fleet utilization per day (mean over active robots)",
        "SELECT day, 'utilization', avg(utilization) FROM analytics.v_robot_utilization_daily GROUP BY 1",
    ),
    (
        "v_telemetry_health_daily",
        "Telemetry health per day: errors per 1,000 samples (fleet)",
        "SELECT day, 'errors per 1k samples', 1000.0 * sum(errors) / nullif(sum(samples), 0)"
        " FROM analytics.v_telemetry_health_daily GROUP BY 1",
    ),
)
RECONCILIATION_VIEW = "v_ingest_reconciliation"


def trend_from_long(view: str, title: str, rows: Sequence[Sequence[Any]]) -> Trend | None:
    """A Trend from (x, series, value) rows; None when there is nothing to draw."""
    rows = [r for r in rows if r[0] is not None]
    if not rows:
        return None
    x_values = sorted({r[0] for r in rows})
    pos = {v: i for i, v in enumerate(x_values)}
    series: dict[str, list[float | None]] = {}
    for x, name, value in rows:
        vals = series.setdefault(str(name), [None] * len(x_values))
        vals[pos[x]] = None if value is None else float(value)
    return Trend(view, title, [_label(v) for v in x_values], series, title=title)


def analytics_views(con: Any) -> list[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables"
        " WHERE table_schema = 'analytics' ORDER BY table_name"
    ).fetchall()
    return [r[0] for r in rows]


def view_rows(con: Any, view: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    cur = con.execute(f'SELECT * FROM analytics."{view}" LIMIT {MAX_ROWS}')
    return [d[0] for d in cur.description], cur.fetchall()


def collect_trends(
    con: Any, limit: int = 8
) -> tuple[list[Trend], dict[str, tuple[list[str], list[tuple[Any, ...]]]]]:
    """The main trend charts, and the reconciliation view's rows.

    Falls back to trends detected in any analytics view when none of MAIN_TRENDS runs (the
    views are another part's and may be renamed).
    """
    import duckdb

    views = analytics_views(con)
    trends: list[Trend] = []
    for view, title, sql in MAIN_TRENDS:
        if view not in views:
            continue
        try:
            trend = trend_from_long(view, title, con.execute(sql).fetchall())
        except duckdb.Error:
            continue
        if trend:
            trends.append(trend)
    if not trends:
        for view in views:
            trend = trend_from_rows(view, *view_rows(con, view))
            if trend and view != RECONCILIATION_VIEW and len(trends) < limit:
                trends.append(trend)
    tables = {}
    if RECONCILIATION_VIEW in views:
        columns, rows = view_rows(con, RECONCILIATION_VIEW)
        tables[RECONCILIATION_VIEW] = (columns, rows[:50])
    return trends, tables


def split_parked(parked_at_load: int, still_parked: int) -> tuple[int, int]:
    """(loaded since, still parked) of the rows an entity's objects parked when they were processed.

    A parked row can also be superseded by a newer version of itself, so the rows still parked
    never count for more than the ledger parked.
    """
    still = min(still_parked, parked_at_load)
    return parked_at_load - still, still


def quality_numbers(pg_url: str, quarantine: QuarantineStats) -> QualityNumbers:
    q = QualityNumbers(reasons=dict(quarantine.reasons.most_common()))
    with psycopg.connect(pg_url) as conn:
        per_entity: dict[str, list[int]] = {}
        for entity, _status, _objs, _rows_in, loaded, parked, rejected in ledger_reader.ledger_totals(conn):
            acc = per_entity.setdefault(entity or "(unknown)", [0, 0, 0])
            acc[0] += int(loaded or 0)
            acc[1] += int(parked or 0)
            acc[2] += int(rejected or 0)
        q.object_rejections = ledger_reader.object_rejections(conn)
        q.parked_rows = [(e, p, int(n)) for e, p, n, _ in ledger_reader.parked_summary(conn)]
    waiting: dict[str, int] = {}
    for entity, _parent, rows in q.parked_rows:
        waiting[entity] = waiting.get(entity, 0) + rows
    for entity, (loaded, parked, rejected) in per_entity.items():
        later, still = split_parked(parked, waiting.get(entity, 0))
        q.entities.append(entity)
        q.loaded.append(loaded)
        q.loaded_after_parent.append(later)
        q.parked.append(still)
        q.rejected.append(rejected)
    return q
