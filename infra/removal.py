"""What happens to the stateful resources when the stack deletes or replaces them.

Environments that keep their data (`retain_data`, prod) keep it on update and delete, but not
after a failed first create: CloudFormation's `RetainExceptOnCreate` deletes what a rolled-back
create made, so the retry does not collide with the fixed names of the buckets, log groups,
backup vault and key aliases it left behind (AWS CloudFormation docs, "DeletionPolicy
attribute"). Other environments delete everything with the stack.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy

from infra.config import LakeConfig


def data_removal_policy(config: LakeConfig) -> RemovalPolicy:
    """RETAIN_ON_UPDATE_OR_DELETE (RetainExceptOnCreate) when data is kept, else DESTROY."""
    return RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE if config.retain_data else RemovalPolicy.DESTROY
