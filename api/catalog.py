"""What each endpoint reads, derived from the contract and from the deployed SQL files.

- Resources (robots, procedures, maintenance, telemetry rollups, anomalies) select the
  contract's stored columns; patient-level columns (the contract's pseudonymized key and
  generalized quasi-identifiers) only for principals holding `phi:pseudonymized`.
- Views are the `CREATE VIEW` files of `sql/redshift/` (the same files the warehouse runs):
  their defining SELECT, their output columns (for filters and the spec), and the column a
  date range applies to.

Example:
    >>> sorted(views())[:2]
    ['v_facility_performance', 'v_failure_precursors']
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import sqlglot
from sqlglot import exp

from lake.contract import (
    ENTITIES,
    LAKE_TABLES,
    SURGICAL_PROCEDURES,
    Column,
    DType,
    Privacy,
)
from lake.detection import DetectionSettings

REDSHIFT_DIR = Path(__file__).resolve().parents[1] / "sql" / "redshift"
_NO_SCHEMA_BINDING = re.compile(r"\bWITH\s+NO\s+SCHEMA\s+BINDING\b", re.IGNORECASE)
_CREATE_VIEW = re.compile(r"\bCREATE\s+(OR\s+REPLACE\s+)?VIEW\b", re.IGNORECASE)
# The column a view's date range (`from`, `to`) applies to: the first of these it outputs.
# Views other views read, not served themselves: `as_of` (the reference time of the views that
# look back from "now"; one row, no facility's data).
REFERENCE_VIEWS = frozenset({"as_of"})
DATE_COLUMNS = ("week_start", "month_start", "quarter_start", "cohort_month", "day", "date", "hour",
                "actual_start", "started_at", "last_activity_at", "last_service_at")


def is_patient_level(column: Column) -> bool:
    """Stored columns that describe a patient (ADR 0001): the keyed pseudonym and the
    generalized quasi-identifiers (age at procedure, the 90+ flag, ZIP3)."""
    return column.privacy is not Privacy.NONE


PATIENT_LEVEL_COLUMNS: frozenset[str] = frozenset(
    c.name for e in ENTITIES.values() for c in e.stored_columns() if is_patient_level(c))


def visible_columns(columns: tuple[Column, ...], phi: bool) -> tuple[Column, ...]:
    return tuple(c for c in columns if phi or not is_patient_level(c))


def entity_columns(name: str) -> tuple[Column, ...]:
    return ENTITIES[name].stored_columns()


def lake_columns(name: str) -> tuple[Column, ...]:
    return LAKE_TABLES[name].columns


TIMESTAMP_TYPES = (DType.TIMESTAMP, DType.DATE)
PROCEDURE_CATEGORY = SURGICAL_PROCEDURES.column("procedure_category").name


@dataclass(frozen=True)
class View:
    name: str
    select: exp.Expression  # the view's defining query (Redshift dialect)
    columns: tuple[str, ...]
    date_column: str | None

    @property
    def filters(self) -> tuple[str, ...]:
        """Query parameters this view accepts beyond paging and format."""
        out = ["facility_id"]  # always: it narrows the facilities the view is computed over
        if "robot_id" in self.columns:
            out.append("robot_id")
        if self.date_column:
            out += ["from", "to"]
        return tuple(out)

    @property
    def patient_level(self) -> bool:
        return bool(PATIENT_LEVEL_COLUMNS & set(self.columns))


_PLACEHOLDER = re.compile(r"\{\{([A-Z_]+)\}\}")


def placeholders() -> dict[str, str]:
    """The views' detection placeholders (`{{INACTIVITY_HOURS}}`): the environment's values
    (infra/api.py sets them from the deployed settings), else the defaults."""
    defaults = DetectionSettings().sql_placeholders()
    return {k: os.environ.get(k, v) for k, v in defaults.items()}


@cache
def views(sql_dir: Path = REDSHIFT_DIR) -> dict[str, View]:
    """Every `CREATE VIEW` in `sql_dir` (placeholders filled), by view name."""
    out: dict[str, View] = {}
    values = placeholders()
    for path in sorted(sql_dir.glob("*.sql")):
        text = _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), path.read_text())
        if not _CREATE_VIEW.search(text):
            continue  # external schemas, grants
        tree = sqlglot.parse_one(_NO_SCHEMA_BINDING.sub("", text), read="redshift")
        if not (isinstance(tree, exp.Create) and tree.kind == "VIEW") or tree.this.name in REFERENCE_VIEWS:
            continue
        select = tree.expression
        columns = tuple(select.named_selects)
        date_column = next((c for c in DATE_COLUMNS if c in columns), None)
        out[tree.this.name] = View(tree.this.name, select, columns, date_column)
    return out
