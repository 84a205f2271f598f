"""The alerts functions' configuration: environment variables, read once per container, typed.

Set by the CDK app (`infra/alerts.py`) and by local mode (`local/analytics/alerting.py`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

from psycopg.conninfo import make_conninfo

from lambdas.alerts.errors import AlertsConfigError
from lambdas.rds_tls import tls_params


@dataclass(frozen=True)
class AlertsConfig:
    processed_bucket: str
    event_bus_name: str
    database_url: str | None = None
    db_secret_arn: str | None = None
    db_host: str | None = None
    db_port: int | None = None
    db_name: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AlertsConfig:
        env = os.environ if env is None else env
        missing = [n for n in ("PROCESSED_BUCKET", "EVENT_BUS_NAME") if not env.get(n)]
        if not env.get("DATABASE_URL") and not env.get("DB_SECRET_ARN"):
            missing.append("DATABASE_URL or DB_SECRET_ARN")
        if missing:
            raise AlertsConfigError(f"missing environment variables: {', '.join(missing)}")
        port = env.get("DB_PORT")
        return cls(env["PROCESSED_BUCKET"], env["EVENT_BUS_NAME"], env.get("DATABASE_URL") or None,
                   env.get("DB_SECRET_ARN") or None, env.get("DB_HOST") or None, int(port) if port else None,
                   env.get("DB_NAME") or None)

    def conninfo(self, secret_string: str | None) -> str:
        """libpq connection string: DATABASE_URL, else the RDS secret (+ overrides), TLS verify-full
        against the RDS Proxy / RDS roots (`lambdas.rds_tls`). The secret is lake_alerts'."""
        if self.database_url:
            return self.database_url
        try:
            secret = json.loads(secret_string or "")
            user, password = secret["username"], secret["password"]
        except (ValueError, KeyError, TypeError):
            raise AlertsConfigError("the DB secret is not RDS-format JSON (username, password, ...)") from None
        host = self.db_host or secret.get("host")
        if not host:
            raise AlertsConfigError("no database host: set DB_HOST or put host in the DB secret")
        return make_conninfo(host=host, port=self.db_port or secret.get("port") or 5432,
                             dbname=self.db_name or secret.get("dbname") or "postgres", user=user,
                             password=password, connect_timeout=10, **tls_params())
