"""IAM: data actions are scoped to named resources; `*` only where AWS offers nothing narrower."""

from __future__ import annotations

from typing import Any

DATA_SERVICES = ("s3", "sqs", "secretsmanager", "kms", "glue", "rds-db", "dynamodb", "logs", "sns")
# Actions with no resource-level permissions in IAM (each is acknowledged in infra/nag.py).
STAR_ALLOWED = {
    "ec2:DescribeVpcEndpoints", "ec2:DescribeRouteTables", "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups", "ec2:DescribeVpcAttribute", "ec2:DescribeNetworkInterfaces",
    "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:CreateTags", "ec2:DeleteTags",
    "cloudwatch:PutMetricData", "redshift-data:DescribeStatement", "redshift-data:GetStatementResult",
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
