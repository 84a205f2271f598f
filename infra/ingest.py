"""Ingest: raw bucket -> SQS (with DLQ) -> the ingest Lambda in the VPC.

The raw bucket's ObjectCreated notification is declared on the bucket itself (CloudFormation
`NotificationConfiguration`) instead of CDK's notification custom resource: the queue policy
names the bucket by its configured name, so there is no cycle and no extra Lambda to secure.
The visibility timeout is 6x the function timeout (from the config) so a slow batch is not
redelivered while it still runs; after `maxReceiveCount` receives a message lands in the DLQ.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws, Duration, Size
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.bundling import LAMBDA_RUNTIME, lambda_code
from infra.config import REPO_ROOT, LakeConfig
from infra.phi_secret import PhiSecretGuard
from infra.removal import data_removal_policy
from lake.contract import ENTITIES, Landing

INGEST_REQUIREMENTS = REPO_ROOT / "lambdas" / "ingest" / "requirements.txt"
INGEST_HANDLER = "lambdas.ingest.handler.handler"
# Entities the ingest writes as Parquet under `<entity>/` of the processed bucket.
LAKE_ENTITIES = tuple(name for name, entity in ENTITIES.items() if entity.landing is Landing.LAKE)


@dataclass(frozen=True)
class IngestProps:
    config: LakeConfig
    data_key: kms.IKey
    raw_bucket: s3.Bucket
    raw_bucket_name: str
    processed_bucket: s3.IBucket
    quarantine_bucket: s3.IBucket
    vpc: ec2.IVpc
    subnets: ec2.SubnetSelection
    log_group: logs.ILogGroup
    glue_table_arns: list[str]


class LakeIngest(Construct):
    """Queue + DLQ, bucket notification, HMAC secret and the ingest function."""

    def __init__(self, scope: Construct, construct_id: str, props: IngestProps) -> None:
        super().__init__(scope, construct_id)
        cfg = props.config
        self.dlq = sqs.Queue(
            self,
            "Dlq",
            queue_name=cfg.ingest_dlq_name,
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=props.data_key,
            data_key_reuse=Duration.hours(1),
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            queue_name=cfg.ingest_queue_name,
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=props.data_key,
            data_key_reuse=Duration.hours(1),
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(cfg.ingest_queue_visibility_timeout_seconds),
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dlq, max_receive_count=cfg.ingest_max_receive_count
            ),
        )
        self._notify_queue_from(props.raw_bucket, props.raw_bucket_name)

        # Own key, retained everywhere, readable by the ingest role only (infra/phi_secret.py). The
        # construct id "PhiHmacKey" keeps the secret's logical id: a new one would be a new key.
        self.hmac_guard = PhiSecretGuard(self, "PhiHmacGuard", prefix=cfg.prefix,
                                         removal_policy=data_removal_policy(cfg))
        self.hmac_secret = secretsmanager.Secret(
            self,
            "PhiHmacKey",
            secret_name=cfg.hmac_secret_name,
            description="HMAC-SHA256 key for PHI pseudonymization (SecretString = the key)",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True
            ),
            removal_policy=data_removal_policy(cfg),
        )
        self.hmac_guard.encrypt(self.hmac_secret)
        self.security_group = ec2.SecurityGroup(
            self, "Sg", vpc=props.vpc, description="Ingest Lambda (egress only)",
            allow_all_outbound=False,
        )
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=f"{cfg.prefix}-ingest",
            description="Validates, pseudonymizes and routes one raw object per SQS record",
            runtime=LAMBDA_RUNTIME,
            architecture=lambda_.Architecture.X86_64,
            handler=INGEST_HANDLER,
            # Every dependency in the bundle, pinned by constraints.txt: no layer (ADR 0006).
            code=lambda_code(INGEST_REQUIREMENTS, ()),
            timeout=Duration.seconds(cfg.ingest_lambda_timeout_seconds),
            memory_size=cfg.ingest_lambda_memory_mb,
            ephemeral_storage_size=Size.mebibytes(cfg.ingest_lambda_ephemeral_mb),
            reserved_concurrent_executions=cfg.ingest_reserved_concurrency,
            vpc=props.vpc,
            vpc_subnets=props.subnets,
            security_groups=[self.security_group],
            log_group=props.log_group,
            environment_encryption=props.data_key,
            environment={
                "PROCESSED_BUCKET": props.processed_bucket.bucket_name,
                "QUARANTINE_BUCKET": props.quarantine_bucket.bucket_name,
                "GLUE_DATABASE": cfg.glue_database,
                "HMAC_SECRET_ARN": self.hmac_secret.secret_arn,
                "POWERTOOLS_SERVICE_NAME": "ingest",
                "POWERTOOLS_METRICS_NAMESPACE": "SurgicalLake",
                "POWERTOOLS_LOG_LEVEL": "INFO",
            },
        )
        self.function.add_event_source(
            sources.SqsEventSource(
                self.queue,
                batch_size=cfg.ingest_batch_size,
                max_batching_window=Duration.seconds(cfg.ingest_max_batching_window_seconds),
                report_batch_item_failures=True,
                max_concurrency=max(2, cfg.ingest_reserved_concurrency),
            )
        )
        self._grant(props)

    def connect_database(self, secret: secretsmanager.ISecret, host: str, port: str, db_name: str) -> None:
        """Point the function at RDS (through the proxy) and let it read the credentials (the
        lake_ingest role's secret: never the master's)."""
        secret.grant_read(self.function)
        for name, value in (("DB_SECRET_ARN", secret.secret_arn), ("DB_HOST", host),
                            ("DB_PORT", port), ("DB_NAME", db_name)):
            self.function.add_environment(name, value)

    def _notify_queue_from(self, bucket: s3.Bucket, bucket_name: str) -> None:
        bucket_arn = f"arn:{Aws.PARTITION}:s3:::{bucket_name}"
        self.queue.add_to_resource_policy(
            iam.PolicyStatement(
                sid="RawBucketObjectCreated",
                principals=[iam.ServicePrincipal("s3.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[self.queue.queue_arn],
                conditions={
                    "ArnEquals": {"aws:SourceArn": bucket_arn},
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                },
            )
        )
        cfn_bucket = bucket.node.default_child
        if not isinstance(cfn_bucket, s3.CfnBucket):
            raise TypeError("the raw bucket must be an s3.Bucket backed by a CfnBucket")
        cfn_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            queue_configurations=[
                s3.CfnBucket.QueueConfigurationProperty(event="s3:ObjectCreated:*", queue=self.queue.queue_arn)
            ]
        )
        # CloudFormation checks that S3 may send to the queue when it sets the notification.
        bucket.node.add_dependency(self.queue.node.find_child("Policy"))

    def _grant(self, props: IngestProps) -> None:
        fn = self.function
        props.raw_bucket.grant_read(fn)
        props.processed_bucket.grant_read(fn)
        # Lake files only under the lake entities' folders. A re-loaded object replaces its Parquet
        # files and deletes the superseded ones: DeleteObject only (a delete marker; the versions
        # stay until the noncurrent-version rule), never DeleteObjectVersion.
        fn.add_to_role_policy(
            iam.PolicyStatement(
                sid="WriteAndReplaceOwnLakeFiles",
                actions=["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                resources=[props.processed_bucket.arn_for_objects(f"{name}/*") for name in LAKE_ENTITIES],
            )
        )
        props.data_key.grant(fn, "kms:GenerateDataKey")
        props.quarantine_bucket.grant_put(fn)
        assert fn.role is not None
        self.hmac_guard.protect(self.hmac_secret, fn.role)
        fn.add_to_role_policy(
            iam.PolicyStatement(
                sid="GluePartitionsOfLakeTables",
                actions=[
                    "glue:GetDatabase", "glue:GetTable", "glue:GetPartition", "glue:GetPartitions",
                    "glue:BatchGetPartition", "glue:CreatePartition", "glue:BatchCreatePartition",
                    "glue:UpdatePartition",
                ],
                resources=props.glue_table_arns,
            )
        )
