"""Network: a VPC with private isolated subnets only, reached by AWS services through endpoints.

The VPC spans three AZs because Redshift Serverless requires subnets in three; everything else
(RDS, the Lambdas, Glue) uses two of them; the interface endpoints, billed per AZ and hour, sit
in `interface_endpoint_azs` of them (dev: one, reached cross-AZ; prod: two).
Nothing in the lake needs the internet: the Lambdas, Glue, RDS and Redshift talk to AWS APIs
through a gateway endpoint (S3) and interface endpoints, so there is no NAT gateway to pay for
or to leak through. Flow logs go to a KMS-encrypted log group.

Data perimeter (docs/adr/0008-data-perimeter.md): every endpoint's policy admits only requests
by this account's principals to this account's resources (`aws:PrincipalAccount`,
`aws:ResourceAccount`), so code in the VPC (or Redshift with enhanced VPC routing) cannot copy
data to another account's bucket or use another account's credentials. Named exceptions:
CloudFormation's response bucket (custom resources answer there) and the few API actions that
have no resource (only the principal's account is checked). Workload security groups send
only HTTPS to the endpoints' security group and the S3 prefix list (`allow_aws_apis`), plus
the database port where they need it.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws, CfnMapping, Fn, RemovalPolicy, Stack, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import LakeConfig

# Interface endpoints the ETL and the deploy-time custom resources call.
INTERFACE_ENDPOINTS: dict[str, ec2.InterfaceVpcEndpointAwsService] = {
    "SecretsManager": ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
    "Sqs": ec2.InterfaceVpcEndpointAwsService.SQS,
    "Glue": ec2.InterfaceVpcEndpointAwsService.GLUE,
    "Kms": ec2.InterfaceVpcEndpointAwsService.KMS,
    "Logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    "Sts": ec2.InterfaceVpcEndpointAwsService.STS,
    # The Redshift SQL custom resource: Data API + GetNamespace (the managed admin secret's ARN).
    "RedshiftData": ec2.InterfaceVpcEndpointAwsService.REDSHIFT_DATA,
    "RedshiftServerless": ec2.InterfaceVpcEndpointAwsService.REDSHIFT_SERVERLESS,
    # The Athena views custom resource.
    "Athena": ec2.InterfaceVpcEndpointAwsService.ATHENA,
    # The alert path: the Glue job invokes the alerts function, which puts events on the bus;
    # the router publishes them to SNS (infra/alerts.py).
    "Lambda": ec2.InterfaceVpcEndpointAwsService.LAMBDA_,
    "Events": ec2.InterfaceVpcEndpointAwsService.EVENTBRIDGE,
    "Sns": ec2.InterfaceVpcEndpointAwsService.SNS,
}


# Actions without a resource type (no aws:ResourceAccount to compare), per endpoint: only the
# caller's account is checked. Each is called by this stack's code: the rotation function
# (GetRandomPassword) and the Redshift SQL custom resource (statement status and results).
NO_RESOURCE_ACTIONS: dict[str, tuple[str, ...]] = {
    "SecretsManager": ("secretsmanager:GetRandomPassword",),
    "RedshiftData": ("redshift-data:DescribeStatement", "redshift-data:GetStatementResult",
                     "redshift-data:ListStatements", "redshift-data:CancelStatement"),
    "Sts": ("sts:GetCallerIdentity",),
}


def s3_prefix_list_id(scope: Construct, config: LakeConfig) -> str:
    """S3's AWS-managed prefix list: literal for a pinned region, a CfnMapping when env-agnostic."""
    region = Stack.of(scope).region
    if not Token.is_unresolved(region):
        return config.s3_prefix_list(region)
    mapping = CfnMapping(scope, "S3PrefixList",
                         mapping={r: {"id": pl} for r, pl in config.s3_prefix_lists.items()})
    return mapping.find_in_map(Aws.REGION, "id")


def custom_resource_response_bucket_objects() -> str:
    """CloudFormation's bucket for custom resource responses: the region without dashes
    (cloudformation-custom-resource-response-uswest2; AWS CloudFormation User Guide,
    "Setting up VPC endpoints for AWS CloudFormation")."""
    region = Fn.join("", Fn.split("-", Aws.REGION))
    return f"arn:{Aws.PARTITION}:s3:::cloudformation-custom-resource-response-{region}/*"


@dataclass(frozen=True)
class NetworkProps:
    log_key: kms.IKey
    s3_prefix_list_id: str
    log_retention: logs.RetentionDays
    removal_policy: RemovalPolicy
    availability_zones: tuple[str, ...] | None = None  # None: Fn::GetAZs (env-agnostic)
    max_azs: int = 3
    workload_azs: int = 2
    endpoint_azs: int = 2
    cidr: str = "10.40.0.0/16"


class LakeNetwork(Construct):
    """VPC over three AZs (workloads in two), isolated subnets, S3 gateway + interface endpoints, encrypted flow logs."""

    def __init__(self, scope: Construct, construct_id: str, props: NetworkProps) -> None:
        super().__init__(scope, construct_id)
        azs = list(props.availability_zones) if props.availability_zones else None
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(props.cidr),
            max_azs=None if azs else props.max_azs,
            availability_zones=azs,
            nat_gateways=0,
            restrict_default_security_group=True,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=22
                )
            ],
        )
        # Workloads and endpoints: the first two AZs. Redshift Serverless: all three.
        self.subnets = ec2.SubnetSelection(subnets=self.vpc.isolated_subnets[: props.workload_azs])
        self.warehouse_subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)

        flow_log_group = logs.LogGroup(
            self,
            "FlowLogs",
            encryption_key=props.log_key,
            retention=props.log_retention,
            removal_policy=props.removal_policy,
        )
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )

        self.s3_prefix_list_id = props.s3_prefix_list_id
        self.s3_endpoint = self.vpc.add_gateway_endpoint(
            "S3", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[self.warehouse_subnets]
        )
        _perimeter(self.s3_endpoint)
        self.s3_endpoint.add_to_policy(iam.PolicyStatement(
            sid="CustomResourceResponsesToCloudFormation", principals=[iam.AnyPrincipal()],
            actions=["s3:PutObject"], resources=[custom_resource_response_bucket_objects()],
        ))
        self.endpoint_security_group = ec2.SecurityGroup(
            self,
            "EndpointSg",
            vpc=self.vpc,
            description="Interface endpoints: HTTPS from inside the VPC only",
            allow_all_outbound=False,
        )
        self.endpoint_security_group.add_ingress_rule(
            ec2.Peer.ipv4(props.cidr), ec2.Port.tcp(443), "HTTPS from the VPC"
        )
        self.endpoints: dict[str, ec2.InterfaceVpcEndpoint] = {
            name: self.vpc.add_interface_endpoint(
                name,
                service=service,
                subnets=ec2.SubnetSelection(subnets=self.vpc.isolated_subnets[: props.endpoint_azs]),
                private_dns_enabled=True,
                open=False,
                security_groups=[self.endpoint_security_group],
            )
            for name, service in INTERFACE_ENDPOINTS.items()
        }
        for name, endpoint in self.endpoints.items():
            _perimeter(endpoint, NO_RESOURCE_ACTIONS.get(name, ()))

    def allow_aws_apis(self, security_group: ec2.ISecurityGroup, *, s3: bool = True) -> None:
        """Egress a workload needs of AWS: HTTPS to the interface endpoints and, unless `s3` is
        False, to S3 (the gateway endpoint's prefix list). Its security group must not allow all
        outbound."""
        security_group.add_egress_rule(self.endpoint_security_group, ec2.Port.tcp(443),
                                       "HTTPS to the interface endpoints")
        if s3:
            security_group.add_egress_rule(ec2.Peer.prefix_list(self.s3_prefix_list_id), ec2.Port.tcp(443),
                                           "HTTPS to S3 through the gateway endpoint")


def _perimeter(endpoint: ec2.GatewayVpcEndpoint | ec2.InterfaceVpcEndpoint,
               no_resource_actions: tuple[str, ...] = ()) -> None:
    """Only this account's principals, only to this account's resources."""
    endpoint.add_to_policy(iam.PolicyStatement(
        sid="OwnAccountPrincipalsToOwnAccountResources", principals=[iam.AnyPrincipal()], actions=["*"],
        resources=["*"],
        conditions={"StringEquals": {"aws:PrincipalAccount": Aws.ACCOUNT_ID, "aws:ResourceAccount": Aws.ACCOUNT_ID}},
    ))
    if no_resource_actions:
        endpoint.add_to_policy(iam.PolicyStatement(
            sid="OwnAccountPrincipalsActionsWithoutResource", principals=[iam.AnyPrincipal()],
            actions=list(no_resource_actions), resources=["*"],
            conditions={"StringEquals": {"aws:PrincipalAccount": Aws.ACCOUNT_ID}},
        ))
