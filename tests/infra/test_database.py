"""RDS PostgreSQL, its proxy, secret rotation and the migrations custom resource."""

from __future__ import annotations

import json

from infra.database import LOG_EXPORTS, POSTGRES_VERSION, migrations_digest
from lake.db_roles import ALERTS, API, INGEST, MIGRATOR, READER, ROLES
from local.stack.postgres_server import SERVER_LOG_SETTINGS


def test_instance_is_encrypted_private_and_versioned(synth) -> None:
    db = synth.one("AWS::RDS::DBInstance")
    assert db["StorageEncrypted"] is True
    assert db["KmsKeyId"]["Fn::GetAtt"][0].startswith("KeysDataKey")
    assert db["PubliclyAccessible"] is False
    assert db["Engine"] == "postgres"
    # THEN a full minor version of PostgreSQL 16 (a bare "16" is deprecated by cfn-lint)
    major, minor = db["EngineVersion"].split(".")
    assert major == "16" and minor.isdigit()
    assert db["EngineVersion"] == POSTGRES_VERSION.postgres_full_version
    assert db["EnableCloudwatchLogsExports"] == list(LOG_EXPORTS)
    assert db["BackupRetentionPeriod"] == synth.config.rds_backup_retention_days >= 1
    assert db["DBInstanceClass"] == f"db.{synth.config.rds_instance_type}"


def test_instance_lives_in_the_isolated_subnets(synth) -> None:
    group = synth.one("AWS::RDS::DBSubnetGroup")
    assert all(s["Ref"].startswith("NetworkVpcisolatedSubnet") for s in group["SubnetIds"])
    assert not synth.resources("AWS::EC2::InternetGateway")
    assert not synth.resources("AWS::EC2::NatGateway")


def test_prod_is_multi_az_with_deletion_protection_and_dev_is_not(dev, prod) -> None:
    assert prod.one("AWS::RDS::DBInstance")["MultiAZ"] is True
    assert prod.one("AWS::RDS::DBInstance")["DeletionProtection"] is True
    assert next(iter(prod.resources("AWS::RDS::DBInstance").values()))["DeletionPolicy"] == "Snapshot"
    assert dev.one("AWS::RDS::DBInstance")["MultiAZ"] is False
    assert dev.one("AWS::RDS::DBInstance")["DeletionProtection"] is False


def test_tls_is_forced_and_statements_are_not_logged(synth) -> None:
    params = synth.one("AWS::RDS::DBParameterGroup")["Parameters"]
    assert params["rds.force_ssl"] == "1"
    assert params["log_statement"] == "none"
    proxy = synth.one("AWS::RDS::DBProxy")
    assert proxy["RequireTLS"] is True
    assert proxy["EngineFamily"] == "POSTGRESQL"
    assert proxy["Auth"][0]["AuthScheme"] == "SECRETS"


def test_credentials_in_secrets_manager_rotate_through_the_vpc_endpoint(synth) -> None:
    secrets = {s["Properties"]["Name"]: s["Properties"] for s in
               synth.resources("AWS::SecretsManager::Secret").values()}
    # GIVEN the master secret and one secret per lake role (lake/db_roles.py)
    names = [synth.config.db_secret_name, *(f"{synth.config.prefix}/rds-{r.name}" for r in ROLES)]
    for name in names:
        assert secrets[name]["KmsKeyId"]["Fn::GetAtt"][0].startswith("KeysDataKey")
    for role in ROLES:
        template = json.loads(secrets[f"{synth.config.prefix}/rds-{role.name}"]["GenerateSecretString"][
            "SecretStringTemplate"])
        assert template["username"] == role.name
    # THEN each rotates monthly, each through its own single-user rotation function
    schedules = synth.resources("AWS::SecretsManager::RotationSchedule")
    assert len(schedules) == len(names)
    assert {s["Properties"]["RotationRules"]["ScheduleExpression"] for s in schedules.values()} == {"rate(30 days)"}
    apps = synth.resources("AWS::Serverless::Application")
    assert len(apps) == len(names)
    for app in apps.values():
        mapping = synth.raw["Mappings"][app["Properties"]["Location"]["ApplicationId"]["Fn::FindInMap"][0]]
        assert all("SecretsManagerRDSPostgreSQLRotationSingleUser" in v["applicationId"] for v in mapping.values())
        endpoint = app["Properties"]["Parameters"]["endpoint"]["Fn::Join"][1]
        # AND the rotation function calls Secrets Manager through the interface endpoint
        assert endpoint[1]["Ref"].startswith("NetworkVpcSecretsManager")
    # AND a role's schedule waits for the migration function that creates the role
    role_schedules = [s for k, s in schedules.items() if not k.startswith("DatabaseInstance")]
    assert len(role_schedules) == len(ROLES)
    assert all(any(d.startswith("DatabaseMigrateApply") for d in s["DependsOn"]) for s in role_schedules)
    # AND so does the proxy, which logs in as lake_ingest
    proxy = next(iter(synth.resources("AWS::RDS::DBProxy").values()))
    assert any(d.startswith("DatabaseMigrateApply") for d in proxy["DependsOn"])


def _secret_ref(synth, name: str) -> str:
    """Logical id of the secret's attachment to the instance: what clients and grants reference."""
    secret = next(k for k, v in synth.resources("AWS::SecretsManager::Secret").items()
                  if v["Properties"]["Name"] == name)
    return next(k for k, v in synth.resources("AWS::SecretsManager::SecretTargetAttachment").items()
                if v["Properties"]["SecretId"] == {"Ref": secret})


def test_each_client_uses_its_own_role_and_only_the_migrations_see_the_master(synth) -> None:
    prefix = synth.config.prefix
    master = _secret_ref(synth, synth.config.db_secret_name)
    ingest, reader, api, alerts = (_secret_ref(synth, f"{prefix}/rds-{r.name}") for r in (INGEST, READER, API, ALERTS))
    policies = synth.resources("AWS::IAM::Policy")
    readers_of = {s: sorted(k for k, v in policies.items() if s in json.dumps(v))
                  for s in (master, ingest, reader, api, alerts)}
    # THEN the proxy knows the secrets of the roles that connect through it (attached to the
    # instance), SCRAM from clients; never the master's or the reader's (Redshift connects directly)
    auths = synth.one("AWS::RDS::DBProxy")["Auth"]
    assert sorted(a["SecretArn"]["Ref"].split("SecretAttachment")[0] for a in auths) == [
        "DatabaseAlerts", "DatabaseApi", "DatabaseIngest"]
    assert {a["ClientPasswordAuthType"] for a in auths} == {"POSTGRES_SCRAM_SHA_256"}
    # AND each function is pointed at its own role's secret
    env_of = {f["Properties"].get("FunctionName"): f["Properties"].get("Environment", {}).get("Variables", {})
              for f in synth.resources("AWS::Lambda::Function").values()}
    assert env_of[f"{prefix}-ingest"]["DB_SECRET_ARN"]["Ref"].startswith("DatabaseIngestSecretAttachment")
    assert env_of[f"{prefix}-alerts"]["DB_SECRET_ARN"]["Ref"].startswith("DatabaseAlertsSecretAttachment")
    assert env_of[f"{prefix}-api"]["DB_SECRET_ARN"]["Ref"].startswith("DatabaseApiSecretAttachment")
    # AND only the migration function may read the master secret (the Spectrum role no longer)
    assert readers_of[master] and all(k.startswith("DatabaseMigrate") for k in readers_of[master]), readers_of
    assert [k for k in readers_of[reader] if not k.startswith("DatabaseMigrate")] == [
        next(k for k in policies if k.startswith("WarehouseSpectrumFederatedRole"))]
    assert all(k.startswith(("DatabaseMigrate", "IngestFunction", "DatabaseInstanceProxy")) for k in readers_of[ingest])
    assert all(k.startswith(("DatabaseMigrate", "AlertsFunction", "DatabaseInstanceProxy")) for k in readers_of[alerts])
    assert all(k.startswith(("DatabaseMigrate", "ApiRole", "DatabaseInstanceProxy")) for k in readers_of[api])
    assert synth.one("Custom::RedshiftSql")["Placeholders"]["RDS_SECRET_ARN"]["Ref"].startswith(
        "DatabaseReaderSecretAttachment")
    # AND the migrations get the master (to create the roles) and every role's secret
    migrations = synth.one("Custom::RdsMigrations")
    assert migrations["SecretArn"]["Ref"].startswith("DatabaseInstanceSecretAttachment")
    assert {k: v["Ref"].split("SecretAttachment")[0] for k, v in migrations["RoleSecretArns"].items()} == {
        INGEST.name: "DatabaseIngest", MIGRATOR.name: "DatabaseMigrator", READER.name: "DatabaseReader",
        API.name: "DatabaseApi", ALERTS.name: "DatabaseAlerts"}


def test_parameter_group_logs_no_row_values_like_local_mode(synth) -> None:
    params = synth.one("AWS::RDS::DBParameterGroup")["Parameters"]
    # THEN errors are terse (no "Failing row contains (...)") and failing statements are not logged
    assert params["log_error_verbosity"] == "terse"
    assert params["log_min_error_statement"] == "panic"
    # AND local mode's throwaway server runs with exactly these settings
    assert {k: params[k] for k in SERVER_LOG_SETTINGS} == SERVER_LOG_SETTINGS


def test_pgaudit_in_prod_only_without_bind_parameters(dev, prod) -> None:
    params = prod.one("AWS::RDS::DBParameterGroup")["Parameters"]
    assert "pgaudit" in params["shared_preload_libraries"].split(",")
    assert "pg_stat_statements" in params["shared_preload_libraries"].split(",")
    assert params["pgaudit.log"] == "ddl,write" and params["pgaudit.log_parameter"] == "0"
    assert "pgaudit.log" not in dev.one("AWS::RDS::DBParameterGroup")["Parameters"]


def test_rds_log_groups_are_precreated_encrypted_with_retention(synth) -> None:
    groups = {g["Properties"]["LogGroupName"]: g["Properties"] for g in
              synth.resources("AWS::Logs::LogGroup").values() if isinstance(g["Properties"].get("LogGroupName"), str)}
    for kind in LOG_EXPORTS:
        group = groups[f"/aws/rds/instance/{synth.config.prefix}-postgres/{kind}"]
        assert group["KmsKeyId"]["Fn::GetAtt"][0].startswith("KeysOpsKey")
        assert group["RetentionInDays"] >= synth.config.log_retention_days


def test_migrations_custom_resource_is_keyed_on_the_sql(synth) -> None:
    resource = synth.one("Custom::RdsMigrations")
    assert resource["ServiceToken"]["Fn::GetAtt"][0].startswith("DatabaseMigrateFunction")
    assert resource["MigrationsDigest"] == migrations_digest()
    assert resource["Host"]["Fn::GetAtt"][1] == "Endpoint.Address"
    assert resource["Database"] == "surgical_lake"


def test_prod_backs_up_the_database_into_an_encrypted_retained_vault(dev, prod) -> None:
    vault = next(iter(prod.resources("AWS::Backup::BackupVault").values()))
    assert vault["Properties"]["EncryptionKeyArn"]["Fn::GetAtt"][0].startswith("BackupVaultKey")
    assert vault["DeletionPolicy"] == "RetainExceptOnCreate"
    plans = {p["Properties"]["BackupPlan"]["BackupPlanName"]: p["Properties"]["BackupPlan"]
             for p in prod.resources("AWS::Backup::BackupPlan").values()}
    (rule,) = plans[f"{prod.config.prefix}-daily"]["BackupPlanRule"]
    assert rule["Lifecycle"]["DeleteAfterDays"] == prod.config.rds_backup_retention_days
    selections = [s["Properties"]["BackupSelection"] for s in prod.resources("AWS::Backup::BackupSelection").values()]
    assert any("DatabaseInstance" in str(s["Resources"]) for s in selections)
    # AND dev, disposable, has none (a vault with recovery points would block teardown)
    assert not dev.resources("AWS::Backup::BackupPlan")
