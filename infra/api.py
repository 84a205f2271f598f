"""Serving: API Gateway (REST) + Cognito + the API Lambda in the VPC, WAF in prod.

- Cognito user pool: no self sign-up, MFA required (TOTP), 14-character passwords, threat
  protection enforced (Plus plan); groups `admin` and `phi:pseudonymized` are created here,
  `facility:FAC-003`-style groups by whoever onboards a facility (README "Serving").
- API Gateway: `/v1/health`, `/v1/openapi.json` and `/v1/docs` open; every other `/v1/...`
  path behind the Cognito authorizer (ID tokens; the function reads their claims). Stage
  throttling, X-Ray, execution logs at ERROR without request/response data, access logs (who,
  which resource, status, bytes; no query strings) to a KMS-encrypted log group with retention,
  and the execution log group pre-created the same way. prod: a WAF web ACL (AWS managed
  common, known-bad-inputs and IP-reputation rules, a per-IP rate limit), logging to its own
  encrypted log group with the Authorization header redacted.
- The function: `api.lambda_handler.handler`, bundled like the others (pinned wheels), in the
  isolated subnets; its security group's only egress is RDS Proxy (5432) and the interface
  endpoints (443: Secrets Manager, Redshift Data, Redshift Serverless). It reads RDS as
  `lake_api` (its own secret) and the warehouse through the Data API as `IAMR:<prefix>-api`,
  the database user the warehouse SQL grants read access to (`sql/redshift/9x_api_reader_*`).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from api.principal import ADMIN_GROUP, PHI_GROUP
from infra.bundling import LAMBDA_RUNTIME, lambda_code
from infra.config import REPO_ROOT, LakeConfig
from infra.log_groups import LogGroupFactory
from infra.removal import data_removal_policy

API_REQUIREMENTS = REPO_ROOT / "api" / "requirements.txt"
API_HANDLER = "api.lambda_handler.handler"
PUBLIC_PATHS = ("health", "openapi.json", "docs")  # under /v1; docs also /v1/docs/{asset}
# Stage throttling (all clients together) and the WAF's per-IP limit (requests per 5 minutes).
THROTTLE_RATE_PER_SECOND = 50
THROTTLE_BURST = 100
WAF_RATE_PER_IP_5MIN = 2000
RESERVED_CONCURRENCY = 20
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId", "ip": "$context.identity.sourceIp", "user": "$context.authorizer.claims.sub",
    "method": "$context.httpMethod", "resource": "$context.resourcePath", "status": "$context.status",
    "bytes": "$context.responseLength", "latencyMs": "$context.responseLatency",
    "integrationMs": "$context.integrationLatency", "time": "$context.requestTimeEpoch",
}


@dataclass(frozen=True)
class ApiProps:
    config: LakeConfig
    data_key: kms.IKey
    vpc: ec2.IVpc
    subnets: ec2.SubnetSelection
    log_groups: LogGroupFactory
    db_secret: secretsmanager.ISecret  # lake_api's
    db_host: str  # the RDS Proxy endpoint
    db_port: str
    db_name: str
    db_security_group: ec2.ISecurityGroup  # the proxy's
    endpoint_security_group: ec2.ISecurityGroup
    warehouse_workgroup: str
    warehouse_workgroup_arn: str
    warehouse_database: str
    waf: bool


def api_db_user(config: LakeConfig) -> str:
    """The Redshift user the Data API maps the function's role to (IAM identity, Serverless)."""
    return f"IAMR:{api_role_name(config)}"


def api_role_name(config: LakeConfig) -> str:
    return f"{config.prefix}-api"


class LakeApi(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: ApiProps) -> None:
        super().__init__(scope, construct_id)
        cfg = props.config
        self.user_pool = self._user_pool(cfg)
        self.client = self.user_pool.add_client(
            "Client", user_pool_client_name=f"{cfg.prefix}-api", generate_secret=False,
            auth_flows=cognito.AuthFlow(user_srp=True, user_password=True),
            prevent_user_existence_errors=True, id_token_validity=Duration.hours(1),
            access_token_validity=Duration.hours(1), refresh_token_validity=Duration.hours(12),
            disable_o_auth=True,  # API clients sign in with SRP; the hosted UI is the dashboard's client only
        )
        self.function = self._function(props)
        self.rest_api = self._rest_api(props)
        if props.waf:
            self._waf(cfg, props.log_groups)

    def _user_pool(self, cfg: LakeConfig) -> cognito.UserPool:
        pool = cognito.UserPool(
            self, "Users", user_pool_name=f"{cfg.prefix}-users", self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True), sign_in_case_sensitive=False,
            mfa=cognito.Mfa.REQUIRED, mfa_second_factor=cognito.MfaSecondFactor(sms=False, otp=True),
            password_policy=cognito.PasswordPolicy(min_length=14, require_lowercase=True, require_uppercase=True,
                                                   require_digits=True, require_symbols=True,
                                                   temp_password_validity=Duration.days(3)),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            deletion_protection=cfg.retain_data,
            removal_policy=data_removal_policy(cfg),  # prod: RetainExceptOnCreate (infra/removal.py)
        )
        for name, description in ((ADMIN_GROUP, "every facility and the ingest ledger"),
                                  (PHI_GROUP, "patient-level fields (pseudonymized key, age, 90+ flag, ZIP3)")):
            cognito.CfnUserPoolGroup(self, f"Group{name.split(':')[0].title()}", user_pool_id=pool.user_pool_id,
                                     group_name=name, description=description)
        return pool

    def _function(self, props: ApiProps) -> lambda_.Function:
        cfg = props.config
        self.security_group = ec2.SecurityGroup(
            self, "Sg", vpc=props.vpc, description="API Lambda: RDS Proxy and the interface endpoints only",
            allow_all_outbound=False,
        )
        self.security_group.add_egress_rule(props.db_security_group, ec2.Port.tcp(5432), "RDS Proxy")
        self.security_group.add_egress_rule(props.endpoint_security_group, ec2.Port.tcp(443),
                                            "Secrets Manager, Redshift Data API and Serverless endpoints")
        role = iam.Role(
            self, "Role", role_name=api_role_name(cfg), assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="The query API function (its Redshift user is IAMR:<this role's name>)",
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(
                "service-role/AWSLambdaVPCAccessExecutionRole")],
        )
        function = lambda_.Function(
            self, "Function", function_name=f"{cfg.prefix}-api",
            description="The query API (FastAPI through Mangum): scoped reads of RDS and Redshift",
            runtime=LAMBDA_RUNTIME, architecture=lambda_.Architecture.X86_64, handler=API_HANDLER,
            code=lambda_code(API_REQUIREMENTS, ("api", "sql/redshift")),
            timeout=Duration.seconds(29), memory_size=1024, role=role,
            reserved_concurrent_executions=RESERVED_CONCURRENCY,
            vpc=props.vpc, vpc_subnets=props.subnets, security_groups=[self.security_group],
            log_group=props.log_groups.create(self, "Logs", f"/aws/lambda/{cfg.prefix}-api"),
            environment_encryption=props.data_key,
            environment={
                "DB_SECRET_ARN": props.db_secret.secret_arn, "DB_HOST": props.db_host, "DB_PORT": props.db_port,
                "DB_NAME": props.db_name, "REDSHIFT_WORKGROUP": props.warehouse_workgroup,
                "REDSHIFT_DATABASE": props.warehouse_database,
                **cfg.detection.sql_placeholders(),  # the views' settings (api/catalog.py)
            },
        )
        props.db_secret.grant_read(function)
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="DataApiOnTheWorkgroup", resources=[props.warehouse_workgroup_arn],
            actions=["redshift-data:ExecuteStatement", "redshift-serverless:GetCredentials",
                     "redshift-serverless:GetWorkgroup"]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="DataApiOwnStatementsOnly", resources=["*"],
            actions=["redshift-data:DescribeStatement", "redshift-data:GetStatementResult",
                     "redshift-data:CancelStatement"],
            conditions={"StringEquals": {"redshift-data:statement-owner-iam-userid": "${aws:userid}"}}))
        return function

    def _rest_api(self, props: ApiProps) -> apigw.RestApi:
        cfg = props.config
        stage = cfg.env_name
        access_logs = props.log_groups.create(self, "AccessLogs", f"/aws/apigateway/{cfg.prefix}-api/access")
        api = apigw.RestApi(
            self, "RestApi", rest_api_name=f"{cfg.prefix}-api",
            description="surgical-lake query API (Cognito-authenticated, scoped per facility)",
            endpoint_configuration=apigw.EndpointConfiguration(types=[apigw.EndpointType.REGIONAL]),
            cloud_watch_role=True, cloud_watch_role_removal_policy=RemovalPolicy.DESTROY,
            disable_execute_api_endpoint=False,
            deploy_options=apigw.StageOptions(
                stage_name=stage, throttling_rate_limit=THROTTLE_RATE_PER_SECOND,
                throttling_burst_limit=THROTTLE_BURST, tracing_enabled=True, metrics_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR, data_trace_enabled=False,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.custom(
                    "{" + ",".join(f'"{k}":"{v}"' for k, v in ACCESS_LOG_FIELDS.items()) + "}"),
            ),
        )
        # API Gateway would create the execution log group itself: unencrypted, kept forever.
        execution_logs = props.log_groups.create(
            self, "ExecutionLogs", f"API-Gateway-Execution-Logs_{api.rest_api_id}/{stage}")
        api.deployment_stage.node.add_dependency(execution_logs)
        authorizer = apigw.CognitoUserPoolsAuthorizer(
            self, "Authorizer", cognito_user_pools=[self.user_pool], authorizer_name=f"{cfg.prefix}-cognito",
            identity_source="method.request.header.Authorization", results_cache_ttl=Duration.minutes(5))
        integration = apigw.LambdaIntegration(self.function, proxy=True)
        v1 = api.root.add_resource("v1")
        for path in PUBLIC_PATHS:
            resource = v1.add_resource(path)
            resource.add_method("GET", integration, authorization_type=apigw.AuthorizationType.NONE)
        v1.get_resource("docs").add_resource("{asset}").add_method(  # type: ignore[union-attr]
            "GET", integration, authorization_type=apigw.AuthorizationType.NONE)
        v1.add_resource("{proxy+}").add_method("GET", integration, authorizer=authorizer,
                                               authorization_type=apigw.AuthorizationType.COGNITO)
        return api

    def _waf(self, cfg: LakeConfig, log_groups: LogGroupFactory) -> None:
        def managed(name: str, priority: int) -> wafv2.CfnWebACL.RuleProperty:
            return wafv2.CfnWebACL.RuleProperty(
                name=name, priority=priority, override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                statement=wafv2.CfnWebACL.StatementProperty(managed_rule_group_statement=
                    wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(vendor_name="AWS", name=name)),
                visibility_config=_visibility(name))

        rate = wafv2.CfnWebACL.RuleProperty(
            name="RatePerIp", priority=0, action=wafv2.CfnWebACL.RuleActionProperty(block={}),
            statement=wafv2.CfnWebACL.StatementProperty(rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                limit=WAF_RATE_PER_IP_5MIN, aggregate_key_type="IP")),
            visibility_config=_visibility("RatePerIp"))
        self.web_acl = wafv2.CfnWebACL(
            self, "WebAcl", name=f"{cfg.prefix}-api", scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility(f"{cfg.prefix}-api"),
            rules=[rate, *(managed(n, i + 1) for i, n in enumerate(
                ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet",
                 "AWSManagedRulesAmazonIpReputationList")))])
        stage_arn = (f"arn:{Aws.PARTITION}:apigateway:{Aws.REGION}::/restapis/{self.rest_api.rest_api_id}"
                     f"/stages/{self.rest_api.deployment_stage.stage_name}")
        association = wafv2.CfnWebACLAssociation(self, "WebAclAssociation", resource_arn=stage_arn,
                                                 web_acl_arn=self.web_acl.attr_arn)
        association.node.add_dependency(self.rest_api.deployment_stage)
        # WAF's own logs (name must start with aws-waf-logs-); the bearer token is redacted.
        name = f"aws-waf-logs-{cfg.prefix}-api"
        waf_logs = log_groups.create(self, "WafLogs", name)
        logging_config = wafv2.CfnLoggingConfiguration(
            self, "WafLogging", resource_arn=self.web_acl.attr_arn,
            log_destination_configs=[f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:{name}"],
            redacted_fields=[wafv2.CfnLoggingConfiguration.FieldToMatchProperty(
                single_header={"Name": "authorization"})])
        logging_config.node.add_dependency(waf_logs)

    @property
    def url(self) -> str:
        return f"{self.rest_api.url}v1/"


def _visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(cloud_watch_metrics_enabled=True, metric_name=name,
                                                    sampled_requests_enabled=True)
