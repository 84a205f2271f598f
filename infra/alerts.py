"""Alerts: the rollup's new episodes -> an EventBridge bus -> SNS, one message per episode.

docs/adr/0011-alerting-path.md has the why. Two functions, both in the VPC:

- the alerts function (RDS through the proxy): invoked by the Glue job before it rolls up, it
  exports the procedure windows to the processed bucket; triggered when the job SUCCEEDED, it
  records the run's candidates in `alert_episodes` (de-duplication, outbox) and puts the new
  ones on the bus. Reserved concurrency 1: one writer at a time.
- the router: the bus rule's target; republishes each event to the alert topic with
  `facility_id` as a message attribute (EventBridge's SNS target cannot set attributes), so a
  hospital subscribes with a filter policy on its own facility.

The bus and the topic are encrypted with the ops key (alerts carry ids and z-scores, never
patient data); failed asynchronous deliveries go to a DLQ encrypted with the data key, which
EventBridge may use only for this path's two rules (named, so the key policy names their ARNs
without a dependency cycle). In environments that keep data, the DLQ (undelivered alerts) and
the topic (its subscriptions) are retained like the other stateful resources (infra/removal.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws, Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.bundling import LAMBDA_RUNTIME, lambda_code
from infra.config import LakeConfig
from infra.ingest import INGEST_REQUIREMENTS
from infra.log_groups import LogGroupFactory
from infra.removal import data_removal_policy
from lake.alerts import EVENT_SOURCE, PENDING_PREFIX
from lake.contract import PROCEDURE_WINDOWS, REFERENCE_DIR

REJECTED_PREFIX = "_alerts/rejected/"
WINDOWS_PREFIX = f"{REFERENCE_DIR}/{PROCEDURE_WINDOWS.name}/"  # lambdas/alerts/windows.py


def alerts_function_name(config: LakeConfig) -> str:
    """Known before the function exists: the Glue job's `--ALERTS_FUNCTION` argument."""
    return f"{config.prefix}-alerts"


@dataclass(frozen=True)
class AlertsProps:
    config: LakeConfig
    data_key: kms.IKey
    ops_key: kms.IKey
    processed_bucket: s3.IBucket
    vpc: ec2.IVpc
    subnets: ec2.SubnetSelection
    log_groups: LogGroupFactory
    glue_job_name: str


class LakeAlerts(Construct):
    """Event bus, alert topic, the alerts function and the router, and their rules."""

    def __init__(self, scope: Construct, construct_id: str, props: AlertsProps) -> None:
        super().__init__(scope, construct_id)
        cfg = props.config
        removal = data_removal_policy(cfg)
        self.bus = events.EventBus(self, "Bus", event_bus_name=cfg.alert_bus_name, kms_key=props.ops_key,
                                   description="surgical-lake alert events (anomaly episodes, failure precursors)")
        self.topic = sns.Topic(self, "Topic", topic_name=cfg.alert_topic_name, master_key=props.ops_key,
                               enforce_ssl=True, display_name="surgical-lake alerts")
        self.topic.apply_removal_policy(removal)
        self.dlq = sqs.Queue(
            self, "Dlq", queue_name=f"{cfg.prefix}-alerts-dlq", encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=props.data_key, enforce_ssl=True, retention_period=Duration.days(14),
            removal_policy=removal,
        )
        self.function = self._function(
            props, "Function", alerts_function_name(cfg), "lambdas.alerts.handler.handler",
            "Exports procedure windows for the rollup; records and publishes its new alert episodes",
            memory_mb=1024, concurrency=1,
            environment={"PROCESSED_BUCKET": props.processed_bucket.bucket_name,
                         "EVENT_BUS_NAME": self.bus.event_bus_name},
        )
        self.router = self._function(
            props, "Router", f"{cfg.prefix}-alerts-router", "lambdas.alerts.router.handler",
            "Republishes alert events to SNS with facility_id as a message attribute",
            memory_mb=256, concurrency=5, environment={"ALERT_TOPIC_ARN": self.topic.topic_arn},
        )
        self._grant(props)
        rollup_rule, router_rule = f"{cfg.prefix}-alerts-rollup-succeeded", f"{cfg.prefix}-alerts-to-router"
        events.Rule(
            self, "RollupSucceeded", rule_name=rollup_rule,
            description="The rollup job finished: publish its alert candidates",
            event_pattern=events.EventPattern(source=["aws.glue"], detail_type=["Glue Job State Change"],
                                              detail={"jobName": [props.glue_job_name], "state": ["SUCCEEDED"]}),
            targets=[targets.LambdaFunction(self.function, dead_letter_queue=self.dlq, retry_attempts=4,
                                            max_event_age=Duration.hours(6))],
        )
        events.Rule(
            self, "ToRouter", rule_name=router_rule, event_bus=self.bus,
            description="Every alert event to the SNS router",
            event_pattern=events.EventPattern(source=[EVENT_SOURCE]),
            targets=[targets.LambdaFunction(self.router, dead_letter_queue=self.dlq, retry_attempts=8,
                                            max_event_age=Duration.hours(24))],
        )
        self._let_rules_encrypt_to_the_dlq(props.data_key, (
            f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:rule/{rollup_rule}",
            f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:rule/{cfg.alert_bus_name}/{router_rule}"))

    def _function(self, props: AlertsProps, construct_id: str, name: str, handler: str, description: str, *,
                  memory_mb: int, concurrency: int, environment: dict[str, str]) -> lambda_.Function:
        # Egress is opened by the stack (network.allow_aws_apis, database.allow_client): nothing else.
        group = ec2.SecurityGroup(self, f"{construct_id}Sg", vpc=props.vpc, description=f"{name} (egress only)",
                                  allow_all_outbound=False)
        return lambda_.Function(
            self, construct_id, function_name=name, description=description,
            runtime=LAMBDA_RUNTIME, architecture=lambda_.Architecture.X86_64, handler=handler,
            # The ingest's bundle (pinned wheels, no layer: ADR 0006): byte-identical, so one asset.
            code=lambda_code(INGEST_REQUIREMENTS, ()),
            timeout=Duration.minutes(5), memory_size=memory_mb,
            reserved_concurrent_executions=concurrency, vpc=props.vpc, vpc_subnets=props.subnets,
            security_groups=[group], environment_encryption=props.data_key, environment=environment,
            dead_letter_queue=self.dlq,
            log_group=props.log_groups.create(self, f"{construct_id}Logs", f"/aws/lambda/{name}"),
        )

    @property
    def function_security_group(self) -> ec2.ISecurityGroup:
        return self.function.connections.security_groups[0]

    @property
    def router_security_group(self) -> ec2.ISecurityGroup:
        return self.router.connections.security_groups[0]

    def _grant(self, props: AlertsProps) -> None:
        """Exactly the objects the function manages, DeleteObject only (never a version):
        it consumes the pending files the job wrote, sets aside unreadable ones (copy + delete)
        and keeps the procedure-window export equal to RDS (put changed dates, delete stale ones)."""
        bucket, fn = props.processed_bucket, self.function
        fn.add_to_role_policy(iam.PolicyStatement(
            sid="ListThePrefixesItManages", actions=["s3:ListBucket"], resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{PENDING_PREFIX}*", f"{WINDOWS_PREFIX}*"]}}))
        fn.add_to_role_policy(iam.PolicyStatement(
            sid="ConsumePendingAlertFiles", actions=["s3:GetObject", "s3:DeleteObject"],
            resources=[bucket.arn_for_objects(f"{PENDING_PREFIX}*")]))
        fn.add_to_role_policy(iam.PolicyStatement(
            sid="SetAsideUnreadableAlertFiles", actions=["s3:PutObject"],
            resources=[bucket.arn_for_objects(f"{REJECTED_PREFIX}*")]))
        fn.add_to_role_policy(iam.PolicyStatement(
            sid="ReplaceProcedureWindowsExport", actions=["s3:PutObject", "s3:DeleteObject"],
            resources=[bucket.arn_for_objects(f"{WINDOWS_PREFIX}*")]))
        # SSE-KMS reads and writes on the processed bucket, and sends to the DLQ (both functions).
        for function in (fn, self.router):
            props.data_key.grant(function, "kms:Decrypt", "kms:GenerateDataKey")
        self.bus.grant_put_events_to(fn)
        self.topic.grant_publish(self.router)

    def _let_rules_encrypt_to_the_dlq(self, data_key: kms.IKey, rule_arns: tuple[str, ...]) -> None:
        """EventBridge sends a target's undeliverable events to the DLQ: on a KMS-encrypted queue it
        needs the key, bound here to this path's two rules (the confused-deputy guard)."""
        data_key.add_to_resource_policy(iam.PolicyStatement(
            sid="AlertRulesToEncryptedDlq", principals=[iam.ServicePrincipal("events.amazonaws.com")],
            actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=["*"],
            conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                        "ArnEquals": {"aws:SourceArn": list(rule_arns)}}))

    def connect_database(self, secret: secretsmanager.ISecret, host: str, port: str, db_name: str) -> None:
        """Point the alerts function at RDS (through the proxy) and let it read the credentials."""
        secret.grant_read(self.function)
        for name, value in (("DB_SECRET_ARN", secret.secret_arn), ("DB_HOST", host), ("DB_PORT", port),
                            ("DB_NAME", db_name)):
            self.function.add_environment(name, value)
