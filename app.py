#!/usr/bin/env python3
"""CDK app entry point: `cdk synth -c env=dev|prod` (or `python app.py`).

Account and region come from CDK_DEFAULT_ACCOUNT / CDK_DEFAULT_REGION when both are set (the
CDK CLI sets them from your credentials); otherwise the stack is environment-agnostic, which
synthesizes offline with no credentials at all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from aws_cdk import App, Environment

from infra.config import CONTEXT_KEY, load_config, read_context
from infra.nag import acknowledge, attach_packs
from infra.stack import LakeStack

DEFAULT_OUTDIR = "cdk.out"


def build_app(
    env_name: str | None = None,
    outdir: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[App, LakeStack]:
    """Build (not synthesize) the app; tests call this with an explicit env and outdir."""
    environ = os.environ if environ is None else environ
    # The CDK CLI sets CDK_OUTDIR; `python app.py` would otherwise write to a temp dir.
    # Feature flags from cdk.json also apply when the app runs without the CLI (tests).
    flags = {k: v for k, v in read_context().items() if k.startswith("@aws-cdk/")}
    app = App(outdir=outdir or environ.get("CDK_OUTDIR") or DEFAULT_OUTDIR, context=flags)
    env_name = env_name or app.node.try_get_context("env") or "dev"
    section = app.node.try_get_context(CONTEXT_KEY)
    context: dict[str, Any] = {CONTEXT_KEY: section} if section else read_context()
    config = load_config(env_name, context)
    account, region = environ.get("CDK_DEFAULT_ACCOUNT"), environ.get("CDK_DEFAULT_REGION")
    env = Environment(account=account, region=region) if account and region else None
    stack = LakeStack(app, config.prefix, config=config, env=env,
                      description=f"surgical-lake data lake ({config.env_name})")
    attach_packs(app)
    acknowledge(stack, config)
    return app, stack


if __name__ == "__main__":
    built, _ = build_app()
    built.synth()
