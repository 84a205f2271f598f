"""The alert path and the freshness alarms in the synthesized template (aws_cdk.assertions).

cdk-nag runs over the same templates in test_nag_and_lint.py.
"""

from __future__ import annotations

import json
from typing import Any

from lake.detection import DetectionSettings


def _one(synth, cfn_type: str, prefix: str) -> tuple[str, dict[str, Any]]:
    ((logical_id, resource),) = [(k, r) for k, r in synth.resources(cfn_type).items() if k.startswith(prefix)]
    return logical_id, resource["Properties"]


def _statements(synth, prefix: str) -> list[dict[str, Any]]:
    return [s for k, p in synth.resources("AWS::IAM::Policy").items() if k.startswith(prefix)
            for s in p["Properties"]["PolicyDocument"]["Statement"]]


def _actions(statement: dict[str, Any]) -> list[str]:
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


def test_bus_and_topic_are_encrypted_with_the_ops_key(synth) -> None:
    _, bus = _one(synth, "AWS::Events::EventBus", "AlertsBus")
    _, topic = _one(synth, "AWS::SNS::Topic", "AlertsTopic")
    assert bus["Name"] == synth.config.alert_bus_name
    assert bus["KmsKeyIdentifier"]["Fn::GetAtt"][0].startswith("KeysOpsKey")
    assert topic["KmsMasterKeyId"]["Fn::GetAtt"][0].startswith("KeysOpsKey")
    # AND the topic refuses plain-text publishers
    _, policy = _one(synth, "AWS::SNS::TopicPolicy", "AlertsTopic")
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
               for s in policy["PolicyDocument"]["Statement"])


def test_a_successful_rollup_triggers_the_alerts_function(synth) -> None:
    _, rule = _one(synth, "AWS::Events::Rule", "AlertsRollupSucceeded")
    job = synth.one("AWS::Glue::Job")
    assert rule["EventPattern"] == {"source": ["aws.glue"], "detail-type": ["Glue Job State Change"],
                                    "detail": {"jobName": [job["Name"]], "state": ["SUCCEEDED"]}}
    (target,) = rule["Targets"]
    assert target["Arn"]["Fn::GetAtt"][0].startswith("AlertsFunction")
    assert target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0].startswith("AlertsDlq")
    assert "EventBusName" not in rule  # the default bus, where Glue reports


def test_every_alert_event_reaches_the_router(synth) -> None:
    _, rule = _one(synth, "AWS::Events::Rule", "AlertsToRouter")
    assert rule["EventBusName"]["Ref"].startswith("AlertsBus")
    assert rule["EventPattern"] == {"source": ["surgical-lake.analytics"]}
    assert rule["Targets"][0]["Arn"]["Fn::GetAtt"][0].startswith("AlertsRouter")


def test_functions_run_in_the_vpc_with_what_they_need(synth) -> None:
    functions = {k: r["Properties"] for k, r in synth.resources("AWS::Lambda::Function").items()}
    alerts = next(p for p in functions.values() if p.get("FunctionName") == f"{synth.config.prefix}-alerts")
    router = next(p for p in functions.values() if p.get("FunctionName") == f"{synth.config.prefix}-alerts-router")
    for fn in (alerts, router):
        assert fn["VpcConfig"]["SubnetIds"] and fn["DeadLetterConfig"]["TargetArn"]["Fn::GetAtt"][0].startswith(
            "AlertsDlq")
    assert alerts["ReservedConcurrentExecutions"] == 1  # one writer of the episodes at a time
    assert set(alerts["Environment"]["Variables"]) == {"PROCESSED_BUCKET", "EVENT_BUS_NAME", "DB_SECRET_ARN",
                                                       "DB_HOST", "DB_PORT", "DB_NAME"}
    assert alerts["Environment"]["Variables"]["DB_HOST"]["Fn::GetAtt"][0].startswith("DatabaseInstanceProxy")
    assert router["Environment"]["Variables"]["ALERT_TOPIC_ARN"]["Ref"].startswith("AlertsTopic")


def test_permissions_are_scoped_to_the_alert_path(synth) -> None:
    alerts = _statements(synth, "AlertsFunctionServiceRole")
    puts = [s for s in alerts if "events:PutEvents" in _actions(s)]
    assert len(puts) == 1 and puts[0]["Resource"]["Fn::GetAtt"][0].startswith("AlertsBus")
    objects = {_flat(r) for st in alerts if any(a.startswith("s3:") for a in _actions(st))
               for r in (st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]])}
    # THEN objects only under the three prefixes it manages (and list on the bucket itself)
    assert {o for o in objects if "/" in o} == {"<StorageProcessed>/_alerts/pending/*",
                                                "<StorageProcessed>/_alerts/rejected/*",
                                                "<StorageProcessed>/_reference/procedure_windows/*"}
    router = _statements(synth, "AlertsRouterServiceRole")
    publish = [s for s in router if "sns:Publish" in _actions(s)]
    assert len(publish) == 1 and publish[0]["Resource"]["Ref"].startswith("AlertsTopic")
    # AND the Glue job may invoke exactly the alerts function (to export the procedure windows)
    invoke = [s for s in _statements(synth, "CatalogJobRole") if "lambda:InvokeFunction" in _actions(s)]
    assert len(invoke) == 1 and invoke[0]["Resource"]["Fn::GetAtt"][0].startswith("AlertsFunction")


def _flat(resource: Any) -> str:
    """`<StorageProcessed>/_alerts/pending/*` for a Join of the bucket's ARN and a key pattern."""
    if isinstance(resource, str):
        return resource
    if "Fn::Join" in resource:
        return "".join(_flat(p) for p in resource["Fn::Join"][1])
    if "Fn::GetAtt" in resource:
        return f"<{resource['Fn::GetAtt'][0][:-8]}>"
    return json.dumps(resource)


def test_glue_job_gets_the_detection_settings_and_the_alerts_function(synth) -> None:
    args = synth.one("AWS::Glue::Job")["DefaultArguments"]
    assert DetectionSettings.from_json(args["--DETECTION_SETTINGS"]) == synth.config.detection
    assert args["--ALERTS_FUNCTION"] == f"{synth.config.prefix}-alerts"


def test_the_alert_path_has_its_vpc_endpoints(synth) -> None:
    services = json.dumps([e["Properties"]["ServiceName"] for e in synth.resources("AWS::EC2::VPCEndpoint").values()])
    for service in (".lambda", ".events", ".sns"):
        assert service in services


def test_freshness_alarms_treat_silence_as_breaching(dev, prod) -> None:
    alarms = {a["Properties"]["AlarmName"]: a["Properties"] for a in dev.resources("AWS::CloudWatch::Alarm").values()
              if "-silent-" in a["Properties"]["AlarmName"]}
    # THEN two per configured facility (procedures, telemetry); none in prod until it lists its own
    assert len(alarms) == 2 * len(dev.config.freshness_facilities) == 20
    assert not [a for a in prod.resources("AWS::CloudWatch::Alarm").values()
                if "-silent-" in a["Properties"]["AlarmName"]]
    one = alarms[f"{dev.config.prefix}-silent-FAC-003-surgical_procedures"]
    hours = dev.config.detection.inactivity_hours
    assert (one["MetricName"], one["Namespace"], one["Statistic"], one["Period"]) == (
        "ProceduresLoaded", "SurgicalLake", "Sum", 3600)
    assert sorted(one["Dimensions"], key=lambda d: d["Name"]) == [
        {"Name": "facility_id", "Value": "FAC-003"}, {"Name": "service", "Value": "ingest"}]
    assert (one["EvaluationPeriods"], one["DatapointsToAlarm"], one["Threshold"]) == (hours, hours, 1)
    assert (one["ComparisonOperator"], one["TreatMissingData"]) == ("LessThanThreshold", "breaching")
    assert one["AlarmActions"] == one["OKActions"] and one["AlarmActions"][0]["Ref"].startswith("MonitoringAlarms")
    assert alarms[f"{dev.config.prefix}-silent-FAC-003-procedure_telemetry"]["MetricName"] == "TelemetrySamplesLoaded"
