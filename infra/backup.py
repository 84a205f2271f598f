"""AWS Backup (environments that retain data): the database, the raw and processed buckets and
the access logs, daily, into a vault with its own key and a compliance-mode vault lock.

RDS automated backups already give point-in-time recovery; the plan adds copies outside the
stack's blast radius: the vault and its key are retained when the stack goes, and once the lock
is fixed (`LOCK_CHANGEABLE_DAYS` after the first deploy) nobody, the account root included, can
delete a recovery point before its retention ends or lift the lock. The vault key is not the
data key, so a change to the data key's policy cannot make the backups unreadable.
Only environments that retain data get it (prod): a vault that holds recovery points cannot be
deleted, which would block tearing down a disposable dev stack.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_backup as backup
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import LakeConfig
from infra.removal import data_removal_policy

MIN_RETENTION_DAYS = 7
LOCK_CHANGEABLE_DAYS = 3  # grace period of the vault lock; after it the lock is immutable (compliance mode)
S3_BACKUP_POLICIES = ("AWSBackupServiceRolePolicyForS3Backup", "AWSBackupServiceRolePolicyForS3Restore")


@dataclass(frozen=True)
class BackupProps:
    config: LakeConfig
    instance: rds.IDatabaseInstance
    buckets: tuple[s3.IBucket, ...]  # raw, processed and the access logs


class LakeBackup(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: BackupProps) -> None:
        super().__init__(scope, construct_id)
        cfg = props.config
        self.key = kms.Key(
            self, "VaultKey", alias=f"alias/{cfg.prefix}-backup",
            description=f"{cfg.prefix}: AWS Backup vault (recovery points of RDS, raw and processed)",
            enable_key_rotation=True, removal_policy=data_removal_policy(cfg),
        )
        self.vault = backup.BackupVault(
            self,
            "Vault",
            backup_vault_name=f"{cfg.prefix}-backup",
            encryption_key=self.key,
            removal_policy=data_removal_policy(cfg),
            lock_configuration=backup.LockConfiguration(
                min_retention=Duration.days(MIN_RETENTION_DAYS),
                changeable_for=Duration.days(LOCK_CHANGEABLE_DAYS),
            ),
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
        # S3 needs its own service policies (the default backup role's policy does not cover S3).
        self.s3_role = iam.Role(
            self, "S3Role", assumed_by=iam.ServicePrincipal("backup.amazonaws.com"),
            description=f"{cfg.prefix}: AWS Backup of the raw and processed buckets",
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(f"service-role/{name}")
                              for name in S3_BACKUP_POLICIES],
        )
        s3_plan = backup.BackupPlan(self, "S3Plan", backup_plan_name=f"{cfg.prefix}-s3-daily",
                                    backup_vault=self.vault)
        s3_plan.add_rule(
            backup.BackupPlanRule(
                rule_name="daily",
                schedule_expression=events.Schedule.cron(hour="4", minute="0"),
                delete_after=Duration.days(max(cfg.s3_backup_retention_days, MIN_RETENTION_DAYS)),
            )
        )
        s3_plan.add_selection(
            "Buckets", role=self.s3_role,
            resources=[backup.BackupResource.from_arn(b.bucket_arn) for b in props.buckets],
        )
