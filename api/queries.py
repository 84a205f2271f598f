"""The statements behind each endpoint: filters and paging as bound parameters, then `confine`.

Every function returns a `Statement`: a sqlglot tree in the API's neutral form (named
parameters `:name`), the parameters, the engine that answers it and, for lists, how it pages.
Nothing a client sends is ever spliced into SQL text: filter values, cursors and facility
scopes are parameters; column and table names come from the contract and `sql/redshift/`;
limits are validated integers.

Engines: `TRANSACTIONAL` (PostgreSQL: RDS through the proxy in AWS, the workdir's server
locally) answers the entity endpoints and the ledger; `ANALYTICS` (Redshift through the Data
API in AWS, DuckDB locally) answers the lake tables and the views.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from api.catalog import (
    PROCEDURE_CATEGORY,
    View,
    entity_columns,
    lake_columns,
    visible_columns,
)
from api.cursor import Cursor
from api.principal import Principal
from api.scope import confine
from lake.contract import (
    LAKE_TABLES,
    PROCEDURE_OUTCOMES,
    ROBOT_MAINTENANCE_LOGS,
    SURGICAL_PROCEDURES,
    SURGICAL_ROBOTS,
    TELEMETRY_ANOMALIES,
    TELEMETRY_HOURLY,
    Column,
    DType,
)

TRANSACTIONAL = "transactional"
ANALYTICS = "analytics"
ENTITY_SCHEMA = {TRANSACTIONAL: None, ANALYTICS: "rds"}  # where the entities live for each engine
LAKE_SCHEMA = "lake"
LEDGER = exp.table_("ingest_ledger", db="etl")
OUTCOME_PREFIX = "outcome__"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_CASTS = {DType.TIMESTAMP: "TIMESTAMPTZ", DType.DATE: "DATE", DType.INT: "INT", DType.FLOAT: "DOUBLE PRECISION"}


@dataclass(frozen=True)
class Statement:
    engine: str
    tree: exp.Expression
    params: dict[str, Any]
    keys: tuple[str, ...] | None = None  # keyset columns (lists); None with `paged`: offset
    paged: bool = False
    limit: int = DEFAULT_LIMIT
    columns: tuple[str, ...] = field(default=())


def _param(name: str, cast: str | None = None) -> exp.Expression:
    placeholder: exp.Expression = exp.Placeholder(this=name)
    return exp.cast(placeholder, cast) if cast else placeholder


def _timestamp(value: dt.datetime | dt.date) -> str:
    """ISO 8601 in UTC; a date is its midnight UTC, a naive datetime is UTC."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time(), dt.UTC)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat()


class _Builder:
    """Collects WHERE conditions and their parameters."""

    def __init__(self) -> None:
        self.conditions: list[exp.Expression] = []
        self.params: dict[str, Any] = {}

    def equals(self, column: exp.Expression, name: str, value: Any, cast: str | None = None) -> None:
        if value is not None:
            self.conditions.append(column.eq(_param(name, cast)))
            self.params[name] = value

    def time_range(self, column: exp.Expression, start: dt.datetime | dt.date | None,
                   end: dt.datetime | dt.date | None) -> None:
        """`start <= column < end` (half-open), each bound only when given."""
        if start is not None:
            self.conditions.append(column >= _param("from_ts", "TIMESTAMPTZ"))
            self.params["from_ts"] = _timestamp(start)
        if end is not None:
            self.conditions.append(column < _param("to_ts", "TIMESTAMPTZ"))
            self.params["to_ts"] = _timestamp(end)

    def keyset(self, keys: Sequence[Column], cursor: Cursor | None) -> None:
        """Rows after the cursor's key values: (k1 > v1) OR (k1 = v1 AND k2 > v2) ..."""
        if cursor is None or cursor.after is None:
            return
        terms: list[exp.Expression] = []
        for i, col in enumerate(keys):
            equal = [exp.column(k.name).eq(_param(f"after_{j}", _CASTS.get(k.dtype))) for j, k in enumerate(keys[:i])]
            greater: exp.Expression = exp.column(col.name) > _param(f"after_{i}", _CASTS.get(col.dtype))
            terms.append(exp.and_(*equal, greater) if equal else greater)  # type: ignore[arg-type]
            self.params[f"after_{i}"] = cursor.after[i]
        self.conditions.append(exp.or_(*terms) if len(terms) > 1 else terms[0])  # type: ignore[arg-type]

    def where(self, query: exp.Select) -> exp.Select:
        return query.where(exp.and_(*self.conditions)) if self.conditions else query


def _finish(engine: str, query: exp.Expression, b: _Builder, principal: Principal,
            facilities: Sequence[str] = (), **paging: Any) -> Statement:
    tree, scope_params = confine(query, principal.visible_facilities(facilities), entity_schema=ENTITY_SCHEMA[engine])
    return Statement(engine, tree, {**b.params, **scope_params}, **paging)


def _entity(engine: str, name: str) -> exp.Table:
    return exp.table_(name, db=ENTITY_SCHEMA[engine])


def _list(engine: str, table: exp.Table, columns: tuple[Column, ...], keys: tuple[Column, ...],
          b: _Builder, principal: Principal, facilities: Sequence[str], limit: int,
          cursor: Cursor | None) -> Statement:
    b.keyset(keys, cursor)
    query = b.where(exp.select(*[c.name for c in columns]).from_(table))
    query = query.order_by(*[k.name for k in keys]).limit(limit + 1)
    return _finish(engine, query, b, principal, facilities, keys=tuple(k.name for k in keys), paged=True,
                   limit=limit, columns=tuple(c.name for c in columns))


def robots(principal: Principal, *, facility_id: Sequence[str] = (), status: str | None = None,
           model: str | None = None, limit: int = DEFAULT_LIMIT, cursor: Cursor | None = None) -> Statement:
    b = _Builder()
    b.equals(exp.column("status"), "status", status)
    b.equals(exp.column("model"), "model", model)
    columns = entity_columns(SURGICAL_ROBOTS.name)
    keys = (SURGICAL_ROBOTS.column(SURGICAL_ROBOTS.primary_key),)
    return _list(TRANSACTIONAL, _entity(TRANSACTIONAL, SURGICAL_ROBOTS.name), columns, keys, b, principal,
                 facility_id, limit, cursor)


def robot(principal: Principal, robot_id: str) -> Statement:
    b = _Builder()
    b.equals(exp.column(SURGICAL_ROBOTS.primary_key), "robot_id", robot_id)
    columns = entity_columns(SURGICAL_ROBOTS.name)
    query = b.where(exp.select(*[c.name for c in columns]).from_(_entity(TRANSACTIONAL, SURGICAL_ROBOTS.name)))
    return _finish(TRANSACTIONAL, query, b, principal, columns=tuple(c.name for c in columns))


def maintenance(principal: Principal, robot_id: str, *, limit: int = DEFAULT_LIMIT,
                cursor: Cursor | None = None) -> Statement:
    entity = ROBOT_MAINTENANCE_LOGS
    b = _Builder()
    b.equals(exp.column("robot_id"), "robot_id", robot_id)
    keys = (entity.column("started_at"), entity.column(entity.primary_key))
    return _list(TRANSACTIONAL, _entity(TRANSACTIONAL, entity.name), entity_columns(entity.name), keys, b,
                 principal, (), limit, cursor)


def procedures(principal: Principal, *, facility_id: Sequence[str] = (), robot_id: str | None = None,
               category: str | None = None, start: dt.datetime | dt.date | None = None,
               end: dt.datetime | dt.date | None = None, limit: int = DEFAULT_LIMIT,
               cursor: Cursor | None = None) -> Statement:
    entity = SURGICAL_PROCEDURES
    b = _Builder()
    b.equals(exp.column("robot_id"), "robot_id", robot_id)
    b.equals(exp.column(PROCEDURE_CATEGORY), "category", category)
    b.time_range(exp.column("scheduled_start"), start, end)
    keys = (entity.column("scheduled_start"), entity.column(entity.primary_key))
    columns = visible_columns(entity_columns(entity.name), principal.phi)
    return _list(TRANSACTIONAL, _entity(TRANSACTIONAL, entity.name), columns, keys, b, principal,
                 facility_id, limit, cursor)


def procedure(principal: Principal, procedure_id: str) -> Statement:
    """One procedure with its outcome's columns prefixed `outcome__` (NULL when none yet)."""
    p, o = SURGICAL_PROCEDURES, PROCEDURE_OUTCOMES
    b = _Builder()
    b.equals(exp.column(p.primary_key, table="p"), "procedure_id", procedure_id)
    own = visible_columns(entity_columns(p.name), principal.phi)
    outcome = entity_columns(o.name)
    query = (exp.select(*[exp.column(c.name, table="p") for c in own],
                        *[exp.alias_(exp.column(c.name, table="o"), f"{OUTCOME_PREFIX}{c.name}") for c in outcome])
             .from_(exp.alias_(_entity(TRANSACTIONAL, p.name), "p", table=True))
             .join(exp.alias_(_entity(TRANSACTIONAL, o.name), "o", table=True),
                   on=exp.column(p.primary_key, table="o").eq(exp.column(p.primary_key, table="p")), join_type="left"))
    return _finish(TRANSACTIONAL, b.where(query), b, principal)


def _lake_list(principal: Principal, name: str, robot_id: str, keys: tuple[str, ...], b: _Builder,
               start: dt.datetime | dt.date | None, end: dt.datetime | dt.date | None, limit: int,
               cursor: Cursor | None) -> Statement:
    table = LAKE_TABLES[name]
    columns = {c.name: c for c in lake_columns(name)}
    b.equals(exp.column("robot_id"), "robot_id", robot_id)
    b.time_range(exp.column("hour"), start, end)
    # Partition pruning: the lake tables are partitioned by the UTC date of `hour` (a string).
    if start is not None:
        b.conditions.append(exp.column("date", quoted=True) >= _param("from_date"))
        b.params["from_date"] = _timestamp(start)[:10]
    if end is not None:
        b.conditions.append(exp.column("date", quoted=True) <= _param("to_date"))
        b.params["to_date"] = _timestamp(end)[:10]
    return _list(ANALYTICS, exp.table_(table.name, db=LAKE_SCHEMA), tuple(columns.values()),
                 tuple(columns[k] for k in keys), b, principal, (), limit, cursor)


def telemetry_hourly(principal: Principal, robot_id: str, *, start: dt.datetime | dt.date | None = None,
                     end: dt.datetime | dt.date | None = None, arm_id: int | None = None,
                     limit: int = DEFAULT_LIMIT, cursor: Cursor | None = None) -> Statement:
    b = _Builder()
    b.equals(exp.column("arm_id"), "arm_id", arm_id, "INT")
    return _lake_list(principal, TELEMETRY_HOURLY.name, robot_id, ("hour", "arm_id"), b, start, end, limit, cursor)


def anomalies(principal: Principal, robot_id: str, *, start: dt.datetime | dt.date | None = None,
              end: dt.datetime | dt.date | None = None, limit: int = DEFAULT_LIMIT,
              cursor: Cursor | None = None) -> Statement:
    return _lake_list(principal, TELEMETRY_ANOMALIES.name, robot_id, ("hour", "metric"), _Builder(), start, end,
                      limit, cursor)


def view(principal: Principal, v: View, *, facility_id: Sequence[str] = (), robot_id: str | None = None,
         start: dt.datetime | dt.date | None = None, end: dt.datetime | dt.date | None = None,
         limit: int = DEFAULT_LIMIT, cursor: Cursor | None = None) -> Statement:
    """The view's defining query computed over the visible facilities, filtered, offset-paged."""
    b = _Builder()
    if "robot_id" in v.columns:
        b.equals(exp.column("robot_id", table="v"), "robot_id", robot_id)
    if v.date_column:
        b.time_range(exp.cast(exp.column(v.date_column, table="v"), "TIMESTAMPTZ"), start, end)
    query = b.where(exp.select("*").from_(exp.Subquery(this=v.select.copy(), alias=exp.TableAlias(this=exp.to_identifier("v")))))
    offset = cursor.offset if cursor and cursor.offset else 0
    query = query.order_by(*[exp.Literal.number(i + 1) for i in range(len(v.columns))]).limit(limit + 1)
    if offset:
        query = query.offset(offset)
    return _finish(ANALYTICS, query, b, principal, facility_id, paged=True, limit=limit, columns=v.columns)


def ledger(principal: Principal, *, status: str | None = None, since: dt.datetime | dt.date | None = None,
           limit: int = DEFAULT_LIMIT, cursor: Cursor | None = None) -> Statement:
    """The ingest ledger (admins only: `confine` refuses it to anyone else)."""
    b = _Builder()
    b.equals(exp.column("status"), "status", status)
    if since is not None:
        b.conditions.append(exp.func("COALESCE", exp.column("finished_at"), exp.column("first_seen_at"))
                            >= _param("since_ts", "TIMESTAMPTZ"))
        b.params["since_ts"] = _timestamp(since)
    keys = (Column("object_key", DType.STRING, ""), Column("content_checksum", DType.STRING, ""))
    b.keyset(keys, cursor)
    query = b.where(exp.select("*").from_(LEDGER)).order_by(*[k.name for k in keys]).limit(limit + 1)
    return _finish(TRANSACTIONAL, query, b, principal, keys=tuple(k.name for k in keys), paged=True, limit=limit)
