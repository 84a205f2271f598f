"""Warehouse: Redshift Serverless over the lake (Spectrum) and RDS (federated queries).

cdk-nag has no Redshift Serverless rules, so this construct owns the secure settings and the
tests assert them: CMK encryption, no public access, enhanced VPC routing (all traffic through
the VPC and its endpoints), audit logs exported, and an admin password that Redshift manages in
Secrets Manager (encrypted with the data key). The views in `sql/redshift/` are applied at
deploy time through the Redshift Data API by a custom resource.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Aws, Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_redshiftserverless as redshift
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct, IDependable

from infra.api import api_db_user
from infra.bundling import lambda_code
from infra.config import REPO_ROOT, LakeConfig, MissingPartError
from infra.custom_resource import DeployTimeFunction, DeployTimeFunctionProps
from infra.log_groups import LogGroupFactory

SQL_DIR = REPO_ROOT / "sql" / "redshift"
REQUIREMENTS = REPO_ROOT / "lambdas" / "redshift_sql" / "requirements.txt"
ADMIN_USERNAME = "lake_admin"
WAREHOUSE_DB = "analytics"
LOG_EXPORTS = ("userlog", "connectionlog", "useractivitylog")


@dataclass(frozen=True)
class WarehouseProps:
    config: LakeConfig
    data_key: kms.IKey
    vpc: ec2.IVpc
    subnets: ec2.SubnetSelection
    function_subnets: ec2.SubnetSelection
    processed_bucket: s3.IBucket
    glue_database: str
    glue_catalog_arns: list[str]
    rds_secret: secretsmanager.ISecret
    rds_host: str
    rds_port: str
    rds_database: str
    log_groups: LogGroupFactory
    network: IDependable  # endpoints the SQL function needs at deploy time
    sql_dir: Path = SQL_DIR


def sql_files(sql_dir: Path) -> list[Path]:
    """The view files in name order; MissingPartError when there are none."""
    files = sorted(sql_dir.glob("*.sql"))
    if not files:
        raise MissingPartError(f"no Redshift SQL files in {sql_dir}")
    return files


def sql_digest(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


class LakeWarehouse(Construct):
    """Namespace + workgroup, the Spectrum/federated role and the SQL custom resource."""

    def __init__(self, scope: Construct, construct_id: str, props: WarehouseProps) -> None:
        super().__init__(scope, construct_id)
        cfg = props.config
        self.namespace_name = f"{cfg.prefix}-ns"
        self.workgroup_name = f"{cfg.prefix}-wg"
        self.security_group = ec2.SecurityGroup(
            self, "Sg", vpc=props.vpc, description="Redshift Serverless (egress to RDS and endpoints)",
            allow_all_outbound=False,
        )
        self.role = iam.Role(
            self,
            "SpectrumFederatedRole",
            assumed_by=iam.CompositePrincipal(
                iam.ServicePrincipal("redshift.amazonaws.com"),
                iam.ServicePrincipal("redshift-serverless.amazonaws.com"),
            ),
            description="Redshift: Spectrum over the Glue database, federated queries to RDS",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="SpectrumGlueCatalog",
                actions=["glue:GetDatabase", "glue:GetDatabases", "glue:GetTable", "glue:GetTables",
                         "glue:GetPartition", "glue:GetPartitions", "glue:BatchGetPartition"],
                resources=props.glue_catalog_arns,
            )
        )
        props.processed_bucket.grant_read(self.role)
        props.rds_secret.grant_read(self.role)

        self.namespace = redshift.CfnNamespace(
            self,
            "Namespace",
            namespace_name=self.namespace_name,
            db_name=WAREHOUSE_DB,
            admin_username=ADMIN_USERNAME,
            manage_admin_password=True,
            admin_password_secret_kms_key_id=props.data_key.key_arn,
            kms_key_id=props.data_key.key_arn,
            iam_roles=[self.role.role_arn],
            default_iam_role_arn=self.role.role_arn,
            log_exports=list(LOG_EXPORTS),
        )
        self.workgroup = redshift.CfnWorkgroup(
            self,
            "Workgroup",
            workgroup_name=self.workgroup_name,
            namespace_name=self.namespace_name,
            base_capacity=cfg.redshift_base_capacity_rpu,
            max_capacity=cfg.redshift_base_capacity_rpu * 4,
            enhanced_vpc_routing=True,
            publicly_accessible=False,
            subnet_ids=props.vpc.select_subnets(subnets=props.subnets.subnets, subnet_type=props.subnets.subnet_type).subnet_ids,
            security_group_ids=[self.security_group.security_group_id],
            config_parameters=[
                redshift.CfnWorkgroup.ConfigParameterProperty(
                    parameter_key="enable_user_activity_logging", parameter_value="true"
                ),
                redshift.CfnWorkgroup.ConfigParameterProperty(
                    parameter_key="require_ssl", parameter_value="true"
                ),
            ],
        )
        self.workgroup.add_resource_dependency(self.namespace)
        # Redshift Serverless exports to /aws/redshift/<namespace>/<log type>, an existing group if
        # there is one; the user activity log holds query text with its literals.
        for kind in LOG_EXPORTS:
            group = props.log_groups.create(self, f"Log{kind.title()}", f"/aws/redshift/{self.namespace_name}/{kind}")
            self.namespace.node.add_dependency(group)
        self.sql = self._apply_sql(props)

    def _apply_sql(self, props: WarehouseProps) -> DeployTimeFunction:
        cfg = props.config
        fn = DeployTimeFunction(
            self,
            "ApplySql",
            DeployTimeFunctionProps(
                function_name=f"{cfg.prefix}-redshift-sql",
                handler="lambdas.redshift_sql.handler.handler",
                code=lambda_code(REQUIREMENTS, ("sql/redshift",)),
                description="Applies sql/redshift/*.sql through the Redshift Data API at deploy time",
                vpc=props.vpc,
                subnets=props.function_subnets,
                log_groups=props.log_groups,
                env_key=props.data_key,
                timeout=Duration.minutes(15),
                depends_on=(props.network,),
            ),
        )
        self._grant_sql_function(fn.function, props)
        files = sql_files(props.sql_dir)
        resource = fn.run(
            "Apply",
            "Custom::RedshiftSql",
            {
                "WorkgroupName": self.workgroup_name,
                "NamespaceName": self.namespace_name,
                "Database": WAREHOUSE_DB,
                "SqlDigest": sql_digest(files),
                "Placeholders": {
                    "GLUE_DATABASE": props.glue_database,
                    "SPECTRUM_ROLE_ARN": self.role.role_arn,
                    "RDS_HOST": props.rds_host,
                    "RDS_PORT": props.rds_port,
                    "RDS_DATABASE": props.rds_database,
                    "RDS_SECRET_ARN": props.rds_secret.secret_arn,
                    "API_DB_USER": api_db_user(cfg),
                    **cfg.detection.sql_placeholders(),
                },
            },
        )
        resource.node.add_dependency(self.workgroup)
        self.sql_applied = resource
        return fn

    def _grant_sql_function(self, fn: iam.IGrantable, props: WarehouseProps) -> None:
        base = f"arn:{Aws.PARTITION}"
        region_account = f"{Aws.REGION}:{Aws.ACCOUNT_ID}"
        role = fn.grant_principal
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadNamespaceForAdminSecretArn",
                actions=["redshift-serverless:GetNamespace"],
                resources=[self.namespace.attr_namespace_namespace_arn],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="DataApiOnTheWorkgroup",
                actions=["redshift-data:ExecuteStatement", "redshift-data:BatchExecuteStatement"],
                resources=[self.workgroup.attr_workgroup_workgroup_arn],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="DataApiOwnStatementsOnly",
                actions=["redshift-data:DescribeStatement", "redshift-data:GetStatementResult"],
                resources=["*"],
                conditions={"StringEquals": {"redshift-data:statement-owner-iam-userid": "${aws:userid}"}},
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ManagedAdminSecret",
                actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                resources=[f"{base}:secretsmanager:{region_account}:secret:redshift!{self.namespace_name}-*"],
            )
        )
        props.data_key.grant_decrypt(role)
