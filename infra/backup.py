"""AWS Backup for the database: a daily plan into a vault encrypted with the data key.

RDS automated backups already give point-in-time recovery; the plan adds copies that live in
a separate, KMS-encrypted vault and outlive the instance. Only environments that retain data
get it (prod): a vault that holds recovery points cannot be deleted, which would block tearing
down a disposable dev stack.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_backup as backup
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from constructs import Construct

from infra.config import LakeConfig
from infra.removal import data_removal_policy

MIN_RETENTION_DAYS = 7


@dataclass(frozen=True)
class BackupProps:
    config: LakeConfig
    data_key: kms.IKey
    instance: rds.IDatabaseInstance


class LakeBackup(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: BackupProps) -> None:
        super().__init__(scope, construct_id)
        cfg = props.config
        self.vault = backup.BackupVault(
            self,
            "Vault",
            backup_vault_name=f"{cfg.prefix}-vault",
            encryption_key=props.data_key,
            removal_policy=data_removal_policy(cfg),
        )
        self.plan = backup.BackupPlan(self, "Plan", backup_plan_name=f"{cfg.prefix}-daily", backup_vault=self.vault)
        self.plan.add_rule(
            backup.BackupPlanRule(
                rule_name="daily",
                schedule_expression=events.Schedule.cron(hour="3", minute="30"),
                delete_after=Duration.days(max(cfg.rds_backup_retention_days, MIN_RETENTION_DAYS)),
            )
        )
        self.plan.add_selection(
            "Database", resources=[backup.BackupResource.from_rds_database_instance(props.instance)]
        )
