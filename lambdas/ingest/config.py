"""The ingest's configuration: environment variables read once per container, typed.

Names are the promise in `infra/config.py: INGEST_ENV_VARS` and docs/interfaces.md.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from lambdas.ingest.errors import ConfigurationError
from lambdas.rds_tls import tls_params

LIMIT_ENV_VARS = ("INGEST_MAX_OBJECT_BYTES", "INGEST_MAX_LINE_BYTES", "INGEST_MAX_QUARANTINE_BYTES")


@dataclass(frozen=True)
class Limits:
    """Bounds on what one object may cost (bytes). Defaults = cdk.json's, for tests without the env.

    Set by `infra/config.py: LakeConfig.ingest_limits_env()`; the README's "Limits" says why
    these values (measured peak memory, /tmp and time per GB).
    """

    max_object_bytes: int = 2048 << 20
    max_line_bytes: int = 1024 << 10
    max_quarantine_bytes: int = 512 << 20

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Limits:
        values = {}
        for name, attr in zip(LIMIT_ENV_VARS, ("max_object_bytes", "max_line_bytes", "max_quarantine_bytes"),
                              strict=True):
            raw = env.get(name)
            if not raw:
                continue
            if not raw.isdigit() or int(raw) <= 0:
                raise ConfigurationError(f"{name} must be a positive number of bytes")
            values[attr] = int(raw)
        return cls(**values)


@dataclass(frozen=True)
class IngestConfig:
    processed_bucket: str
    quarantine_bucket: str
    glue_database: str
    hmac_secret_arn: str
    db_secret_arn: str | None
    db_host: str | None
    db_port: int | None
    db_name: str | None
    database_url: str | None
    limits: Limits = field(default_factory=Limits)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> IngestConfig:
        env = os.environ if env is None else env
        missing = [n for n in ("PROCESSED_BUCKET", "QUARANTINE_BUCKET", "GLUE_DATABASE", "HMAC_SECRET_ARN")
                   if not env.get(n)]
        if not env.get("DATABASE_URL") and not env.get("DB_SECRET_ARN"):
            missing.append("DATABASE_URL or DB_SECRET_ARN")
        if missing:
            raise ConfigurationError(f"missing environment variables: {', '.join(missing)}")
        port = env.get("DB_PORT")
        return cls(
            processed_bucket=env["PROCESSED_BUCKET"],
            quarantine_bucket=env["QUARANTINE_BUCKET"],
            glue_database=env["GLUE_DATABASE"],
            hmac_secret_arn=env["HMAC_SECRET_ARN"],
            db_secret_arn=env.get("DB_SECRET_ARN") or None,
            db_host=env.get("DB_HOST") or None,
            db_port=int(port) if port else None,
            db_name=env.get("DB_NAME") or None,
            database_url=env.get("DATABASE_URL") or None,
            limits=Limits.from_env(env),
        )

    def db_conninfo(self, secret_string: str | None) -> str:
        """libpq URL: DATABASE_URL as is, else the RDS secret (+ overrides) over TLS verified against
        the RDS Proxy / RDS roots (`lambdas.rds_tls`). The secret is the ingest role's (lake_ingest)."""
        if self.database_url:
            return self.database_url
        if not secret_string:
            raise ConfigurationError("DB_SECRET_ARN is set but the secret is empty")
        try:
            secret = json.loads(secret_string)
            user, password = secret["username"], secret["password"]
        except (ValueError, KeyError) as exc:
            raise ConfigurationError("the DB secret is not RDS-format JSON (username, password, ...)") from exc
        host = self.db_host or secret.get("host")
        port = self.db_port or secret.get("port") or 5432
        name = self.db_name or secret.get("dbname") or "postgres"
        if not host:
            raise ConfigurationError("no database host: set DB_HOST or put host in the DB secret")
        tls = "&".join(f"{k}={quote(v, safe='/')}" for k, v in tls_params().items())
        return (f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/"
                f"{quote(name, safe='')}?{tls}&connect_timeout=10")
