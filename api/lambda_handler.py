"""API Gateway (REST, Cognito authorizer) -> this Lambda -> the FastAPI app, through Mangum.

Built once per container (cold start): engines from the environment the CDK app sets
(`ENV_VARS`), principals from the authorizer's claims. PostgreSQL: RDS Proxy as `lake_api`,
credentials from its own secret (re-read for every new connection, so a rotation is picked up),
TLS verify-full (`lambdas.rds_tls`). Analytics: the Redshift Data API on the workgroup.
`DATABASE_URL` replaces the secret in tests (the local server has no TLS).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from api.app import ACCESS_LOG, ApiContext, create_app
from api.auth import cognito_claims
from api.engines import PostgresEngine, RedshiftDataEngine

ENV_VARS = ("DB_SECRET_ARN", "DB_HOST", "DB_PORT", "DB_NAME", "REDSHIFT_WORKGROUP", "REDSHIFT_DATABASE",
            "CORS_ORIGINS", "DATABASE_URL")
SECRET_TTL_SECONDS = 300


def secret_conninfo(secrets: Any, secret_arn: str, host: str, port: str, dbname: str) -> Callable[[], str]:
    """A libpq URL from the role's RDS-format secret, cached `SECRET_TTL_SECONDS`, verify-full TLS."""
    from lambdas.rds_tls import tls_params

    cache: dict[str, Any] = {}

    def conninfo() -> str:
        if cache.get("until", 0) < time.monotonic():
            secret = json.loads(secrets.get_secret_value(SecretId=secret_arn)["SecretString"])
            tls = "&".join(f"{k}={quote(v, safe='/')}" for k, v in tls_params().items())
            cache["url"] = (f"postgresql://{quote(secret['username'], safe='')}:{quote(secret['password'], safe='')}"
                            f"@{host}:{port}/{quote(dbname, safe='')}?{tls}&connect_timeout=5")
            cache["until"] = time.monotonic() + SECRET_TTL_SECONDS
        return str(cache["url"])

    return conninfo


def build_context(env: Mapping[str, str]) -> ApiContext:
    import boto3

    conninfo: str | Callable[[], str] = env.get("DATABASE_URL") or secret_conninfo(
        boto3.client("secretsmanager"), env["DB_SECRET_ARN"], env["DB_HOST"], env.get("DB_PORT", "5432"),
        env["DB_NAME"])
    transactional = PostgresEngine(conninfo, max_size=2).open()  # one request at a time per container
    analytics = RedshiftDataEngine(boto3.client("redshift-data"), env["REDSHIFT_WORKGROUP"],
                                   env["REDSHIFT_DATABASE"], serverless=boto3.client("redshift-serverless"))
    access = logging.getLogger(ACCESS_LOG)
    if not access.handlers:
        handler = logging.StreamHandler(sys.stdout)  # one JSON line per request in CloudWatch Logs
        handler.setFormatter(logging.Formatter("%(message)s"))
        access.addHandler(handler)
        access.setLevel(logging.INFO)
        access.propagate = False
    origins = tuple(o for o in env.get("CORS_ORIGINS", "").split(",") if o)
    return ApiContext(transactional, analytics, cognito_claims, cors_origins=origins, access_log=access)


def _handler() -> Any:
    from mangum import Mangum

    return Mangum(create_app(build_context(os.environ)), lifespan="off")


handler = _handler()
