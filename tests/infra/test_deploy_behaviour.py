"""How a deploy behaves: retries after a failed first create, fails fast, reaches its alarm topic,
and refuses to synthesize without one of its parts."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from infra.athena import named_query_files
from infra.catalog import CatalogProps, LakeCatalog
from infra.config import MissingPartError, load_config
from infra.custom_resource import SERVICE_TIMEOUT_MARGIN
from infra.warehouse import sql_files
from lake.catalog import LAKE_GLUE_TABLES

NAMED_RESOURCES = {  # retained resource type -> the property holding its fixed name
    "AWS::S3::Bucket": "BucketName", "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::Backup::BackupVault": "BackupVaultName", "AWS::KMS::Key": None,
}


def test_prod_retains_data_except_after_a_failed_first_create(prod) -> None:
    # GIVEN prod's resources that CloudFormation would otherwise keep (fixed names, data)
    retained = {k: r for k, r in prod.raw["Resources"].items() if r.get("DeletionPolicy", "Delete") != "Delete"}
    kinds = {r["Type"] for r in retained.values()}
    assert set(NAMED_RESOURCES) <= kinds
    # THEN each is kept on update and delete, but removed when the first create rolls back, so
    # a retry does not collide with their names (RDS keeps its final snapshot either way)
    policies = {(r["Type"], r["DeletionPolicy"], r.get("UpdateReplacePolicy")) for r in retained.values()}
    assert {p for p in policies if p[0] != "AWS::RDS::DBInstance"} == {
        (kind, "RetainExceptOnCreate", "Retain") for kind in kinds - {"AWS::RDS::DBInstance"}}
    assert len([r for r in retained.values() if r["Type"] == "AWS::S3::Bucket"]) == 5


def test_dev_and_prod_can_share_an_account_and_region(dev, prod) -> None:
    # GIVEN both environments' templates THEN no fixed name is the same in both (named queries'
    # names are labels inside their per-environment workgroup, not identifiers)
    def names(synth) -> set[str]:
        found = set()
        for resource in synth.raw["Resources"].values():
            if resource["Type"] == "AWS::Athena::NamedQuery":
                continue
            for key in ("BucketName", "LogGroupName", "FunctionName", "QueueName", "TopicName", "Name",
                        "WorkgroupName", "NamespaceName", "AliasName", "BackupVaultName", "DBInstanceIdentifier"):
                value = resource.get("Properties", {}).get(key)
                if isinstance(value, str):
                    found.add(value)
            for key in ("DatabaseInput", "ConnectionInput"):
                value = resource.get("Properties", {}).get(key, {}).get("Name")
                if isinstance(value, str):
                    found.add(value)
        return found
    assert dev.one("AWS::Glue::Database")["DatabaseInput"]["Name"] == "surgical_lake_dev"
    assert prod.one("AWS::Glue::Database")["DatabaseInput"]["Name"] == "surgical_lake_prod"
    assert names(dev) and not names(dev) & names(prod)


def test_custom_resources_give_up_a_minute_after_their_function(synth) -> None:
    functions = {k: r["Properties"] for k, r in synth.resources("AWS::Lambda::Function").items()}
    customs = [r["Properties"] for r in synth.raw["Resources"].values() if r["Type"].startswith("Custom::")
               and r["Type"] not in ("Custom::S3AutoDeleteObjects", "Custom::VpcRestrictDefaultSG")]
    assert len(customs) == 4  # migrations, Redshift SQL, Athena views, the dashboard's upload (infra/web.py)
    for custom in customs:
        # THEN CloudFormation waits at most the function's timeout plus a minute, not an hour
        function = functions[custom["ServiceToken"]["Fn::GetAtt"][0]]
        assert int(custom["ServiceTimeout"]) == function["Timeout"] + SERVICE_TIMEOUT_MARGIN.to_seconds() <= 3600
    # AND the functions are not retried asynchronously (a retry would redo answered work)
    configs = synth.resources("AWS::Lambda::EventInvokeConfig")
    retried = {c["Properties"]["FunctionName"]["Ref"]: c["Properties"]["MaximumRetryAttempts"] for c in configs.values()}
    assert {functions[f]["FunctionName"] for f in retried if retried[f] == 0} >= {
        f"{synth.config.prefix}-{n}" for n in ("rds-migrate", "redshift-sql", "athena-views")}


def test_alarm_topic_allows_exactly_this_stacks_alarms_and_rules(synth) -> None:
    # GIVEN the alarm topic's policy (it replaces SNS's default one), the stack's alarms and the
    # EventBridge rules that target the topic (Glue job failures, reads of the PHI HMAC secret)
    (topic,) = [lid for lid in synth.resources("AWS::SNS::Topic") if lid.startswith("MonitoringAlarms")]
    (policy,) = [p for p in synth.resources("AWS::SNS::TopicPolicy").values()
                 if p["Properties"]["Topics"] == [{"Ref": topic}]]
    statements = {s.get("Sid"): s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    alarms = sorted(synth.resources("AWS::CloudWatch::Alarm"))
    rules = sorted(lid for lid, r in synth.resources("AWS::Events::Rule").items()
                   if any(t["Arn"] == {"Ref": topic} for t in r["Properties"].get("Targets", [])))
    # (DLQ, queue age, failed objects; errors and throttles of ingest, rds-migrate, redshift-sql,
    # athena-views, api, alerts and alerts-router; per watched facility: procedures, telemetry)
    assert len(alarms) == 3 + 2 * 7 + 2 * len(synth.config.freshness_facilities)
    assert len(synth.config.freshness_facilities) == {"dev": 10, "prod": 0}[synth.config.env_name]
    assert all(a["Properties"]["AlarmActions"] == [{"Ref": topic}]
               for a in synth.resources("AWS::CloudWatch::Alarm").values())
    assert len(rules) == 2
    assert rules[0].startswith("IngestPhiHmacGuardReadOutsideIngest") and rules[1].startswith("MonitoringGlueJobFailed")
    # THEN CloudWatch may publish, bound to exactly these alarms in this account
    cloudwatch = statements["CloudWatchAlarmsOfThisStack"]
    assert (cloudwatch["Effect"], cloudwatch["Action"]) == ("Allow", "sns:Publish")
    assert cloudwatch["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert sorted(a["Fn::GetAtt"][0] for a in cloudwatch["Condition"]["ArnEquals"]["aws:SourceArn"]) == alarms
    assert cloudwatch["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    # AND EventBridge may publish for exactly the rules that target the topic
    events = statements["EventBridgeRulesOfThisStack"]
    assert events["Principal"] == {"Service": "events.amazonaws.com"}
    assert sorted(a["Fn::GetAtt"][0] for a in events["Condition"]["ArnEquals"]["aws:SourceArn"]) == rules
    # AND no other statement allows anyone to publish (TLS-only publishing is a Deny)
    allows = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert len(allows) == 2
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
               for s in statements.values())


def test_glue_tables_are_the_catalog_definitions_local_mode_and_tests_create(dev) -> None:
    # GIVEN the synthesized tables and lake.catalog's TableInput (what create_tables sends)
    for resource in dev.resources("AWS::Glue::Table").values():
        table = resource["Properties"]["TableInput"]
        expected = LAKE_GLUE_TABLES[table["Name"]].table_input("BUCKET")
        # THEN they are equal, but for the bucket name CloudFormation fills in
        location = table["StorageDescriptor"].pop("Location")["Fn::Join"][1]
        assert ["s3://", "BUCKET", location[2]] == ["s3://", "BUCKET", f"/{table['Name']}/"]
        expected["StorageDescriptor"].pop("Location")
        assert table == expected


def _catalog(tmp_path: Path, script: Path) -> None:
    stack = cdk.Stack(cdk.App(outdir=str(tmp_path)), "T")
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=0,
                  subnet_configuration=[ec2.SubnetConfiguration(name="i", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)])
    key = kms.Key(stack, "Key")
    LakeCatalog(stack, "Catalog", CatalogProps(
        config=load_config("dev"), data_key=key, ops_key=key, processed_bucket=s3.Bucket(stack, "B"), vpc=vpc,
        subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED), rollup_script=script))


def test_a_missing_part_fails_the_synth(tmp_path: Path) -> None:
    # GIVEN parts of the stack that are not there
    with pytest.raises(MissingPartError, match="rollup script"):
        _catalog(tmp_path, tmp_path / "telemetry_rollup.py")
    with pytest.raises(MissingPartError, match="no Redshift SQL files"):
        sql_files(tmp_path / "redshift")
    with pytest.raises(MissingPartError, match="no Athena SQL files"):
        named_query_files(tmp_path / "athena")
