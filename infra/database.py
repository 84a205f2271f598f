"""Database: RDS PostgreSQL 16 in isolated subnets, reached through an RDS Proxy.

The instance's security group admits only the proxy, the migration function, the rotation
functions and (for federated queries) Redshift; the proxy's admits only the Lambdas handed to
`allow_client`. Least privilege (`lake/db_roles.py`): besides the master user, which only the
migration function uses (to create the roles), one login role per job, each with its own
secret (data key) rotated monthly by its own single-user rotation function in the VPC: the
ingest connects through the proxy as `lake_ingest` (the proxy knows no other secret), the
migrations run as `lake_migrator`, Redshift's federated queries as `lake_reader`.
TLS is enforced on the instance (`rds.force_ssl`) and on the proxy (`require_tls`); clients
verify it (`lambdas/rds_tls`). Nothing with row content reaches the PostgreSQL log: SQL
statements are never logged (`log_statement=none`), errors tersely (`log_error_verbosity=terse`:
no "DETAIL: Failing row contains (...)") and without the failing statement
(`log_min_error_statement=panic`). prod adds pgaudit session logging of DDL and writes, without
bind parameters (`RDS_PGAUDIT`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct, IDependable

from infra.bundling import lambda_code
from infra.config import REPO_ROOT, LakeConfig
from infra.custom_resource import DeployTimeFunction, DeployTimeFunctionProps
from infra.log_groups import LogGroupFactory
from lake.db_roles import ALERTS, API, INGEST, ROLES, DbRole

POSTGRES_VERSION = rds.PostgresEngineVersion.VER_16_10
DB_NAME = "surgical_lake"
DB_PORT = 5432
LOG_EXPORTS = ("postgresql", "upgrade")
SQL_DIR = REPO_ROOT / "sql" / "rds"
MIGRATE_REQUIREMENTS = REPO_ROOT / "lambdas" / "migrate" / "requirements.txt"
SECRET_EXCLUDED_CHARACTERS = " %+~`#$&*()|[]{}:;<>?!'/@\"\\"
# What the parameter group sets; local mode's server runs with the same logging
# (local/stack/postgres_server.py SERVER_LOG_SETTINGS, tests/infra asserts the two agree).
PARAMETERS = {
    "rds.force_ssl": "1", "log_statement": "none", "log_connections": "1",
    "log_error_verbosity": "terse", "log_min_error_statement": "panic",
}
# pgaudit: DDL and writes, never bind parameters (row values). Not the ROLE class: the AWS
# rotation functions set passwords with plain-text ALTER USER statements, which it would log.
RDS_PGAUDIT = {
    "shared_preload_libraries": "pg_stat_statements,pgaudit", "pgaudit.log": "ddl,write",
    "pgaudit.log_parameter": "0", "pgaudit.log_catalog": "0", "pgaudit.log_relation": "0",
}


@dataclass(frozen=True)
class DatabaseProps:
    config: LakeConfig
    data_key: kms.IKey
    vpc: ec2.IVpc
    subnets: ec2.SubnetSelection
    secrets_endpoint: ec2.IInterfaceVpcEndpoint
    log_groups: LogGroupFactory
    network: IDependable  # endpoints + routes the migration function needs at deploy time


def migrations_digest() -> str:
    """Changes when any migration file changes, so CloudFormation re-runs the custom resource."""
    digest = hashlib.sha256()
    for path in sorted(SQL_DIR.glob("*.sql")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


class LakeDatabase(Construct):
    """RDS instance + proxy + rotation + the migrations custom resource."""

    def __init__(self, scope: Construct, construct_id: str, props: DatabaseProps) -> None:
        super().__init__(scope, construct_id)
        cfg = props.config
        instance_id = f"{cfg.prefix}-postgres"
        self.security_group = ec2.SecurityGroup(
            self, "DbSg", vpc=props.vpc, description="RDS PostgreSQL: proxy, migrations, rotation, Redshift",
            allow_all_outbound=False,
        )
        self.proxy_security_group = ec2.SecurityGroup(
            self, "ProxySg", vpc=props.vpc, description="RDS Proxy: the ingest and API Lambdas only",
            allow_all_outbound=False,
        )
        log_groups = [
            props.log_groups.create(self, f"Log{kind.title()}", f"/aws/rds/instance/{instance_id}/{kind}")
            for kind in LOG_EXPORTS
        ]
        parameters = rds.ParameterGroup(
            self,
            "Parameters",
            engine=rds.DatabaseInstanceEngine.postgres(version=POSTGRES_VERSION),
            description=f"{cfg.prefix}: TLS only, no statement or row logging" + (", pgaudit" if cfg.rds_pgaudit else ""),
            parameters={**PARAMETERS, **(RDS_PGAUDIT if cfg.rds_pgaudit else {})},
        )
        self.instance = rds.DatabaseInstance(
            self,
            "Instance",
            instance_identifier=instance_id,
            engine=rds.DatabaseInstanceEngine.postgres(version=POSTGRES_VERSION),
            instance_type=ec2.InstanceType(cfg.rds_instance_type),
            vpc=props.vpc,
            vpc_subnets=props.subnets,
            security_groups=[self.security_group],
            publicly_accessible=False,
            port=DB_PORT,
            database_name=DB_NAME,
            credentials=rds.Credentials.from_generated_secret(
                "lake_admin",
                secret_name=cfg.db_secret_name,
                encryption_key=props.data_key,
                exclude_characters=SECRET_EXCLUDED_CHARACTERS,
            ),
            storage_encrypted=True,
            storage_encryption_key=props.data_key,
            allocated_storage=20,
            max_allocated_storage=100,
            storage_type=rds.StorageType.GP3,
            multi_az=cfg.rds_multi_az,
            deletion_protection=cfg.rds_deletion_protection,
            backup_retention=Duration.days(cfg.rds_backup_retention_days),
            delete_automated_backups=not cfg.retain_data,
            copy_tags_to_snapshot=True,
            auto_minor_version_upgrade=True,
            allow_major_version_upgrade=False,
            iam_authentication=True,
            monitoring_interval=Duration.seconds(60),
            cloudwatch_logs_exports=list(LOG_EXPORTS),
            parameter_group=parameters,
            removal_policy=RemovalPolicy.SNAPSHOT if cfg.retain_data else RemovalPolicy.DESTROY,
        )
        for group in log_groups:
            self.instance.node.add_dependency(group)
        secret = self.instance.secret
        assert secret is not None
        self.secret = secret
        self.rotation_security_group = ec2.SecurityGroup(
            self, "RotationSg", vpc=props.vpc, description="Secret rotation function (egress only)",
            allow_all_outbound=False,
        )
        self.rotation = self.instance.add_rotation_single_user(
            automatically_after=Duration.days(30),
            endpoint=props.secrets_endpoint,
            vpc_subnets=props.subnets,
            security_group=self.rotation_security_group,
        )
        self.role_secrets = {role.name: self._role_secret(props, role) for role in ROLES}
        self.proxy = self.instance.add_proxy(
            "Proxy",
            db_proxy_name=f"{cfg.prefix}-proxy",
            vpc=props.vpc,
            vpc_subnets=props.subnets,
            security_groups=[self.proxy_security_group],
            secrets=[self.role_secrets[name] for name in (INGEST.name, API.name, ALERTS.name)],
            client_password_auth_type=rds.ClientPasswordAuthType.POSTGRES_SCRAM_SHA_256,
            require_tls=True,
            iam_auth=False,
            borrow_timeout=Duration.seconds(30),
        )
        # add_proxy already opened the instance to the proxy (ingress here, egress on the proxy SG).
        self.proxy.node.add_dependency(
            props.log_groups.create(self, "LogProxy", f"/aws/rds/proxy/{cfg.prefix}-proxy"))
        props.log_groups.for_rotation(self.rotation)
        self.migrations = self._migrations(props)
        # A role's first rotation logs in as the role, and the proxy logs in as lake_ingest: both
        # only once the migration function created the roles (for the rotations: the schedule only,
        # the rotation function's network must exist before).
        for secret in self.role_secrets.values():
            secret.node.find_child("RotationSchedule").node.add_dependency(self.migrations_applied)
        proxy = self.proxy.node.default_child
        assert isinstance(proxy, rds.CfnDBProxy)
        proxy.node.add_dependency(self.migrations_applied)

    def _role_secret(self, props: DatabaseProps, role: DbRole) -> secretsmanager.ISecret:
        """The role's own secret (RDS JSON, attached to the instance) with monthly single-user rotation."""
        name = role.name.removeprefix("lake_").title()
        secret = rds.DatabaseSecret(
            self, f"{name}Secret", username=role.name, secret_name=f"{props.config.prefix}/rds-{role.name}",
            encryption_key=props.data_key, exclude_characters=SECRET_EXCLUDED_CHARACTERS,
        ).attach(self.instance)
        rotation = secretsmanager.SecretRotation(
            self, f"{name}Rotation",
            application=secretsmanager.SecretRotationApplication.POSTGRES_ROTATION_SINGLE_USER,
            secret=secret, target=self.instance, vpc=props.vpc, vpc_subnets=props.subnets,
            endpoint=props.secrets_endpoint, automatically_after=Duration.days(30),
            exclude_characters=SECRET_EXCLUDED_CHARACTERS, security_group=self.rotation_security_group,
        )
        props.log_groups.for_rotation(rotation)
        return secret

    @property
    def host(self) -> str:
        return self.instance.db_instance_endpoint_address

    @property
    def port(self) -> str:
        return str(DB_PORT)

    def allow_client(self, connectable: ec2.IConnectable, description: str) -> None:
        """Admit a Lambda to the proxy (the only way Lambdas reach the database at run time)."""
        self.proxy_security_group.connections.allow_from(
            _peer(connectable), ec2.Port.tcp(DB_PORT), f"{description} to RDS Proxy"
        )

    def allow_direct(self, connectable: ec2.IConnectable, description: str) -> None:
        """Admit a non-Lambda client (Redshift federated queries) to the instance itself."""
        self.security_group.connections.allow_from(_peer(connectable), ec2.Port.tcp(DB_PORT), description)

    def _migrations(self, props: DatabaseProps) -> DeployTimeFunction:
        cfg = props.config
        migrate = DeployTimeFunction(
            self,
            "Migrate",
            DeployTimeFunctionProps(
                function_name=f"{cfg.prefix}-rds-migrate",
                handler="lambdas.migrate.handler.handler",
                code=lambda_code(MIGRATE_REQUIREMENTS, ("sql/rds",)),
                description="Applies sql/rds migrations at deploy time (idempotent)",
                vpc=props.vpc,
                subnets=props.subnets,
                log_groups=props.log_groups,
                env_key=props.data_key,
                timeout=Duration.minutes(5),
                depends_on=(props.network, self.security_group),
            ),
        )
        # The master secret creates the roles; the role secrets set their passwords; migrations run
        # as lake_migrator.
        for secret in (self.secret, *self.role_secrets.values()):
            secret.grant_read(migrate.function)
        self.security_group.connections.allow_from(migrate.security_group, ec2.Port.tcp(DB_PORT), "Migrations")
        self.migrations_applied = migrate.run(
            "Apply",
            "Custom::RdsMigrations",
            {
                "SecretArn": self.secret.secret_arn,
                "RoleSecretArns": {name: secret.secret_arn for name, secret in self.role_secrets.items()},
                "Host": self.instance.db_instance_endpoint_address,
                "Port": str(DB_PORT),
                "Database": DB_NAME,
                "MigrationsDigest": migrations_digest(),
            },
        )
        return migrate


def _peer(connectable: ec2.IConnectable) -> ec2.IPeer:
    groups = connectable.connections.security_groups
    if len(groups) != 1:
        raise ValueError("expected a connectable with exactly one security group")
    return groups[0]
