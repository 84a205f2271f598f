"""Catalog and Glue: the Glue database, the lake tables (columns from the data contract), and
the scheduled Spark rollup job with its security configuration.

Table columns are never written here by hand: they come from `lake.contract` (the same
definitions the ingest writer and the Glue job use), so a contract change moves the catalog.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aws_cdk import Aws
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as assets
from constructs import Construct

from infra.bundling import bundled_asset_options
from infra.config import REPO_ROOT, LakeConfig, MissingPartError
from lake.catalog import LAKE_GLUE_TABLES
from lake.contract import LAKE_TABLES

ROLLUP_SCRIPT = REPO_ROOT / "glue_jobs" / "telemetry_rollup.py"
GLUE_VERSION = "5.0"
# What the rollup job writes under the processed bucket (glue_jobs/telemetry_rollup.py).
JOB_OUTPUT_PREFIXES = (*LAKE_TABLES, "_rollup_state")


def glue_connection_name(config: LakeConfig) -> str:
    return f"{config.prefix}-isolated"


def rollup_job_name(config: LakeConfig) -> str:
    return f"{config.prefix}-telemetry-rollup"


@dataclass(frozen=True)
class CatalogProps:
    config: LakeConfig
    data_key: kms.IKey
    ops_key: kms.IKey
    processed_bucket: s3.IBucket
    vpc: ec2.IVpc
    subnets: ec2.SubnetSelection
    rollup_script: Path = ROLLUP_SCRIPT
    job_arguments: Mapping[str, str] = field(default_factory=dict)


class LakeCatalog(Construct):
    """Glue database + tables, and the rollup job with its schedule."""

    def __init__(self, scope: Construct, construct_id: str, props: CatalogProps) -> None:
        super().__init__(scope, construct_id)
        cfg = props.config
        self.database_name = cfg.glue_database
        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=Aws.ACCOUNT_ID,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=self.database_name,
                description="surgical-lake: processed telemetry and its rollups (Parquet)",
            ),
        )
        self.tables: dict[str, glue.CfnTable] = {}
        for spec in LAKE_GLUE_TABLES.values():
            table = glue.CfnTable(
                self,
                f"Table{spec.name.title().replace('_', '')}",
                catalog_id=Aws.ACCOUNT_ID,
                database_name=self.database_name,
                table_input=glue.CfnTable.TableInputProperty(name=spec.name),
            )
            # The Glue API's TableInput, which CloudFormation takes as is: the one definition that
            # local mode and the tests create through the API too (lake.catalog.create_tables).
            table.add_property_override("TableInput", spec.table_input(props.processed_bucket.bucket_name))
            table.add_resource_dependency(self.database)
            self.tables[spec.name] = table
        if not props.rollup_script.is_file():
            raise MissingPartError(f"the Glue rollup script {props.rollup_script} does not exist")
        self.job_name = rollup_job_name(cfg)
        self.job = self._rollup_job(props)

    def catalog_arns(self, *table_names: str) -> list[str]:
        """Catalog, database and table ARNs: what Glue data-plane IAM actions are scoped to."""
        base = f"arn:{Aws.PARTITION}:glue:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        names = table_names or tuple(self.tables)
        return [
            f"{base}:catalog",
            f"{base}:database/{self.database_name}",
            *(f"{base}:table/{self.database_name}/{name}" for name in names),
        ]

    def _rollup_job(self, props: CatalogProps) -> glue.CfnJob:
        cfg = props.config
        self.security_configuration_name = f"{cfg.prefix}-glue"
        security = glue.CfnSecurityConfiguration(
            self,
            "SecurityConfiguration",
            name=self.security_configuration_name,
            encryption_configuration=glue.CfnSecurityConfiguration.EncryptionConfigurationProperty(
                s3_encryptions=[
                    glue.CfnSecurityConfiguration.S3EncryptionProperty(
                        s3_encryption_mode="SSE-KMS", kms_key_arn=props.data_key.key_arn
                    )
                ],
                cloud_watch_encryption=glue.CfnSecurityConfiguration.CloudWatchEncryptionProperty(
                    cloud_watch_encryption_mode="SSE-KMS", kms_key_arn=props.ops_key.key_arn
                ),
                job_bookmarks_encryption=glue.CfnSecurityConfiguration.JobBookmarksEncryptionProperty(
                    job_bookmarks_encryption_mode="CSE-KMS", kms_key_arn=props.data_key.key_arn
                ),
            ),
        )
        self.security_group = ec2.SecurityGroup(
            self, "JobSg", vpc=props.vpc, description="Glue job ENIs (Glue needs a self-referencing rule)",
            allow_all_outbound=False,
        )
        self.security_group.add_ingress_rule(
            self.security_group, ec2.Port.all_tcp(), "Glue workers talk to each other"
        )
        self.security_group.add_egress_rule(
            self.security_group, ec2.Port.all_tcp(), "Glue workers talk to each other"
        )
        subnet = props.vpc.select_subnets(
            subnets=props.subnets.subnets, subnet_type=props.subnets.subnet_type
        ).subnets[0]
        connection_name = glue_connection_name(cfg)
        connection = glue.CfnConnection(
            self,
            "Network",
            catalog_id=Aws.ACCOUNT_ID,
            connection_input=glue.CfnConnection.ConnectionInputProperty(
                name=connection_name,
                connection_type="NETWORK",
                description="Runs the Glue job in the isolated subnets (endpoints, no NAT)",
                physical_connection_requirements=glue.CfnConnection.PhysicalConnectionRequirementsProperty(
                    availability_zone=subnet.availability_zone,
                    subnet_id=subnet.subnet_id,
                    security_group_id_list=[self.security_group.security_group_id],
                ),
            ),
        )
        script = assets.Asset(self, "RollupScript", path=str(props.rollup_script))
        lake_lib = assets.Asset(
            self, "LakeLibrary", path=str(REPO_ROOT / "lake"),
            **bundled_asset_options(None, ("lake",)),
        )
        self.role = iam.Role(
            self, "JobRole", assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
            description=f"{cfg.prefix} telemetry rollup job",
        )
        # The job's own two asset objects, not the whole CDK asset bucket.
        self.role.add_to_policy(iam.PolicyStatement(
            sid="ReadOwnScriptAndLibrary", actions=["s3:GetObject"],
            resources=[a.bucket.arn_for_objects(a.s3_object_key) for a in (script, lake_lib)],
        ))
        props.processed_bucket.grant_read(self.role)
        # Writes and replaces only its own outputs (the rollup tables, their `_$folder$` markers
        # and the run state): DeleteObject for dynamic partition overwrite, never DeleteObjectVersion.
        self.role.add_to_policy(iam.PolicyStatement(
            sid="WriteAndReplaceOwnOutputs",
            actions=["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
            resources=[props.processed_bucket.arn_for_objects(f"{prefix}*") for prefix in JOB_OUTPUT_PREFIXES],
        ))
        self._grant_job_basics(props, subnet)
        job_name = rollup_job_name(cfg)
        job = glue.CfnJob(
            self,
            "RollupJob",
            name=job_name,
            description="Hourly telemetry rollups and anomaly flags (glue_jobs/telemetry_rollup.py)",
            role=self.role.role_arn,
            glue_version=GLUE_VERSION,
            command=glue.CfnJob.JobCommandProperty(
                name="glueetl", python_version="3", script_location=script.s3_object_url
            ),
            worker_type="G.1X",
            number_of_workers=cfg.glue_workers,
            timeout=60,
            max_retries=1,
            execution_property=glue.CfnJob.ExecutionPropertyProperty(max_concurrent_runs=1),
            security_configuration=security.name,
            connections=glue.CfnJob.ConnectionsListProperty(connections=[connection_name]),
            default_arguments={
                # No --enable-metrics: the isolated subnets have no CloudWatch monitoring endpoint
                # to publish through. No --enable-continuous-cloudwatch-log: Glue 5.0 streams
                # logs in real time and ignores it. No job bookmarks: the job reads with plain
                # Spark (no DynamicFrame sources) and keeps its own input fingerprints (ADR 0006).
                "--extra-py-files": lake_lib.s3_object_url,
                "--PROCESSED_BUCKET": props.processed_bucket.bucket_name,
                "--GLUE_DATABASE": self.database_name,
                **props.job_arguments,
            },
        )
        job.add_resource_dependency(security)
        job.add_resource_dependency(connection)
        glue.CfnTrigger(
            self,
            "Schedule",
            name=f"{job_name}-schedule",
            type="SCHEDULED",
            schedule=cfg.rollup_schedule,
            start_on_creation=True,
            actions=[glue.CfnTrigger.ActionProperty(job_name=job_name)],
        ).add_resource_dependency(job)
        return job

    def log_group_names(self, security_configuration: str) -> tuple[str, ...]:
        """Where a Glue job with CloudWatch encryption in its security configuration writes: its
        output and error logs (per security configuration and role) and continuous logs."""
        base = f"/aws-glue/jobs/{security_configuration}-role/{self.role.role_name}"
        return (f"{base}/output", f"{base}/error", f"/aws-glue/jobs/logs-v2-{security_configuration}")

    def _grant_job_basics(self, props: CatalogProps, subnet: ec2.ISubnet) -> None:
        base = f"arn:{Aws.PARTITION}"
        region_account = f"{Aws.REGION}:{Aws.ACCOUNT_ID}"
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="GlueCatalogOfTheLake",
                actions=[
                    "glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartition",
                    "glue:GetPartitions", "glue:BatchGetPartition", "glue:CreatePartition",
                    "glue:BatchCreatePartition", "glue:UpdatePartition", "glue:UpdateTable",
                ],
                resources=self.catalog_arns(),
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="GlueConnectionAndBookmarks",
                actions=["glue:GetConnection", "glue:GetJobBookmark"],
                resources=[
                    f"{base}:glue:{region_account}:catalog",
                    f"{base}:glue:{region_account}:connection/{glue_connection_name(props.config)}",
                    f"{base}:glue:{region_account}:job/{rollup_job_name(props.config)}",
                ],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="GlueJobLogs",
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                         "logs:AssociateKmsKey"],
                resources=[f"{base}:logs:{region_account}:log-group:{name}:*"
                           for name in self.log_group_names(self.security_configuration_name)],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="GlueVpcDescribe",  # Describe* actions have no resource-level permissions
                actions=[
                    "ec2:DescribeVpcEndpoints", "ec2:DescribeRouteTables", "ec2:DescribeSubnets",
                    "ec2:DescribeSecurityGroups", "ec2:DescribeVpcAttribute", "ec2:DescribeNetworkInterfaces",
                ],
                resources=["*"],
            )
        )
        # As AWS's own AWSGlueServiceRole, narrowed to the job's subnet and security group.
        ec2_arn = f"{base}:ec2:{region_account}"
        subnet_arn = f"{ec2_arn}:subnet/{subnet.subnet_id}"
        self.role.add_to_policy(iam.PolicyStatement(
            sid="GlueEnisInTheJobSubnet", actions=["ec2:CreateNetworkInterface"],
            resources=[f"{ec2_arn}:network-interface/*", subnet_arn,
                       f"{ec2_arn}:security-group/{self.security_group.security_group_id}"],
        ))
        self.role.add_to_policy(iam.PolicyStatement(
            sid="GlueDeletesEnisOfTheJobSubnet", actions=["ec2:DeleteNetworkInterface"],
            resources=[f"{ec2_arn}:network-interface/*"],
            conditions={"ArnEquals": {"ec2:Subnet": subnet_arn}},
        ))
        self.role.add_to_policy(iam.PolicyStatement(
            sid="GlueTagsItsEnis", actions=["ec2:CreateTags", "ec2:DeleteTags"],
            resources=[f"{ec2_arn}:network-interface/*",
                       f"{ec2_arn}:security-group/{self.security_group.security_group_id}"],
            conditions={"ForAllValues:StringEquals": {"aws:TagKeys": ["aws-glue-service-resource"]}},
        ))
        props.data_key.grant_encrypt_decrypt(self.role)
        props.ops_key.grant_encrypt_decrypt(self.role)
