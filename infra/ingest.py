"""Ingest: raw bucket -> SQS (with DLQ) -> the ingest Lambda in the VPC.

The raw bucket's ObjectCreated notification is declared on the bucket itself (CloudFormation
`NotificationConfiguration`) instead of CDK's notification custom resource: the queue policy
names the bucket by its configured name, so there is no cycle and no extra Lambda to secure.
The visibility timeout is 6x the function timeout (from the config) so a slow batch is not
redelivered while it still runs; after `maxReceiveCount` receives a message lands in the DLQ.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws, CfnMapping, Duration, Size, Stack, Token
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

from infra.bundling import lambda_code
from infra.config import REPO_ROOT, LakeConfig

INGEST_REQUIREMENTS = REPO_ROOT / "lambdas" / "ingest" / "requirements.txt"
INGEST_HANDLER = "lambdas.ingest.handler.handler"


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


def aws_sdk_pandas_layer_arn(scope: Construct, config: LakeConfig) -> str:
    """The AWSSDKPandas layer ARN: literal for a pinned region, a CfnMapping when env-agnostic."""
    region = Stack.of(scope).region
    if not Token.is_unresolved(region):
        return config.aws_sdk_pandas_layer_arn(region)
    mapping = CfnMapping(
        scope,
        "AwsSdkPandasLayer",
        mapping={r: {"arn": config.aws_sdk_pandas_layer_arn(r)} for r in config.aws_sdk_pandas_layer_version},
    )
    return mapping.find_in_map(Aws.REGION, "arn")


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

        self.hmac_secret = secretsmanager.Secret(
            self,
            "PhiHmacKey",
            secret_name=cfg.hmac_secret_name,
            description="HMAC-SHA256 key for PHI pseudonymization (SecretString = the key)",
            encryption_key=props.data_key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True
            ),
        )
        self.security_group = ec2.SecurityGroup(
            self, "Sg", vpc=props.vpc, description="Ingest Lambda (egress only)",
            allow_all_outbound=True,
        )
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=f"{cfg.prefix}-ingest",
            description="Validates, pseudonymizes and routes one raw object per SQS record",
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.X86_64,
            handler=INGEST_HANDLER,
            code=lambda_code(INGEST_REQUIREMENTS, ()),
            layers=[
                lambda_.LayerVersion.from_layer_version_arn(
                    self, "AwsSdkPandas", aws_sdk_pandas_layer_arn(self, cfg)
                )
            ],
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
                **cfg.ingest_limits_env(),
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
        """Point the function at RDS (through the proxy) and let it read the credentials."""
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
        props.processed_bucket.grant_put(fn)
        # A re-loaded object replaces its Parquet files: the superseded ones are deleted.
        props.processed_bucket.grant_delete(fn)
        props.quarantine_bucket.grant_put(fn)
        self.hmac_secret.grant_read(fn)
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
