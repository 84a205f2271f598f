"""Synthesize the app once per session for each environment (synth takes ~10 s).

Every part the stack deploys (the rollup script, the SQL folders, the Lambda requirements) is
the repository's own: a missing one fails the synth, and so these fixtures.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk.assertions import Template  # noqa: E402

from app import build_app  # noqa: E402
from infra.config import LakeConfig, load_config  # noqa: E402
from infra.stack import LakeStack  # noqa: E402


@dataclass
class Synth:
    config: LakeConfig
    stack: LakeStack
    template: Template
    raw: dict[str, Any]
    outdir: Path

    def resources(self, cfn_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.raw["Resources"].items() if v["Type"] == cfn_type}

    def one(self, cfn_type: str) -> dict[str, Any]:
        found = self.resources(cfn_type)
        assert len(found) == 1, f"expected one {cfn_type}, found {sorted(found)}"
        return next(iter(found.values()))["Properties"]


def _synth(env_name: str, tmp: Path) -> Synth:
    outdir = tmp / "cdk.out"
    app, stack = build_app(env_name, outdir=str(outdir), environ={})
    app.synth()
    raw = json.loads((outdir / f"{stack.stack_name}.template.json").read_text())
    return Synth(load_config(env_name), stack, Template.from_json(raw), raw, outdir)


@pytest.fixture(scope="session")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return _synth("dev", tmp_path_factory.mktemp("synth-dev"))


@pytest.fixture(scope="session")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return _synth("prod", tmp_path_factory.mktemp("synth-prod"))


@pytest.fixture(scope="session", params=["dev", "prod"])
def synth(request: pytest.FixtureRequest) -> Synth:
    return request.getfixturevalue(request.param)
