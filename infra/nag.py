"""cdk-nag: the AwsSolutions and HIPAA.Security packs, and every acknowledged finding.

All acknowledgments live here, each on the exact resource it covers (a construct path, never
the whole stack) and, for wildcard findings, on the exact actions and resources (`applies_to`),
so a new grant anywhere (on the raw bucket above all) is a new finding, not silently accepted.
Findings that only apply to the cheap `dev` environment (single-AZ RDS, no deletion
protection, no AWS Backup) are acknowledged only when the config says so, so `prod` is checked
without them. Per-function and per-policy acknowledgments are generated from the stack's own
constructs, with the function or role named in the reason.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import Aspects, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from cdk_nag import (
    AwsSolutionsChecks,
    HIPAASecurityChecks,
    NagPackSuppression,
    NagSuppressions,
    RegexAppliesTo,
)
from constructs import IConstruct

from infra.config import LakeConfig
from infra.custom_resource import DeployTimeFunction
from lake.contract import ENTITIES
from lake.producers import producer_prefix

LAMBDA_MANAGED_POLICIES = [
    "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
]
# CDK's grant_read action groups: GetObject* (GetObject, GetObjectVersion, GetObjectTagging, ...),
# GetBucket* (GetBucketLocation, ...), List* (ListBucket, ListBucketVersions, ...). Reads only.
GRANT_READ = ["Action::s3:GetObject*", "Action::s3:GetBucket*", "Action::s3:List*"]
# CDK's key grants for SSE-KMS writes (grant_put / grant_encrypt_decrypt on a named key).
GRANT_ENCRYPT = ["Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*"]
# grant_put's multipart clean-up (AbortMultipartUpload of the caller's own uploads).
GRANT_ABORT = "Action::s3:Abort*"
# Paths whose acknowledgment covers the construct's children: the database security group's
# ingress rules (one per client, generated ids).
WITH_CHILDREN = {"Database/DbSg"}


def attach_packs(scope: IConstruct) -> None:
    Aspects.of(scope).add(AwsSolutionsChecks(verbose=True))
    Aspects.of(scope).add(HIPAASecurityChecks(verbose=True))


def _s(rule: str, reason: str, applies_to: Sequence[str | RegexAppliesTo] | None = None) -> NagPackSuppression:
    return NagPackSuppression(id=rule, reason=reason, applies_to=applies_to)


def objects(bucket: str, pattern: str = "*") -> RegexAppliesTo:
    """`Resource::<Storage<bucket><hash>.Arn>/<pattern>`: objects of one of this stack's buckets."""
    literal = re.escape(pattern).replace("/", r"\/")
    return RegexAppliesTo(regex=rf"/^Resource::<Storage{bucket}[0-9A-F]{{8}}\.Arn>\/{literal}$/")


def _iam5(reason: str, applies_to: Sequence[str | RegexAppliesTo]) -> NagPackSuppression:
    return _s("AwsSolutions-IAM5", reason, applies_to)


def _wildcards(config: LakeConfig) -> dict[str, list[NagPackSuppression]]:
    """Every AwsSolutions-IAM5 finding, by role policy: what each wildcard covers and why."""
    glue_logs = r"Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws-glue/jobs/"
    out = {
        "Ingest/Function/ServiceRole/DefaultPolicy/Resource": [
            _iam5("grant_read on the raw bucket (the key of each object arrives in its S3 event) and the "
                  "processed bucket: reads only.", [*GRANT_READ, objects("Raw"), objects("Processed")]),
            _iam5("grant_put on the quarantine bucket: one rejects file per source object "
                  "(<entity>/<source key>.rejects.ndjson), and AbortMultipartUpload of its own uploads.",
                  [GRANT_ABORT, objects("Quarantine")]),
            _iam5("PutObject/DeleteObject/AbortMultipartUpload of the ingest's Parquet files, named per "
                  "source object under procedure_telemetry/ only (never DeleteObjectVersion).",
                  [objects("Processed", "procedure_telemetry/*")]),
            _iam5("SSE-KMS writes to processed and quarantine: GenerateDataKey*/ReEncrypt* on the data "
                  "key only (KeysDataKey).", GRANT_ENCRYPT),
        ],
        "Catalog/JobRole/DefaultPolicy/Resource": [
            _iam5("grant_read on the processed bucket: the job reads telemetry and its own outputs.",
                  [*GRANT_READ, objects("Processed")]),
            _iam5("PutObject/DeleteObject/AbortMultipartUpload of the job's outputs only: the rollup tables "
                  "(with Spark's _$folder$ markers beside them) and its run state; DeleteObject serves "
                  "dynamic partition overwrite (never DeleteObjectVersion).",
                  [objects("Processed", f"{p}*") for p in ("telemetry_hourly", "telemetry_anomalies",
                                                            "_rollup_state")]),
            _iam5("Data key (S3 output, CSE-KMS bookmarks) and ops key (encrypted logs): "
                  "GenerateDataKey*/ReEncrypt* on those two keys only.", GRANT_ENCRYPT),
            _iam5("ec2:Describe* for the VPC connection have no resource-level permissions; "
                  "cloudwatch:PutMetricData is limited to the Glue namespace by condition.", ["Resource::*"]),
            _iam5("Log streams (named per job run) inside the job's three pre-created log groups.",
                  [RegexAppliesTo(regex=rf"/^{glue_logs}logs-v2-{config.prefix}-glue:\*$/"),
                   RegexAppliesTo(regex=rf"/^{glue_logs}{config.prefix}-glue-role\/<CatalogJobRole[0-9A-F]{{8}}>"
                                        r"\/(output|error):\*$/")]),
            _iam5("Network interfaces Glue creates for a run get their ids at run time: creation is bound "
                  "to the job's subnet and security group, deletion to that subnet (ec2:Subnet), tagging "
                  "to the aws-glue-service-resource tag key, as in AWS's AWSGlueServiceRole.",
                  ["Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface/*"]),
        ],
        "Athena/CreateViews/Function/ServiceRole/DefaultPolicy/Resource": [
            _iam5("grant_read + grant_put on the athena-results bucket (the workgroup writes query results "
                  "there), with the data key for SSE-KMS results.",
                  [*GRANT_READ, GRANT_ABORT, objects("AthenaResults"), *GRANT_ENCRYPT]),
        ],
        "Warehouse/SpectrumFederatedRole/DefaultPolicy/Resource": [
            _iam5("grant_read on the processed bucket: Spectrum reads the lake tables (no write, no delete, "
                  "so UNLOAD has nowhere to go; docs/adr/0008-data-perimeter.md).",
                  [*GRANT_READ, objects("Processed")]),
        ],
        "Warehouse/ApplySql/Function/ServiceRole/DefaultPolicy/Resource": [
            _iam5("redshift-data DescribeStatement/GetStatementResult have no resource type (limited to the "
                  "caller's own statements by condition); the managed admin secret's ARN ends in a random "
                  "suffix Redshift chooses (redshift!<namespace>-<user>-XXXXXX).",
                  ["Resource::*",
                   RegexAppliesTo(regex=r"/^Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:"
                                        r"<AWS::AccountId>:secret:redshift!.+-\*$/")]),
        ],
        "RawAccess/BreakGlass/DefaultPolicy/Resource": [
            _iam5("Break-glass read of any raw object, for an authorized person with MFA (1 h sessions, "
                  "each AssumeRole in CloudTrail).", [objects("Raw")]),
        ],
        "RawAccess/Operator/DefaultPolicy/Resource": [
            _iam5("Trusted platform uploads (<entity>/<file>) and Glacier restores anywhere in raw; the "
                  "bucket policy denies this role every other action.", [objects("Raw")]),
        ],
    }
    for producer in config.producers:
        out[f"RawAccess/Producer-{producer.name}/DefaultPolicy/Resource"] = [
            _iam5(f"Producer {producer.name}: PutObject/AbortMultipartUpload of new files under its own "
                  f"facilities' prefixes ({', '.join(producer.facilities)}) only.",
                  [objects("Raw", f"{producer_prefix(e, f)}*") for f in producer.facilities for e in ENTITIES]),
        ]
    return out


def _replication(config: LakeConfig) -> dict[str, list[NagPackSuppression]]:
    if not config.retain_data:
        reason = (f"{config.env_name} is disposable (retain_data=false: buckets are emptied and deleted with "
                  "the stack); prod backs up raw, processed and the access logs with AWS Backup.")
        return {f"Storage/{b}/Resource": [_s("HIPAA.Security-S3BucketReplicationEnabled", reason)]
                for b in ("Raw", "Processed", "Quarantine", "AthenaResults", "AccessLogs")}
    backed_up = ("Single-region lake by design (no cross-region replication); backed up daily by AWS Backup "
                 "into a vault with its own key and a compliance-mode lock, retained outside the stack "
                 "(infra/backup.py).")
    return {f"Storage/{b}/Resource": [_s("HIPAA.Security-S3BucketReplicationEnabled", reason)] for b, reason in (
        ("Raw", backed_up), ("Processed", backed_up), ("AccessLogs", backed_up),
        ("Quarantine", "Derived data: replaying the raw objects (backed up) recreates every rejects file."),
        ("AthenaResults", "Transient query results, expired after 30 days: re-running the query recreates them."),
    )}


def _invocation(name: str, deploy_time: bool) -> str | None:
    """How a function without its own DLQ is invoked, i.e. why it needs none; None: it needs one."""
    if deploy_time:
        return ("invoked by CloudFormation at deploy time (one of the three deploy-time functions: "
                "rds-migrate, redshift-sql, athena-views), which records a failure in the stack events "
                "and rolls back")
    if name == "Ingest/Function":
        return ("invoked by an SQS event source mapping; a message that fails maxReceiveCount times "
                "goes to the ingest queue's DLQ (redrive policy)")
    if name.startswith("Api/"):
        return ("invoked synchronously by API Gateway: the client receives the error and retries; "
                "there is no event to keep")
    return None


BUCKET_DEPLOYMENT = "Custom::CDKBucketDeployment"  # CDK's singleton that copies the dashboard to S3


def _bucket_deployment(function: lambda_.Function) -> None:
    """CDK's BucketDeployment handler (infra/web.py): it runs only while CloudFormation deploys."""
    what = ("CDK's BucketDeployment handler, run by CloudFormation while the stack deploys, to copy the built dashboard "
            "into its bucket and invalidate the distribution")
    NagSuppressions.add_resource_suppressions(function, [
        _s("AwsSolutions-L1", f"{what}: its runtime is chosen and updated by aws-cdk-lib with its bundled AWS CLI "
           "layer."),
        _s("HIPAA.Security-LambdaDLQ", f"{what}: a failure fails the deployment and rolls it back (no async events)."),
        _s("HIPAA.Security-LambdaConcurrency", f"{what}: invoked once per deployment by CloudFormation only."),
        _s("HIPAA.Security-LambdaInsideVPC", f"{what}: it touches only the CDK asset bucket, the dashboard bucket "
           "(public code, no data) and CloudFront; no VPC resource."),
    ])
    assert function.role is not None
    NagSuppressions.add_resource_suppressions(function.role, [
        _s("AwsSolutions-IAM4", f"{what}: AWS-managed basic execution policy (CloudWatch Logs writes).",
           LAMBDA_MANAGED_POLICIES[:1]),
        _iam5(f"{what}: CDK's grants: read the CDK asset bucket's dashboard zip, write/prune objects of the "
              "dashboard bucket only; CloudFront invalidation actions have no resource-level permissions.",
              ["Action::s3:GetBucket*", "Action::s3:GetObject*", "Action::s3:List*", "Action::s3:Abort*",
               "Action::s3:DeleteObject*", "Resource::*",
               "Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*",
               RegexAppliesTo(regex=r"/^Resource::<WebSite[0-9A-F]{8}\.Arn>\/\*$/")]),
    ], apply_to_children=True)


def _web(config: LakeConfig) -> dict[str, list[NagPackSuppression]]:
    """The dashboard's bucket and distribution (infra/web.py)."""
    return {
        "Web/Site/Resource": [
            _s("HIPAA.Security-S3DefaultEncryptionKMS", "Dashboard bucket: the built single-page app (public "
               "JavaScript, CSS, config.json naming the Cognito client), no data; SSE-S3 lets CloudFront's origin "
               "access control read it without a key policy for the CloudFront service."),
            _s("HIPAA.Security-S3BucketReplicationEnabled", "Dashboard bucket: every deploy rebuilds its content "
               "from the repository (web/), so a replica would hold nothing that cannot be rebuilt."),
        ],
        "Web/Distribution/Resource": [
            _s("AwsSolutions-CFR1", "Dashboard: hospital staff sign in from wherever they work; Cognito (MFA "
               "required) and the API's per-facility scope gate the data, not the viewer's country."),
            _s("AwsSolutions-CFR2", "Dashboard: the distribution serves the static app; its only data path, /v1/*, "
               "ends at the API stage, which is throttled, Cognito-authorized and behind the regional WAF in prod "
               "(a CloudFront web ACL would have to live in us-east-1, outside this stack)."),
            _s("AwsSolutions-CFR3", "Dashboard: CloudFront standard logs need an ACL-enabled bucket, and the "
               "stack's log bucket enforces bucket-owner ownership (ACLs off); every data request is access-logged "
               "by API Gateway and by the API itself (who, endpoint, rows)."),
            _s("AwsSolutions-CFR4", "Dashboard: on the default *.cloudfront.net certificate CloudFront fixes the "
               "viewer minimum at TLSv1 (a custom domain with an ACM certificate would allow TLSv1.2_2021); "
               "browsers negotiate TLS 1.2+/1.3 and HSTS is sent."),
        ],
    }


def _per_construct(stack: Stack) -> None:
    """Lambda runtime, DLQ and managed-policy findings per function; inline policies per role."""
    for construct in stack.node.find_all():
        if isinstance(construct, lambda_.Function) and construct.node.id.startswith(BUCKET_DEPLOYMENT):
            _bucket_deployment(construct)
        elif isinstance(construct, lambda_.Function) and construct.role is not None:
            name = construct.node.path.removeprefix(f"{stack.stack_name}/")
            deploy_time = isinstance(construct.node.scope, DeployTimeFunction)
            invoked = _invocation(name, deploy_time)
            NagSuppressions.add_resource_suppressions(construct, [
                _s("AwsSolutions-L1", f"{name}: Python 3.12 on purpose: the bundled cp312 manylinux wheels "
                   "(constraints.txt) are tested under CPython 3.12, the runtime's Python (ADR 0006)."),
                *([_s("HIPAA.Security-LambdaDLQ", f"{name} is {invoked}.")] if invoked else []),
            ])
            NagSuppressions.add_resource_suppressions(construct.role, [
                _s("AwsSolutions-IAM4", f"{name}: AWS-managed Lambda execution policies: CloudWatch Logs "
                   "writes and the ENI actions a VPC function needs (no resource-level permissions).",
                   LAMBDA_MANAGED_POLICIES),
            ])
        elif isinstance(construct, iam.CfnPolicy):
            role = construct.node.scope.node.scope if construct.node.scope else None
            owner = role.node.path.removeprefix(f"{stack.stack_name}/") if role else construct.node.path
            NagSuppressions.add_resource_suppressions(construct, [
                _s("HIPAA.Security-IAMNoInlinePolicy", f"CDK grant policy of the role {owner} only, "
                   "scoped to this stack's named resources; reviewed with the code (tests/infra/test_iam.py)."),
            ])


def acknowledge(stack: Stack, config: LakeConfig) -> None:
    """Apply the stack's acknowledgments (call after the stack is built, before synth)."""
    _per_construct(stack)
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
        "Backup/S3Role/Resource": [
            _s("AwsSolutions-IAM4", "AWS Backup for S3 needs AWS's S3 backup and restore service policies "
               "(AWS Backup Developer Guide, 'Amazon S3 backup'), and the backup policy CDK adds to a "
               "selection's role; the role is assumable by backup.amazonaws.com only.",
               [f"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/{name}" for name in (
                   "AWSBackupServiceRolePolicyForS3Backup", "AWSBackupServiceRolePolicyForS3Restore",
                   "AWSBackupServiceRolePolicyForBackup")]),
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
        "Api/RestApi/Resource": [
            _s("AwsSolutions-APIG2", "The query API validates every request in its function against its OpenAPI "
               "document (FastAPI: types, patterns, ranges; 400 problem+json); a {proxy+} resource cannot declare "
               "the parameters API Gateway would need to validate them."),
        ],
        "Api/Role/DefaultPolicy/Resource": [
            _s("AwsSolutions-IAM5", "Query API: redshift-data DescribeStatement/GetStatementResult/CancelStatement "
               "have no resource type; a condition limits them to the function's own statements.", ["Resource::*"]),
        ],
        "Alerts/Function/ServiceRole/DefaultPolicy/Resource": [
            _s("AwsSolutions-IAM5", "The alerts function reads and deletes (DeleteObject, never a version) the "
               "rollup's pending alert files, sets aside unreadable ones and rewrites the procedure-window "
               "export: objects under those three prefixes of the stack's own processed bucket, whose names "
               "the job and the export choose.",
               [objects("Processed", p) for p in ("_alerts/pending/*", "_alerts/rejected/*",
                                                  "_reference/procedure_windows/*")]),
        ],
        "Alerts/Router/ServiceRole/DefaultPolicy/Resource": [
            _s("AwsSolutions-IAM5", "grant_publish on the alert topic, encrypted with the ops key: SNS needs "
               "GenerateDataKey* on that key only (KeysOpsKey) to encrypt what the router publishes.",
               ["Action::kms:GenerateDataKey*"]),
        ],
        "Api/RestApi/CloudWatchRole/Resource": [
            _s("AwsSolutions-IAM4", "API Gateway's account-level logging role: the AWS-managed "
               "AmazonAPIGatewayPushToCloudWatchLogs policy is what API Gateway documents for execution logs.",
               ["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"]),
        ],
        f"Api/RestApi/DeploymentStage.{config.env_name}/Resource": [
            _s("HIPAA.Security-APIGWCacheEnabledAndEncrypted", "Query API stage: no response cache on purpose: "
               "every response is scoped to the caller's facilities, and a shared cache would serve one "
               "principal's rows to another."),
            _s("HIPAA.Security-APIGWSSLEnabled", "Query API stage: client certificates authenticate API Gateway "
               "to HTTP backends; this API's only backend is a Lambda function invoked through AWS's API."),
        ],
        **{f"Api/RestApi/Default/v1/{path}/GET/Resource": [
            _s("AwsSolutions-APIG4", f"Query API GET /v1/{path} is public by design (health, the OpenAPI "
               "document and its docs page hold no data); every data path uses the Cognito authorizer."),
            _s("AwsSolutions-COG4", f"Query API GET /v1/{path}: public by design (no data: health, the spec, "
               "the docs page and its assets); every data path has the Cognito user pool authorizer."),
        ] for path in ("health", "openapi.json", "docs", "docs/{asset}")},
    }
    if not config.api_waf:
        by_path[f"Api/RestApi/DeploymentStage.{config.env_name}/Resource"].append(
            _s("AwsSolutions-APIG3", f"{config.env_name}: no WAF web ACL by configuration (api_waf=false) to "
               "keep the environment cheap; the stage is throttled and Cognito-authenticated; prod has the WAF."))
    for extra in (_wildcards(config), _replication(config), _web(config)):
        for path, suppressions in extra.items():
            by_path.setdefault(path, []).extend(suppressions)
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
            stack, f"/{stack.stack_name}/{path}", suppressions,
            apply_to_children=path in WITH_CHILDREN,
        )
