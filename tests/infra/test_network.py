"""Network: isolated subnets only, endpoints instead of NAT, flow logs, and tight security groups."""

from __future__ import annotations

from infra.network import INTERFACE_ENDPOINTS, NO_RESOURCE_ACTIONS

# Security group (logical id prefix) -> the only security groups allowed in.
ALLOWED_SG_INGRESS = {
    "DatabaseDbSg": {"DatabaseProxySg", "DatabaseMigrateSg", "WarehouseSg", "DatabaseRotationSg"},
    "DatabaseProxySg": {"IngestSg", "AlertsFunctionSg", "ApiSg"},
    "CatalogJobSg": {"CatalogJobSg"},
}


def _prefix(logical_id: str, candidates) -> str | None:
    return next((c for c in candidates if logical_id.startswith(c)), None)


def _ingress_rules(synth) -> list[tuple[str, dict]]:
    """(target SG logical id, rule) for inline and standalone ingress rules."""
    rules = []
    for lid, sg in synth.resources("AWS::EC2::SecurityGroup").items():
        rules += [(lid, r) for r in sg["Properties"].get("SecurityGroupIngress", [])]
    for rule in synth.resources("AWS::EC2::SecurityGroupIngress").values():
        props = rule["Properties"]
        rules.append((props["GroupId"]["Fn::GetAtt"][0], props))
    return rules


def test_only_isolated_subnets_and_no_route_to_the_internet(synth) -> None:
    subnets = synth.resources("AWS::EC2::Subnet")
    assert len(subnets) == 3  # Redshift Serverless needs three AZs
    assert all(s["Properties"]["MapPublicIpOnLaunch"] is False for s in subnets.values())
    assert all(t["Key"] != "aws-cdk:subnet-type" or t["Value"] == "Isolated"
               for s in subnets.values() for t in s["Properties"]["Tags"])
    for cfn_type in ("AWS::EC2::InternetGateway", "AWS::EC2::NatGateway", "AWS::EC2::EgressOnlyInternetGateway"):
        assert not synth.resources(cfn_type)
    routes = synth.resources("AWS::EC2::Route")
    assert not routes


def test_endpoints_s3_gateway_and_interfaces_in_the_configured_azs(synth) -> None:
    endpoints = [e["Properties"] for e in synth.resources("AWS::EC2::VPCEndpoint").values()]
    gateways = [e for e in endpoints if e.get("VpcEndpointType") == "Gateway"]
    interfaces = [e for e in endpoints if e.get("VpcEndpointType") == "Interface"]
    assert len(gateways) == 1 and ".s3" in str(gateways[0]["ServiceName"])
    assert len(gateways[0]["RouteTableIds"]) == 3
    assert len(interfaces) == len(INTERFACE_ENDPOINTS)
    services = " ".join(str(e["ServiceName"]) for e in interfaces)
    for name in ("secretsmanager", "sqs", "glue", "kms", "logs", "sts", "redshift-data", "redshift-serverless",
                 "athena"):
        assert f".{name}" in services
    for e in interfaces:
        assert e["PrivateDnsEnabled"] is True
        assert len(e["SubnetIds"]) == synth.config.interface_endpoint_azs


def test_flow_logs_go_to_an_encrypted_log_group(synth) -> None:
    flow = synth.one("AWS::EC2::FlowLog")
    assert flow["TrafficType"] == "ALL"
    group = synth.raw["Resources"][flow["LogGroupName"]["Ref"]]["Properties"]
    assert group["KmsKeyId"]["Fn::GetAtt"][0].startswith("KeysOpsKey")
    assert group["RetentionInDays"] >= synth.config.log_retention_days


def test_security_group_ingress_only_from_allowed_groups(synth) -> None:
    rules = _ingress_rules(synth)
    assert rules
    for target, rule in rules:
        assert "CidrIpv6" not in rule
        if "CidrIp" in rule:
            # THEN the only CIDR rule is HTTPS to the interface endpoints from inside the VPC
            assert target.startswith("NetworkEndpointSg")
            assert (rule["CidrIp"], rule["FromPort"], rule["ToPort"]) == ("10.40.0.0/16", 443, 443)
            continue
        target_prefix = _prefix(target, ALLOWED_SG_INGRESS)
        assert target_prefix, f"{target} takes ingress it should not"
        allowed = ALLOWED_SG_INGRESS[target_prefix]
        source = rule["SourceSecurityGroupId"]["Fn::GetAtt"][0]
        assert _prefix(source, allowed), f"{source} may not reach {target}"


def test_database_is_reachable_from_exactly_the_expected_groups(synth) -> None:
    sources = {_prefix(r["SourceSecurityGroupId"]["Fn::GetAtt"][0], ALLOWED_SG_INGRESS["DatabaseDbSg"])
               for t, r in _ingress_rules(synth) if t.startswith("DatabaseDbSg")}
    assert sources == ALLOWED_SG_INGRESS["DatabaseDbSg"]
    proxy_sources = {_prefix(r["SourceSecurityGroupId"]["Fn::GetAtt"][0], ALLOWED_SG_INGRESS["DatabaseProxySg"])
                     for t, r in _ingress_rules(synth) if t.startswith("DatabaseProxySg")}
    assert proxy_sources == ALLOWED_SG_INGRESS["DatabaseProxySg"]


def test_default_security_group_is_stripped(synth) -> None:
    assert len(synth.resources("Custom::VpcRestrictDefaultSG")) == 1


# --- data perimeter -------------------------------------------------------------------------

ACCOUNT = {"Ref": "AWS::AccountId"}
OWN_ACCOUNT_BOTH = {"StringEquals": {"aws:PrincipalAccount": ACCOUNT, "aws:ResourceAccount": ACCOUNT}}


def _endpoints(synth) -> dict[str, dict]:
    return {lid: e["Properties"] for lid, e in synth.resources("AWS::EC2::VPCEndpoint").items()}


def test_every_endpoint_admits_only_this_accounts_principals_to_this_accounts_resources(synth) -> None:
    for lid, endpoint in _endpoints(synth).items():
        statements = endpoint["PolicyDocument"]["Statement"]
        # THEN the first statement allows exactly own-account principals to own-account resources
        main, *exceptions = statements
        assert (main["Effect"], main["Action"], main["Resource"], main["Condition"]) == (
            "Allow", "*", "*", OWN_ACCOUNT_BOTH), lid
        assert all(s["Effect"] == "Allow" for s in statements)
        name = next(n for n in (*INTERFACE_ENDPOINTS, "S3") if lid.startswith(f"NetworkVpc{n}"))
        # AND the only exceptions are named: actions without a resource (own-account callers)...
        for s in exceptions:
            if s["Sid"] == "OwnAccountPrincipalsActionsWithoutResource":
                assert s["Condition"] == {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}}
                assert sorted(_as_list(s["Action"])) == sorted(NO_RESOURCE_ACTIONS[name])
                continue
            # ... and, on the S3 gateway, PutObject to CloudFormation's custom-resource response bucket
            assert name == "S3" and s["Action"] == "s3:PutObject", lid
            parts = s["Resource"]["Fn::Join"][1]
            assert parts[2] == ":s3:::cloudformation-custom-resource-response-" and parts[4] == "/*"
            assert parts[3] == {"Fn::Join": ["", {"Fn::Split": ["-", {"Ref": "AWS::Region"}]}]}
    assert {"SecretsManager", "RedshiftData"} <= set(NO_RESOURCE_ACTIONS)


def _as_list(value):
    return value if isinstance(value, list) else [value]


WORKLOADS = ("IngestSg", "DatabaseMigrateSg", "DatabaseRotationSg", "WarehouseSg", "WarehouseApplySqlSg",
             "AthenaCreateViewsSg", "CatalogJobSg", "AlertsFunctionSg", "AlertsRouterSg", "ApiSg")
GROUPS = (*WORKLOADS, "NetworkEndpointSg", "DatabaseProxySg", "DatabaseDbSg")
S3_PREFIX_LIST = {"Fn::FindInMap": ["S3PrefixList", {"Ref": "AWS::Region"}, "id"]}
DB_PORT = {"Fn::GetAtt": ["DatabaseInstanceAA8A5FDE", "Endpoint.Port"]}  # the instance's port, a token
NO_TRAFFIC = ("255.255.255.255/32", 252, 86)  # CDK's placeholder rule that matches no traffic


def _egress(synth) -> dict[str, set[tuple[object, ...]]]:
    """Security group (logical id prefix) -> {(destination, from port, to port)}, inline and standalone."""
    def rule(r: dict) -> tuple[object, ...]:
        if "DestinationSecurityGroupId" in r:
            to = _prefix(r["DestinationSecurityGroupId"]["Fn::GetAtt"][0], GROUPS)
        elif r.get("DestinationPrefixListId") == S3_PREFIX_LIST:
            to = "s3"
        else:
            to = r.get("CidrIp") or str(r)
        return (to, *("db-port" if r.get(k) == DB_PORT else r.get(k) for k in ("FromPort", "ToPort")))

    out: dict[str, set[tuple[object, ...]]] = {}
    for lid, sg in synth.resources("AWS::EC2::SecurityGroup").items():
        out[_prefix(lid, GROUPS) or lid] = {rule(r) for r in sg["Properties"].get("SecurityGroupEgress", [])}
    for resource in synth.resources("AWS::EC2::SecurityGroupEgress").values():
        props = resource["Properties"]
        group = _prefix(props["GroupId"]["Fn::GetAtt"][0], GROUPS)
        assert group is not None, props["GroupId"]
        out[group].add(rule(props))
    return out


def test_workloads_send_only_https_to_the_endpoints_and_s3_and_the_database_port(synth) -> None:
    egress = _egress(synth)
    aws_apis = {("NetworkEndpointSg", 443, 443), ("s3", 443, 443)}
    # THEN each workload's egress is exactly HTTPS to the interface endpoints and to S3, plus the
    # one database port it needs (written by hand per workload)
    assert {w: egress[w] for w in WORKLOADS} == {
        "IngestSg": aws_apis | {("DatabaseProxySg", 5432, 5432)},
        "DatabaseMigrateSg": aws_apis | {("DatabaseDbSg", 5432, 5432)},
        "DatabaseRotationSg": aws_apis | {("DatabaseDbSg", "db-port", "db-port")},
        "WarehouseSg": aws_apis | {("DatabaseDbSg", 5432, 5432)},
        "WarehouseApplySqlSg": aws_apis,
        "AthenaCreateViewsSg": aws_apis,
        "CatalogJobSg": aws_apis | {("CatalogJobSg", 0, 65535)},  # Glue workers talk to each other
        "AlertsFunctionSg": aws_apis | {("DatabaseProxySg", 5432, 5432)},
        "AlertsRouterSg": {("NetworkEndpointSg", 443, 443)},  # it only publishes to SNS
        # the query API reads no S3: the endpoints (Secrets Manager, Redshift Data) and the proxy
        "ApiSg": {("NetworkEndpointSg", 443, 443), ("DatabaseProxySg", 5432, 5432)},
    }
    # AND the endpoints and the database send nothing; the proxy only to the database
    assert egress["NetworkEndpointSg"] == egress["DatabaseDbSg"] == {NO_TRAFFIC}
    assert egress["DatabaseProxySg"] == {("DatabaseDbSg", "db-port", "db-port")}
    # AND no security group is left without egress rules (EC2 would add its allow-all default)
    assert all(egress.values()) and set(egress) == set(GROUPS)


def test_s3_prefix_lists_cover_every_supported_region(synth) -> None:
    mapping = synth.raw["Mappings"]["S3PrefixList"]
    # THEN the template maps every region configured in cdk.json to S3's managed prefix list
    assert set(mapping) == set(synth.config.s3_prefix_lists) >= {"us-east-1", "eu-west-1"}
    assert mapping["eu-west-1"] == {"id": "pl-6da54004"} and mapping["us-east-1"] == {"id": "pl-63a5400a"}
