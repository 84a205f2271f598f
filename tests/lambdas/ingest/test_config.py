"""Environment -> typed config; the database URL from DATABASE_URL or the RDS secret (TLS required)."""

from __future__ import annotations

import json

import pytest
from psycopg.conninfo import conninfo_to_dict

from infra.config import INGEST_ENV_VARS
from lambdas.ingest.config import IngestConfig
from lambdas.ingest.errors import ConfigurationError
from lambdas.rds_tls import CA_BUNDLE

BASE = {"PROCESSED_BUCKET": "p", "QUARANTINE_BUCKET": "q", "GLUE_DATABASE": "g", "HMAC_SECRET_ARN": "arn:h"}


def test_reads_only_the_promised_variables():
    # GIVEN the variable names the infra sets WHEN the config's fields are compared THEN they match
    fields = {f.upper() for f in IngestConfig.__dataclass_fields__}
    assert fields == set(INGEST_ENV_VARS)


def test_database_url_wins_when_set():
    cfg = IngestConfig.from_env({**BASE, "DATABASE_URL": "postgresql://u@h/db"})
    assert cfg.db_conninfo(None) == "postgresql://u@h/db"


def test_rds_secret_with_overrides_verifies_tls():
    # GIVEN the RDS secret and a proxy endpoint override
    cfg = IngestConfig.from_env({**BASE, "DB_SECRET_ARN": "arn:db", "DB_HOST": "proxy.example", "DB_PORT": "6432"})
    secret = json.dumps({"username": "ingest", "password": "p@ss/word", "host": "db.internal", "port": 5432,
                         "dbname": "lake"})
    # WHEN turned into a URL THEN the override wins, the password is escaped and TLS is verified
    # (chain and host name) against the bundled RDS / RDS Proxy roots
    assert cfg.db_conninfo(secret) == (
        "postgresql://ingest:p%40ss%2Fword@proxy.example:6432/lake?sslmode=verify-full"
        f"&sslrootcert={CA_BUNDLE}&connect_timeout=10")
    assert conninfo_to_dict(cfg.db_conninfo(secret))["sslrootcert"] == str(CA_BUNDLE)


def test_missing_variables_are_named():
    with pytest.raises(ConfigurationError, match="GLUE_DATABASE.*DATABASE_URL or DB_SECRET_ARN"):
        IngestConfig.from_env({k: v for k, v in BASE.items() if k != "GLUE_DATABASE"})
    with pytest.raises(ConfigurationError, match="RDS-format"):
        IngestConfig.from_env({**BASE, "DB_SECRET_ARN": "arn:db"}).db_conninfo("not json")
