"""The dashboard's AWS resources (infra/web.py): S3 behind CloudFront with OAC, the Cognito hosted UI
client (code grant, PKCE), the API behind the same origin, the bundle built before synth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match

from infra.web import API_PATH, WebBundleMissing, require_bundle


def _distribution(synth) -> dict[str, Any]:
    return synth.one("AWS::CloudFront::Distribution")["DistributionConfig"]


def test_bucket_is_private_and_read_only_through_origin_access_control(synth) -> None:
    (site_id,) = [k for k in synth.resources("AWS::S3::Bucket") if k.startswith("WebSite")]
    site = synth.raw["Resources"][site_id]["Properties"]
    assert site["PublicAccessBlockConfiguration"] == {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                                      "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    assert site["LoggingConfiguration"]["LogFilePrefix"] == "web/"
    oac = synth.one("AWS::CloudFront::OriginAccessControl")["OriginAccessControlConfig"]
    assert (oac["SigningBehavior"], oac["SigningProtocol"], oac["OriginAccessControlOriginType"]) == (
        "always", "sigv4", "s3")
    s3_origin = next(o for o in _distribution(synth)["Origins"] if "S3OriginConfig" in o)
    assert s3_origin["OriginAccessControlId"] and s3_origin["S3OriginConfig"]["OriginAccessIdentity"] == ""
    # the bucket policy lets only this distribution's CloudFront service principal read, and denies plain HTTP
    policy = next(p["Properties"]["PolicyDocument"]["Statement"] for p in synth.resources("AWS::S3::BucketPolicy")
                  .values() if p["Properties"]["Bucket"] == {"Ref": site_id})
    reads = [s for s in policy if s["Effect"] == "Allow" and s.get("Principal") == {"Service": "cloudfront.amazonaws.com"}]
    assert len(reads) == 1 and reads[0]["Action"] == "s3:GetObject"
    assert "AWS:SourceArn" in json.dumps(reads[0]["Condition"])
    assert any(s["Effect"] == "Deny" and "aws:SecureTransport" in json.dumps(s.get("Condition")) for s in policy)
    assert not [s for s in policy if s["Effect"] == "Allow" and s.get("Principal") == "*"]


def test_https_only_security_headers_and_the_api_on_the_same_origin(synth) -> None:
    config = _distribution(synth)
    assert config["DefaultRootObject"] == "index.html"
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    (api,) = config["CacheBehaviors"]
    assert api["PathPattern"] == API_PATH and api["ViewerProtocolPolicy"] == "https-only"
    assert api["AllowedMethods"] == ["GET", "HEAD", "OPTIONS"]
    # CachingDisabled + AllViewerExceptHostHeader: per-user responses are never cached, Authorization is forwarded
    assert api["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
    assert api["OriginRequestPolicyId"] == "b689b0a8-53d0-40ab-baf2-68738e2966ac"
    api_origin = next(o for o in config["Origins"] if o["Id"] == api["TargetOriginId"])
    assert api_origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert "ApiRestApi" in json.dumps(api_origin["OriginPath"])  # "/" + the stage of the API's URL
    headers = synth.one("AWS::CloudFront::ResponseHeadersPolicy")["ResponseHeadersPolicyConfig"]
    security = headers["SecurityHeadersConfig"]
    csp = json.dumps(security["ContentSecurityPolicy"]["ContentSecurityPolicy"])
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "amazoncognito.com" in csp
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    assert security["FrameOptions"]["FrameOption"] == "DENY"


def test_hosted_ui_client_uses_the_code_grant_only(synth) -> None:
    clients = {c["Properties"]["ClientName"].rsplit("-", 1)[1]: c["Properties"]
               for c in synth.resources("AWS::Cognito::UserPoolClient").values()}
    # only the dashboard's client may use the hosted UI (the API's client signs in with SRP, no OAuth flows)
    assert [name for name, c in clients.items() if c.get("AllowedOAuthFlowsUserPoolClient")] == ["web"]
    assert "AllowedOAuthFlows" not in clients["api"]
    web = clients["web"]
    assert web["AllowedOAuthFlows"] == ["code"] and web["GenerateSecret"] is False  # public client: PKCE
    assert sorted(web["AllowedOAuthScopes"]) == ["email", "openid"]
    assert web["SupportedIdentityProviders"] == ["COGNITO"]
    callback = json.dumps(web["CallbackURLs"])
    assert "WebDistribution" in callback and "DomainName" in callback  # the distribution, nothing else
    assert not {"ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH"} & set(web.get("ExplicitAuthFlows", []))
    domain = synth.one("AWS::Cognito::UserPoolDomain")
    assert "-dashboard" not in json.dumps(domain) and domain["UserPoolId"]


def test_the_built_bundle_and_its_config_are_deployed(synth) -> None:
    deployment = next(iter(synth.resources("Custom::CDKBucketDeployment").values()))["Properties"]
    assert len(deployment["SourceObjectKeys"]) == 2  # the bundle and config.json
    assert deployment["DistributionPaths"] == ["/index.html", "/config.json"]
    config = json.dumps(deployment["SourceMarkers"])
    assert "ApiUsersWebClient" in config and "ApiUsersHostedUi" in config and "WebDistribution" in config
    synth.template.has_output("DashboardUrl", {"Value": Match.any_value()})
    # the asset is web/dist as built by npm (index.html + hashed assets), copied into cdk.out
    assets = [p for p in synth.outdir.glob("asset.*") if (p / "index.html").is_file()]
    assert assets and any((p / "assets").is_dir() for p in assets)


def test_synth_without_a_build_says_how_to_build(tmp_path: Path) -> None:
    with pytest.raises(WebBundleMissing, match="make web"):
        require_bundle(tmp_path)
    (tmp_path / "index.html").write_text("<!DOCTYPE html>")
    assert require_bundle(tmp_path) == tmp_path
