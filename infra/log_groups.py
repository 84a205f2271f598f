"""KMS-encrypted log groups with retention, created before the resources that write to them.

Lambda, RDS, Redshift and Glue otherwise create their own log groups on first write:
unencrypted and kept forever. Creating them here with the ops key and the environment's
retention closes both gaps. Two kinds of writer are not ours to name: secret rotation
functions (a serverless application; the group is named after its function) and CDK's own
provider functions (no function name: they are pointed at a group through LoggingConfig).
tests/infra/test_log_groups.py checks that every writer in the template has its group.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import CfnResource, CustomResourceProviderBase, RemovalPolicy, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sam as sam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct


@dataclass(frozen=True)
class LogGroupFactory:
    key: kms.IKey
    retention: logs.RetentionDays
    removal_policy: RemovalPolicy

    def create(self, scope: Construct, construct_id: str, name: str) -> logs.LogGroup:
        return logs.LogGroup(
            scope,
            construct_id,
            log_group_name=name,
            encryption_key=self.key,
            retention=self.retention,
            removal_policy=self.removal_policy,
        )

    def for_rotation(self, rotation: secretsmanager.SecretRotation) -> logs.LogGroup:
        """The group of a rotation function (a serverless application that names its function)."""
        app = rotation.node.find_child("Resource")
        if not isinstance(app, sam.CfnApplication) or not isinstance(app.parameters, dict):
            raise TypeError("expected the rotation's serverless application with its parameters")
        group = self.create(rotation, "Logs", f"/aws/lambda/{app.parameters['functionName']}")
        app.node.add_dependency(group)  # the first rotation runs right after create
        return group

    def for_cdk_providers(self, stack: Stack, prefix: str) -> list[logs.LogGroup]:
        """Point CDK's provider functions (VPC default-SG cleanup, bucket auto-delete, ...) at
        groups of ours through the function's LoggingConfig. Call once the stack is built."""
        groups = []
        for provider in stack.node.children:
            if not isinstance(provider, CustomResourceProviderBase):
                continue
            handler = provider.node.find_child("Handler")
            if not isinstance(handler, CfnResource):
                raise TypeError(f"{provider.node.id}: expected a CfnResource handler")
            short = provider.node.id.removeprefix("Custom::").removesuffix("CustomResourceProvider")
            group = self.create(stack, f"{short}ProviderLogs", f"/aws/lambda/{prefix}-cdk-{short}")
            handler.add_property_override("LoggingConfig.LogGroup", group.log_group_name)
            handler.node.add_dependency(group)
            groups.append(group)
        return groups


_RETENTION_BY_DAYS: dict[int, logs.RetentionDays] = {
    1: logs.RetentionDays.ONE_DAY, 3: logs.RetentionDays.THREE_DAYS, 5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK, 14: logs.RetentionDays.TWO_WEEKS, 30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS, 90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS, 150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS, 365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS, 545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS, 1827: logs.RetentionDays.FIVE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def retention_days(days: int) -> logs.RetentionDays:
    """The smallest CloudWatch retention that keeps logs at least `days` days."""
    for value in sorted(_RETENTION_BY_DAYS):
        if value >= days:
            return _RETENTION_BY_DAYS[value]
    return logs.RetentionDays.TEN_YEARS
