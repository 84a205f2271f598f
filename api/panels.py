"""The dashboard's panels: one SQL file each in `api/sql/`, run on the analytics engine, confined.

A panel is an aggregate the dashboard shows as a number, a chart or a table (fleet KPIs,
procedures per week, adherence, ingest reconciliation, ...). Its SQL (Redshift dialect, the
same text in AWS and, transpiled by sqlglot, on DuckDB locally) reads the base tables
(`rds.*`, `rds_etl.*`, `lake.*`) and goes through `api.scope.confine` like every other
statement: a facility user's KPIs are computed over their facilities' rows only, and the
panels that read the ingest ledger (no facility) are refused to non-admins (403).

Parameters are always bound (never spliced): `:robot` is a LIKE pattern (the robot id, or `%`
for every robot), `:from_ts` / `:to_ts` the half-open range (defaults wide open) and
`:from_date` / `:to_date` the same range as partition dates; adherence adds `:days`,
`:silent_hours` and `:threshold`.

Example:
    >>> sorted(PANELS)[:3]
    ['adherence', 'kpis', 'ledger_status']
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

from api.principal import Principal
from api.queries import ANALYTICS, ENTITY_SCHEMA, Statement, _timestamp
from api.scope import confine

SQL_DIR = Path(__file__).resolve().parent / "sql"
OPEN_START = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
OPEN_END = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)
DEFAULT_DAYS = 30
DEFAULT_SILENT_HOURS = 48.0
DEFAULT_THRESHOLD = 0.05
RANGE = ("robot_id", "from", "to")


@dataclass(frozen=True)
class Panel:
    name: str
    filters: tuple[str, ...]  # query parameters beyond facility_id and format

    @property
    def path(self) -> Path:
        return SQL_DIR / f"{self.name}.sql"


PANELS: dict[str, Panel] = {p.name: p for p in (
    Panel("kpis", RANGE),
    Panel("procedures_weekly", RANGE),
    Panel("outcomes_monthly", RANGE),
    Panel("utilization_daily", RANGE),
    Panel("adherence", ("days", "silent_hours", "threshold")),
    Panel("reconciliation", ()),  # the ingest ledger: admins only (confine refuses it to others)
    Panel("ledger_status", ()),
    Panel("rejects", ()),
)}


@cache
def panel_sql(name: str) -> exp.Expression:
    """The panel's parsed statement (Redshift dialect)."""
    tree = sqlglot.parse_one(PANELS[name].path.read_text(), read="redshift")
    assert isinstance(tree, exp.Expression)
    return tree


def panel(principal: Principal, name: str, *, facility_id: Sequence[str] = (), robot_id: str | None = None,
          start: dt.datetime | dt.date | None = None, end: dt.datetime | dt.date | None = None,
          days: int | None = None, silent_hours: float | None = None,
          threshold: float | None = None) -> Statement:
    """The panel's statement for `principal`, confined to its visible facilities (narrowed by
    `facility_id`). Raises KeyError (unknown panel) and ScopeError (a ledger panel, non-admin)."""
    tree = panel_sql(name)
    names = {p.name for p in tree.find_all(exp.Placeholder)}
    start_ts, end_ts = _timestamp(start or OPEN_START), _timestamp(end or OPEN_END)
    values: dict[str, Any] = {
        "robot": robot_id or "%", "from_ts": start_ts, "to_ts": end_ts, "from_date": start_ts[:10],
        "to_date": end_ts[:10], "days": days or DEFAULT_DAYS, "silent_hours": silent_hours or DEFAULT_SILENT_HOURS,
        "threshold": DEFAULT_THRESHOLD if threshold is None else threshold,
    }
    confined, scope_params = confine(tree, principal.visible_facilities(facility_id),
                                     entity_schema=ENTITY_SCHEMA[ANALYTICS])
    params = {k: v for k, v in values.items() if k in names}
    return Statement(ANALYTICS, confined, {**params, **scope_params}, limit=0)
