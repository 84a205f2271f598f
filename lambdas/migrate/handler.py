"""Deploy-time custom resource: apply `sql/rds/` migrations to the RDS instance.

The SQL files are bundled into the function (`sql/rds/` next to `lambdas/`), so the migrations
that deploy are the files in the commit. `apply_migrations` records each file in
`public.schema_migrations` under an advisory lock, so a re-run (stack update, rollback, retry)
applies only what is new. Connects straight to the instance (not the proxy) with TLS required.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3
import psycopg

from lambdas.custom_resource import Sender, put_response, run_custom_resource
from lambdas.migrate.migrations import DEFAULT_SQL_DIR, apply_migrations

PHYSICAL_ID = "rds-migrations"


def db_credentials(secret_arn: str, client: Any | None = None) -> dict[str, Any]:
    """The RDS-format secret (username, password, ...) from Secrets Manager."""
    client = client or boto3.client("secretsmanager")
    return json.loads(client.get_secret_value(SecretId=secret_arn)["SecretString"])


def connect(props: Mapping[str, Any], secrets_client: Any, sslmode: str, attempts: int = 4,
            wait_s: float = 10.0) -> psycopg.Connection:
    """Connect, re-reading the secret between attempts: on a first deploy the rotation schedule
    may rotate the password while this function runs."""
    for attempt in range(1, attempts + 1):
        creds = db_credentials(props["SecretArn"], secrets_client)
        try:
            return psycopg.connect(
                host=props["Host"], port=int(props["Port"]), dbname=props["Database"],
                user=creds["username"], password=creds["password"], sslmode=sslmode, connect_timeout=15,
            )
        except psycopg.OperationalError:
            if attempt == attempts:
                raise
            time.sleep(wait_s)
    raise AssertionError("unreachable")


def migrate(
    props: Mapping[str, Any], secrets_client: Any | None = None, sql_dir: Path = DEFAULT_SQL_DIR,
) -> dict[str, str]:
    """Connect with the secret's credentials and apply pending migrations; report what ran.

    TLS is required unless the standard libpq variable PGSSLMODE says otherwise (a local test
    server without certificates); the instance itself refuses plain connections (rds.force_ssl).
    """
    sslmode = os.environ.get("PGSSLMODE", "require")
    with connect(props, secrets_client, sslmode) as conn:
        applied = apply_migrations(conn, sql_dir)
    return {"Applied": ",".join(applied) or "none", "Count": str(len(applied))}


def handler(event: Mapping[str, Any], context: Any, send: Sender = put_response) -> dict[str, Any]:
    return run_custom_resource(event, context, PHYSICAL_ID, migrate, send)
