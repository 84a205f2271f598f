"""cdk-nag (AwsSolutions + HIPAA.Security) and cfn-lint on every synthesized template."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk.assertions import Annotations, Match

PACKS = ("AwsSolutions", "HIPAA.Security")
# cfn-lint W3005 ("dependency already enforced") on CDK-generated DependsOn only.
TOLERATED_LINT_WARNINGS = {"W3005"}


def test_no_unacknowledged_nag_errors_or_warnings(synth) -> None:
    # GIVEN the synthesized stack with both packs attached WHEN its annotations are collected
    annotations = Annotations.from_stack(synth.stack)
    errors = annotations.find_error("*", Match.any_value())
    warnings = annotations.find_warning("*", Match.any_value())
    # THEN nothing is left: every finding is fixed or acknowledged in infra/nag.py
    assert [f"{e.id}: {str(e.entry.data)[:160]}" for e in errors] == []
    assert [f"{w.id}: {str(w.entry.data)[:160]}" for w in warnings] == []


def _report(synth, pack: str) -> list[dict[str, str]]:
    path = synth.outdir / f"{pack}--{synth.stack.stack_name}-NagReport.csv"
    with path.open() as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("pack", PACKS)
def test_packs_really_ran_and_suppressions_carry_reasons(synth, pack: str) -> None:
    rows = _report(synth, pack)
    compliance = {r["Compliance"] for r in rows}
    # THEN the pack evaluated rules (compliant rows exist), none is non-compliant, and every
    # suppressed finding has a specific reason
    assert "Compliant" in compliance and "Non-Compliant" not in compliance
    suppressed = [r for r in rows if r["Compliance"] == "Suppressed"]
    assert suppressed
    assert all(len(r["Exception Reason"]) >= 60 for r in suppressed)


def test_dev_only_acknowledgements_are_absent_in_prod(dev, prod) -> None:
    dev_only = {"AwsSolutions-RDS3", "AwsSolutions-RDS10", "HIPAA.Security-RDSMultiAZSupport",
                "HIPAA.Security-RDSInstanceDeletionProtectionEnabled", "HIPAA.Security-RDSInBackupPlan"}
    suppressed = {env: {r["Rule ID"] for pack in PACKS for r in _report(s, pack) if r["Compliance"] == "Suppressed"}
                  for env, s in (("dev", dev), ("prod", prod))}
    assert dev_only <= suppressed["dev"]
    assert not dev_only & suppressed["prod"]
    # AND in prod those rules pass on their own merits
    compliant = {r["Rule ID"] for pack in PACKS for r in _report(prod, pack) if r["Compliance"] == "Compliant"}
    assert dev_only <= compliant


def test_cfn_lint_finds_no_errors(synth) -> None:
    template = synth.outdir / f"{synth.stack.stack_name}.template.json"
    result = subprocess.run(
        [sys.executable, "-m", "cfnlint", "--format", "parseable", str(template)],
        capture_output=True, text=True, check=False,
    )
    findings = [line for line in result.stdout.splitlines() if line.strip()]
    codes = {line.split(":")[5].split()[0] if line.count(":") >= 5 else line for line in findings}
    # THEN no error (exit bit 2) and only tolerated warnings
    assert result.returncode & 2 == 0, result.stdout
    assert codes <= TOLERATED_LINT_WARNINGS, result.stdout
    assert Path(template).stat().st_size > 0


def _acknowledgments(synth) -> list[tuple[str, dict]]:
    return [(lid, rule) for lid, r in synth.raw["Resources"].items()
            for rule in r.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])]


def test_no_acknowledgment_covers_the_whole_stack(synth) -> None:
    # THEN there is no stack-level suppression (it would accept any future grant, on raw too) ...
    assert "cdk_nag" not in synth.raw.get("Metadata", {})
    acknowledged = _acknowledgments(synth)
    assert acknowledged
    # ... and every wildcard acknowledgment names the exact actions/resources it covers
    for lid, rule in acknowledged:
        if rule["id"] in ("AwsSolutions-IAM5", "AwsSolutions-IAM4"):
            assert rule.get("applies_to"), f"{lid}: {rule['id']} without applies_to"
            # (the Data API's statement actions and ec2:Describe* have no resource type)
            assert all(a not in ("Resource::*", "Action::*")
                       or lid.startswith(("CatalogJobRole", "WarehouseApplySql", "ApiRole", "CustomCDKBucketDeployment"))
                       for a in rule["applies_to"] if isinstance(a, str)), lid


def test_raw_bucket_objects_are_acknowledged_only_for_the_raw_roles(synth) -> None:
    raw_grants = {lid.split("DefaultPolicy")[0] for lid, rule in _acknowledgments(synth)
                  if rule["id"] == "AwsSolutions-IAM5" and "StorageRaw" in str(rule["applies_to"])}
    # THEN a wildcard on raw objects is accepted for exactly these roles (a new one must come here)
    expected = {"IngestFunctionServiceRole", "RawAccessOperator", "RawAccessBreakGlass"}
    expected |= {f"RawAccessProducer{p.name.replace('-', '')}" for p in synth.config.producers}
    assert {next(e for e in expected if lid.startswith(e)) if any(lid.startswith(e) for e in expected) else lid
            for lid in raw_grants} == expected


def test_lambda_dlq_acknowledgments_name_their_function_and_the_three_deploy_time_ones(synth) -> None:
    reasons = {lid: rule["reason"] for lid, rule in _acknowledgments(synth) if rule["id"] == "HIPAA.Security-LambdaDLQ"}
    # THEN exactly the functions without a DLQ of their own are acknowledged, each for how it is
    # invoked (the two alerts functions, invoked asynchronously, have the alerts DLQ instead)
    # (CDK's dashboard copier, run by CloudFormation while deploying, likewise: infra/web.py)
    bucket_deployment = {lid: r for lid, r in reasons.items() if lid.startswith("CustomCDKBucketDeployment")}
    assert len(bucket_deployment) == 1 and "rolls it back" in next(iter(bucket_deployment.values()))
    by_function = {lid.rstrip("0123456789ABCDEF"): reason for lid, reason in reasons.items()
                   if lid not in bucket_deployment}
    assert set(by_function) == {"IngestFunction", "DatabaseMigrateFunction", "WarehouseApplySqlFunction",
                                "AthenaCreateViewsFunction", "ApiFunction"}
    deploy_time = [r for r in reasons.values() if "deploy time" in r]
    assert len(by_function) == 5 and len(deploy_time) == 3
    assert all("three deploy-time functions" in r and "two" not in r for r in deploy_time)
    # AND the two others say how they are invoked: the ingest by SQS (its DLQ), the API by API Gateway
    assert [r for lid, r in reasons.items() if lid.startswith("IngestFunction")] == [
        "Ingest/Function is invoked by an SQS event source mapping; a message that fails maxReceiveCount "
        "times goes to the ingest queue's DLQ (redrive policy)."]
    assert [r for lid, r in reasons.items() if lid.startswith("ApiFunction")] == [
        "Api/Function is invoked synchronously by API Gateway: the client receives the error and retries; "
        "there is no event to keep."]


def test_replication_acknowledgment_gives_the_backup_reason_in_prod(dev, prod) -> None:
    for synth, phrase in ((prod, "AWS Backup"), (dev, "disposable")):
        reasons = {lid.rstrip("0123456789ABCDEF"): rule["reason"] for lid, rule in _acknowledgments(synth)
                   if rule["id"] == "HIPAA.Security-S3BucketReplicationEnabled"}
        assert set(reasons) == {"StorageRaw", "StorageProcessed", "StorageQuarantine", "StorageAthenaResults",
                                "StorageAccessLogs", "WebSite"}
        assert "rebuilds" in reasons["WebSite"]
        for bucket in ("StorageRaw", "StorageProcessed", "StorageAccessLogs"):
            assert phrase in reasons[bucket]
