"""KMS-encrypted log groups with retention, created before the resources that write to them.

Lambda and RDS otherwise create their own log groups on first write: unencrypted and kept
forever. Creating them here with the ops key and the environment's retention closes both gaps.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
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
