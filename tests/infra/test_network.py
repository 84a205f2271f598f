"""Network: isolated subnets only, endpoints instead of NAT, flow logs, and tight security groups."""

from __future__ import annotations

from infra.network import INTERFACE_ENDPOINTS

# Security group (logical id prefix) -> the only security groups allowed in.
ALLOWED_SG_INGRESS = {
    "DatabaseDbSg": {"DatabaseProxySg", "DatabaseMigrateSg", "WarehouseSg",
                     "DatabaseInstanceRotationSingleUserSecurityGroup"},
    "DatabaseProxySg": {"IngestSg", "AlertsFunctionSg"},
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
        allowed = ALLOWED_SG_INGRESS[_prefix(target, ALLOWED_SG_INGRESS)]
        source = rule["SourceSecurityGroupId"]["Fn::GetAtt"][0]
        assert _prefix(source, allowed), f"{source} may not reach {target}"


def test_database_is_reachable_from_exactly_the_expected_groups(synth) -> None:
    sources = {_prefix(r["SourceSecurityGroupId"]["Fn::GetAtt"][0], ALLOWED_SG_INGRESS["DatabaseDbSg"])
               for t, r in _ingress_rules(synth) if t.startswith("DatabaseDbSg")}
    assert sources == ALLOWED_SG_INGRESS["DatabaseDbSg"]
    proxy_sources = {r["SourceSecurityGroupId"]["Fn::GetAtt"][0]
                     for t, r in _ingress_rules(synth) if t.startswith("DatabaseProxySg")}
    assert {_prefix(s, ALLOWED_SG_INGRESS["DatabaseProxySg"]) for s in proxy_sources} == {"IngestSg", "AlertsFunctionSg"}
    assert len(proxy_sources) == 2


def test_default_security_group_is_stripped(synth) -> None:
    assert len(synth.resources("Custom::VpcRestrictDefaultSG")) == 1
