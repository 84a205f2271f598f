"""The query API's AWS resources (infra/api.py) on the synthesized dev and prod templates."""

from __future__ import annotations

from typing import Any

from infra.api import (
    ACCESS_LOG_FIELDS,
    API_HANDLER,
    PUBLIC_PATHS,
    RESERVED_CONCURRENCY,
    THROTTLE_RATE_PER_SECOND,
)
from lake.db_roles import API


def _logical_id(synth, cfn_type: str, **props: Any) -> str:
    for key, res in synth.resources(cfn_type).items():
        if all(res["Properties"].get(k) == v for k, v in props.items()):
            return key
    raise AssertionError(f"no {cfn_type} with {props}")


def _paths(synth) -> dict[str, str]:
    """Resource logical id -> full path (/v1/...)."""
    resources = synth.resources("AWS::ApiGateway::Resource")
    def full(key: str) -> str:
        props = resources[key]["Properties"]
        parent = props["ParentId"]
        prefix = full(parent["Ref"]) if "Ref" in parent else ""
        return f"{prefix}/{props['PathPart']}"
    return {key: full(key) for key in resources}


def test_every_data_path_needs_a_cognito_token_and_only_the_public_ones_do_not(synth) -> None:
    paths = _paths(synth)
    methods = {(paths[m["Properties"]["ResourceId"]["Ref"]], m["Properties"]["HttpMethod"]):
               m["Properties"]["AuthorizationType"] for m in synth.resources("AWS::ApiGateway::Method").values()}
    public = {(f"/v1/{p}", "GET") for p in PUBLIC_PATHS} | {("/v1/docs/{asset}", "GET")}
    assert {k for k, auth in methods.items() if auth == "NONE"} == public
    assert methods[("/v1/{proxy+}", "GET")] == "COGNITO_USER_POOLS"
    assert set(methods) == public | {("/v1/{proxy+}", "GET")}
    authorizer = synth.one("AWS::ApiGateway::Authorizer")
    assert authorizer["Type"] == "COGNITO_USER_POOLS"
    assert authorizer["IdentitySource"] == "method.request.header.Authorization"


def test_user_pool_is_invitation_only_with_mfa_and_threat_protection(synth) -> None:
    pool = synth.one("AWS::Cognito::UserPool")
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["MfaConfiguration"] == "ON" and pool["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] == 14
    assert pool["UserPoolAddOns"]["AdvancedSecurityMode"] == "ENFORCED"
    groups = {g["Properties"]["GroupName"] for g in synth.resources("AWS::Cognito::UserPoolGroup").values()}
    assert groups == {"admin", "phi:pseudonymized"}
    (client,) = [c["Properties"] for c in synth.resources("AWS::Cognito::UserPoolClient").values()
                 if c["Properties"]["ClientName"].endswith("-api")]  # the dashboard's: tests/infra/test_web.py
    assert "GenerateSecret" not in client or client["GenerateSecret"] is False
    assert client["PreventUserExistenceErrors"] == "ENABLED"


def test_stage_is_throttled_traced_and_logs_access_without_data(synth) -> None:
    stage = synth.one("AWS::ApiGateway::Stage")
    assert stage["StageName"] == synth.config.env_name and stage["TracingEnabled"] is True
    settings = stage["MethodSettings"][0]
    assert (settings["ThrottlingRateLimit"], settings["LoggingLevel"], settings["DataTraceEnabled"]) == (
        THROTTLE_RATE_PER_SECOND, "ERROR", False)
    access = stage["AccessLogSetting"]
    assert set(ACCESS_LOG_FIELDS) <= set(access["Format"].replace('"', " ").split())
    assert "querystring" not in access["Format"].lower()  # filters may name facilities: keep them out
    groups = {k: g["Properties"] for k, g in synth.resources("AWS::Logs::LogGroup").items()}
    access_group = groups[access["DestinationArn"]["Fn::GetAtt"][0]]
    assert access_group["KmsKeyId"]["Fn::GetAtt"][0].startswith("KeysOpsKey") and access_group["RetentionInDays"]
    execution = [g for g in groups.values() if "API-Gateway-Execution-Logs_" in str(g.get("LogGroupName"))]
    assert len(execution) == 1 and execution[0]["KmsKeyId"]


def test_function_runs_in_the_vpc_and_reaches_only_the_proxy_and_the_endpoints(synth) -> None:
    fn_id = _logical_id(synth, "AWS::Lambda::Function", Handler=API_HANDLER)
    fn = synth.raw["Resources"][fn_id]["Properties"]
    assert fn["ReservedConcurrentExecutions"] == RESERVED_CONCURRENCY and fn["Timeout"] <= 29
    assert fn["VpcConfig"]["SubnetIds"] and fn["KmsKeyArn"]
    env = fn["Environment"]["Variables"]
    assert env["DB_SECRET_ARN"]["Ref"].startswith("DatabaseApiSecret")
    assert env["REDSHIFT_DATABASE"] == "analytics"
    assert env["INACTIVITY_HOURS"] == str(synth.config.detection.inactivity_hours)  # the views' setting
    sg_id = fn["VpcConfig"]["SecurityGroupIds"][0]["Fn::GetAtt"][0]
    inline = synth.raw["Resources"][sg_id]["Properties"].get("SecurityGroupEgress", [])
    assert all(e.get("CidrIp") == "255.255.255.255/32" for e in inline)  # CDK's "no other egress" marker
    egress = [r["Properties"] for r in synth.resources("AWS::EC2::SecurityGroupEgress").values()
              if r["Properties"]["GroupId"]["Fn::GetAtt"][0] == sg_id]
    assert sorted((e["FromPort"], e["DestinationSecurityGroupId"]["Fn::GetAtt"][0][:15]) for e in egress) == [
        (443, "NetworkEndpoint"), (5432, "DatabaseProxySg")]
    # the proxy admits the API (its own ingress rule) and knows lake_api's secret
    proxy = synth.one("AWS::RDS::DBProxy")
    assert {a["SecretArn"]["Ref"][:17] for a in proxy["Auth"]} == {"DatabaseIngestSec", "DatabaseApiSecret",
                                                                   "DatabaseAlertsSec"}
    ingress = [r["Properties"] for r in synth.resources("AWS::EC2::SecurityGroupIngress").values()
               if r["Properties"].get("SourceSecurityGroupId", {}).get("Fn::GetAtt", [""])[0] == sg_id]
    assert [(r["FromPort"], r["GroupId"]["Fn::GetAtt"][0][:15]) for r in ingress] == [(5432, "DatabaseProxySg")]


def test_the_warehouse_grants_the_functions_redshift_user(synth) -> None:
    role = _logical_id(synth, "AWS::IAM::Role", RoleName=f"{synth.config.prefix}-api")
    sql = synth.one("Custom::RedshiftSql")
    assert sql["Placeholders"]["API_DB_USER"] == f"IAMR:{synth.config.prefix}-api"
    statements = [s for p in synth.resources("AWS::IAM::Policy").values()
                  if {"Ref": role} in p["Properties"]["Roles"] for s in p["Properties"]["PolicyDocument"]["Statement"]]
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert {"redshift-data:ExecuteStatement", "redshift-serverless:GetCredentials"} <= actions
    assert not any(a.endswith("*") for a in actions if a.startswith(("redshift", "secretsmanager:Put")))
    assert API.name == "lake_api"


def test_waf_guards_prod_only_and_logs_without_the_token(dev, prod) -> None:
    assert not dev.resources("AWS::WAFv2::WebACL")
    acl = prod.one("AWS::WAFv2::WebACL")
    assert acl["Scope"] == "REGIONAL" and acl["DefaultAction"] == {"Allow": {}}
    names = {r["Name"] for r in acl["Rules"]}
    assert {"RatePerIp", "AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"} <= names
    assert prod.one("AWS::WAFv2::WebACLAssociation")["ResourceArn"]
    logging = prod.one("AWS::WAFv2::LoggingConfiguration")
    assert logging["RedactedFields"] == [{"SingleHeader": {"Name": "authorization"}}]


def test_outputs_name_the_api_and_the_user_pool(synth) -> None:
    outputs = synth.raw["Outputs"]
    assert {"ApiUrl", "UserPoolId", "UserPoolClientId"} <= set(outputs)
    assert "v1/" in str(outputs["ApiUrl"]["Value"])
