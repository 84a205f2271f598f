"""The one place that confines a query to the facilities a principal may see.

Every statement the API runs passes through `confine`: each base table it reads is replaced by
a derived table holding only the visible facilities' rows, with the facility list as bound
parameters (`:scope_0`, `:scope_1`, ...). The rule for each table comes from the contract:
- a table with a `facility_id` column is filtered on it (robots, procedures);
- a table holding the primary key of such an entity (robot_id, procedure_id) keeps the rows
  whose parent is visible (maintenance, outcomes, telemetry, hourly rollups, anomalies),
  preferring the root entity (robots) so telemetry of an unknown procedure still belongs to
  its robot;
- any other table (the ingest ledger, parked rows) is readable by admins only: a non-admin
  statement that reads one raises `ScopeError` (fail closed).
Views are confined the same way, by rewriting their defining SELECT: a facility user's
`v_outcome_trend_monthly` is computed over their facilities' procedures only.

Example:
    >>> tree = sqlglot.parse_one("SELECT * FROM rds.surgical_robots AS r", read="redshift")
    >>> sql, params = confine(tree, frozenset({"FAC-003"}), entity_schema="rds")
    >>> params
    {'scope_0': 'FAC-003'}
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from sqlglot import exp

from api.catalog import REFERENCE_VIEWS
from lake.contract import ENTITIES, LAKE_TABLES

FACILITY_COLUMN = "facility_id"
PARAM_PREFIX = "scope_"


class ScopeError(PermissionError):
    """A non-admin statement reads a table that has no facility rule."""


@dataclass(frozen=True)
class TableRule:
    column: str  # the column the filter is on
    parent: str | None = None  # entity whose primary key `column` holds; None: `column` is facility_id


@cache
def table_rules() -> dict[str, TableRule]:
    """Table name -> rule, derived from the contract (entities as stored, lake tables)."""
    direct = [e for e in ENTITIES.values() if FACILITY_COLUMN in e.stored_column_names]
    direct.sort(key=lambda e: len(e.foreign_keys))  # the root entity (robots) first
    columns = {e.name: e.stored_column_names for e in ENTITIES.values()}
    columns.update({t.name: tuple(c.name for c in t.columns) for t in LAKE_TABLES.values()})
    rules: dict[str, TableRule] = {}
    for table, names in columns.items():
        if FACILITY_COLUMN in names:
            rules[table] = TableRule(FACILITY_COLUMN)
            continue
        parent = next((e for e in direct if e.primary_key in names), None)
        if parent is not None:
            rules[table] = TableRule(parent.primary_key, parent.name)
    return rules


def confine(tree: exp.Expression, facilities: frozenset[str] | None, *,
            entity_schema: str | None) -> tuple[exp.Expression, dict[str, str]]:
    """`tree` reading only `facilities`' rows (None: everything, for admins), and its parameters.

    `entity_schema` qualifies the parent tables the filters read (`rds` in Redshift and DuckDB,
    None in PostgreSQL, where the entities live in `public`). Raises ScopeError (non-admin
    reading a table without a rule).
    """
    tree = tree.copy()
    params = {f"{PARAM_PREFIX}{i}": f for i, f in enumerate(sorted(facilities or ()))}
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    rules = table_rules()
    for table in list(tree.find_all(exp.Table)):
        if (table.name in ctes and not table.db) or (table.db == "analytics" and table.name in REFERENCE_VIEWS):
            continue  # a CTE, or the reference time (no facility's rows)
        rule = rules.get(table.name)
        if facilities is None:
            continue
        if rule is None:
            raise ScopeError(f"{table.name} is readable by admins only")
        predicate = _predicate(rule, list(params), entity_schema)
        derived = exp.select("*").from_(table.copy()).where(predicate)
        table.replace(derived.subquery(table.alias or table.name))
    return tree, params


def _facility_in(names: list[str]) -> exp.Expression:
    if not names:
        return exp.false()
    return exp.column(FACILITY_COLUMN).isin(*[exp.Placeholder(this=n) for n in names])


def _predicate(rule: TableRule, names: list[str], entity_schema: str | None) -> exp.Expression:
    if rule.parent is None:
        return _facility_in(names)
    parents = exp.select(rule.column).from_(exp.table_(rule.parent, db=entity_schema)).where(_facility_in(names))
    return exp.column(rule.column).isin(parents)
