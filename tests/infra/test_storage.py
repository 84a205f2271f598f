"""Every lake bucket: KMS + bucket key, versioned, private, TLS-only, logged, with lifecycles."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

DATA_BUCKETS = ("raw", "processed", "quarantine", "athena-results")


def _buckets(synth) -> dict[str, dict]:
    """Bucket properties keyed by logical kind (the name's component after the env prefix)."""
    out = {}
    for res in synth.resources("AWS::S3::Bucket").values():
        name = res["Properties"]["BucketName"]
        joined = "".join(p if isinstance(p, str) else "|" for p in name["Fn::Join"][1])
        kind = joined.removeprefix(f"{synth.config.prefix}-").split("-|")[0]
        out[kind] = res
    return out


def test_the_five_buckets_exist(synth) -> None:
    # GIVEN the synthesized stack WHEN its buckets are listed THEN exactly the configured kinds exist, and the
    # dashboard's (infra/web.py, tests/infra/test_web.py)
    assert sorted(_buckets(synth)) == sorted((*DATA_BUCKETS, "logs", "web"))


@pytest.mark.parametrize("kind", DATA_BUCKETS)
def test_data_bucket_secure_defaults(synth, kind: str) -> None:
    # GIVEN a data bucket
    props = _buckets(synth)[kind]["Properties"]
    # THEN it is KMS-encrypted with the stack's data key and an S3 Bucket Key
    rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    # (raw: its own key and no Bucket Key, so each object's ARN is its KMS encryption context)
    key, bucket_key = ("KeysRawKey", False) if kind == "raw" else ("KeysDataKey", True)
    assert rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]["Fn::GetAtt"][0].startswith(key)
    assert rule["BucketKeyEnabled"] is bucket_key
    # AND versioned, all public access blocked, access logs to the log bucket under its own prefix
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["LoggingConfiguration"]["DestinationBucketName"]["Ref"].startswith("StorageAccessLogs")
    assert props["LoggingConfiguration"]["LogFilePrefix"] == f"{kind}/"
    assert props["LifecycleConfiguration"]["Rules"]


def test_access_log_bucket_is_sse_s3_private_and_versioned(synth) -> None:
    props = _buckets(synth)["logs"]["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True


def test_every_bucket_policy_denies_plain_http_and_old_tls(synth) -> None:
    # GIVEN the bucket policies WHEN grouped by bucket THEN each bucket has one denying non-TLS
    policies = synth.resources("AWS::S3::BucketPolicy")
    assert len(policies) == 6  # the five lake buckets and the dashboard's
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        deny_http = [s for s in statements if s["Effect"] == "Deny"
                     and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"]
        deny_tls = [s for s in statements if s["Effect"] == "Deny"
                    and "NumericLessThan" in s.get("Condition", {})]
        assert deny_http and deny_http[0]["Action"] == "s3:*"
        assert deny_tls[0]["Condition"]["NumericLessThan"]["s3:TlsVersion"] == 1.2


def test_lifecycle_rules(dev) -> None:
    buckets = _buckets(dev)
    raw_rules = {r["Id"]: r for r in buckets["raw"]["Properties"]["LifecycleConfiguration"]["Rules"]}
    # THEN raw moves to IA after 30 days and Glacier after 90 (dev's cdk.json), expires after 180
    assert raw_rules["raw-retention"]["Transitions"] == [
        {"StorageClass": "STANDARD_IA", "TransitionInDays": 30},
        {"StorageClass": "GLACIER", "TransitionInDays": 90},
    ]
    assert raw_rules["raw-retention"]["ExpirationInDays"] == 180
    assert raw_rules["noncurrent-versions-and-uploads"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    quarantine = {r["Id"]: r for r in buckets["quarantine"]["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert quarantine["quarantine-expiry"]["ExpirationInDays"] == dev.config.quarantine_expiry_days


def test_removal_policy_follows_the_environment(dev, prod) -> None:
    # GIVEN dev (destroy allowed) and prod (retain) THEN buckets are deleted resp. retained, except
    # after a failed first create (RetainExceptOnCreate: the retry must not meet their names)
    # (the dashboard's bucket holds only what every deploy rebuilds from web/: deleted with the stack)
    assert {b["DeletionPolicy"] for b in _buckets(dev).values()} == {"Delete"}
    lake = {kind: b for kind, b in _buckets(prod).items() if kind != "web"}
    assert {(b["DeletionPolicy"], b["UpdateReplacePolicy"]) for b in lake.values()} == {
        ("RetainExceptOnCreate", "Retain")}
    assert _buckets(prod)["web"]["DeletionPolicy"] == "Delete"
    assert len(prod.resources("Custom::S3AutoDeleteObjects")) == 1  # the dashboard's bucket only
    assert len(dev.resources("Custom::S3AutoDeleteObjects")) == 6


def test_kms_keys_rotate(synth) -> None:
    keys = synth.resources("AWS::KMS::Key")
    # data, ops, raw, the PHI HMAC secret's own (infra/phi_secret.py), + the backup vault's where
    # data is retained
    assert len(keys) == (5 if synth.config.retain_data else 4)
    assert all(k["Properties"]["EnableKeyRotation"] is True for k in keys.values())
    synth.template.has_resource_properties("AWS::KMS::Alias", {"AliasName": f"alias/{synth.config.prefix}-data"})
    synth.template.has_resource_properties("AWS::KMS::Alias", Match.object_like(
        {"AliasName": f"alias/{synth.config.prefix}-ops"}))
    synth.template.has_resource_properties("AWS::KMS::Alias", {"AliasName": f"alias/{synth.config.prefix}-phi-hmac"})
