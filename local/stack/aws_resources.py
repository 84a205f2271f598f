"""The AWS resources of the CDK app, created in moto from the same `LakeConfig`.

Names, the DLQ redrive policy, the raw bucket -> queue notification, the HMAC secret and the
Glue database/tables all derive from `infra/config.py` and `lake/contract.py`, so local mode
cannot drift from what `cdk deploy` creates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from infra.config import BUCKET_KINDS, LakeConfig
from lake import catalog
from lake.catalog import LAKE_GLUE_TABLES
from lake.contract import PROCEDURE_TELEMETRY

LOCAL_ACCOUNT = "123456789012"  # moto's default account
LOCAL_REGION = "us-east-1"
TELEMETRY_TABLE = PROCEDURE_TELEMETRY.name


@dataclass(frozen=True)
class LocalNames:
    """Every resource name local mode uses, derived from the config."""

    buckets: dict[str, str]
    queue: str
    dlq: str
    hmac_secret: str
    glue_database: str
    alert_bus: str = ""
    alert_topic: str = ""
    region: str = LOCAL_REGION
    account: str = LOCAL_ACCOUNT

    @classmethod
    def from_config(
        cls, cfg: LakeConfig, account: str = LOCAL_ACCOUNT, region: str = LOCAL_REGION
    ) -> LocalNames:
        return cls(
            buckets={kind: cfg.bucket_name(kind, account, region) for kind in BUCKET_KINDS},
            queue=cfg.ingest_queue_name,
            dlq=cfg.ingest_dlq_name,
            hmac_secret=cfg.hmac_secret_name,
            glue_database=cfg.glue_database,
            alert_bus=cfg.alert_bus_name,
            alert_topic=cfg.alert_topic_name,
            region=region,
            account=account,
        )

    def queue_arn(self, name: str) -> str:
        return f"arn:aws:sqs:{self.region}:{self.account}:{name}"

    @property
    def router_log_group(self) -> str:
        """Where the alert bus rule delivers locally (`create_alert_resources`)."""
        return f"/{self.alert_bus}/router"


def create_buckets(s3: Any, names: LocalNames) -> None:
    for bucket in names.buckets.values():
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=names.buckets["raw"], VersioningConfiguration={"Status": "Enabled"})


def create_queues(sqs: Any, cfg: LakeConfig, names: LocalNames) -> tuple[str, str]:
    """Ingest queue + DLQ with the config's redrive policy; returns (queue_url, dlq_url)."""
    dlq_url = sqs.create_queue(QueueName=names.dlq, Attributes={"MessageRetentionPeriod": "1209600"})[
        "QueueUrl"
    ]
    queue_url = sqs.create_queue(
        QueueName=names.queue,
        Attributes={
            "VisibilityTimeout": str(cfg.ingest_queue_visibility_timeout_seconds),
            "RedrivePolicy": json.dumps(
                {
                    "deadLetterTargetArn": names.queue_arn(names.dlq),
                    "maxReceiveCount": cfg.ingest_max_receive_count,
                }
            ),
        },
    )["QueueUrl"]
    return queue_url, dlq_url


def configure_raw_notifications(s3: Any, names: LocalNames) -> None:
    """Raw bucket ObjectCreated -> ingest queue (moto then posts an `s3:TestEvent` first)."""
    s3.put_bucket_notification_configuration(
        Bucket=names.buckets["raw"],
        NotificationConfiguration={
            "QueueConfigurations": [
                {"QueueArn": names.queue_arn(names.queue), "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )


def create_alert_resources(events: Any, logs: Any, sns: Any, names: LocalNames) -> tuple[str, str]:
    """The alert bus, its rule and the alert topic; returns (router log group, topic ARN).

    In AWS the bus rule targets the router Lambda. moto's EventBridge cannot invoke a Lambda
    without Docker, so here the rule targets a CloudWatch Logs group (one log event per
    matching event, written during PutEvents) that local mode reads into the same router
    function. Not a queue: moto's SQS checks every message of a queue for each one it returns,
    so the ~2,600 alerts of a first default-scale run took ten minutes to drain from one.
    """
    from lake.alerts import EVENT_SOURCE

    events.create_event_bus(Name=names.alert_bus)
    group = names.router_log_group
    logs.create_log_group(logGroupName=group)
    events.put_rule(Name=f"{names.alert_bus}-to-router", EventBusName=names.alert_bus,
                    EventPattern=json.dumps({"source": [EVENT_SOURCE]}))
    events.put_targets(Rule=f"{names.alert_bus}-to-router", EventBusName=names.alert_bus,
                       Targets=[{"Id": "router", "Arn": f"arn:aws:logs:{names.region}:{names.account}:log-group:{group}"}])
    return group, sns.create_topic(Name=names.alert_topic)["TopicArn"]


def create_hmac_secret(secrets: Any, names: LocalNames, key: str) -> str:
    """The pseudonymization key as a SecretString; returns its ARN (HMAC_SECRET_ARN)."""
    return str(secrets.create_secret(Name=names.hmac_secret, SecretString=key)["ARN"])


def create_glue_catalog(glue: Any, names: LocalNames) -> None:
    """The Glue database and the lake tables, as the CDK app declares them."""
    glue.create_database(DatabaseInput={"Name": names.glue_database})
    catalog.create_tables(glue, names.glue_database, names.buckets["processed"])


def register_partitions(glue: Any, names: LocalNames, table: str, partitions: list[tuple[str, ...]]) -> int:
    """Add hive partitions (values in partition-key order) that the catalog lacks; returns how many."""
    return catalog.register_partitions(glue, names.glue_database, names.buckets["processed"], table, partitions)


def partitions_in_keys(table: str, keys: list[str]) -> list[tuple[str, ...]]:
    """Distinct hive partition values found in object keys under `table/`."""
    part_keys = LAKE_GLUE_TABLES[table].partition_keys
    found: set[tuple[str, ...]] = set()
    for key in keys:
        parts = key.split("/")
        if parts[0] != table or len(parts) < len(part_keys) + 2:
            continue
        segs = parts[1 : 1 + len(part_keys)]
        if all(seg.startswith(f"{k}=") for seg, k in zip(segs, part_keys, strict=True)):
            found.add(tuple(seg.split("=", 1)[1] for seg in segs))
    return sorted(found)


