"""The one stack: wires the constructs together. Secure defaults live in the constructs."""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, CfnOutput, Fn, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.alerts import AlertsProps, LakeAlerts, alerts_function_name
from infra.api import ApiProps, LakeApi
from infra.athena import AthenaProps, LakeAthena
from infra.backup import BackupProps, LakeBackup
from infra.catalog import CatalogProps, LakeCatalog, rollup_job_name
from infra.config import LakeConfig
from infra.database import DB_NAME, DatabaseProps, LakeDatabase
from infra.freshness import FreshnessProps, LakeFreshness
from infra.ingest import IngestProps, LakeIngest
from infra.keys import KeysProps, LakeKeys
from infra.log_groups import LogGroupFactory, retention_days
from infra.monitoring import LakeMonitoring, MonitoringProps
from infra.network import LakeNetwork, NetworkProps, s3_prefix_list_id
from infra.raw_access import RawAccess, RawAccessProps
from infra.removal import data_removal_policy
from infra.storage import LakeStorage, StorageProps
from infra.warehouse import WAREHOUSE_DB, LakeWarehouse, WarehouseProps
from infra.web import LakeWeb, WebProps
from lake.db_roles import ALERTS, API, INGEST, READER


class LakeStack(Stack):
    """Network, keys, storage, catalog + Glue, ingest, database, warehouse, Athena, API, monitoring."""

    def __init__(self, scope: Construct, construct_id: str, *, config: LakeConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        cfg = config
        self.config = cfg
        removal = data_removal_policy(cfg)
        raw_bucket_arn = f"arn:{Aws.PARTITION}:s3:::{cfg.bucket_name('raw', self.account, self.region)}"
        bus_arn = f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:event-bus/{cfg.alert_bus_name}"
        self.keys = LakeKeys(self, "Keys", KeysProps(prefix=cfg.prefix, removal_policy=removal,
                                                     raw_bucket_arn=raw_bucket_arn, event_bus_arn=bus_arn))
        log_groups = LogGroupFactory(self.keys.ops_key, retention_days(cfg.log_retention_days), removal)

        self.network = LakeNetwork(
            self,
            "Network",
            NetworkProps(
                log_key=self.keys.ops_key,
                s3_prefix_list_id=s3_prefix_list_id(self, cfg),
                log_retention=retention_days(cfg.log_retention_days),
                removal_policy=removal,
                availability_zones=tuple(self.availability_zones),
                endpoint_azs=cfg.interface_endpoint_azs,
            ),
        )
        vpc, subnets = self.network.vpc, self.network.subnets
        self.storage = LakeStorage(
            self, "Storage",
            StorageProps(config=cfg, data_key=self.keys.data_key, raw_key=self.keys.raw_key, account=self.account,
                         region=self.region),
        )
        self.catalog = LakeCatalog(
            self, "Catalog",
            CatalogProps(config=cfg, data_key=self.keys.data_key, ops_key=self.keys.ops_key,
                         processed_bucket=self.storage.processed, vpc=vpc, subnets=subnets,
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
        self.backup = LakeBackup(
            self, "Backup", BackupProps(config=cfg, instance=self.database.instance,
                                        buckets=(self.storage.raw, self.storage.processed, self.storage.access_logs)),
        ) if cfg.retain_data else None
        assert self.ingest.function.role is not None
        self.raw_access = RawAccess(
            self, "RawAccess",
            RawAccessProps(config=cfg, bucket=self.storage.raw, bucket_name=self.storage.bucket_name("raw"),
                           key=self.keys.raw_key,
                           ingest_role=self.ingest.function.role,
                           backup_role=self.backup.s3_role if self.backup else None),
        )
        self.database.allow_client(self.ingest.function, "Ingest Lambda")
        self.ingest.connect_database(
            self.database.role_secrets[INGEST.name], self.database.proxy.endpoint, self.database.port, DB_NAME
        )
        self.alerts = LakeAlerts(
            self, "Alerts",
            AlertsProps(config=cfg, data_key=self.keys.data_key, ops_key=self.keys.ops_key,
                        processed_bucket=self.storage.processed, vpc=vpc, subnets=subnets, log_groups=log_groups,
                        glue_job_name=rollup_job_name(cfg)),
        )
        self.database.allow_client(self.alerts.function, "Alerts Lambda")
        self.alerts.connect_database(self.database.role_secrets[ALERTS.name], self.database.proxy.endpoint,
                                     self.database.port, DB_NAME)
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
                rds_secret=self.database.role_secrets[READER.name],
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
        self.api = LakeApi(
            self, "Api",
            ApiProps(config=cfg, data_key=self.keys.data_key, vpc=vpc, subnets=subnets, log_groups=log_groups,
                     db_secret=self.database.role_secrets[API.name], db_host=self.database.proxy.endpoint,
                     db_port=self.database.port, db_name=DB_NAME,
                     db_security_group=self.database.proxy_security_group,
                     endpoint_security_group=self.network.endpoint_security_group,
                     warehouse_workgroup=self.warehouse.workgroup_name,
                     warehouse_workgroup_arn=self.warehouse.workgroup.attr_workgroup_workgroup_arn,
                     warehouse_database=WAREHOUSE_DB, waf=cfg.api_waf),
        )
        self.database.allow_client(self.api.function, "API Lambda")
        self.web = LakeWeb(self, "Web", WebProps(config=cfg, user_pool=self.api.user_pool,
                                                 rest_api=self.api.rest_api, access_logs=self.storage.access_logs,
                                                 log_groups=log_groups))
        # Every workload security group: HTTPS to the endpoints and S3 only (database ports are
        # opened pairwise by LakeDatabase).
        for security_group in (
            self.ingest.security_group, self.database.migrations.security_group,
            self.database.rotation_security_group, self.warehouse.security_group,
            self.warehouse.sql.security_group, self.alerts.function_security_group,
            *((self.catalog.security_group,) if self.catalog.job else ()),
            *((self.athena.view_function.security_group,) if self.athena.view_function else ()),
        ):
            self.network.allow_aws_apis(security_group)
        self.network.allow_aws_apis(self.alerts.router_security_group, s3=False)  # SNS only
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
                    "athena-views": self.athena.view_function.function,
                    "api": self.api.function,
                    "alerts": self.alerts.function,
                    "alerts-router": self.alerts.router,
                },
                glue_job_name=self.catalog.job_name,
            ),
        )
        self.monitoring.publish_rule(self.ingest.hmac_guard.alarm_on_reads(cfg.hmac_secret_name))
        for i, name in enumerate(self.catalog.log_group_names(self.catalog.security_configuration_name)):
            self.catalog.job.node.add_dependency(log_groups.create(self.catalog, f"JobLogs{i}", name))
        log_groups.for_cdk_providers(self, cfg.prefix)
        self.freshness = LakeFreshness(self, "Freshness", FreshnessProps(config=cfg, monitoring=self.monitoring))
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
            "ApiUrl": self.api.url,
            "UserPoolId": self.api.user_pool.user_pool_id,
            "UserPoolClientId": self.api.client.user_pool_client_id,
            "DashboardUrl": self.web.url,
            "HostedUiDomain": self.web.domain.base_url(),
            "AlertTopicArn": self.alerts.topic.topic_arn,
            "AlertBusName": self.alerts.bus.event_bus_name,
        }.items():
            CfnOutput(self, name, value=value)
