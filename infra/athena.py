"""Athena: a workgroup whose settings clients cannot override, and the named queries.

`enforce_work_group_configuration` makes every query write its results SSE-KMS-encrypted to the
athena-results bucket, whatever the client asks for. Each `sql/athena/*.sql` file becomes one
named query against the Glue database (the files use unqualified table names), and the files
that create views are also run once at deploy time by a custom resource, so the named queries
that read those views work straight away.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Aws, Duration
from aws_cdk import aws_athena as athena
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct, IDependable

from infra.bundling import lambda_code
from infra.config import REPO_ROOT, LakeConfig, MissingPartError
from infra.custom_resource import DeployTimeFunction, DeployTimeFunctionProps
from infra.log_groups import LogGroupFactory
from lambdas.athena_sql.handler import view_files

SQL_DIR = REPO_ROOT / "sql" / "athena"
REQUIREMENTS = REPO_ROOT / "lambdas" / "athena_sql" / "requirements.txt"


@dataclass(frozen=True)
class AthenaProps:
    config: LakeConfig
    data_key: kms.IKey
    results_bucket: s3.IBucket
    glue_database: str
    glue_catalog_arns: list[str]
    vpc: ec2.IVpc
    subnets: ec2.SubnetSelection
    log_groups: LogGroupFactory
    depends_on: tuple[IDependable, ...]  # endpoints and the Glue tables the views read
    sql_dir: Path = SQL_DIR


def named_query_files(sql_dir: Path) -> list[Path]:
    """The Athena SQL files in name order; MissingPartError when there are none."""
    files = sorted(sql_dir.glob("*.sql"))
    if not files:
        raise MissingPartError(f"no Athena SQL files in {sql_dir}")
    return files


def query_description(sql: str, fallback: str) -> str:
    """The file's leading `--` comment (what question it answers), else the file name."""
    lines = [line[2:].strip() for line in sql.splitlines() if line.startswith("--")]
    text = " ".join(line for line in lines[:3] if line) or fallback
    return text[:1024]


class LakeAthena(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: AthenaProps) -> None:
        super().__init__(scope, construct_id)
        cfg = props.config
        self.workgroup_name = f"{cfg.prefix}-athena"
        self.workgroup = athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=self.workgroup_name,
            description="surgical-lake queries; results encrypted with the data key",
            state="ENABLED",
            recursive_delete_option=not cfg.retain_data,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=100 * 1024**3,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version="Athena engine version 3"
                ),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{props.results_bucket.bucket_name}/results/",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_KMS", kms_key=props.data_key.key_arn
                    ),
                ),
            ),
        )
        self.named_queries: dict[str, athena.CfnNamedQuery] = {}
        for path in named_query_files(props.sql_dir):
            sql = path.read_text()
            query = athena.CfnNamedQuery(
                self,
                f"Query{path.stem.title().replace('_', '')}",
                name=path.stem,
                database=props.glue_database,
                work_group=self.workgroup_name,
                description=query_description(sql, path.name),
                query_string=sql,
            )
            query.add_resource_dependency(self.workgroup)
            self.named_queries[path.stem] = query
        self.views = view_files(props.sql_dir)
        if not self.views:
            raise MissingPartError(f"no view (CREATE OR REPLACE VIEW) among the files of {props.sql_dir}")
        self.view_function = self._create_views(props)

    def _create_views(self, props: AthenaProps) -> DeployTimeFunction:
        cfg = props.config
        fn = DeployTimeFunction(
            self,
            "CreateViews",
            DeployTimeFunctionProps(
                function_name=f"{cfg.prefix}-athena-views",
                handler="lambdas.athena_sql.handler.handler",
                code=lambda_code(REQUIREMENTS, ("sql/athena",)),
                description="Creates the sql/athena views in the Athena workgroup at deploy time",
                vpc=props.vpc,
                subnets=props.subnets,
                log_groups=props.log_groups,
                env_key=props.data_key,
                timeout=Duration.minutes(10),
                depends_on=props.depends_on,
            ),
        )
        role = fn.function.grant_principal
        workgroup_arn = f"arn:{Aws.PARTITION}:athena:{Aws.REGION}:{Aws.ACCOUNT_ID}:workgroup/{self.workgroup_name}"
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="RunQueriesInTheLakeWorkgroup",
            actions=["athena:StartQueryExecution", "athena:GetQueryExecution"],
            resources=[workgroup_arn],
        ))
        glue_base = f"arn:{Aws.PARTITION}:glue:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="ReadLakeTables",
            actions=["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartitions"],
            resources=props.glue_catalog_arns,
        ))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="WriteOnlyTheseViews",
            actions=["glue:GetTable", "glue:CreateTable", "glue:UpdateTable"],
            resources=[
                f"{glue_base}:catalog",
                f"{glue_base}:database/{props.glue_database}",
                *(f"{glue_base}:table/{props.glue_database}/{view}" for _, view, _ in self.views),
            ],
        ))
        props.results_bucket.grant_read(fn.function)
        props.results_bucket.grant_put(fn.function)
        props.data_key.grant_encrypt_decrypt(fn.function)
        resource = fn.run("Apply", "Custom::AthenaViews", {
            "WorkGroup": self.workgroup_name,
            "Database": props.glue_database,
            "Views": ",".join(view for _, view, _ in self.views),
            "SqlDigest": _digest([sql for _, _, sql in self.views]),
        })
        resource.node.add_dependency(self.workgroup)
        return fn


def _digest(statements: list[str]) -> str:
    return hashlib.sha256("\n;\n".join(statements).encode()).hexdigest()
