"""The PHI HMAC secret: its own key, retained, readable by the ingest role only, reads alarmed."""

from __future__ import annotations

import json

from infra.phi_secret import ALL_MANAGEMENT_EVENTS


def _hmac_secret(synth) -> tuple[str, dict]:
    return next((k, v) for k, v in synth.resources("AWS::SecretsManager::Secret").items()
                if v["Properties"]["Name"] == synth.config.hmac_secret_name)


def _role_arn(logical: str) -> dict:
    return {"Fn::GetAtt": [logical, "Arn"]}


def test_secret_keeps_its_logical_id_and_is_retained_where_data_is(synth) -> None:
    # GIVEN dev (retain_data false) and prod WHEN the HMAC secret is looked up
    logical, secret = _hmac_secret(synth)
    # THEN it is the resource deployed before (a new logical id would be a new key: new pseudonyms)
    assert logical.startswith("IngestPhiHmacKey")
    # AND in prod neither a stack delete nor a replacement removes it or its key (a failed first
    # create cleans up); dev deletes both with the data they key
    policy = "RetainExceptOnCreate" if synth.config.retain_data else "Delete"
    assert secret["DeletionPolicy"] == policy
    assert secret["UpdateReplacePolicy"] == ("Retain" if synth.config.retain_data else "Delete")
    key_id = secret["Properties"]["KmsKeyId"]["Fn::GetAtt"][0]
    key = synth.raw["Resources"][key_id]
    assert key_id.startswith("IngestPhiHmacGuardKey") and key["DeletionPolicy"] == policy
    assert key["Properties"]["EnableKeyRotation"] is True


def test_only_the_ingest_and_break_glass_roles_can_decrypt_and_read(synth) -> None:
    logical, secret = _hmac_secret(synth)
    key = synth.raw["Resources"][secret["Properties"]["KmsKeyId"]["Fn::GetAtt"][0]]
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    ingest_role = next(k for k in synth.resources("AWS::IAM::Role") if k.startswith("IngestFunctionServiceRole"))
    glass = next(k for k in synth.resources("AWS::IAM::Role") if k.startswith("IngestPhiHmacGuardBreakGlass"))
    # THEN nobody, the account's administrators included, may decrypt except those two roles
    decrypting = [s for s in statements if any(a in ("kms:*", "kms:Decrypt") or a.startswith("kms:Decrypt")
                                               for a in _list(s["Action"]))]
    assert len(decrypting) == 1
    (decrypt,) = decrypting
    assert sorted(json.dumps(p) for p in _list(decrypt["Principal"]["AWS"])) == sorted(
        json.dumps(_role_arn(r)) for r in (ingest_role, glass))
    assert decrypt["Condition"]["StringEquals"]["kms:ViaService"]["Fn::Join"][1][0] == "secretsmanager."
    assert not any(a == "kms:*" for s in statements for a in _list(s["Action"]))
    # AND the secret's resource policy denies reads to every other principal, and deletion or a
    # new value to everyone but the break-glass role
    (policy,) = [p["Properties"]["ResourcePolicy"]["Statement"] for p in
                 synth.resources("AWS::SecretsManager::ResourcePolicy").values()
                 if p["Properties"]["SecretId"] == {"Ref": logical}]
    deny_read = next(s for s in policy if s["Action"] == "secretsmanager:GetSecretValue")
    assert deny_read["Effect"] == "Deny" and deny_read["Principal"] == {"AWS": "*"}
    assert deny_read["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] == [_role_arn(ingest_role), _role_arn(glass)]
    deny_change = next(s for s in policy if "secretsmanager:DeleteSecret" in _list(s["Action"]))
    assert deny_change["Effect"] == "Deny" and "secretsmanager:PutSecretValue" in deny_change["Action"]
    assert deny_change["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] == _role_arn(glass)
    # AND the break-glass role needs MFA and keeps sessions short
    role = synth.raw["Resources"][glass]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Condition"] == {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    assert role["MaxSessionDuration"] == 3600 and role["RoleName"] == f"{synth.config.prefix}-hmac-break-glass"


def test_a_read_by_anyone_but_the_ingest_role_reaches_the_alarm_topic(synth) -> None:
    (rule,) = [r["Properties"] for k, r in synth.resources("AWS::Events::Rule").items()
               if k.startswith("IngestPhiHmacGuardReadOutsideIngest")]
    # THEN CloudTrail's GetSecretValue events for this secret, read-only management events included
    assert rule["State"] == ALL_MANAGEMENT_EVENTS
    pattern = rule["EventPattern"]
    assert pattern["detail-type"] == ["AWS API Call via CloudTrail"]
    assert pattern["detail"]["eventName"] == ["GetSecretValue"]
    assert pattern["detail"]["requestParameters"]["secretId"] == [{"wildcard": f"*{synth.config.hmac_secret_name}*"}]
    # AND only the ingest role's own sessions are excluded
    (exclude,) = pattern["detail"]["userIdentity"]["arn"]
    prefix = exclude["anything-but"]["prefix"]["Fn::Join"][1]
    assert prefix[-2]["Ref"].startswith("IngestFunctionServiceRole") and prefix[-1] == "/"
    assert ":assumed-role/" in prefix[-3]
    # AND it goes to the alarm topic
    assert rule["Targets"][0]["Arn"]["Ref"].startswith("MonitoringAlarms")


def _list(value):
    return value if isinstance(value, list) else [value]
