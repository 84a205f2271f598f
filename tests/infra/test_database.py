"""RDS PostgreSQL, its proxy, secret rotation and the migrations custom resource."""

from __future__ import annotations

from infra.database import LOG_EXPORTS, POSTGRES_VERSION, migrations_digest


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
    db_secret = secrets[synth.config.db_secret_name]
    assert db_secret["KmsKeyId"]["Fn::GetAtt"][0].startswith("KeysDataKey")
    schedule = synth.one("AWS::SecretsManager::RotationSchedule")
    assert schedule["RotationRules"]["ScheduleExpression"] == "rate(30 days)"
    (app,) = synth.resources("AWS::Serverless::Application").values()
    endpoint = app["Properties"]["Parameters"]["endpoint"]["Fn::Join"][1]
    # THEN the rotation function calls Secrets Manager through the interface endpoint
    assert endpoint[1]["Ref"].startswith("NetworkVpcSecretsManager")


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
    assert vault["DeletionPolicy"] == "Retain"
    plans = {p["Properties"]["BackupPlan"]["BackupPlanName"]: p["Properties"]["BackupPlan"]
             for p in prod.resources("AWS::Backup::BackupPlan").values()}
    (rule,) = plans[f"{prod.config.prefix}-daily"]["BackupPlanRule"]
    assert rule["Lifecycle"]["DeleteAfterDays"] == prod.config.rds_backup_retention_days
    selections = [s["Properties"]["BackupSelection"] for s in prod.resources("AWS::Backup::BackupSelection").values()]
    assert any("DatabaseInstance" in str(s["Resources"]) for s in selections)
    # AND dev, disposable, has none (a vault with recovery points would block teardown)
    assert not dev.resources("AWS::Backup::BackupPlan")
