"""The one stack: wires the constructs together. Secure defaults live in the constructs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Fn, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.alerts import AlertsProps, LakeAlerts, alerts_function_name
from infra.athena import AthenaProps, LakeAthena
from infra.backup import BackupProps, LakeBackup
from infra.catalog import ROLLUP_SCRIPT, CatalogProps, LakeCatalog, rollup_job_name
from infra.config import LakeConfig
from infra.database import DB_NAME, DatabaseProps, LakeDatabase
from infra.freshness import FreshnessProps, LakeFreshness
from infra.ingest import IngestProps, LakeIngest
from infra.keys import KeysProps, LakeKeys
from infra.log_groups import LogGroupFactory, retention_days
from infra.monitoring import LakeMonitoring, MonitoringProps
from infra.network import LakeNetwork, NetworkProps
from infra.storage import LakeStorage, StorageProps
from infra.warehouse import LakeWarehouse, WarehouseProps


class LakeStack(Stack):
    """Network, keys, storage, catalog + Glue, ingest, database, warehouse, Athena, monitoring."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: LakeConfig,
        rollup_script: Path = ROLLUP_SCRIPT, **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        cfg = config
        self.config = cfg
        removal = RemovalPolicy.RETAIN if cfg.retain_data else RemovalPolicy.DESTROY
        self.keys = LakeKeys(self, "Keys", KeysProps(prefix=cfg.prefix, removal_policy=removal))
        log_groups = LogGroupFactory(self.keys.ops_key, retention_days(cfg.log_retention_days), removal)

        self.network = LakeNetwork(
            self,
            "Network",
            NetworkProps(
                log_key=self.keys.ops_key,
                log_retention=retention_days(cfg.log_retention_days),
                removal_policy=removal,
                availability_zones=tuple(self.availability_zones),
                endpoint_azs=cfg.interface_endpoint_azs,
            ),
        )
        vpc, subnets = self.network.vpc, self.network.subnets
        self.storage = LakeStorage(
            self, "Storage",
            StorageProps(config=cfg, data_key=self.keys.data_key, account=self.account, region=self.region),
        )
        self.catalog = LakeCatalog(
            self, "Catalog",
            CatalogProps(config=cfg, data_key=self.keys.data_key, ops_key=self.keys.ops_key,
                         processed_bucket=self.storage.processed, vpc=vpc, subnets=subnets,
                         rollup_script=rollup_script,
                         job_arguments={**cfg.detection.job_arguments(),
                                        "--ALERTS_FUNCTION": alerts_function_name(cfg)}),
        )
        self.ingest = LakeIngest(
            self,
            "Ingest",
            IngestProps(
                config=cfg,
                data_key=self.keys.data_key,
                raw_bucket=self.storage.raw,
                raw_bucket_name=self.storage.bucket_name("raw"),
                processed_bucket=self.storage.processed,
                quarantine_bucket=self.storage.quarantine,
                vpc=vpc,
                subnets=subnets,
                log_group=log_groups.create(self, "IngestLogs", f"/aws/lambda/{cfg.prefix}-ingest"),
                glue_table_arns=self.catalog.catalog_arns("procedure_telemetry"),
            ),
        )
        self.database = LakeDatabase(
            self, "Database",
            DatabaseProps(config=cfg, data_key=self.keys.data_key, vpc=vpc, subnets=subnets,
                          secrets_endpoint=self.network.endpoints["SecretsManager"], log_groups=log_groups,
                          network=self.network),
        )
        if cfg.retain_data:
            self.backup = LakeBackup(
                self, "Backup", BackupProps(config=cfg, data_key=self.keys.data_key, instance=self.database.instance)
            )
        self.database.allow_client(self.ingest.function, "Ingest Lambda")
        self.ingest.connect_database(
            self.database.secret, self.database.proxy.endpoint, self.database.port, DB_NAME
        )
        self.alerts = LakeAlerts(
            self, "Alerts",
            AlertsProps(config=cfg, data_key=self.keys.data_key, ops_key=self.keys.ops_key,
                        processed_bucket=self.storage.processed, vpc=vpc, subnets=subnets, log_groups=log_groups,
                        glue_job_name=rollup_job_name(cfg)),
        )
        self.database.allow_client(self.alerts.function, "Alerts Lambda")
        self.alerts.connect_database(self.database.secret, self.database.proxy.endpoint, self.database.port, DB_NAME)
        if self.catalog.job:
            self.catalog.role.add_to_policy(iam.PolicyStatement(
                sid="ExportProcedureWindowsBeforeTheRollup", actions=["lambda:InvokeFunction"],
                resources=[self.alerts.function.function_arn]))
        self.warehouse = LakeWarehouse(
            self,
            "Warehouse",
            WarehouseProps(
                config=cfg,
                data_key=self.keys.data_key,
                vpc=vpc,
                subnets=self.network.warehouse_subnets,
                function_subnets=subnets,
                processed_bucket=self.storage.processed,
                glue_database=self.catalog.database_name,
                glue_catalog_arns=self.catalog.catalog_arns(),
                rds_secret=self.database.secret,
                rds_host=self.database.host,
                rds_port=self.database.port,
                rds_database=DB_NAME,
                log_groups=log_groups,
                network=self.network,
            ),
        )
        self.database.allow_direct(self.warehouse.security_group, "Redshift federated queries")
        # The views read RDS tables (federated) and Glue tables (Spectrum): create those first.
        self.warehouse.sql_applied.node.add_dependency(self.database.migrations_applied, self.catalog)
        self.athena = LakeAthena(
            self, "Athena",
            AthenaProps(config=cfg, data_key=self.keys.data_key, results_bucket=self.storage.athena_results,
                        glue_database=self.catalog.database_name, glue_catalog_arns=self.catalog.catalog_arns(),
                        vpc=vpc, subnets=subnets, log_groups=log_groups,
                        depends_on=(self.network, self.catalog)),
        )
        self.monitoring = LakeMonitoring(
            self,
            "Monitoring",
            MonitoringProps(
                config=cfg,
                ops_key=self.keys.ops_key,
                queue=self.ingest.queue,
                dlq=self.ingest.dlq,
                functions={
                    "ingest": self.ingest.function,
                    "rds-migrate": self.database.migrations.function,
                    "redshift-sql": self.warehouse.sql.function,
                    **({"athena-views": self.athena.view_function.function} if self.athena.view_function else {}),
                    "alerts": self.alerts.function,
                    "alerts-router": self.alerts.router,
                },
                glue_job_name=self.catalog.job_name if self.catalog.job else None,
            ),
        )
        self.freshness = LakeFreshness(self, "Freshness", FreshnessProps(config=cfg, topic=self.monitoring.topic))
        self._outputs()

    @property
    def availability_zones(self) -> list[str]:
        """Three AZs resolved by CloudFormation (Fn::GetAZs), pinned region or not: Redshift
        Serverless needs three (CDK's env-agnostic default is two), and no context lookup means
        `cdk synth` needs no credentials."""
        return [Fn.select(i, Fn.get_azs()) for i in range(3)]

    def _outputs(self) -> None:
        for name, value in {
            "RawBucket": self.storage.raw.bucket_name,
            "ProcessedBucket": self.storage.processed.bucket_name,
            "QuarantineBucket": self.storage.quarantine.bucket_name,
            "IngestQueueUrl": self.ingest.queue.queue_url,
            "IngestDlqUrl": self.ingest.dlq.queue_url,
            "IngestFunction": self.ingest.function.function_name,
            "GlueDatabase": self.catalog.database_name,
            "AthenaWorkGroup": self.athena.workgroup_name,
            "RedshiftWorkgroup": self.warehouse.workgroup_name,
            "RdsProxyEndpoint": self.database.proxy.endpoint,
            "AlarmTopicArn": self.monitoring.topic.topic_arn,
            "AlertTopicArn": self.alerts.topic.topic_arn,
            "AlertBusName": self.alerts.bus.event_bus_name,
        }.items():
            CfnOutput(self, name, value=value)
