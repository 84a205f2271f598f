"""One typed configuration object per environment, read from `cdk.json` context.

The CDK app and local mode both build their resources from this object, so the buckets,
queue, DLQ policy and secrets that `lake up` creates in moto are the ones `cdk deploy`
creates in AWS. Pure Python (no CDK import) so local mode can use it without synthesizing.

Example:
    >>> cfg = load_config("dev")
    >>> cfg.bucket_name("raw", account="123456789012", region="eu-west-1")
    'surgical-lake-dev-raw-123456789012-eu-west-1'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lake.detection import DetectionSettings, SettingsError

REPO_ROOT = Path(__file__).resolve().parent.parent
CDK_JSON = REPO_ROOT / "cdk.json"
CONTEXT_KEY = "surgical-lake"

# Logical bucket kinds; names are derived per environment by `LakeConfig.bucket_name`.
BUCKET_KINDS = ("raw", "processed", "quarantine", "athena-results", "logs")

# Environment variables the ingest Lambda reads (set by the CDK app and by local mode).
INGEST_ENV_VARS = (
    "PROCESSED_BUCKET",
    "QUARANTINE_BUCKET",
    "GLUE_DATABASE",
    "HMAC_SECRET_ARN",
    "DB_SECRET_ARN",
    "DB_HOST",
    "DB_PORT",
    "DB_NAME",
    "DATABASE_URL",  # local mode / tests: a libpq URL that replaces the secret + host lookup
)


class ConfigError(ValueError):
    """The cdk.json context is missing or invalid for the requested environment."""


@dataclass(frozen=True)
class LakeConfig:
    env_name: str
    project: str
    glue_database: str
    ingest_max_receive_count: int
    ingest_lambda_timeout_seconds: int
    ingest_lambda_memory_mb: int
    ingest_lambda_ephemeral_mb: int  # /tmp: the Parquet files of one object before upload, ~42 B a row
    ingest_batch_size: int
    ingest_max_batching_window_seconds: int
    ingest_reserved_concurrency: int
    rollup_schedule: str
    aws_sdk_pandas_layer_version: Mapping[str, int]
    rds_instance_type: str
    rds_multi_az: bool
    rds_deletion_protection: bool
    rds_backup_retention_days: int
    redshift_base_capacity_rpu: int
    retain_data: bool
    log_retention_days: int
    quarantine_expiry_days: int
    glue_workers: int
    interface_endpoint_azs: int  # interface endpoints are billed per AZ: dev 1, prod 2
    # Analytics detection (lake/detection.py): the Glue job's --DETECTION_SETTINGS, the views'
    # inactivity threshold, the freshness alarms' window and the facilities they watch.
    anomaly_z_threshold: float
    anomaly_baseline_days: int
    anomaly_min_baseline_hours: int
    anomaly_metrics: tuple[str, ...]
    inactivity_hours: int
    freshness_facilities: tuple[str, ...]

    @property
    def prefix(self) -> str:
        return f"{self.project}-{self.env_name}"

    @property
    def ingest_queue_visibility_timeout_seconds(self) -> int:
        """AWS guidance: at least 6x the function timeout for SQS event sources."""
        return 6 * self.ingest_lambda_timeout_seconds

    @property
    def ingest_queue_name(self) -> str:
        return f"{self.prefix}-ingest"

    @property
    def ingest_dlq_name(self) -> str:
        return f"{self.prefix}-ingest-dlq"

    @property
    def detection(self) -> DetectionSettings:
        """The detection settings of this environment (defaults for what cdk.json does not set)."""
        try:
            return DetectionSettings(
                z_threshold=self.anomaly_z_threshold, baseline_days=self.anomaly_baseline_days,
                min_baseline_hours=self.anomaly_min_baseline_hours, metrics=tuple(self.anomaly_metrics),
                inactivity_hours=self.inactivity_hours,
            )
        except SettingsError as exc:
            raise ConfigError(f"environment {self.env_name!r}: {exc}") from None

    @property
    def alert_bus_name(self) -> str:
        return f"{self.prefix}-alerts"

    @property
    def alert_topic_name(self) -> str:
        return f"{self.prefix}-alerts"

    @property
    def hmac_secret_name(self) -> str:
        return f"{self.prefix}/phi-hmac-key"

    @property
    def db_secret_name(self) -> str:
        return f"{self.prefix}/rds-credentials"

    def bucket_name(self, kind: str, account: str, region: str) -> str:
        """Globally unique bucket name for a logical kind (see BUCKET_KINDS)."""
        if kind not in BUCKET_KINDS:
            raise ConfigError(f"unknown bucket kind {kind!r}; expected one of {BUCKET_KINDS}")
        return f"{self.prefix}-{kind}-{account}-{region}"

    def aws_sdk_pandas_layer_arn(self, region: str) -> str:
        """ARN of the AWS-managed AWSSDKPandas layer (pyarrow, pandas, numpy) for Python 3.12."""
        try:
            version = self.aws_sdk_pandas_layer_version[region]
        except KeyError as exc:
            raise ConfigError(
                f"no AWSSDKPandas layer version configured for {region}; add it to cdk.json "
                f"context {CONTEXT_KEY}.aws_sdk_pandas_layer_version"
            ) from exc
        return f"arn:aws:lambda:{region}:336392948345:layer:AWSSDKPandas-Python312:{version}"


def read_context(cdk_json: Path = CDK_JSON) -> dict[str, Any]:
    return json.loads(cdk_json.read_text())["context"]


def load_config(env_name: str | None = None, context: Mapping[str, Any] | None = None) -> LakeConfig:
    """Build the config for `env_name` (default: the context's `env`, i.e. `dev`).

    `context` is the CDK context (the app passes `app.node.try_get_context`-built values);
    without it, `cdk.json` is read from the repository root.
    """
    ctx = dict(context) if context is not None else read_context()
    env_name = env_name or ctx.get("env") or "dev"
    try:
        base = dict(ctx[CONTEXT_KEY])
    except KeyError as exc:
        raise ConfigError(f"cdk.json context has no {CONTEXT_KEY!r} section") from exc
    envs = base.pop("environments", {})
    if env_name not in envs:
        raise ConfigError(f"unknown environment {env_name!r}; cdk.json defines {sorted(envs)}")
    values = {**base, **envs[env_name]}
    fields = LakeConfig.__dataclass_fields__
    unknown = sorted(set(values) - set(fields))
    missing = sorted(set(fields) - set(values) - {"env_name"})
    if unknown or missing:
        raise ConfigError(f"environment {env_name!r}: unknown keys {unknown}, missing keys {missing}")
    config = LakeConfig(env_name=env_name, **values)
    config.detection  # noqa: B018 (validates the detection settings: ConfigError when out of range)
    return config
