"""cdk-nag: the AwsSolutions and HIPAA.Security packs, and every acknowledged finding.

All suppressions live here, each with the specific reason it is acceptable, and each scoped as
narrowly as cdk-nag allows (a construct path, and `applies_to` for wildcard findings). Findings
that only apply to the cheap `dev` environment (single-AZ RDS, no deletion protection) are
acknowledged only when the config says so, so `prod` is checked without them.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aspects, Stack
from cdk_nag import (
    AwsSolutionsChecks,
    HIPAASecurityChecks,
    NagPackSuppression,
    NagSuppressions,
    RegexAppliesTo,
)
from constructs import IConstruct

from infra.config import LakeConfig

LAMBDA_MANAGED_POLICIES = [
    "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
]
# Action groups emitted by CDK's grant_read / grant_put / grant_read_write on our named buckets
# and keys (e.g. s3:GetObject* = GetObject, GetObjectVersion, GetObjectTagging, ...).
CDK_GRANT_ACTIONS = [
    "Action::s3:GetObject*", "Action::s3:GetBucket*", "Action::s3:List*", "Action::s3:Abort*",
    "Action::s3:DeleteObject*", "Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*",
]
# Objects inside one of the stack's own buckets: object ARNs are always <bucket ARN>/<key>.
OWN_BUCKET_OBJECTS = RegexAppliesTo(regex=r"/^Resource::<Storage[A-Za-z]+[0-9A-F]{8}\.Arn>\/\*$/")


def attach_packs(scope: IConstruct) -> None:
    Aspects.of(scope).add(AwsSolutionsChecks(verbose=True))
    Aspects.of(scope).add(HIPAASecurityChecks(verbose=True))


def _s(rule: str, reason: str, applies_to: Sequence[str | RegexAppliesTo] | None = None) -> NagPackSuppression:
    return NagPackSuppression(id=rule, reason=reason, applies_to=applies_to)


def acknowledge(stack: Stack, config: LakeConfig) -> None:
    """Apply the stack's suppressions (call after the stack is built, before synth)."""
    NagSuppressions.add_stack_suppressions(stack, [
        _s("HIPAA.Security-IAMNoInlinePolicy",
           "The AWS::IAM::Policy resources are CDK grant policies, each attached to exactly one role of "
           "this stack and scoped to this stack's named resources; they are reviewed here with the code."),
        _s("AwsSolutions-IAM4",
           "AWS-managed Lambda execution policies: CloudWatch Logs writes and the ENI actions a VPC "
           "function needs (EC2 ENI actions have no resource-level permissions).",
           LAMBDA_MANAGED_POLICIES),
        _s("AwsSolutions-IAM5",
           "CDK grant action groups on this stack's own buckets/keys and the object ARNs (<bucket>/*) "
           "inside those named buckets; no other account's or bucket's resources are reachable.",
           [*CDK_GRANT_ACTIONS, OWN_BUCKET_OBJECTS]),
        _s("AwsSolutions-L1",
           "Python 3.12 is pinned on purpose: the AWS-managed AWSSDKPandas-Python312 layer and the "
           "bundled cp312 manylinux wheels must match the runtime."),
        _s("HIPAA.Security-LambdaDLQ",
           "The ingest function is invoked by an SQS event source mapping, whose failures go to the "
           "queue's DLQ (redrive policy); the two deploy-time functions are invoked by CloudFormation, "
           "which records failures in the stack events and rolls back."),
        _s("HIPAA.Security-S3BucketReplicationEnabled",
           "Single-region lake by design: buckets are versioned with noncurrent-version retention; "
           "cross-region replication is a disaster-recovery decision each organization makes (README)."),
    ])
    by_path = {
        "Ingest/PhiHmacKey/Resource": [
            _s("AwsSolutions-SMG4", "The PHI pseudonymization key must stay stable: rotating it would "
               "change every patient_key and break linkage across loads. Rotate by re-keying (README)."),
            _s("HIPAA.Security-SecretsManagerRotationEnabled", "Same key: automatic rotation would "
               "silently change every pseudonym; rotation is a deliberate re-keying procedure."),
        ],
        "Storage/AccessLogs/Resource": [
            _s("HIPAA.Security-S3DefaultEncryptionKMS", "S3 server access log delivery only supports "
               "SSE-S3 target buckets; the log bucket is SSE-S3, private, TLS-only and versioned."),
        ],
        "Database/Instance/Resource": [
            _s("AwsSolutions-RDS11", "Clients reach PostgreSQL through the RDS Proxy, which listens on "
               "5432 regardless; the instance is in isolated subnets behind security groups."),
        ],
        "Backup/Plan/Database/Role/Resource": [
            _s("AwsSolutions-IAM4", "AWS Backup's own service-role policy is what AWS documents for "
               "backup selections; it only lets AWS Backup snapshot the selected resources.",
               ["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup"]),
        ],
        "Database/Instance/MonitoringRole/Resource": [
            _s("AwsSolutions-IAM4", "Enhanced monitoring needs the AWS-managed "
               "AmazonRDSEnhancedMonitoringRole (it only publishes OS metrics to CloudWatch Logs).",
               ["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"]),
        ],
        "Database/DbSg": [
            _s("CdkNagValidationFailure", "The ingress rules CDK adds for the rotation function and the "
               "proxy use the instance's port token, which the port rules cannot evaluate; their sources "
               "are security groups, never CIDRs (asserted in tests/infra)."),
        ],
        "Catalog/JobRole/DefaultPolicy/Resource": [
            _s("AwsSolutions-IAM5", "Glue job: EC2 ENI describe/create for the VPC connection and "
               "cloudwatch:PutMetricData (limited to the Glue namespace) have no resource-level "
               "permissions; its logs live under /aws-glue/*; the script and library are CDK assets.",
               ["Resource::*",
                "Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws-glue/*",
                RegexAppliesTo(regex=r"/^Resource::arn:<AWS::Partition>:s3:::cdk-[a-z0-9]+-assets-.*\/\*$/")]),
        ],
        "Alerts/Function/ServiceRole/DefaultPolicy/Resource": [
            _s("AwsSolutions-IAM5", "The alerts function reads and deletes the rollup's pending alert files, "
               "sets aside unreadable ones and rewrites the procedure-window export: objects under those "
               "three prefixes of the stack's own processed bucket, whose names the job and the export choose.",
               [RegexAppliesTo(regex=r"/^Resource::<StorageProcessed[0-9A-F]{8}\.Arn>\/"
                                     r"(_alerts\/pending|_alerts\/rejected|_reference)\/\*$/")]),
        ],
        "Warehouse/ApplySql/Function/ServiceRole/DefaultPolicy/Resource": [
            _s("AwsSolutions-IAM5", "redshift-data DescribeStatement/GetStatementResult have no resource "
               "type (limited to the caller's own statements by condition); the managed admin secret's "
               "ARN ends in a random suffix Redshift chooses (redshift!<namespace>-<user>-XXXXXX).",
               ["Resource::*",
                RegexAppliesTo(regex=r"/^Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:"
                                     r"<AWS::AccountId>:secret:redshift!.+-\*$/")]),
        ],
    }
    if not config.retain_data:
        by_path["Database/Instance/Resource"].append(
            _s("HIPAA.Security-RDSInBackupPlan", f"{config.env_name}: disposable environment: RDS "
               "automated backups only; an AWS Backup vault holding recovery points would block "
               "teardown. prod (retain_data=true) has a daily AWS Backup plan."),
        )
    if not config.rds_multi_az:
        by_path["Database/Instance/Resource"] += [
            _s("AwsSolutions-RDS3", f"{config.env_name}: single-AZ to keep the environment cheap "
               "(rds_multi_az=false in cdk.json); prod is Multi-AZ."),
            _s("HIPAA.Security-RDSMultiAZSupport", f"{config.env_name}: single-AZ by configuration "
               "(rds_multi_az=false) to halve the instance cost; prod is Multi-AZ."),
        ]
    if not config.rds_deletion_protection:
        by_path["Database/Instance/Resource"] += [
            _s("AwsSolutions-RDS10", f"{config.env_name}: disposable environment "
               "(rds_deletion_protection=false) so teardown works; prod enables deletion protection."),
            _s("HIPAA.Security-RDSInstanceDeletionProtectionEnabled", f"{config.env_name}: disposable "
               "by configuration (rds_deletion_protection=false); prod enables deletion protection."),
        ]
    for path, suppressions in by_path.items():
        if stack.node.try_find_child(path.split("/")[0]) is None:
            continue
        NagSuppressions.add_resource_suppressions_by_path(
            stack, f"/{stack.stack_name}/{path}", suppressions, apply_to_children=True
        )
