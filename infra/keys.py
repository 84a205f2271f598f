"""Customer-managed KMS keys: one for lake data, one for operational logs and alarms.

Two keys keep the blast radius apart: principals that read logs or alarm messages never get
decrypt on the data key. Both rotate yearly. Service principals that write encrypted data on
our behalf (CloudWatch Logs, S3 event notifications, CloudWatch alarms, EventBridge) are
allowed in the key policies, each scoped to this account.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct


@dataclass(frozen=True)
class KeysProps:
    prefix: str
    removal_policy: RemovalPolicy


class LakeKeys(Construct):
    """`data_key` (S3, SQS, secrets, RDS, Redshift, Glue) and `ops_key` (logs, SNS)."""

    def __init__(self, scope: Construct, construct_id: str, props: KeysProps) -> None:
        super().__init__(scope, construct_id)
        self.data_key = kms.Key(
            self,
            "DataKey",
            alias=f"alias/{props.prefix}-data",
            description=f"{props.prefix}: lake data (S3, SQS, Secrets Manager, RDS, Redshift, Glue)",
            enable_key_rotation=True,
            removal_policy=props.removal_policy,
        )
        self.ops_key = kms.Key(
            self,
            "OpsKey",
            alias=f"alias/{props.prefix}-ops",
            description=f"{props.prefix}: CloudWatch Logs, flow logs and the alarm topic",
            enable_key_rotation=True,
            removal_policy=props.removal_policy,
        )
        # S3 encrypts its event notifications to the KMS-encrypted ingest queue.
        self.data_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="S3EventNotificationsToEncryptedQueue",
                principals=[iam.ServicePrincipal("s3.amazonaws.com")],
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
        self.ops_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogsEncryption",
                principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                         "kms:Describe*"],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn":
                            f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:*"
                    }
                },
            )
        )
        self.ops_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AlarmAndEventPublishersToEncryptedTopic",
                principals=[
                    iam.ServicePrincipal("cloudwatch.amazonaws.com"),
                    iam.ServicePrincipal("events.amazonaws.com"),
                ],
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
