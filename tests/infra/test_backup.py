"""prod: AWS Backup of the database and of raw, processed and access logs, into a vault with its
own key and a compliance-mode lock, kept outside the stack's blast radius (infra/backup.py)."""

from __future__ import annotations

from infra.backup import LOCK_CHANGEABLE_DAYS, MIN_RETENTION_DAYS


def test_prod_backs_up_the_buckets_into_a_locked_vault_with_its_own_key(prod) -> None:
    (vault_id, vault), = prod.resources("AWS::Backup::BackupVault").items()
    props = vault["Properties"]
    # THEN the vault has its own retained key (not the data key) and a lock that becomes
    # immutable (compliance mode) after the grace period
    key_id = props["EncryptionKeyArn"]["Fn::GetAtt"][0]
    assert key_id.startswith("BackupVaultKey")
    assert prod.raw["Resources"][key_id]["DeletionPolicy"] == "RetainExceptOnCreate"
    assert vault["DeletionPolicy"] == "RetainExceptOnCreate"
    assert (MIN_RETENTION_DAYS, LOCK_CHANGEABLE_DAYS) == (7, 3)
    assert props["LockConfiguration"] == {"MinRetentionDays": 7, "ChangeableForDays": 3}
    # AND a daily S3 plan keeps recovery points of raw, processed and the access logs for the
    # configured 35 days (cdk.json), with AWS Backup's own S3 role
    plans = {p["Properties"]["BackupPlan"]["BackupPlanName"]: p for p in prod.resources("AWS::Backup::BackupPlan").values()}
    (rule,) = plans[f"{prod.config.prefix}-s3-daily"]["Properties"]["BackupPlan"]["BackupPlanRule"]
    assert rule["Lifecycle"]["DeleteAfterDays"] == prod.config.s3_backup_retention_days == 35
    assert rule["TargetBackupVault"] == {"Fn::GetAtt": [vault_id, "BackupVaultName"]}
    selections = [s["Properties"]["BackupSelection"] for s in prod.resources("AWS::Backup::BackupSelection").values()]
    (buckets,) = [s for s in selections if s["SelectionName"] == "Buckets"]
    assert sorted(r["Fn::GetAtt"][0].rstrip("0123456789ABCDEF") for r in buckets["Resources"]) == [
        "StorageAccessLogs", "StorageProcessed", "StorageRaw"]
    assert buckets["IamRoleArn"]["Fn::GetAtt"][0].startswith("BackupS3Role")
    role = prod.raw["Resources"][buckets["IamRoleArn"]["Fn::GetAtt"][0]]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "backup.amazonaws.com"}


def test_dev_has_no_backup_vault(dev) -> None:
    # dev is disposable: a vault holding (locked) recovery points would block tearing it down
    assert not dev.resources("AWS::Backup::BackupVault") and not dev.resources("AWS::Backup::BackupSelection")
