"""Raw PHI: its own key that only the lake's roles use, a deny-by-default bucket policy, and
producers bound to their facilities' prefixes (infra/raw_access.py, infra/keys.py)."""

from __future__ import annotations

from typing import Any

from infra.keys import KEY_ADMIN_ACTIONS

ENTITIES = ("surgical_robots", "surgical_procedures", "procedure_outcomes", "robot_maintenance_logs",
            "procedure_telemetry")
USE_ACTIONS = {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKey*", "kms:ReEncrypt*",
               "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:CreateGrant", "kms:*"}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _lid(synth, prefix: str) -> str:
    (lid,) = [k for k in synth.raw["Resources"] if k.startswith(prefix) and
              synth.raw["Resources"][k]["Type"] in ("AWS::IAM::Role", "AWS::KMS::Key", "AWS::S3::Bucket")]
    return lid


def _raw_key_statements(synth) -> list[dict]:
    return synth.raw["Resources"][_lid(synth, "KeysRawKey")]["Properties"]["KeyPolicy"]["Statement"]


def _raw_bucket_statements(synth) -> list[dict]:
    raw = _lid(synth, "StorageRaw")
    (policy,) = [p for p in synth.resources("AWS::S3::BucketPolicy").values()
                 if p["Properties"]["Bucket"] == {"Ref": raw}]
    return policy["Properties"]["PolicyDocument"]["Statement"]


def _object_pattern(arn: dict) -> str:
    """`arn:<partition>:s3:::surgical-lake-dev-raw-<account>-<region>/<pattern>` -> pattern."""
    parts = arn["Fn::Join"][1]
    assert parts[2].endswith("-raw-") and parts[6].startswith("/"), parts
    return parts[6][1:]


def _role_arn(synth, prefix: str) -> dict:
    return {"Fn::GetAtt": [_lid(synth, prefix), "Arn"]}


def _roles_with_access(synth) -> dict[str, dict]:
    """Role prefix -> expected raw-key statements' principal ARN (by hand, per environment)."""
    roles = ["IngestFunctionServiceRole", "RawAccessOperator", "RawAccessBreakGlass"]
    roles += [f"RawAccessProducer{p.name.replace('-', '')}" for p in synth.config.producers]
    return {r: _role_arn(synth, r) for r in roles}


def test_raw_key_lets_the_account_administer_but_never_use_it(synth) -> None:
    (admin,) = [s for s in _raw_key_statements(synth) if s["Sid"] == "AccountAdministersButNeverUsesTheKey"]
    # THEN the account principal's unconditioned statement holds administration only: no
    # Decrypt, no GenerateDataKey, no CreateGrant (a grant could hand out Decrypt), no kms:*
    assert set(admin["Action"]) == set(KEY_ADMIN_ACTIONS)
    assert not set(admin["Action"]) & USE_ACTIONS
    assert "Condition" not in admin


def test_only_the_ingest_break_glass_and_backup_roles_may_decrypt_raw_objects(synth) -> None:
    usage = [s for s in _raw_key_statements(synth) if s["Sid"] != "AccountAdministersButNeverUsesTheKey"]
    decrypters = {}
    for s in usage:
        # THEN every use is narrowed to one role of this stack (aws:PrincipalArn) ...
        principal = s["Condition"]["ArnEquals"]["aws:PrincipalArn"]["Fn::GetAtt"][0]
        decrypters[principal] = (sorted(_list(s["Action"])), s["Condition"].get("StringLike"))
    ingest, glass = (_lid(synth, p) for p in ("IngestFunctionServiceRole", "RawAccessBreakGlass"))
    readers = {r for r, (actions, _) in decrypters.items() if actions == ["kms:Decrypt"]}
    writers = {r for r, (actions, _) in decrypters.items() if actions == ["kms:Decrypt", "kms:GenerateDataKey"]}
    # ... the readers are the ingest and break-glass roles (through S3 only) ...
    assert readers == {ingest, glass}
    for role in readers:
        assert [_object_pattern(a) for a in decrypters[role][1]["kms:EncryptionContext:aws:s3:arn"]] == ["*"]
    # ... the uploaders' Decrypt completes their own multipart uploads: operator anywhere, each
    # producer only under its facilities' prefixes (the object ARN is the encryption context)
    expected = {_lid(synth, "RawAccessOperator"): ["*"]}
    for p in synth.config.producers:
        expected[_lid(synth, f"RawAccessProducer{p.name.replace('-', '')}")] = [
            f"{e}/facility={f}/*" for f in p.facilities for e in ENTITIES]
    assert {r: [_object_pattern(a) for a in decrypters[r][1]["kms:EncryptionContext:aws:s3:arn"]]
            for r in writers} == expected
    # ... and in prod AWS Backup's S3 role (assumable by backup.amazonaws.com only)
    backup = set(decrypters) - readers - writers
    assert backup == ({_lid(synth, "BackupS3Role")} if synth.config.retain_data else set())
    assert all(s["Condition"]["StringEquals"]["kms:ViaService"]["Fn::Join"][1][0] == "s3."
               for s in usage if s["Condition"]["ArnEquals"]["aws:PrincipalArn"]["Fn::GetAtt"][0] not in backup)


def test_dev_producers_own_exactly_their_configured_facilities(dev) -> None:
    # GIVEN dev's cdk.json: demo-hospital-a owns FAC-001, demo-hospital-group-b FAC-002 and FAC-003
    assert [(p.name, p.facilities) for p in dev.config.producers] == [
        ("demo-hospital-a", ("FAC-001",)), ("demo-hospital-group-b", ("FAC-002", "FAC-003"))]
    for name, facilities in (("demohospitala", ["FAC-001"]), ("demohospitalgroupb", ["FAC-002", "FAC-003"])):
        role = dev.raw["Resources"][_lid(dev, f"RawAccessProducer{name}")]["Properties"]
        policies = [p["Properties"]["PolicyDocument"]["Statement"] for p in dev.resources("AWS::IAM::Policy").values()
                    if {"Ref": _lid(dev, f"RawAccessProducer{name}")} in p["Properties"]["Roles"]]
        (statements,) = policies
        s3 = [s for s in statements if any(a.startswith("s3:") for a in _list(s["Action"]))]
        # THEN its role may only PutObject (and abort its uploads) under its facilities' prefixes
        (upload,) = s3
        assert sorted(upload["Action"]) == ["s3:AbortMultipartUpload", "s3:PutObject"]
        assert sorted(r["Fn::Join"][1][1] for r in upload["Resource"]) == sorted(
            f"/{e}/facility={f}/*" for f in facilities for e in ENTITIES)
        assert role["MaxSessionDuration"] == 3600
    assert not [p for p in dev.raw["Resources"] if p.startswith("RawAccessProducer") and "demohospitalc" in p]


def test_raw_bucket_denies_object_access_to_everyone_but_the_lake_roles(synth) -> None:
    statements = {s.get("Sid"): s for s in _raw_bucket_statements(synth)}
    allowed = {a["Fn::GetAtt"][0] for a in
               statements["DenyObjectAccessOutsideTheLakeRoles"]["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]}
    # THEN every object action is denied to any principal but the lake's roles (administrators
    # included), and what the stack itself needs: AWS Backup (prod), CDK's auto-delete (dev)
    expected = {arn["Fn::GetAtt"][0] for arn in _roles_with_access(synth).values()}
    expected |= {_lid(synth, "BackupS3Role")} if synth.config.retain_data else {
        next(k for k in synth.raw["Resources"] if k.startswith("CustomS3AutoDeleteObjectsCustomResourceProviderRole"))}
    assert allowed == expected
    deny = statements["DenyObjectAccessOutsideTheLakeRoles"]
    assert (deny["Effect"], deny["Action"], deny["Principal"]) == ("Deny", "s3:*", {"AWS": "*"})
    assert deny["Resource"]["Fn::Join"][1][1] == "/*"
    listing = statements["DenyListingOutsideTheLakeRoles"]
    assert {a["Fn::GetAtt"][0] for a in listing["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]} == expected
    # AND uploaders are denied anything but uploading (producers) or uploading and restoring (operator)
    assert statements["OperatorNeverReads"]["NotAction"] == [
        "s3:PutObject", "s3:AbortMultipartUpload", "s3:RestoreObject", "s3:ListBucket", "s3:ListBucketVersions"]
    if synth.config.producers:
        producers = statements["ProducersOnlyUpload"]
        assert producers["NotAction"] == ["s3:PutObject", "s3:AbortMultipartUpload"]
        assert {a["Fn::GetAtt"][0] for a in producers["Condition"]["ArnEquals"]["aws:PrincipalArn"]} == {
            _lid(synth, f"RawAccessProducer{p.name.replace('-', '')}") for p in synth.config.producers}
    # AND TLS is still required
    assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in _raw_bucket_statements(synth))


def test_break_glass_needs_mfa_and_reads_only(synth) -> None:
    role = synth.raw["Resources"][_lid(synth, "RawAccessBreakGlass")]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Condition"] == {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    assert role["RoleName"] == f"{synth.config.prefix}-raw-break-glass" and role["MaxSessionDuration"] == 3600
    (policy,) = [p["Properties"]["PolicyDocument"]["Statement"] for p in synth.resources("AWS::IAM::Policy").values()
                 if {"Ref": _lid(synth, "RawAccessBreakGlass")} in p["Properties"]["Roles"]]
    actions = {a for s in policy for a in _list(s["Action"])}
    assert actions == {"s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket", "s3:ListBucketVersions",
                       "s3:RestoreObject", "kms:Decrypt"}


def test_raw_bucket_uses_its_key_and_the_configured_retention(dev, prod) -> None:
    for synth, (archive, expire) in ((dev, (90, 180)), (prod, (90, 2190))):
        bucket = synth.raw["Resources"][_lid(synth, "StorageRaw")]["Properties"]
        rules = {r["Id"]: r for r in bucket["LifecycleConfiguration"]["Rules"]}
        # THEN raw goes to Glacier and expires per environment (cdk.json, written here by hand)
        assert rules["raw-retention"]["Transitions"][-1] == {"StorageClass": "GLACIER", "TransitionInDays": archive}
        assert rules["raw-retention"]["ExpirationInDays"] == expire
        assert (synth.config.raw_archive_after_days, synth.config.raw_expire_after_days) == (archive, expire)
