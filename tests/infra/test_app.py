"""The app entry point: environments, a pinned account/region without lookups, the CDK CLI offline."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from app import build_app
from infra.config import REPO_ROOT, ConfigError


def test_unknown_environment_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown environment 'staging'"):
        build_app("staging", outdir=str(tmp_path), environ={})


def test_pinned_account_and_region_need_no_context_lookups(tmp_path: Path) -> None:
    # GIVEN the CDK CLI's environment variables for one account and region
    environ = {"CDK_DEFAULT_ACCOUNT": "123456789012", "CDK_DEFAULT_REGION": "eu-west-1"}
    app, stack = build_app("dev", outdir=str(tmp_path), environ=environ)
    # WHEN synthesized
    app.synth()
    # THEN nothing had to be looked up (the CLI would need credentials for that)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert not manifest.get("missing")
    template = json.loads((tmp_path / f"{stack.stack_name}.template.json").read_text())
    subnets = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::EC2::Subnet"]
    assert [s["AvailabilityZone"] for s in subnets] == [
        {"Fn::Select": [i, {"Fn::GetAZs": ""}]} for i in range(3)]
    # AND the AWSSDKPandas layer is the literal ARN for that region
    layers = [r["Properties"]["Layers"] for r in template["Resources"].values()
              if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Layers")]
    assert layers and all(
        layer == ["arn:aws:lambda:eu-west-1:336392948345:layer:AWSSDKPandas-Python312:19"] for layer in layers)
    buckets = [r["Properties"]["BucketName"] for r in template["Resources"].values() if r["Type"] == "AWS::S3::Bucket"]
    assert "surgical-lake-dev-raw-123456789012-eu-west-1" in buckets


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("npx") is None, reason="node/npx not installed")
def test_cdk_cli_synthesizes_offline_without_credentials(tmp_path: Path) -> None:
    # GIVEN no AWS credentials at all, and the CLI pointed at this repository's app
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and not k.startswith("CDK_")}
    env.update({"AWS_EC2_METADATA_DISABLED": "true", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
                "PATH": f"{Path(os.sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"})
    outdir = tmp_path / "cdk.out"
    # WHEN `npx aws-cdk@2 synth` runs (the documented command; `make synth` wraps it)
    result = subprocess.run(
        ["npx", "--yes", "aws-cdk@2", "synth", "-c", "env=prod", "--quiet", "--no-notices", "-o", str(outdir)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    # THEN it succeeds and writes the template and the nag reports
    assert result.returncode == 0, result.stderr[-3000:]
    template = json.loads((outdir / "surgical-lake-prod.template.json").read_text())
    assert any(r["Type"] == "AWS::RedshiftServerless::Workgroup" for r in template["Resources"].values())
    assert (outdir / "AwsSolutions--surgical-lake-prod-NagReport.csv").exists()
