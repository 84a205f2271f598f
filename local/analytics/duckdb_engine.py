"""The local analytics engine: DuckDB with the names Redshift and Athena see in AWS.

Why: Redshift and Athena cannot run offline, and the views must be tested on a real engine
with the SQL that deploys (docs/adr/0002). `open_engine` builds an in-memory DuckDB where

- the RDS tables are visible unqualified and under `rds.` (RDS `public`) / `rds_etl.` (RDS
  `etl`), as Redshift's federated schemas name them: copied from PostgreSQL (psycopg rows ->
  Arrow) or given as Arrow tables;
- the lake tables (`procedure_telemetry`, `telemetry_hourly`, `telemetry_anomalies`) are under
  `lake.` (the Spectrum schema): views over the hive-partitioned Parquet of a local folder (or
  a pyarrow filesystem, e.g. moto S3); partition keys `date` / `robot_id` are strings as in Glue;
- the Redshift views of `sql/redshift/*.sql` are under `analytics.`: the same files, transpiled
  redshift -> duckdb by sqlglot (`WITH NO SCHEMA BINDING` stripped; the external-schema files
  are skipped because this function emulates them), with the `{{NAME}}` placeholders the
  deploy substitutes from the detection settings (`DetectionSettings.sql_placeholders`);
- the Athena views of `sql/athena/*.sql` are under the Glue database name (default
  `surgical_lake`); Athena named queries run with `run_athena_query`.

"Now" is the `as_of` view of each engine (`analytics.as_of`, `<glue database>.as_of`): the
current time, as in AWS, unless `set_as_of` pins it (`lake demo`: the data's last timestamp,
`data_as_of`). Sessions use `TimeZone = 'UTC'` (Redshift's and Athena's default).

Example:
    >>> con = open_engine("postgresql://...", Path("work/processed"))
    >>> run_query(con, "SELECT * FROM analytics.v_robot_reliability").num_rows
    >>> run_athena_query(con, "q_anomalies_last_30_days")
    >>> run_query(con, "SELECT getdate()", dialect="redshift")
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp

from lake.contract import ENTITIES, LAKE_TABLES, arrow_schema, lake_data_columns
from lake.detection import DetectionSettings
from lambdas.athena_sql.handler import view_name

ROOT = Path(__file__).resolve().parents[2]
REDSHIFT_DIR = ROOT / "sql" / "redshift"
ATHENA_DIR = ROOT / "sql" / "athena"
RDS_DIR = ROOT / "sql" / "rds"
DEFAULT_GLUE_DATABASE = "surgical_lake"

# RDS schema -> engine schema (the Redshift federated schema names).
RDS_SCHEMAS = {"public": "rds", "etl": "rds_etl"}
TELEMETRY = ENTITIES["procedure_telemetry"]
LAKE_NAMES = (TELEMETRY.name, *LAKE_TABLES)

_EXTERNAL_SCHEMA = re.compile(r"\bCREATE\s+EXTERNAL\s+SCHEMA\b", re.IGNORECASE)
# Warehouse users and grants (sql/redshift/9x_api_reader_*): DuckDB has no users.
_DEPLOY_ONLY = re.compile(r"\bCREATE\s+OR\s+REPLACE\s+PROCEDURE\b|^\s*CALL\b", re.IGNORECASE | re.MULTILINE)
_PLACEHOLDER = re.compile(r"\{\{([A-Z][A-Z0-9_]*)\}\}")
_NO_SCHEMA_BINDING = re.compile(r"\bWITH\s+NO\s+SCHEMA\s+BINDING\b", re.IGNORECASE)
_PG_ARROW = {
    "text": pa.string(), "character varying": pa.string(), "jsonb": pa.string(), "json": pa.string(),
    "integer": pa.int32(), "bigint": pa.int64(), "smallint": pa.int16(),
    "double precision": pa.float64(), "real": pa.float32(), "numeric": pa.float64(),
    "boolean": pa.bool_(), "date": pa.date32(),
    "timestamp with time zone": pa.timestamp("us", tz="UTC"), "timestamp without time zone": pa.timestamp("us"),
    "ARRAY": pa.list_(pa.string()),  # e.g. etl.lake_files.partition_values text[]
}


class EngineError(RuntimeError):
    """A view or query could not be transpiled or executed locally."""


@dataclass(frozen=True)
class SqlFile:
    """One deployable statement, as written and as DuckDB runs it."""

    name: str  # view name or file stem without its order prefix, e.g. "v_robot_reliability"
    path: Path
    kind: str  # "view", "query" (Athena named query) or "statement" (e.g. CREATE SCHEMA)
    duckdb_sql: str


def open_engine(
    pg_url: str | None,
    lake_root: Path | str | None,
    *,
    rds_tables: Mapping[str, pa.Table] | None = None,
    filesystem: Any = None,
    glue_database: str = DEFAULT_GLUE_DATABASE,
    views: bool = True,
    settings: DetectionSettings | None = None,
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with `rds`, `rds_etl`, `lake`, `analytics` and the Athena schema.

    `rds_tables` ("surgical_robots", "etl.ingest_ledger", ...) are used instead of / on top of
    `pg_url`; tables found in neither are created empty from the migrations. `lake_root` is
    a folder (or, with `filesystem`, a path inside that pyarrow filesystem) holding
    `<table>/date=.../*.parquet`; missing tables are empty with the contract's columns.
    `settings` fill the views' placeholders (defaults when None). Without `views`, only
    `analytics.as_of` (what the views read as "now") is created.
    """
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for schema in (*RDS_SCHEMAS.values(), "lake", "analytics", glue_database):
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    tables = dict(read_postgres(pg_url)) if pg_url else {}
    tables.update(rds_tables or {})
    _load_rds(con, tables)
    _attach_lake(con, lake_root, filesystem)
    if views:
        for sql_file in redshift_views(placeholders=(settings or DetectionSettings()).sql_placeholders()):
            _execute(con, sql_file)
        for sql_file in athena_files(glue_database):
            if sql_file.kind == "view":
                _execute(con, sql_file)
    else:  # the query API inlines each view's query over its confined tables: only "now" is needed
        _create_as_of(con)
    return con


def run_query(con: duckdb.DuckDBPyConnection, sql: str, dialect: str | None = None) -> pa.Table:
    """Run one statement (transpiled from `dialect`, e.g. "redshift" or "athena") -> Arrow."""
    if dialect:
        sql = transpile(sql, dialect)
    try:
        return _integer_sums(con.sql(sql).to_arrow_table())
    except duckdb.Error as exc:
        raise EngineError(f"query failed: {exc}") from exc


def _integer_sums(table: pa.Table) -> pa.Table:
    """DuckDB sums integers as HUGEINT (Arrow decimal(38, 0)); Redshift returns BIGINT. Match it
    so callers (the report, JSON) get ints, not Decimals; an overflow raises instead of wrapping."""
    for i, field in enumerate(table.schema):
        if pa.types.is_decimal(field.type) and field.type.scale == 0:
            table = table.set_column(i, field.name, table.column(i).cast(pa.int64()))
    return table


def run_athena_query(con: duckdb.DuckDBPyConnection, name: str,
                     glue_database: str = DEFAULT_GLUE_DATABASE) -> pa.Table:
    """Run the Athena named query `sql/athena/<name>.sql` on the engine."""
    queries = {f.name: f for f in athena_files(glue_database) if f.kind == "query"}
    if name not in queries:
        raise EngineError(f"no Athena named query {name!r}; known: {sorted(queries)}")
    return run_query(con, queries[name].duckdb_sql)


def _create_as_of(con: duckdb.DuckDBPyConnection) -> None:
    """Only the `analytics.as_of` view (the current time)."""
    (as_of,) = [f for f in redshift_views() if f.kind == "view" and f.name == "as_of"]
    _execute(con, as_of)


def set_as_of(con: duckdb.DuckDBPyConnection, as_of: datetime,
              glue_database: str = DEFAULT_GLUE_DATABASE) -> None:
    """Pin "now" for every view and named query (both engines' `as_of` views) to `as_of` (UTC)."""
    literal = as_of.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    for schema in ("analytics", glue_database):
        con.execute(f"CREATE OR REPLACE VIEW \"{schema}\".as_of AS SELECT TIMESTAMP '{literal}' AS as_of")


def data_as_of(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """The data's last timestamp: the latest procedure end, maintenance start or measured rollup hour."""
    row = con.execute(
        "SELECT GREATEST("
        " (SELECT MAX(COALESCE(actual_end, actual_start)) FROM rds.surgical_procedures WHERE status <> 'cancelled'),"
        " (SELECT MAX(started_at) FROM rds.robot_maintenance_logs),"
        " (SELECT MAX(hour) FROM lake.telemetry_hourly WHERE NOT is_imputed AND sample_count > 0))"
    ).fetchone()
    value = row[0] if row else None
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def transpile(sql: str, dialect: str, qualify: Mapping[str, str] | None = None) -> str:
    """One statement from `dialect` to DuckDB; unqualified tables in `qualify` get that schema."""
    sql = _NO_SCHEMA_BINDING.sub("", sql)
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except sqlglot.errors.ParseError as exc:
        raise EngineError(f"cannot parse {dialect} SQL: {exc}") from exc
    if len(statements) != 1:
        raise EngineError(f"expected one statement, found {len(statements)}")
    tree = statements[0]
    if qualify:
        ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
        for table in tree.find_all(exp.Table):
            if not table.db and table.name in qualify and table.name not in ctes:
                table.set("db", exp.to_identifier(qualify[table.name]))
    return tree.sql(dialect="duckdb")


def redshift_views(sql_dir: Path = REDSHIFT_DIR, placeholders: Mapping[str, str] | None = None) -> list[SqlFile]:
    """The `analytics` statements in file-name order, placeholders filled, transpiled; external schemas skipped."""
    values = dict(placeholders if placeholders is not None else DetectionSettings().sql_placeholders())
    out = []
    for path in sorted(sql_dir.glob("*.sql")):
        text = path.read_text()
        if _EXTERNAL_SCHEMA.search(text) or _DEPLOY_ONLY.search(text):
            continue
        missing = sorted({m for m in _PLACEHOLDER.findall(text) if m not in values})
        if missing:
            raise EngineError(f"{path.name}: no value for placeholders {missing}")
        text = _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)
        kind = "view" if view_name(text) else "statement"
        out.append(SqlFile(_stem(path), path, kind, transpile(text, "redshift")))
    return out


def athena_files(glue_database: str = DEFAULT_GLUE_DATABASE, sql_dir: Path = ATHENA_DIR) -> list[SqlFile]:
    """Athena views (created under `glue_database`) and named queries, transpiled."""
    texts = {p: p.read_text() for p in sorted(sql_dir.glob("*.sql"))}
    views = {p: view_name(t) for p, t in texts.items()}
    qualify = {**{name: "lake" for name in LAKE_NAMES}, **{v: glue_database for v in views.values() if v}}
    out = []
    for path, text in texts.items():
        sql = transpile(text, "athena", qualify)
        view = views[path]
        if view:
            out.append(SqlFile(view, path, "view", _qualify_view_name(sql, glue_database)))
        else:
            out.append(SqlFile(_stem(path), path, "query", sql))
    return out


def _stem(path: Path) -> str:
    """File stem without its ordering prefix: `20_q_x.sql` -> `q_x`."""
    return re.sub(r"^\d+_", "", path.stem)


def read_postgres(pg_url: str) -> dict[str, pa.Table]:
    """Every base table of RDS `public` and `etl` as Arrow ("name" / "etl.name")."""
    import psycopg

    out: dict[str, pa.Table] = {}
    with psycopg.connect(pg_url) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        columns = conn.execute(
            "SELECT c.table_schema, c.table_name, c.column_name, c.data_type"
            " FROM information_schema.columns c JOIN information_schema.tables t"
            " USING (table_schema, table_name)"
            " WHERE t.table_type = 'BASE TABLE' AND c.table_schema = ANY(%s)"
            " AND c.table_name <> 'schema_migrations' ORDER BY c.table_schema, c.table_name, c.ordinal_position",
            (list(RDS_SCHEMAS),),
        ).fetchall()
        by_table: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for schema, table, column, dtype in columns:
            by_table.setdefault((schema, table), []).append((column, dtype))
        for (schema, table), cols in by_table.items():
            names = ", ".join(f'"{c}"' for c, _ in cols)
            rows = conn.execute(f'SELECT {names} FROM "{schema}"."{table}"').fetchall()
            key = table if schema == "public" else f"{schema}.{table}"
            out[key] = _rows_to_arrow(rows, cols)
    return out


def _rows_to_arrow(rows: list[tuple], cols: list[tuple[str, str]]) -> pa.Table:
    arrays = []
    values_by_col = list(zip(*rows, strict=True)) if rows else [() for _ in cols]
    for (_, dtype), values in zip(cols, values_by_col, strict=True):
        arrow_type = _PG_ARROW.get(dtype, pa.string())
        if dtype in ("jsonb", "json"):
            values = tuple(None if v is None else json.dumps(v) for v in values)
        elif arrow_type == pa.string():
            values = tuple(None if v is None else str(v) for v in values)
        elif dtype == "ARRAY":
            values = tuple(None if v is None else [None if x is None else str(x) for x in v] for v in values)
        arrays.append(pa.array(values, type=arrow_type))
    return pa.Table.from_arrays(arrays, names=[c for c, _ in cols])


def _load_rds(con: duckdb.DuckDBPyConnection, tables: Mapping[str, pa.Table]) -> None:
    """Given tables as they are; tables the migrations create but nobody gave, empty."""
    ddl = _migration_tables()
    for key in sorted(tables.keys() | ddl.keys()):
        pg_schema, _, name = key.rpartition(".")
        schema = RDS_SCHEMAS.get(pg_schema or "public")
        if schema is None:
            raise EngineError(f"{key}: RDS schema must be one of {sorted(RDS_SCHEMAS)}")
        if key in tables:
            con.register("_incoming", tables[key])
            con.execute(f'CREATE OR REPLACE TABLE "{schema}"."{name}" AS SELECT * FROM _incoming')
            con.unregister("_incoming")
        else:
            con.execute(f'CREATE OR REPLACE TABLE "{schema}"."{name}" ({ddl[key]})')
        if schema == "rds":
            con.execute(f'CREATE OR REPLACE VIEW main."{name}" AS SELECT * FROM rds."{name}"')


def _migration_tables() -> dict[str, str]:
    """"name" / "etl.name" -> DuckDB column definitions of each table the migrations create."""
    out: dict[str, str] = {}
    statements: list[Any] = []
    quiet = logging.getLogger("sqlglot")  # GRANTs and trigger functions parse as commands: expected here
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        for path in sorted(RDS_DIR.glob("*.sql")):
            statements += sqlglot.parse(path.read_text(), read="postgres")
    finally:
        quiet.setLevel(level)
    for stmt in statements:
        if not isinstance(stmt, exp.Create) or stmt.kind != "TABLE" or not isinstance(stmt.this, exp.Schema):
            continue
        table = stmt.this.this
        key = f"{table.db}.{table.name}" if table.db and table.db != "public" else table.name
        out[key] = ", ".join(
            f'"{c.name}" {c.args["kind"].sql(dialect="duckdb")}'
            for c in stmt.this.expressions
            if isinstance(c, exp.ColumnDef)
        )
    return out


def _attach_lake(con: duckdb.DuckDBPyConnection, lake_root: Path | str | None, filesystem: Any) -> None:
    for name in LAKE_NAMES:
        columns, keys = _lake_columns(name)
        select = ", ".join(f'"{c}"' for c in (*columns, *keys))
        source = _lake_source(con, lake_root, filesystem, name, keys)
        if source is None:
            schema = pa.schema([*arrow_schema(_lake_column_defs(name)), *[pa.field(k, pa.string()) for k in keys]])
            con.register("_incoming", schema.empty_table())
            con.execute(f'CREATE OR REPLACE TABLE lake."{name}" AS SELECT {select} FROM _incoming')
            con.unregister("_incoming")
        else:
            con.execute(f'CREATE OR REPLACE VIEW lake."{name}" AS SELECT {select} FROM {source}')


def _lake_column_defs(name: str):
    if name == TELEMETRY.name:
        return lake_data_columns(TELEMETRY.columns, TELEMETRY.partition_keys)
    table = LAKE_TABLES[name]
    return lake_data_columns(table.columns, table.partition_keys)


def _lake_columns(name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    keys = TELEMETRY.partition_keys if name == TELEMETRY.name else LAKE_TABLES[name].partition_keys
    return tuple(c.name for c in _lake_column_defs(name)), tuple(keys)


def _lake_source(con: duckdb.DuckDBPyConnection, lake_root: Path | str | None, filesystem: Any,
                 name: str, keys: tuple[str, ...]) -> str | None:
    if lake_root is None:
        return None
    if filesystem is not None:
        import pyarrow.dataset as ds
        import pyarrow.fs as pafs

        base = f"{str(lake_root).rstrip('/')}/{name}"
        if filesystem.get_file_info(base).type == pafs.FileType.NotFound:
            return None
        partitioning = ds.partitioning(pa.schema([(k, pa.string()) for k in keys]), flavor="hive")
        dataset = ds.dataset(base, filesystem=filesystem, format="parquet", partitioning=partitioning,
                             exclude_invalid_files=True)
        con.register(f"_lake_{name}", dataset)
        return f"_lake_{name}"
    folder = Path(lake_root) / name
    if not any(folder.glob("**/*.parquet")):
        return None
    hive_types = "{" + ", ".join(f"'{k}': VARCHAR" for k in keys) + "}"
    glob = str(folder / "**" / "*.parquet").replace("'", "''")
    return f"read_parquet('{glob}', hive_partitioning = true, hive_types = {hive_types})"


def _qualify_view_name(sql: str, schema: str) -> str:
    tree = sqlglot.parse_one(sql, read="duckdb")
    target = tree.this
    if isinstance(target, exp.Table) and not target.db:
        target.set("db", exp.to_identifier(schema))
    return tree.sql(dialect="duckdb")


def _execute(con: duckdb.DuckDBPyConnection, sql_file: SqlFile) -> None:
    try:
        con.execute(sql_file.duckdb_sql)
    except duckdb.Error as exc:
        raise EngineError(f"{sql_file.path.name}: {exc}") from exc
