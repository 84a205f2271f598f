"""Storage: the lake's buckets with their secure defaults in one place.

Every data bucket is KMS-encrypted, versioned, private, TLS-only and writes server access logs
to the access-log bucket. processed, quarantine and athena-results use the data key with S3
Bucket Keys (fewer KMS calls); raw uses its own key without a Bucket Key, so each object's KMS
encryption context is its own ARN and the key policy can bind a producer to its key prefix
(`infra/raw_access.py`). Raw objects go to Glacier and expire per environment (cdk.json
`raw_archive_after_days`, `raw_expire_after_days`; restore path in the README). The access-log bucket
itself is SSE-S3, because S3 log delivery cannot write to SSE-KMS buckets. Names come from the
typed config so local mode creates the same buckets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import BUCKET_KINDS, RAW_IA_AFTER_DAYS, LakeConfig
from infra.removal import data_removal_policy

ACCESS_LOG_GLACIER_DAYS = 90


@dataclass(frozen=True)
class StorageProps:
    config: LakeConfig
    data_key: kms.IKey
    raw_key: kms.IKey
    account: str
    region: str


def _noncurrent_cleanup(days: int) -> s3.LifecycleRule:
    return s3.LifecycleRule(
        id="noncurrent-versions-and-uploads",
        noncurrent_version_expiration=Duration.days(days),
        abort_incomplete_multipart_upload_after=Duration.days(7),
    )


class LakeStorage(Construct):
    """raw, processed, quarantine, athena-results + the access-log bucket."""

    def __init__(self, scope: Construct, construct_id: str, props: StorageProps) -> None:
        super().__init__(scope, construct_id)
        cfg = props.config
        self._removal = data_removal_policy(cfg)
        self._auto_delete = not cfg.retain_data
        self._names = {k: cfg.bucket_name(k, props.account, props.region) for k in BUCKET_KINDS}
        noncurrent_days = 90 if cfg.retain_data else 30

        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            bucket_name=self._names["logs"],
            encryption=s3.BucketEncryption.S3_MANAGED,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="age-out-access-logs",
                    transitions=[s3.Transition(storage_class=s3.StorageClass.GLACIER,
                                               transition_after=Duration.days(ACCESS_LOG_GLACIER_DAYS))],
                    # Kept as long as the other logs, and past the Glacier transition (S3 rule).
                    expiration=Duration.days(max(cfg.log_retention_days, ACCESS_LOG_GLACIER_DAYS + 1)),
                ),
                _noncurrent_cleanup(noncurrent_days),
            ],
            **self._common(),
        )
        self.raw = self._data_bucket(
            "Raw",
            "raw",
            props.raw_key,
            [
                s3.LifecycleRule(
                    id="raw-retention",
                    transitions=[
                        s3.Transition(storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                                      transition_after=Duration.days(RAW_IA_AFTER_DAYS)),
                        s3.Transition(storage_class=s3.StorageClass.GLACIER,
                                      transition_after=Duration.days(cfg.raw_archive_after_days)),
                    ],
                    expiration=Duration.days(cfg.raw_expire_after_days),
                ),
                _noncurrent_cleanup(noncurrent_days),
            ],
            bucket_key=False,
        )
        self.processed = self._data_bucket(
            "Processed", "processed", props.data_key, [_noncurrent_cleanup(noncurrent_days)]
        )
        self.quarantine = self._data_bucket(
            "Quarantine",
            "quarantine",
            props.data_key,
            [
                s3.LifecycleRule(id="quarantine-expiry",
                                 expiration=Duration.days(cfg.quarantine_expiry_days)),
                _noncurrent_cleanup(7),
            ],
        )
        self.athena_results = self._data_bucket(
            "AthenaResults",
            "athena-results",
            props.data_key,
            [s3.LifecycleRule(id="athena-results-expiry", expiration=Duration.days(30)),
             _noncurrent_cleanup(1)],
        )

    def bucket_name(self, kind: str) -> str:
        """The configured (deterministic) name of a bucket, usable before the bucket exists."""
        return self._names[kind]

    def _common(self) -> dict[str, Any]:
        return {
            "versioned": True,
            "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
            "enforce_ssl": True,
            "minimum_tls_version": 1.2,
            "removal_policy": self._removal,
            "auto_delete_objects": self._auto_delete,
        }

    def _data_bucket(
        self, construct_id: str, kind: str, key: kms.IKey, rules: list[s3.LifecycleRule], bucket_key: bool = True
    ) -> s3.Bucket:
        return s3.Bucket(
            self,
            construct_id,
            bucket_name=self._names[kind],
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=bucket_key,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=f"{kind}/",
            lifecycle_rules=rules,
            **self._common(),
        )
