"""Operations: an encrypted alarm topic, the alarms that matter, and one dashboard.

Alarms: a message in the DLQ (a file that failed maxReceiveCount times), the oldest message
in the ingest queue (ingest is falling behind), objects the ingest could not process (its
Powertools metric: with partial batch responses a failed object is not a Lambda error),
Lambda errors and throttles, and Glue job runs that end FAILED/TIMEOUT/ERROR (an EventBridge
rule straight to the topic). The dashboard adds rows loaded/parked/rejected per entity.

A topic policy replaces SNS's default one, so the topic allows exactly its publishers: CloudWatch
for this stack's alarms and EventBridge for the Glue rule, each bound to its source ARNs (the
confused-deputy guard of the SNS docs, "Amazon SNS access control: cross-service confused
deputy prevention").
"""

from __future__ import annotations

from dataclasses import dataclass

import jsii
from aws_cdk import Aws, Duration, IStableListProducer, Lazy
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.interfaces.aws_events import IRuleRef
from constructs import Construct

from infra.config import LakeConfig
from lake.contract import ENTITIES

QUEUE_AGE_ALARM_SECONDS = 900
# What lambdas/ingest publishes through Powertools (docs/interfaces.md).
INGEST_NAMESPACE = "SurgicalLake"
INGEST_SERVICE = "ingest"
ROW_METRICS = ("RowsLoaded", "RowsParked", "RowsRejected")


def ingest_metric(name: str, period_minutes: int = 5) -> cw.Metric:
    return cw.Metric(namespace=INGEST_NAMESPACE, metric_name=name, dimensions_map={"service": INGEST_SERVICE},
                     period=Duration.minutes(period_minutes), statistic="Sum")


@dataclass(frozen=True)
class MonitoringProps:
    config: LakeConfig
    ops_key: kms.IKey
    queue: sqs.IQueue
    dlq: sqs.IQueue
    functions: dict[str, lambda_.IFunction]
    glue_job_name: str


@jsii.implements(IStableListProducer)
class _Arns:
    """The ARNs of the alarms or rules routed to the topic, read at synth time (after every
    `route_alarm` / `publish_rule`)."""

    def __init__(self, sources: list[cw.Alarm] | list[events.Rule]) -> None:
        self.sources = sources

    def produce(self) -> list[str]:
        return [s.alarm_arn if isinstance(s, cw.Alarm) else s.rule_arn for s in self.sources]


@jsii.implements(events.IRuleTarget)
class _TopicTarget:
    """An SNS target without `targets.SnsTopic`'s unconditioned `events.amazonaws.com` grant:
    the topic policy grants the rule itself (see `LakeMonitoring._allow_publishers`)."""

    def __init__(self, topic: sns.ITopic) -> None:
        self.topic = topic

    def bind(self, rule: IRuleRef, id: str | None = None) -> events.RuleTargetConfig:  # noqa: A002 (jsii)
        return events.RuleTargetConfig(arn=self.topic.topic_arn)


class LakeMonitoring(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: MonitoringProps) -> None:
        super().__init__(scope, construct_id)
        cfg = props.config
        self.topic = sns.Topic(
            self, "Alarms", topic_name=f"{cfg.prefix}-alarms", display_name="surgical-lake alarms",
            master_key=props.ops_key, enforce_ssl=True,
        )
        self._action = cw_actions.SnsAction(self.topic)
        self.alarms: list[cw.Alarm] = []

        def alarm(construct_id: str, metric: cw.IMetric, threshold: float, what: str) -> cw.Alarm:
            created = cw.Alarm(
                self,
                construct_id,
                alarm_name=f"{cfg.prefix}-{construct_id}",
                alarm_description=what,
                metric=metric,
                threshold=threshold,
                evaluation_periods=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            )
            self.route_alarm(created)
            return created

        dlq_depth = props.dlq.metric_approximate_number_of_messages_visible(
            period=Duration.minutes(5), statistic="Maximum"
        )
        queue_age = props.queue.metric_approximate_age_of_oldest_message(
            period=Duration.minutes(5), statistic="Maximum"
        )
        alarm("dlq-not-empty", dlq_depth, 1, "A raw object failed ingest repeatedly and is in the DLQ")
        alarm("queue-age", queue_age, QUEUE_AGE_ALARM_SECONDS, "Ingest is falling behind (oldest message age)")
        failed_objects = ingest_metric("ObjectsFailed")
        alarm("ingest-objects-failed", failed_objects, 1,
              "Ingest could not process an object (it will be retried, then go to the DLQ)")
        widgets: list[cw.IWidget] = [
            cw.GraphWidget(title="Ingest queue", left=[queue_age], right=[dlq_depth], width=12),
            *(
                cw.GraphWidget(
                    title=f"Rows per entity: {row_metric}",
                    left=[ingest_metric(f"{entity}.{row_metric}", 60) for entity in ENTITIES],
                    width=12,
                )
                for row_metric in ROW_METRICS
            ),
        ]
        for name, fn in props.functions.items():
            errors = fn.metric_errors(period=Duration.minutes(5), statistic="Sum")
            throttles = fn.metric_throttles(period=Duration.minutes(5), statistic="Sum")
            alarm(f"{name}-errors", errors, 1, f"{name} Lambda raised errors")
            alarm(f"{name}-throttles", throttles, 1, f"{name} Lambda was throttled")
            widgets.append(cw.GraphWidget(title=f"{name} Lambda", left=[errors, throttles],
                                          right=[fn.metric_duration(statistic="p95")], width=12))
        self.glue_rule = events.Rule(
            self,
            "GlueJobFailed",
            description="Glue rollup job ended in FAILED, TIMEOUT or ERROR",
            event_pattern=events.EventPattern(
                source=["aws.glue"],
                detail_type=["Glue Job State Change"],
                detail={"jobName": [props.glue_job_name], "state": ["FAILED", "TIMEOUT", "ERROR"]},
            ),
        )
        self._rules: list[events.Rule] = []
        self.publish_rule(self.glue_rule)
        glue_failures = cw.Metric(
            namespace="AWS/Events", metric_name="TriggeredRules",
            dimensions_map={"RuleName": self.glue_rule.rule_name}, period=Duration.hours(1), statistic="Sum",
        )
        widgets.append(cw.GraphWidget(title="Glue job failures", left=[glue_failures], width=12))
        self._allow_publishers()
        widgets.append(cw.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=12))
        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=f"{cfg.prefix}-lake")
        for i in range(0, len(widgets), 2):
            self.dashboard.add_widgets(*widgets[i:i + 2])

    def route_alarm(self, alarm: cw.Alarm, *, recovery: bool = False) -> None:
        """Send an alarm of this stack (and, with `recovery`, its return to OK) to the alarm topic;
        the topic policy names it."""
        alarm.add_alarm_action(self._action)
        if recovery:
            alarm.add_ok_action(self._action)
        self.alarms.append(alarm)

    def publish_rule(self, rule: events.Rule) -> None:
        """Route an EventBridge rule of this stack to the alarm topic; the topic policy names it."""
        rule.add_target(_TopicTarget(self.topic))
        self._rules.append(rule)

    def _allow_publishers(self) -> None:
        """CloudWatch may publish for this stack's alarms only (`route_alarm`), EventBridge for this
        stack's rules only (`publish_rule`); resolved at synth, so alarms and rules routed after
        construction (the freshness alarms, the HMAC read rule) are included."""
        for sid, service, sources in (
            ("CloudWatchAlarmsOfThisStack", "cloudwatch.amazonaws.com", Lazy.list(_Arns(self.alarms))),
            ("EventBridgeRulesOfThisStack", "events.amazonaws.com", Lazy.list(_Arns(self._rules))),
        ):
            self.topic.add_to_resource_policy(iam.PolicyStatement(
                sid=sid,
                principals=[iam.ServicePrincipal(service)],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={"ArnEquals": {"aws:SourceArn": sources},
                            "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            ))
