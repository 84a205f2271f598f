"""IAM: data actions are scoped to named resources; `*` only where AWS offers nothing narrower."""

from __future__ import annotations

import json
from typing import Any

DATA_SERVICES = ("s3", "sqs", "secretsmanager", "kms", "glue", "rds-db", "dynamodb", "logs", "sns")
# Actions with no resource-level permissions in IAM (each is acknowledged in infra/nag.py).
# ec2:Create/DeleteNetworkInterface and Create/DeleteTags do have them: never on `*`.
STAR_ALLOWED = {
    "ec2:DescribeVpcEndpoints", "ec2:DescribeRouteTables", "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups", "ec2:DescribeVpcAttribute", "ec2:DescribeNetworkInterfaces",
    "cloudwatch:PutMetricData", "redshift-data:DescribeStatement", "redshift-data:GetStatementResult",
    "redshift-data:CancelStatement",  # like the two above: no resource type (the API cancels its own)
}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(synth) -> list[tuple[str, dict]]:
    out = []
    for lid, res in synth.raw["Resources"].items():
        props = res.get("Properties", {})
        if res["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            out += [(lid, s) for s in props["PolicyDocument"]["Statement"]]
        elif res["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                out += [(lid, s) for s in policy["PolicyDocument"]["Statement"]]
    return out


def _flatten(resource: Any) -> str:
    if isinstance(resource, str):
        return resource
    if "Fn::Join" in resource:
        return "".join(_flatten(p) for p in resource["Fn::Join"][1])
    if "Fn::Sub" in resource:
        return resource["Fn::Sub"]
    if str(resource.get("Ref", "")).startswith("AWS::"):
        return f"<{resource['Ref']}>"  # pseudo parameter: partition, region, account
    return "<ref>"  # Ref / Fn::GetAtt of a resource in this stack


def test_no_star_resource_except_for_actions_without_resource_types(synth) -> None:
    for lid, statement in _statements(synth):
        if statement["Effect"] != "Allow" or "*" not in _as_list(statement.get("Resource", [])):
            continue
        actions = set(_as_list(statement["Action"]))
        if lid.startswith("CustomCDKBucketDeployment"):  # CDK's dashboard copier: it writes this grant itself
            assert actions == {"cloudfront:CreateInvalidation", "cloudfront:GetInvalidation"}, lid
            continue
        assert actions <= STAR_ALLOWED, f"{lid}: {sorted(actions - STAR_ALLOWED)} on *"


def test_data_actions_name_their_resources(synth) -> None:
    checked = 0
    for lid, statement in _statements(synth):
        actions = _as_list(statement["Action"])
        if statement["Effect"] != "Allow" or not any(a.split(":")[0] in DATA_SERVICES for a in actions):
            continue
        for resource in _as_list(statement["Resource"]):
            text = _flatten(resource)
            # THEN a resource is a reference to this stack's resource, or an ARN whose
            # account-level part names something (a bucket, a table, a log-group prefix)
            assert text != "*", f"{lid}: {actions} on *"
            if text.startswith("<ref>"):
                continue
            assert text.startswith("arn:"), text
            name = text.split(":", 5)[-1]
            assert name not in ("", "*", "<ref>"), f"{lid}: {actions} on {text}"
            checked += 1
    assert checked > 0


def test_ingest_role_has_no_delete_or_admin_actions(synth) -> None:
    ingest = [s for lid, s in _statements(synth) if lid.startswith("IngestFunctionServiceRoleDefaultPolicy")]
    actions = {a for s in ingest for a in _as_list(s["Action"])}
    # THEN nothing service-wide; deletes only for consuming its queue and replacing the Parquet
    # files of a re-loaded object: DeleteObject (never DeleteObjectVersion) under the lake
    # entity's folder of the processed bucket (never raw or quarantine)
    assert not {a for a in actions if a.endswith(":*") or a.endswith("*")} - {
        "s3:GetObject*", "s3:GetBucket*", "s3:List*", "s3:Abort*", "kms:GenerateDataKey*", "kms:ReEncrypt*"}
    assert {a for a in actions if "Delete" in a} == {"sqs:DeleteMessage", "s3:DeleteObject"}
    (delete,) = [s for s in ingest if "s3:DeleteObject" in _as_list(s["Action"])]
    assert [(r["Fn::Join"][1][0]["Fn::GetAtt"][0], r["Fn::Join"][1][1]) for r in _as_list(delete["Resource"])] == [
        (next(k for k in synth.raw["Resources"] if k.startswith("StorageProcessed")), "/procedure_telemetry/*")]
    assert "secretsmanager:GetSecretValue" in actions
    assert {"glue:BatchCreatePartition", "s3:PutObject"} <= actions


def _role_statements(synth, role_prefix: str) -> list[dict]:
    return [s for lid, s in _statements(synth) if lid.startswith(f"{role_prefix}DefaultPolicy")]


def test_nothing_may_delete_object_versions_or_touch_processed_data_outside_its_prefixes(synth) -> None:
    deletes = [(lid, s) for lid, s in _statements(synth) if s["Effect"] == "Allow"
               and any(a.startswith("s3:Delete") for a in _as_list(s["Action"]))]
    # THEN no role of the stack may delete an object version (the history S3 keeps to recover)
    for lid, statement in deletes:
        if lid.startswith("CustomS3AutoDeleteObjects"):
            continue  # dev only: CDK's handler that empties the buckets on stack delete
        if lid.startswith("CustomCDKBucketDeployment"):  # prunes old builds of the dashboard, in its bucket only
            assert all("WebSite" in json.dumps(r) for r in _as_list(statement["Resource"])), lid
            continue
        assert set(_as_list(statement["Action"])) & {"s3:DeleteObject*", "s3:DeleteObjectVersion"} == set(), lid
    # AND the ingest, the Glue job and the alerts function delete only under their own prefixes
    # of the processed bucket (the alerts function: the pending alert files it consumes, and the
    # stale dates of the procedure-window export it keeps equal to RDS)
    prefixes: dict[str, list[str]] = {}
    for lid, s in deletes:
        if lid.startswith(("CustomS3AutoDeleteObjects", "CustomCDKBucketDeployment")):
            continue
        prefixes.setdefault(lid.split("DefaultPolicy")[0], []).extend(
            r["Fn::Join"][1][1] for r in _as_list(s["Resource"]))
    assert {k: sorted(v) for k, v in prefixes.items()} == {
        "IngestFunctionServiceRole": ["/procedure_telemetry/*"],
        "CatalogJobRole": ["/_rollup_state*", "/telemetry_anomalies*", "/telemetry_hourly*"],
        "AlertsFunctionServiceRole": ["/_alerts/pending/*", "/_reference/procedure_windows/*"],
    }


def test_glue_reads_only_its_two_asset_objects(synth) -> None:
    reads = [s for s in _role_statements(synth, "CatalogJobRole")
             if any("cdk-" in str(r) and "assets" in str(r) for r in _as_list(s["Resource"]))]
    (statement,) = reads
    assert statement["Action"] == "s3:GetObject"
    keys = [r["Fn::Join"][1][-1] for r in statement["Resource"]]
    # THEN exactly the script and the zipped lake package, never the whole asset bucket
    assert sorted(k.rsplit(".", 1)[-1] for k in keys) == ["py", "zip"]
    assert all(k.startswith("/") and k.count("/") == 1 and "*" not in k for k in keys)


def test_glue_network_interface_actions_are_scoped_like_aws_glue_service_role(synth) -> None:
    ec2 = {a: s for s in _role_statements(synth, "CatalogJobRole") for a in _as_list(s["Action"])
           if a in ("ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:CreateTags", "ec2:DeleteTags")}
    assert set(ec2) == {"ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:CreateTags",
                        "ec2:DeleteTags"}
    create = sorted(_flatten(r) for r in _as_list(ec2["ec2:CreateNetworkInterface"]["Resource"]))
    # THEN ENIs are created only in the job's subnet with the job's security group ...
    assert create == ["arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface/*",
                      "arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:security-group/<ref>",
                      "arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:subnet/<ref>"]
    # ... deleted only in that subnet, and tagged only with Glue's own tag key
    delete = ec2["ec2:DeleteNetworkInterface"]
    assert list(delete["Condition"]["ArnEquals"]) == ["ec2:Subnet"]
    assert ec2["ec2:CreateTags"]["Condition"] == {
        "ForAllValues:StringEquals": {"aws:TagKeys": ["aws-glue-service-resource"]}}


def test_redshift_cannot_unload_or_chain_to_another_role(synth) -> None:
    actions = {a for s in _role_statements(synth, "WarehouseSpectrumFederatedRole") for a in _as_list(s["Action"])}
    # THEN the Spectrum/federated role has no S3 write and cannot assume (chain to) another role,
    # so UNLOAD ... IAM_ROLE has nowhere to write; CREDENTIALS of another account are stopped by
    # the S3 endpoint policy (tests/infra/test_network.py)
    assert not {a for a in actions if a.startswith("s3:Put") or a.startswith("s3:Delete") or a == "s3:*"}
    assert not {a for a in actions if a.startswith("sts:")}


def _key_statements(synth, key_prefix: str) -> list[dict]:
    (key,) = [r for lid, r in synth.raw["Resources"].items() if lid.startswith(key_prefix)
              and r["Type"] == "AWS::KMS::Key"]
    return key["Properties"]["KeyPolicy"]["Statement"]


def test_service_principals_on_keys_are_bound_to_this_stacks_sources(synth) -> None:
    services = [(prefix, s) for prefix in ("KeysDataKey", "KeysOpsKey", "KeysRawKey")
                for s in _key_statements(synth, prefix)
                if "Service" in s["Principal"] and s["Effect"] == "Allow" and "Condition" in s]
    by_sid = {s.get("Sid"): s for _, s in services}
    own_account = {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    prefix = synth.config.prefix
    events_arn = "arn:<AWS::Partition>:events:<AWS::Region>:<AWS::AccountId>"
    # THEN S3 encrypts only the raw bucket's notifications (source bucket and account) ...
    s3 = by_sid["S3EventNotificationsToEncryptedQueue"]
    assert _flatten(s3["Condition"]["ArnEquals"]["aws:SourceArn"]) == (
        f"arn:<AWS::Partition>:s3:::{prefix}-raw-<AWS::AccountId>-<AWS::Region>")
    assert s3["Condition"]["StringEquals"] == own_account
    # ... CloudWatch only for this stack's alarms, EventBridge only for this stack's rules ...
    alarms, rules = by_sid["AlarmsToEncryptedTopic"], by_sid["EventRulesToEncryptedTopic"]
    assert _flatten(alarms["Condition"]["ArnLike"]["aws:SourceArn"]) == (
        f"arn:<AWS::Partition>:cloudwatch:<AWS::Region>:<AWS::AccountId>:alarm:{prefix}-*")
    assert _flatten(rules["Condition"]["ArnLike"]["aws:SourceArn"]) == f"{events_arn}:rule/<AWS::StackName>-*"
    # ... EventBridge on the data key only for the alert path's two rules (their DLQ) ...
    dlq = by_sid["AlertRulesToEncryptedDlq"]
    assert sorted(_flatten(a) for a in dlq["Condition"]["ArnEquals"]["aws:SourceArn"]) == [
        f"{events_arn}:rule/{prefix}-alerts-rollup-succeeded",
        f"{events_arn}:rule/{prefix}-alerts/{prefix}-alerts-to-router"]
    assert dlq["Condition"]["StringEquals"] == own_account
    # ... and for the alert bus on the ops key only as that bus (CDK's statement for kms_key)
    bus_arn = f"{events_arn}:event-bus/{synth.config.alert_bus_name}"
    (bus,) = [s for p, s in services if p == "KeysOpsKey" and "kms:EncryptionContext:aws:events:event-bus:arn"
              in s["Condition"].get("StringEquals", {})]
    assert {k: _flatten(v) for k, v in bus["Condition"]["StringEquals"].items()} == {
        "aws:SourceAccount": "<AWS::AccountId>", "aws:SourceArn": bus_arn,
        "kms:EncryptionContext:aws:events:event-bus:arn": bus_arn}
    # ... and CloudWatch Logs only for log groups of this account (its encryption context)
    logs = [s for _, s in services if "logs" in str(s["Principal"]["Service"])]
    assert [list(s["Condition"]["ArnLike"]) for s in logs] == [["kms:EncryptionContext:aws:logs:arn"]]
    # AND those are all the service principals the keys allow
    assert len(services) == 6
    # AND a service principal allowed without conditions elsewhere (CDK's SNS rule target grants
    # EventBridge on its own) is denied everything from any other source than the ones above
    for key in ("KeysDataKey", "KeysOpsKey", "KeysRawKey"):
        statements = _key_statements(synth, key)
        denies = {str(s["Principal"]["Service"]): s for s in statements if s["Effect"] == "Deny"}
        for s in statements:
            if s["Effect"] == "Allow" and "Service" in s["Principal"] and "Condition" not in s:
                deny = denies[str(s["Principal"]["Service"])]
                assert deny["Action"] == "kms:*"
                bound = by_sid[{"cloudwatch.amazonaws.com": "AlarmsToEncryptedTopic",
                                "events.amazonaws.com": "EventRulesToEncryptedTopic"}[str(s["Principal"]["Service"])]]
                assert bound["Condition"]["ArnLike"]["aws:SourceArn"] in _as_list(
                    deny["Condition"]["ArnNotLike"]["aws:SourceArn"])
    # AND the ops key's EventBridge deny spares exactly the stack's rules and the alert bus
    (events_deny,) = [s for s in _key_statements(synth, "KeysOpsKey")
                      if s["Effect"] == "Deny" and s["Principal"] == {"Service": "events.amazonaws.com"}]
    assert sorted(_flatten(a) for a in events_deny["Condition"]["ArnNotLike"]["aws:SourceArn"]) == sorted(
        [bus_arn, f"{events_arn}:rule/<AWS::StackName>-*"])
