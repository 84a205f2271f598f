"""The engines that answer the API's statements, and how each renders the neutral SQL.

- `PostgresEngine`: a psycopg connection pool (transactional endpoints, the ledger), read-only
  sessions in UTC; in AWS through RDS Proxy as `lake_api`, TLS verify-full.
- `RedshiftDataEngine`: the Redshift Data API (lake tables and views in AWS): named parameters,
  polled to completion, typed results.
- The local DuckDB engine lives in `local/api_server.py` (it needs local mode's modules).

Each returns `(columns, rows)` with Python values (datetimes aware in UTC). Connection or
timeout failures raise `EngineUnavailable` (503); a value the engine refuses to cast (a
forged cursor) raises `BadValue` (400).
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from typing import Any, Protocol

from api.queries import Statement

Rows = tuple[list[str], list[tuple[Any, ...]]]
_PYFORMAT = re.compile(r"%\((\w+)\)s")


class EngineUnavailable(RuntimeError):
    """The engine cannot be reached or did not answer in time."""


class BadValue(ValueError):
    """The engine refused a parameter value (e.g. a cursor that is not a timestamp)."""


class Engine(Protocol):
    name: str

    def run(self, statement: Statement) -> Rows: ...

    def ping(self) -> None: ...

    def close(self) -> None: ...


class PostgresEngine:
    """`conninfo` is a libpq URL or a callable returning one (read per new connection, so a
    rotated secret is picked up)."""

    name = "postgresql"

    def __init__(self, conninfo: str | Callable[[], str], *, max_size: int = 8, timeout: float = 10.0) -> None:
        from psycopg_pool import ConnectionPool

        self.pool = ConnectionPool(conninfo, min_size=1, max_size=max_size, timeout=timeout, open=False,
                                   kwargs={"autocommit": True}, configure=_configure, name="lake-api")

    def open(self) -> PostgresEngine:
        self.pool.open(wait=False)
        return self

    def run(self, statement: Statement) -> Rows:
        import psycopg
        from psycopg_pool import PoolTimeout

        sql = statement.tree.sql(dialect="postgres")
        try:
            with self.pool.connection() as conn:
                cur = conn.execute(sql, statement.params)  # type: ignore[call-overload]
                columns = [d.name for d in cur.description or ()]
                return columns, cur.fetchall()
        except (psycopg.errors.DataError, psycopg.errors.InvalidTextRepresentation) as exc:
            raise BadValue(type(exc).__name__) from exc
        except (PoolTimeout, psycopg.OperationalError) as exc:
            raise EngineUnavailable(f"PostgreSQL: {type(exc).__name__}") from exc

    def ping(self) -> None:
        import psycopg
        from psycopg_pool import PoolTimeout

        try:
            with self.pool.connection(timeout=5) as conn:
                conn.execute("SELECT 1")
        except (PoolTimeout, psycopg.Error) as exc:
            raise EngineUnavailable(f"PostgreSQL: {type(exc).__name__}") from exc

    def close(self) -> None:
        self.pool.close()


def _configure(conn: Any) -> None:
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute("SET default_transaction_read_only = on")


class RedshiftDataEngine:
    """Statements through the Redshift Data API on a Serverless workgroup (IAM identity of the
    function: the database user `IAMR:<role>`). Health reads the workgroup's status
    (GetWorkgroup) instead of running SQL: no compute is billed for a health check."""

    name = "redshift"

    def __init__(self, client: Any, workgroup: str, database: str, *, serverless: Any = None,
                 timeout: float = 25.0) -> None:
        self.client = client
        self.serverless = serverless
        self.workgroup = workgroup
        self.database = database
        self.timeout = timeout  # below API Gateway's 29 s integration timeout

    def render(self, statement: Statement) -> str:
        return _PYFORMAT.sub(r":\1", statement.tree.sql(dialect="redshift"))

    def run(self, statement: Statement) -> Rows:
        params = [{"name": k, "value": str(v)} for k, v in statement.params.items()]
        started = self.client.execute_statement(WorkgroupName=self.workgroup, Database=self.database,
                                                Sql=self.render(statement), **({"Parameters": params} if params else {}))
        statement_id = started["Id"]
        deadline, delay = time.monotonic() + self.timeout, 0.05
        while True:
            desc = self.client.describe_statement(Id=statement_id)
            status = desc["Status"]
            if status == "FINISHED":
                break
            if status in ("FAILED", "ABORTED"):
                error = str(desc.get("Error", ""))
                if "invalid input syntax" in error:
                    raise BadValue("invalid parameter value")
                raise EngineUnavailable(f"Redshift statement {status.lower()}")
            if time.monotonic() > deadline:
                self.client.cancel_statement(Id=statement_id)
                raise EngineUnavailable("Redshift did not answer in time")
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        if not desc.get("HasResultSet"):
            return [], []
        return _result(self.client, statement_id)

    def ping(self) -> None:
        try:
            status = self.serverless.get_workgroup(workgroupName=self.workgroup)["workgroup"]["status"]
        except Exception as exc:  # any SDK or network error means "down" here
            raise EngineUnavailable(f"Redshift: {type(exc).__name__}") from exc
        if status != "AVAILABLE":
            raise EngineUnavailable(f"Redshift workgroup {status}")

    def close(self) -> None:
        return None


def _result(client: Any, statement_id: str) -> Rows:
    columns: list[str] = []
    types: list[str] = []
    rows: list[tuple[Any, ...]] = []
    token: str | None = None
    while True:
        page = client.get_statement_result(Id=statement_id, **({"NextToken": token} if token else {}))
        if not columns:
            columns = [c["name"] for c in page["ColumnMetadata"]]
            types = [c.get("typeName", "") for c in page["ColumnMetadata"]]
        rows.extend(tuple(_field(f, t) for f, t in zip(record, types, strict=True)) for record in page["Records"])
        token = page.get("NextToken")
        if not token:
            return columns, rows


def _field(field: dict[str, Any], type_name: str) -> Any:
    if field.get("isNull"):
        return None
    for key in ("longValue", "doubleValue", "booleanValue"):
        if key in field:
            return field[key]
    value = field.get("stringValue")
    if value is not None and type_name in ("timestamp", "timestamptz"):
        return dt.datetime.fromisoformat(value.replace(" ", "T")).replace(tzinfo=dt.UTC) if "+" not in value \
            else dt.datetime.fromisoformat(value.replace(" ", "T"))
    if value is not None and type_name == "date":
        return dt.date.fromisoformat(value)
    if value is not None and type_name in ("numeric", "decimal"):
        return float(value)
    return value
