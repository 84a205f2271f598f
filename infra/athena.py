"""Athena: a workgroup whose settings clients cannot override, and the named queries.

`enforce_work_group_configuration` makes every query write its results SSE-KMS-encrypted to the
athena-results bucket, whatever the client asks for. Each `sql/athena/*.sql` file becomes one
named query against the Glue database (the files use unqualified table names).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import aws_athena as athena
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import REPO_ROOT, LakeConfig

SQL_DIR = REPO_ROOT / "sql" / "athena"


@dataclass(frozen=True)
class AthenaProps:
    config: LakeConfig
    data_key: kms.IKey
    results_bucket: s3.IBucket
    glue_database: str
    sql_dir: Path = SQL_DIR


def named_query_files(sql_dir: Path) -> list[Path]:
    return sorted(sql_dir.glob("*.sql")) if sql_dir.is_dir() else []


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
