"""Deploy-time custom resource: apply `sql/rds/` migrations to the RDS instance.

The SQL files are bundled into the function (`sql/rds/` next to `lambdas/`), so the migrations
that deploy are the files in the commit. `apply_migrations` records each file in
`public.schema_migrations` under an advisory lock, so a re-run (stack update, rollback, retry)
applies only what is new. First, as the master user, it creates the lake's roles
(`lambdas/migrate/roles.py`); the migrations then run as `lake_migrator`, which owns the schema.
Connects straight to the instance (not the proxy) over TLS verified against the RDS roots.
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
from psycopg.conninfo import make_conninfo

from lake.db_roles import MIGRATOR
from lambdas.custom_resource import Sender, put_response, run_custom_resource
from lambdas.migrate.migrations import DEFAULT_SQL_DIR, apply_migrations
from lambdas.migrate.roles import bootstrap
from lambdas.rds_tls import tls_params

PHYSICAL_ID = "rds-migrations"


def db_credentials(secret_arn: str, client: Any | None = None) -> dict[str, Any]:
    """The RDS-format secret (username, password, ...) from Secrets Manager."""
    client = client or boto3.client("secretsmanager")
    return json.loads(client.get_secret_value(SecretId=secret_arn)["SecretString"])


def tls() -> dict[str, str]:
    """verify-full against the RDS roots, unless the standard libpq variable PGSSLMODE says
    otherwise (a local test server without a certificate); the instance refuses plain connections
    anyway (rds.force_ssl)."""
    mode = os.environ.get("PGSSLMODE")
    return {"sslmode": mode} if mode else tls_params()


def connect(props: Mapping[str, Any], secret_arn: str, secrets_client: Any, attempts: int = 4,
            wait_s: float = 10.0) -> psycopg.Connection:
    """Connect with a secret's credentials, re-reading it between attempts: on a first deploy the
    rotation schedule may rotate the password while this function runs."""
    for attempt in range(1, attempts + 1):
        creds = db_credentials(secret_arn, secrets_client)
        try:
            conninfo = make_conninfo(
                host=props["Host"], port=int(props["Port"]), dbname=props["Database"],
                user=creds["username"], password=creds["password"], connect_timeout=15, **tls(),
            )
            return psycopg.connect(conninfo)
        except psycopg.OperationalError:
            if attempt == attempts:
                raise
            time.sleep(wait_s)
    raise AssertionError("unreachable")


def migrate(
    props: Mapping[str, Any], secrets_client: Any | None = None, sql_dir: Path = DEFAULT_SQL_DIR,
) -> dict[str, str]:
    """As the master user: create/update the lake's roles with their secrets' passwords; then, as
    `lake_migrator`, apply the pending migrations. Reports what ran.

    `props`: SecretArn (master), RoleSecretArns (role name -> secret ARN), Host, Port, Database.
    """
    client = secrets_client or boto3.client("secretsmanager")
    role_secrets: Mapping[str, str] = props["RoleSecretArns"]
    passwords = {name: db_credentials(arn, client)["password"] for name, arn in role_secrets.items()}
    with connect(props, props["SecretArn"], client) as admin:
        bootstrap(admin, passwords)
    with connect(props, role_secrets[MIGRATOR.name], client) as conn:
        applied = apply_migrations(conn, sql_dir)
    return {"Applied": ",".join(applied) or "none", "Count": str(len(applied))}


def handler(event: Mapping[str, Any], context: Any, send: Sender = put_response) -> dict[str, Any]:
    return run_custom_resource(event, context, PHYSICAL_ID, migrate, send)
