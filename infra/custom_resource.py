"""A deploy-time custom resource backed directly by one of our own Lambdas.

CloudFormation invokes our Python function itself (service token = its ARN), and the function
answers on the pre-signed response URL through the VPC's S3 gateway endpoint: one function, in
the VPC, encrypted logs, nothing else to secure (CDK's `Provider` could run in the VPC too, but
adds a Node.js framework function per provider; docs/adr/infra-deploy-decisions.md).

A deploy must fail fast, not hang: the function answers before its own timeout (a watchdog in
`lambdas/custom_resource.py` counts down from the invocation's remaining time), the resource
carries a `ServiceTimeout` a minute past the function's timeout (for a function that never
answers, e.g. one that crashes while importing), and the function is not retried
asynchronously (a retry would run the work again after CloudFormation got its answer).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import CustomResource, Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct, IDependable

from infra.bundling import LAMBDA_RUNTIME
from infra.log_groups import LogGroupFactory

# CloudFormation's wait after the function's own timeout: the asynchronous invoke may queue
# briefly, and the response PUT needs a few seconds. ServiceTimeout is at most 3600 s.
SERVICE_TIMEOUT_MARGIN = Duration.minutes(1)


@dataclass(frozen=True)
class DeployTimeFunctionProps:
    function_name: str
    handler: str
    code: lambda_.Code
    description: str
    vpc: ec2.IVpc
    subnets: ec2.SubnetSelection
    log_groups: LogGroupFactory
    env_key: kms.IKey
    timeout: Duration = Duration.minutes(10)
    environment: Mapping[str, str] | None = None
    # What the function needs before CloudFormation may call it: the VPC endpoints (it answers
    # through the S3 gateway endpoint), security-group rules, the target database...
    depends_on: tuple[IDependable, ...] = ()


class DeployTimeFunction(Construct):
    """A VPC Lambda run by CloudFormation at deploy time, plus its security group."""

    def __init__(self, scope: Construct, construct_id: str, props: DeployTimeFunctionProps) -> None:
        super().__init__(scope, construct_id)
        self._depends_on = props.depends_on
        self.timeout = props.timeout
        self.security_group = ec2.SecurityGroup(
            self, "Sg", vpc=props.vpc, description=f"{props.function_name} (egress only)",
            allow_all_outbound=False,  # the stack allows what it needs (infra/network.py)
        )
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=props.function_name,
            description=props.description,
            runtime=LAMBDA_RUNTIME,
            handler=props.handler,
            code=props.code,
            timeout=props.timeout,
            memory_size=512,
            # Deploy-time only: one run at a time is all CloudFormation ever needs.
            reserved_concurrent_executions=1,
            retry_attempts=0,
            vpc=props.vpc,
            vpc_subnets=props.subnets,
            security_groups=[self.security_group],
            environment_encryption=props.env_key,
            environment=dict(props.environment or {}),
            log_group=props.log_groups.create(self, "Logs", f"/aws/lambda/{props.function_name}"),
        )

    def run(self, construct_id: str, resource_type: str, properties: Mapping[str, object]) -> CustomResource:
        """A custom resource that CloudFormation creates/updates through this function."""
        resource = CustomResource(
            self,
            construct_id,
            service_token=self.function.function_arn,
            resource_type=resource_type,
            properties=dict(properties),
            service_timeout=Duration.seconds(self.timeout.to_seconds() + SERVICE_TIMEOUT_MARGIN.to_seconds()),
        )
        for dependency in self._depends_on:
            resource.node.add_dependency(dependency)
        return resource
