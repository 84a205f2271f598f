"""Environment -> typed config; the database URL from DATABASE_URL or the RDS secret (TLS required)."""

from __future__ import annotations

import json

import pytest
from psycopg.conninfo import conninfo_to_dict

from infra.config import INGEST_ENV_VARS
from lambdas.ingest.config import LIMIT_ENV_VARS, IngestConfig, Limits
from lambdas.ingest.errors import ConfigurationError
from lambdas.rds_tls import CA_BUNDLE

BASE = {"PROCESSED_BUCKET": "p", "QUARANTINE_BUCKET": "q", "GLUE_DATABASE": "g", "HMAC_SECRET_ARN": "arn:h"}


def test_reads_only_the_promised_variables():
    # GIVEN the variable names the infra sets WHEN the config's fields are compared THEN they match
    fields = {f.upper() for f in IngestConfig.__dataclass_fields__ if f != "limits"}
    assert fields | set(LIMIT_ENV_VARS) == set(INGEST_ENV_VARS)


def test_limits_come_from_the_environment_and_must_be_positive():
    # GIVEN the limits as the infra sets them WHEN read THEN they are bytes; absent means the defaults
    cfg = IngestConfig.from_env({**BASE, "DATABASE_URL": "postgresql://u@h/db", "INGEST_MAX_OBJECT_BYTES": "1024",
                                 "INGEST_MAX_LINE_BYTES": "64", "INGEST_MAX_QUARANTINE_BYTES": "4096"})
    assert cfg.limits == Limits(max_object_bytes=1024, max_line_bytes=64, max_quarantine_bytes=4096)
    assert IngestConfig.from_env({**BASE, "DATABASE_URL": "x"}).limits == Limits()
    with pytest.raises(ConfigurationError, match="INGEST_MAX_LINE_BYTES"):
        IngestConfig.from_env({**BASE, "DATABASE_URL": "x", "INGEST_MAX_LINE_BYTES": "-1"})


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
