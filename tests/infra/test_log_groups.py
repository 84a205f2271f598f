"""Every log group a resource of the stack writes to exists in the template, encrypted with the
ops key and with the environment's retention (infra/log_groups.py). A resource type the test
does not know fails it: a new kind of writer needs its log group before it can be merged."""

from __future__ import annotations

import json
from typing import Any

# Resource types that write no CloudWatch Logs of their own (or only through a writer below:
# custom resources run our functions, a Glue trigger starts the job).
SILENT = {
    "AWS::Athena::NamedQuery", "AWS::Athena::WorkGroup", "AWS::Backup::BackupPlan", "AWS::Backup::BackupSelection",
    "AWS::Backup::BackupVault", "AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard", "AWS::EC2::RouteTable",
    "AWS::EC2::SecurityGroup", "AWS::EC2::SecurityGroupEgress", "AWS::EC2::SecurityGroupIngress", "AWS::EC2::Subnet",
    "AWS::EC2::SubnetRouteTableAssociation", "AWS::EC2::VPC", "AWS::EC2::VPCEndpoint", "AWS::Events::Rule",
    "AWS::Lambda::EventInvokeConfig",
    "AWS::Glue::Connection", "AWS::Glue::Database", "AWS::Glue::SecurityConfiguration", "AWS::Glue::Table",
    "AWS::Glue::Trigger", "AWS::IAM::Policy", "AWS::IAM::Role", "AWS::KMS::Alias", "AWS::KMS::Key",
    "AWS::Lambda::EventSourceMapping", "AWS::Logs::LogGroup", "AWS::RDS::DBParameterGroup",
    "AWS::RDS::DBProxyTargetGroup", "AWS::RDS::DBSubnetGroup", "AWS::RedshiftServerless::Workgroup",
    "AWS::S3::Bucket", "AWS::S3::BucketPolicy", "AWS::SNS::Topic", "AWS::SNS::TopicPolicy", "AWS::SQS::Queue",
    "AWS::SQS::QueuePolicy", "AWS::SecretsManager::ResourcePolicy", "AWS::SecretsManager::RotationSchedule",
    "AWS::SecretsManager::Secret", "AWS::SecretsManager::SecretTargetAttachment", "Custom::AthenaViews",
    "Custom::RdsMigrations", "Custom::RedshiftSql", "Custom::S3AutoDeleteObjects", "Custom::VpcRestrictDefaultSG",
    # the query API (infra/api.py): its stage and WAF logging are writers below; the pool does
    # not export logs (no LogDeliveryConfiguration)
    "AWS::ApiGateway::Account", "AWS::ApiGateway::Authorizer", "AWS::ApiGateway::Deployment",
    "AWS::ApiGateway::Method", "AWS::ApiGateway::Resource", "AWS::ApiGateway::RestApi",
    "AWS::Cognito::UserPool", "AWS::Cognito::UserPoolClient", "AWS::Cognito::UserPoolGroup",
    "AWS::Cognito::UserPoolDomain",
    # the dashboard (infra/web.py): the distribution's standard logs are off (README), CDK's copier
    # is a function (a writer above)
    "AWS::CloudFront::Distribution", "AWS::CloudFront::OriginAccessControl", "AWS::CloudFront::ResponseHeadersPolicy",
    "AWS::Lambda::LayerVersion", "Custom::CDKBucketDeployment",
    "AWS::Lambda::Permission", "AWS::WAFv2::WebACL", "AWS::WAFv2::WebACLAssociation",
}


# Written by AWS to a group it shares across the account; documented in the README.
ACCOUNT_WIDE = {
    # RDS enhanced monitoring: OS metrics of every monitored instance of the account (no query
    # text, no data). RDS creates it; a stack that created it would fail in any account with
    # another monitored instance.
    "RDSOSMetrics",
}


def _name(value: Any) -> str:
    """A log group name, tokens and all, as one comparable string."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _join(*parts: Any) -> str:
    return _name({"Fn::Join": ["", list(parts)]})


def _written(synth) -> list[tuple[str, str]]:
    """(writer logical id, log group name or `ref:<LogGroup logical id>`) for every writer."""
    out: list[tuple[str, str]] = []
    for lid, resource in synth.raw["Resources"].items():
        kind, props = resource["Type"], resource.get("Properties", {})
        if kind == "AWS::Lambda::Function":
            group = props.get("LoggingConfig", {}).get("LogGroup")
            assert group or props.get("FunctionName"), f"{lid}: no function name and no log group"
            out.append((lid, f"ref:{group['Ref']}" if group else f"/aws/lambda/{props['FunctionName']}"))
        elif kind == "AWS::Serverless::Application":  # the rotation function
            out.append((lid, f"/aws/lambda/{props['Parameters']['functionName']}"))
        elif kind == "AWS::RDS::DBInstance":
            out += [(lid, f"/aws/rds/instance/{props['DBInstanceIdentifier']}/{t}")
                    for t in props["EnableCloudwatchLogsExports"]]
            if props.get("MonitoringInterval"):
                out.append((lid, "RDSOSMetrics"))
        elif kind == "AWS::RDS::DBProxy":
            out.append((lid, f"/aws/rds/proxy/{props['DBProxyName']}"))
        elif kind == "AWS::RedshiftServerless::Namespace":
            out += [(lid, f"/aws/redshift/{props['NamespaceName']}/{t}") for t in props["LogExports"]]
        elif kind == "AWS::Glue::Job":  # a security configuration with CloudWatch encryption
            security, role = props["SecurityConfiguration"], {"Ref": props["Role"]["Fn::GetAtt"][0]}
            out += [(lid, _join(f"/aws-glue/jobs/{security}-role/", role, f"/{stream}")) for stream in ("output", "error")]
            out.append((lid, f"/aws-glue/jobs/logs-v2-{security}"))
        elif kind == "AWS::ApiGateway::Stage":  # access logs (ours) and execution logs (API Gateway's name)
            out.append((lid, f"ref:{props['AccessLogSetting']['DestinationArn']['Fn::GetAtt'][0]}"))
            if any(m.get("LoggingLevel", "OFF") != "OFF" for m in props.get("MethodSettings", [])):
                out.append((lid, _join("API-Gateway-Execution-Logs_", props["RestApiId"], f"/{props['StageName']}")))
        elif kind == "AWS::WAFv2::LoggingConfiguration":
            (arn,) = props["LogDestinationConfigs"]  # arn:...:log-group:<name>, joined from tokens
            out.append((lid, _name(arn["Fn::Join"][1][-1].split(":log-group:", 1)[1])))
        elif kind == "AWS::Events::EventBus":  # writes logs only with a LogConfig (it would need a group)
            assert "LogConfig" not in props, f"{lid}: bus logging needs a pre-created group"
        elif kind == "AWS::EC2::FlowLog":
            out.append((lid, f"ref:{props['LogGroupName']['Ref']}"))
        else:
            assert kind in SILENT, f"{lid}: {kind} is neither a known log writer nor known to be silent"
    return out


def test_every_log_group_the_stack_writes_to_is_precreated_with_kms_and_retention(synth) -> None:
    groups = {lid: r["Properties"] for lid, r in synth.resources("AWS::Logs::LogGroup").items()}
    by_name = {_name(p["LogGroupName"]): lid for lid, p in groups.items() if "LogGroupName" in p}
    written = _written(synth)
    for writer, target in written:
        if target in ACCOUNT_WIDE:
            continue
        lid = target.removeprefix("ref:") if target.startswith("ref:") else by_name.get(target)
        # THEN the group exists in the stack, encrypted with the ops key, kept as configured
        assert lid in groups, f"{writer} writes to {target}, which the stack does not create"
        assert groups[lid]["KmsKeyId"]["Fn::GetAtt"][0].startswith("KeysOpsKey"), lid
        assert groups[lid]["RetentionInDays"] >= synth.config.log_retention_days, lid
    # AND the writers the issue named are among them (names written by hand)
    names = {t for _, t in written}
    prefix = synth.config.prefix
    assert {f"/aws/redshift/{prefix}-ns/{t}" for t in ("userlog", "connectionlog", "useractivitylog")} <= names
    assert f"/aws-glue/jobs/logs-v2-{prefix}-glue" in names
    assert f"/aws/rds/proxy/{prefix}-proxy" in names
    assert any(t.startswith("/aws/lambda/") and "RotationSingleUser" in t for t in names)
    # AND CDK's provider functions (VPC default-SG cleanup; bucket auto-delete in dev) write to ours
    providers = sorted(w.split("CustomResourceProvider")[0] for w, t in written
                       if w.startswith("Custom") and not w.startswith("CustomCDKBucketDeployment") and t.startswith("ref:"))
    # AND CDK's dashboard copier writes to the group infra/web.py pre-creates
    assert [t for w, t in written if w.startswith("CustomCDKBucketDeployment")] == [
        f"ref:{next(lid for lid in groups if lid.startswith('WebDeployLogs'))}"]
    # (auto-delete empties dev's data buckets, and in every environment the dashboard's bucket,
    # which holds only the built app)
    assert providers == ["CustomS3AutoDeleteObjects", "CustomVpcRestrictDefaultSG"]
