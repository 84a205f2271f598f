"""Redshift Serverless (no cdk-nag rules exist: asserted here), Athena and operations."""

from __future__ import annotations

from infra.athena import SQL_DIR as ATHENA_SQL
from infra.athena import named_query_files
from infra.warehouse import LOG_EXPORTS, sql_digest, sql_files
from infra.warehouse import SQL_DIR as REDSHIFT_SQL
from lambdas.athena_sql.handler import view_files


def test_redshift_namespace_is_cmk_encrypted_audited_with_managed_password(synth) -> None:
    ns = synth.one("AWS::RedshiftServerless::Namespace")
    assert ns["KmsKeyId"]["Fn::GetAtt"][0].startswith("KeysDataKey")
    assert ns["ManageAdminPassword"] is True
    assert ns["AdminPasswordSecretKmsKeyId"]["Fn::GetAtt"][0].startswith("KeysDataKey")
    assert "AdminUserPassword" not in ns
    assert sorted(ns["LogExports"]) == sorted(LOG_EXPORTS) == ["connectionlog", "useractivitylog", "userlog"]
    assert ns["DefaultIamRoleArn"] == ns["IamRoles"][0]


def test_redshift_workgroup_is_private_with_enhanced_vpc_routing(synth) -> None:
    wg = synth.one("AWS::RedshiftServerless::Workgroup")
    assert wg["PubliclyAccessible"] is False
    assert wg["EnhancedVpcRouting"] is True
    assert len(wg["SubnetIds"]) == 3
    assert all(s["Ref"].startswith("NetworkVpcisolatedSubnet") for s in wg["SubnetIds"])
    params = {p["ParameterKey"]: p["ParameterValue"] for p in wg["ConfigParameters"]}
    assert params == {"enable_user_activity_logging": "true", "require_ssl": "true"}
    assert wg["BaseCapacity"] == synth.config.redshift_base_capacity_rpu


def test_redshift_sql_custom_resource_carries_every_placeholder(synth) -> None:
    resource = synth.one("Custom::RedshiftSql")
    assert set(resource["Placeholders"]) == {
        "GLUE_DATABASE", "SPECTRUM_ROLE_ARN", "RDS_HOST", "RDS_PORT", "RDS_DATABASE", "RDS_SECRET_ARN",
        "API_DB_USER", "INACTIVITY_HOURS"}
    assert resource["Placeholders"]["INACTIVITY_HOURS"] == str(synth.config.detection.inactivity_hours)
    # the Redshift user the API function's role maps to (IAM authentication: IAMR:<role name>)
    assert resource["Placeholders"]["API_DB_USER"] == f"IAMR:{synth.config.prefix}-api"
    assert resource["Placeholders"]["RDS_HOST"]["Fn::GetAtt"][1] == "Endpoint.Address"
    assert resource["SqlDigest"] == sql_digest(sql_files(REDSHIFT_SQL))


def test_spectrum_role_reads_only_the_lake_and_the_rds_secret(synth) -> None:
    role_policies = [p["Properties"]["PolicyDocument"]["Statement"] for lid, p in
                     synth.resources("AWS::IAM::Policy").items() if lid.startswith("WarehouseSpectrumFederatedRole")]
    (statements,) = role_policies
    actions = {a for s in statements for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert not {a for a in actions if a.startswith("s3:Put") or a.startswith("s3:Delete")}
    assert "secretsmanager:GetSecretValue" in actions
    assert {"glue:GetTable", "glue:GetPartitions"} <= actions


def test_athena_workgroup_enforces_encrypted_results(synth) -> None:
    wg = synth.one("AWS::Athena::WorkGroup")["WorkGroupConfiguration"]
    assert wg["EnforceWorkGroupConfiguration"] is True
    result = wg["ResultConfiguration"]
    assert result["EncryptionConfiguration"]["EncryptionOption"] == "SSE_KMS"
    assert result["EncryptionConfiguration"]["KmsKey"]["Fn::GetAtt"][0].startswith("KeysDataKey")
    assert result["OutputLocation"]["Fn::Join"][1][1]["Ref"].startswith("StorageAthenaResults")


def test_one_named_query_per_athena_sql_file(synth) -> None:
    queries = {q["Properties"]["Name"]: q["Properties"] for q in synth.resources("AWS::Athena::NamedQuery").values()}
    files = named_query_files(ATHENA_SQL)
    assert sorted(queries) == sorted(p.stem for p in files)
    for path in files:
        assert queries[path.stem]["QueryString"] == path.read_text()
        assert queries[path.stem]["Database"] == synth.config.glue_database


def test_athena_views_are_created_at_deploy_with_write_access_to_those_views_only(synth) -> None:
    views = view_files(ATHENA_SQL)
    resource = synth.one("Custom::AthenaViews")
    assert resource["Views"] == ",".join(view for _, view, _ in views)
    assert resource["WorkGroup"] == synth.one("AWS::Athena::WorkGroup")["Name"]
    statements = [s for lid, p in synth.resources("AWS::IAM::Policy").items() if lid.startswith("AthenaCreateViews")
                  for s in p["Properties"]["PolicyDocument"]["Statement"]]
    (write,) = [s for s in statements if "glue:CreateTable" in s["Action"]]
    tables = sorted("".join(p if isinstance(p, str) else "" for p in r["Fn::Join"][1]).rsplit("/", 1)[-1]
                    for r in write["Resource"] if "table/" in str(r))
    assert tables == sorted(view for _, view, _ in views)


def test_alarm_topic_is_encrypted_and_alarms_cover_the_pipeline(synth) -> None:
    ((topic_id, topic),) = [(k, t) for k, t in synth.resources("AWS::SNS::Topic").items()
                            if k.startswith("MonitoringAlarms")]
    assert topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0].startswith("KeysOpsKey")
    alarms = {a["Properties"]["AlarmName"].removeprefix(f"{synth.config.prefix}-"): a["Properties"]
              for a in synth.resources("AWS::CloudWatch::Alarm").values()}
    assert {"dlq-not-empty", "queue-age", "ingest-errors", "ingest-throttles", "ingest-objects-failed"} <= set(alarms)
    # THEN a failed object alarms even though partial batch responses hide it from Lambda errors
    failed = alarms["ingest-objects-failed"]
    assert (failed["Namespace"], failed["MetricName"]) == ("SurgicalLake", "ObjectsFailed")
    assert failed["Dimensions"] == [{"Name": "service", "Value": "ingest"}]
    assert alarms["dlq-not-empty"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarms["queue-age"]["MetricName"] == "ApproximateAgeOfOldestMessage"
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]
    assert len(synth.resources("AWS::CloudWatch::Dashboard")) == 1


def test_glue_job_failures_reach_the_topic(synth) -> None:
    ((_, rule),) = [(k, r["Properties"]) for k, r in synth.resources("AWS::Events::Rule").items()
                    if k.startswith("Monitoring")]
    job = synth.one("AWS::Glue::Job")
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.glue"] and pattern["detail-type"] == ["Glue Job State Change"]
    assert pattern["detail"]["jobName"] == [job["Name"]]
    assert set(pattern["detail"]["state"]) == {"FAILED", "TIMEOUT", "ERROR"}
    assert rule["Targets"][0]["Arn"]["Ref"].startswith("MonitoringAlarms")


def test_every_log_group_is_encrypted_with_retention(synth) -> None:
    groups = synth.resources("AWS::Logs::LogGroup")
    assert len(groups) >= 6  # flow logs, 3 Lambdas, 2 RDS exports
    for group in groups.values():
        assert group["Properties"]["KmsKeyId"]["Fn::GetAtt"][0].startswith("KeysOpsKey")
        assert group["Properties"]["RetentionInDays"] >= synth.config.log_retention_days
    for fn in synth.resources("AWS::Lambda::Function").values():
        if fn["Properties"].get("Runtime") == "python3.12":
            assert fn["Properties"]["LoggingConfig"]["LogGroup"]["Ref"] in groups


def test_dashboard_shows_rows_per_entity_of_the_contract(synth) -> None:
    import json

    from lake.contract import ENTITIES

    body = json.dumps(synth.one("AWS::CloudWatch::Dashboard")["DashboardBody"])
    for entity in ENTITIES:
        for metric in ("RowsLoaded", "RowsParked", "RowsRejected"):
            assert f"{entity}.{metric}" in body
