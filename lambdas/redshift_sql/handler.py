"""Deploy-time custom resource: apply `sql/redshift/*.sql` through the Redshift Data API.

Files run in name order, one statement per file, after the deploy-time placeholders
(`{{GLUE_DATABASE}}`, `{{SPECTRUM_ROLE_ARN}}`, `{{RDS_HOST}}`, `{{RDS_PORT}}`,
`{{RDS_DATABASE}}`, `{{RDS_SECRET_ARN}}`, `{{API_DB_USER}}`) are substituted. The statements are idempotent by
convention (`CREATE ... IF NOT EXISTS`, `CREATE OR REPLACE VIEW`), so a re-run is safe. The
admin credentials are the secret Redshift manages; its ARN is read from the namespace, because
CloudFormation does not expose it. Statements wait for Redshift until the invocation's deadline
(not a fixed time each), so the function answers CloudFormation before its own timeout. A bundle
without SQL files is broken, not "nothing to do".
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

PHYSICAL_ID = "redshift-sql"
SQL_DIR = Path(__file__).resolve().parents[2] / "sql" / "redshift"
PLACEHOLDER = re.compile(r"\{\{([A-Z][A-Z0-9_]*)\}\}")
PLACEHOLDERS = ("GLUE_DATABASE", "SPECTRUM_ROLE_ARN", "RDS_HOST", "RDS_PORT", "RDS_DATABASE", "RDS_SECRET_ARN",
                "API_DB_USER")
DONE_STATES = {"FINISHED", "FAILED", "ABORTED"}


class SqlApplyError(CustomResourceError):
    """A file has an unknown placeholder, or a statement failed or timed out in Redshift."""


def render(sql: str, values: Mapping[str, str]) -> str:
    """Substitute `{{NAME}}` placeholders; an unknown one is an error, not a silent blank."""
    missing = sorted({m for m in PLACEHOLDER.findall(sql) if m not in values})
    if missing:
        raise SqlApplyError(f"unknown placeholders {missing}; known: {sorted(values)}")
    return PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), sql)


def rendered_files(sql_dir: Path, values: Mapping[str, str]) -> list[tuple[str, str]]:
    """(file name, rendered SQL) in name order; SqlApplyError when the folder holds none."""
    files = sorted(sql_dir.glob("*.sql"))
    if not files:
        raise SqlApplyError(f"no SQL files in {sql_dir}: the function's bundle is incomplete")
    return [(p.name, render(p.read_text(), values)) for p in files]


def admin_secret_arn(namespace_name: str, client: Any) -> str:
    namespace = client.get_namespace(namespaceName=namespace_name)["namespace"]
    arn = namespace.get("adminPasswordSecretArn")
    if not arn:
        raise SqlApplyError(f"namespace {namespace_name} has no managed admin password secret")
    return arn


def run_statement(
    client: Any, sql: str, *, workgroup: str, database: str, secret_arn: str, name: str,
    deadline: Deadline, poll_s: float = 1.0, sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Execute one statement and wait for it; raise with Redshift's error when it fails."""
    statement_id = client.execute_statement(
        WorkgroupName=workgroup, Database=database, SecretArn=secret_arn, Sql=sql, StatementName=name[:500],
    )["Id"]
    status = poll_until(
        lambda: client.describe_statement(Id=statement_id), lambda s: s["Status"], DONE_STATES,
        what=name, deadline=deadline, poll_s=poll_s, sleep=sleep,
    )
    if status["Status"] != "FINISHED":
        raise SqlApplyError(f"{name}: {status['Status']}: {status.get('Error', 'no error message')}")


def apply_sql(
    props: Mapping[str, Any], data_client: Any | None = None, serverless_client: Any | None = None,
    sql_dir: Path = SQL_DIR, sleep: Callable[[float], None] = time.sleep, *, deadline: Deadline,
) -> dict[str, str]:
    """Run every file in name order; {"Applied": "a.sql,b.sql", "Count": "2"}."""
    values = {k: str(v) for k, v in dict(props.get("Placeholders", {})).items()}
    files = rendered_files(sql_dir, values)
    data_client = data_client or boto3.client("redshift-data")
    serverless_client = serverless_client or boto3.client("redshift-serverless")
    secret_arn = admin_secret_arn(props["NamespaceName"], serverless_client)
    for name, sql in files:
        run_statement(data_client, sql, workgroup=props["WorkgroupName"], database=props["Database"],
                      secret_arn=secret_arn, name=name, deadline=deadline, sleep=sleep)
    return {"Applied": ",".join(name for name, _ in files), "Count": str(len(files))}


def handler(event: Mapping[str, Any], context: Any, send: Sender = put_response) -> dict[str, Any]:
    deadline = Deadline.from_context(context)
    work = functools.partial(apply_sql, deadline=deadline)
    return run_custom_resource(event, context, PHYSICAL_ID, work, send, deadline)
