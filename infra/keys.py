"""Customer-managed KMS keys: one for lake data, one for operational logs and alarms, one for
the raw (PHI) bucket.

Separate keys keep the blast radius apart: principals that read logs or alarm messages never
get decrypt on the data key. The raw key's policy gives the account administration only (no
`kms:*`, no Decrypt, no CreateGrant): usage is granted statement by statement to the ingest,
producers and break-glass roles (`infra/raw_access.py`). All rotate yearly. Service principals
that write encrypted data on our behalf (CloudWatch Logs, S3 event notifications, CloudWatch
alarms, EventBridge) are allowed in the key policies, each scoped to this account and to the
source resources of this stack (`aws:SourceArn`, the confused-deputy guard).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

# Key administration without any use of the key: no Encrypt/Decrypt/GenerateDataKey/ReEncrypt and
# no CreateGrant (a grant could give its creator Decrypt). Changing the key policy stays possible
# (KMS refuses a policy that locks the account out) and is recorded in CloudTrail.
KEY_ADMIN_ACTIONS = (
    "kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias", "kms:Describe*", "kms:Enable*",
    "kms:Disable*", "kms:List*", "kms:Get*", "kms:PutKeyPolicy", "kms:UpdateKeyDescription",
    "kms:RevokeGrant", "kms:TagResource", "kms:UntagResource", "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion", "kms:RotateKeyOnDemand",
)


@dataclass(frozen=True)
class KeysProps:
    prefix: str
    removal_policy: RemovalPolicy
    raw_bucket_arn: str  # the only bucket whose event notifications S3 encrypts to the queue
    event_bus_arn: str  # the alert bus, encrypted with the ops key (infra/alerts.py)


class LakeKeys(Construct):
    """`data_key` (S3, SQS, secrets, RDS, Redshift, Glue), `ops_key` (logs, SNS), `raw_key` (raw bucket)."""

    def __init__(self, scope: Construct, construct_id: str, props: KeysProps) -> None:
        super().__init__(scope, construct_id)
        def key(construct_id: str, alias: str, purpose: str, policy: iam.PolicyDocument | None = None) -> kms.Key:
            return kms.Key(
                self, construct_id, alias=f"alias/{props.prefix}-{alias}", description=f"{props.prefix}: {purpose}",
                enable_key_rotation=True, removal_policy=props.removal_policy, policy=policy,
            )

        self.data_key = key("DataKey", "data", "lake data (S3, SQS, Secrets Manager, RDS, Redshift, Glue)")
        self.ops_key = key("OpsKey", "ops", "CloudWatch Logs, flow logs and the alarm topic")
        self.raw_key = key(
            "RawKey", "raw", "raw bucket (PHI); decrypt: ingest + break-glass roles only",
            policy=iam.PolicyDocument(statements=[iam.PolicyStatement(
                sid="AccountAdministersButNeverUsesTheKey",
                principals=[iam.AccountRootPrincipal()],
                actions=list(KEY_ADMIN_ACTIONS),
                resources=["*"],
            )]),
        )
        # S3 encrypts the raw bucket's event notifications to the KMS-encrypted ingest queue.
        self.data_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="S3EventNotificationsToEncryptedQueue",
                principals=[iam.ServicePrincipal("s3.amazonaws.com")],
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                            "ArnEquals": {"aws:SourceArn": props.raw_bucket_arn}},
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
        # Alarms are named `<prefix>-...` (infra/monitoring.py); EventBridge rules get names that
        # CloudFormation derives from the stack name. Naming the rule's ARN here would be a cycle
        # (key -> rule -> topic -> key), hence the stack-name pattern. The explicit deny keeps the
        # bound when a construct grants the service principal on its own (CDK's SNS rule target
        # does, without conditions); it spares the alert bus, whose own statement CDK adds (bound
        # to the bus's ARN and encryption context).
        for sid, service, source, also_spared in (
            ("AlarmsToEncryptedTopic", "cloudwatch",
             f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:{props.prefix}-*", []),
            ("EventRulesToEncryptedTopic", "events",
             f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:rule/{Aws.STACK_NAME}-*",
             [props.event_bus_arn]),
        ):
            self.ops_key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=sid,
                    principals=[iam.ServicePrincipal(f"{service}.amazonaws.com")],
                    actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                    resources=["*"],
                    conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                                "ArnLike": {"aws:SourceArn": source}},
                )
            )
            self.ops_key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"Only{sid}", effect=iam.Effect.DENY,
                    principals=[iam.ServicePrincipal(f"{service}.amazonaws.com")],
                    actions=["kms:*"], resources=["*"],
                    conditions={"ArnNotLike": {"aws:SourceArn": [source, *also_spared] if also_spared else source}},
                )
            )
