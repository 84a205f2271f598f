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
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lake.detection import DetectionSettings, SettingsError
from lake.producers import is_facility_id

REPO_ROOT = Path(__file__).resolve().parent.parent
CDK_JSON = REPO_ROOT / "cdk.json"
CONTEXT_KEY = "surgical-lake"

# Logical bucket kinds; names are derived per environment by `LakeConfig.bucket_name`.
BUCKET_KINDS = ("raw", "processed", "quarantine", "athena-results", "logs")

# Raw objects move to S3 Standard-IA after this many days (S3's minimum for that transition).
RAW_IA_AFTER_DAYS = 30

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
    "INGEST_MAX_OBJECT_BYTES",  # larger objects (or decompressed content) are rejected `too_large`
    "INGEST_MAX_LINE_BYTES",  # a longer line / JSON record is a `malformed_row`
    "INGEST_MAX_QUARANTINE_BYTES",  # reject lines spooled to /tmp per object before they are only counted
)


class ConfigError(ValueError):
    """The cdk.json context is missing or invalid for the requested environment."""


class MissingPartError(RuntimeError):
    """A part the stack deploys (a script, a SQL folder, a requirements file) is missing.

    Every part exists: a missing one fails the synth instead of deploying a stack without it.
    """


@dataclass(frozen=True)
class Producer:
    """A facility's uploader: its own role may write only `<entity>/facility=<id>/` keys of the
    facilities it owns (docs/adr/0007-producers-bound-to-facilities.md)."""

    name: str  # lower-case letters, digits and dashes: part of the role name
    facilities: tuple[str, ...]
    assumed_by: tuple[str, ...] = ()  # principal ARNs trusted to assume the role; () = this account


def parse_producers(env_name: str, raw: Mapping[str, Any]) -> tuple[Producer, ...]:
    """cdk.json `producers` ({name: {"facilities": [...], "assumed_by": [...]}}) -> Producers.

    Raises ConfigError for a bad name, an unknown key, a malformed facility id or a facility
    owned by two producers (one owner per facility, so a row's owner is never ambiguous).
    """
    producers: list[Producer] = []
    owner: dict[str, str] = {}
    for name, spec in raw.items():
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,30}", name):
            raise ConfigError(f"{env_name}: producer name {name!r}: use 1-31 lower-case letters, digits, dashes")
        unknown = sorted(set(spec) - {"facilities", "assumed_by"})
        facilities = tuple(spec.get("facilities", ()))
        if unknown or not facilities:
            raise ConfigError(f"{env_name}: producer {name!r} needs facilities (unknown keys: {unknown})")
        for facility in facilities:
            if not is_facility_id(facility):
                raise ConfigError(f"{env_name}: producer {name!r}: {facility!r} is not a facility id")
            if facility in owner:
                raise ConfigError(f"{env_name}: {facility} is owned by both {owner[facility]!r} and {name!r}")
            owner[facility] = name
        producers.append(Producer(name, facilities, tuple(spec.get("assumed_by", ()))))
    return tuple(producers)


@dataclass(frozen=True)
class LakeConfig:
    env_name: str
    project: str
    ingest_max_receive_count: int
    ingest_lambda_timeout_seconds: int
    ingest_lambda_memory_mb: int
    ingest_lambda_ephemeral_mb: int  # /tmp: the Parquet files of one object before upload, ~42 B a row
    ingest_batch_size: int
    ingest_max_batching_window_seconds: int
    ingest_reserved_concurrency: int
    ingest_max_object_mb: int  # per object, compressed and decompressed (too_large beyond)
    ingest_max_line_kb: int  # per line of CSV/NDJSON and per JSON record (malformed_row beyond)
    ingest_quarantine_spool_mb: int  # reject lines spooled to /tmp per object (then only counted)
    rollup_schedule: str
    rds_instance_type: str
    rds_multi_az: bool
    rds_deletion_protection: bool
    rds_backup_retention_days: int
    rds_pgaudit: bool  # pgaudit session logging (DDL, writes) via the parameter group; prod
    redshift_base_capacity_rpu: int
    retain_data: bool
    log_retention_days: int
    quarantine_expiry_days: int
    glue_workers: int
    interface_endpoint_azs: int  # interface endpoints are billed per AZ: dev 1, prod 2
    s3_prefix_lists: Mapping[str, str]  # region -> AWS-managed prefix list id of S3 (SG egress)
    raw_archive_after_days: int  # raw objects move to Glacier Flexible Retrieval after this many days
    raw_expire_after_days: int  # ... and are deleted after this many (restore path: README)
    s3_backup_retention_days: int  # AWS Backup recovery points of raw + processed (retain_data envs)
    producers: tuple[Producer, ...]
    api_waf: bool  # a WAF web ACL in front of the query API (infra/api.py); prod
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
    def glue_database(self) -> str:
        """Per environment, like every other name, so dev and prod can share an account and region.

        Glue database names are lower case letters, digits and underscores (no hyphens).
        """
        return self.prefix.replace("-", "_")

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

    def ingest_limits_env(self) -> dict[str, str]:
        """The ingest's size limits as its environment variables (bytes), for the CDK app and local mode."""
        return {
            "INGEST_MAX_OBJECT_BYTES": str(self.ingest_max_object_mb << 20),
            "INGEST_MAX_LINE_BYTES": str(self.ingest_max_line_kb << 10),
            "INGEST_MAX_QUARANTINE_BYTES": str(self.ingest_quarantine_spool_mb << 20),
        }

    def bucket_name(self, kind: str, account: str, region: str) -> str:
        """Globally unique bucket name for a logical kind (see BUCKET_KINDS)."""
        if kind not in BUCKET_KINDS:
            raise ConfigError(f"unknown bucket kind {kind!r}; expected one of {BUCKET_KINDS}")
        return f"{self.prefix}-{kind}-{account}-{region}"

    def s3_prefix_list(self, region: str) -> str:
        """The AWS-managed prefix list of S3 in `region` (`aws ec2 describe-prefix-lists`)."""
        try:
            return self.s3_prefix_lists[region]
        except KeyError as exc:
            raise ConfigError(f"no S3 prefix list configured for {region}; add it to cdk.json context "
                              f"{CONTEXT_KEY}.s3_prefix_lists") from exc


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
    values["producers"] = parse_producers(env_name, values["producers"])
    if not RAW_IA_AFTER_DAYS < values["raw_archive_after_days"] < values["raw_expire_after_days"]:
        raise ConfigError(f"environment {env_name!r}: need {RAW_IA_AFTER_DAYS} < raw_archive_after_days "
                          "< raw_expire_after_days")
    config = LakeConfig(env_name=env_name, **values)
    config.detection  # noqa: B018 (validates the detection settings: ConfigError when out of range)
    return config
