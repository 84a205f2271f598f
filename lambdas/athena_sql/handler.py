"""Deploy-time custom resource: create the Athena views of `sql/athena/` in the workgroup.

Named queries only save SQL; a view must be created once before the queries that read it
work. This function runs every file that creates a view (`CREATE OR REPLACE VIEW name`), in
name order, through the encrypted, enforced workgroup; the other files stay named queries.
Re-running is safe: `CREATE OR REPLACE` is idempotent. Queries wait until the invocation's
deadline, so the function answers CloudFormation before its own timeout.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import boto3

from lambdas.custom_resource import (
    CustomResourceError,
    Deadline,
    Sender,
    poll_until,
    put_response,
    run_custom_resource,
)

PHYSICAL_ID = "athena-views"
SQL_DIR = Path(__file__).resolve().parents[2] / "sql" / "athena"
# `CREATE OR REPLACE VIEW [schema.]name`: the one rule for "this file creates a view" (the local
# engine, local/analytics/duckdb_engine.py, classifies Athena and Redshift files with it too).
VIEW = re.compile(
    r"^\s*CREATE\s+OR\s+REPLACE\s+VIEW\s+(?:\"?[A-Za-z_][A-Za-z0-9_]*\"?\.)?\"?([A-Za-z_][A-Za-z0-9_]*)\"?",
    re.IGNORECASE,
)
DONE_STATES = {"SUCCEEDED", "FAILED", "CANCELLED"}


class AthenaSqlError(CustomResourceError):
    """A view statement failed or did not finish in time."""


def strip_leading_comments(sql: str) -> str:
    """Drop the `--` header lines (the question the view answers) and surrounding blanks."""
    lines = sql.strip().splitlines()
    while lines and (lines[0].lstrip().startswith("--") or not lines[0].strip()):
        lines.pop(0)
    return "\n".join(lines).strip().rstrip(";").strip()


def view_name(sql: str) -> str | None:
    """The view a SQL file creates (without its schema), or None when it creates none."""
    match = VIEW.match(strip_leading_comments(sql))
    return match.group(1) if match else None


def view_files(sql_dir: Path) -> list[tuple[str, str, str]]:
    """(file name, view name, statement) for the view files, in name order."""
    out = []
    for path in sorted(sql_dir.glob("*.sql")):
        sql = path.read_text()
        name = view_name(sql)
        if name:
            out.append((path.name, name, strip_leading_comments(sql)))
    return out


def run_query(client: Any, sql: str, *, workgroup: str, database: str, name: str, deadline: Deadline,
              poll_s: float = 1.0, sleep: Callable[[float], None] = time.sleep) -> None:
    query_id = client.start_query_execution(
        QueryString=sql, WorkGroup=workgroup,
        QueryExecutionContext={"Catalog": "AwsDataCatalog", "Database": database},
    )["QueryExecutionId"]
    status = poll_until(
        lambda: client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"],
        lambda s: s["State"], DONE_STATES, what=name, deadline=deadline, poll_s=poll_s, sleep=sleep,
    )
    if status["State"] != "SUCCEEDED":
        raise AthenaSqlError(f"{name}: {status['State']}: {status.get('StateChangeReason', 'no reason given')}")


def create_views(props: Mapping[str, Any], client: Any | None = None, sql_dir: Path = SQL_DIR,
                 sleep: Callable[[float], None] = time.sleep, *, deadline: Deadline) -> dict[str, str]:
    """Run every view file in name order; {"Views": "v_a,v_b", "Count": "2"}."""
    files = view_files(sql_dir)
    if not files:
        raise AthenaSqlError(f"no view files in {sql_dir}: the function's bundle is incomplete")
    client = client or boto3.client("athena")
    for file_name, _, sql in files:
        run_query(client, sql, workgroup=props["WorkGroup"], database=props["Database"], name=file_name,
                  deadline=deadline, sleep=sleep)
    return {"Views": ",".join(view for _, view, _ in files), "Count": str(len(files))}


def handler(event: Mapping[str, Any], context: Any, send: Sender = put_response) -> dict[str, Any]:
    deadline = Deadline.from_context(context)
    work = functools.partial(create_views, deadline=deadline)
    return run_custom_resource(event, context, PHYSICAL_ID, work, send, deadline)
