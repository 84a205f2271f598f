"""The dashboard in AWS: the built app (web/dist) in a private S3 bucket behind CloudFront.

- Bucket: private (block public access, TLS only, versioned, SSE-S3: the app is public code and
  holds no data), server access logs to the stack's log bucket; readable only by this
  distribution through origin access control (OAC, SigV4), never by a public URL.
- Distribution: HTTPS only (HTTP redirects), `index.html` at `/`, security headers (CSP with the
  Cognito domain as the only other origin, HSTS, nosniff, frame DENY, no referrer); `/v1/*` is
  forwarded to the query API's stage (no caching; the Authorization header reaches API Gateway's
  Cognito authorizer), so the app calls its own origin and needs no CORS.
- Cognito: an app client for the dashboard (public, authorization code grant only, so PKCE is
  what binds the code to the browser that asked for it; callback = the distribution) and the
  hosted UI domain `<prefix>-<account>`; `config.json` next to the app tells it both.
- The bundle is built by npm before synth (`make web`; `make synth` and `make test` do it): a
  missing build fails the synth with `WebBundleMissing` and how to build it. No Docker.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Aws, CfnResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from api.web_static import CONTENT_SECURITY_POLICY, WEB_DIR
from infra.config import LakeConfig
from infra.custom_resource import SERVICE_TIMEOUT_MARGIN
from infra.log_groups import LogGroupFactory

DIST = WEB_DIR / "dist"
API_PATH = "/v1/*"
HSTS_SECONDS = 2 * 365 * 24 * 3600
DEPLOY_TIMEOUT = Duration.minutes(15)  # CDK's BucketDeployment handler timeout


class WebBundleMissing(RuntimeError):
    """web/dist has no index.html: the app was not built before synth."""


def require_bundle(dist: Path = DIST) -> Path:
    """The built app's folder; raises WebBundleMissing (with the command) when it is not built."""
    if not (dist / "index.html").is_file():
        raise WebBundleMissing(f"the dashboard is not built ({dist / 'index.html'} is missing): run `make web` "
                               "(npm ci && npm run build in web/, Node.js 20.19+) before `cdk synth`; "
                               "`make synth` does it for you")
    return dist


@dataclass(frozen=True)
class WebProps:
    config: LakeConfig
    user_pool: cognito.UserPool
    rest_api: apigw.RestApi
    access_logs: s3.IBucket
    log_groups: LogGroupFactory
    dist: Path = DIST


class LakeWeb(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: WebProps) -> None:
        super().__init__(scope, construct_id)
        cfg = props.config
        bundle = require_bundle(props.dist)
        stack = Stack.of(self)
        self.bucket = s3.Bucket(
            self, "Site", bucket_name=f"{cfg.prefix}-web-{stack.account}-{stack.region}", encryption=s3.BucketEncryption.S3_MANAGED, versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL, enforce_ssl=True, minimum_tls_version=1.2,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=props.access_logs, server_access_logs_prefix="web/",
            lifecycle_rules=[s3.LifecycleRule(id="old-builds", noncurrent_version_expiration=Duration.days(30))],
            removal_policy=RemovalPolicy.DESTROY, auto_delete_objects=True,  # rebuilt from the repository
        )
        self.domain = props.user_pool.add_domain(
            "HostedUi", cognito_domain=cognito.CognitoDomainOptions(domain_prefix=f"{cfg.prefix}-{Aws.ACCOUNT_ID}"))
        auth_origin = self.domain.base_url()
        headers = cloudfront.ResponseHeadersPolicy(
            self, "Headers", response_headers_policy_name=f"{cfg.prefix}-web",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=CONTENT_SECURITY_POLICY.format(extra=f" {auth_origin}"), override=True),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.seconds(HSTS_SECONDS), include_subdomains=True, override=True),
            ),
        )
        self.distribution = cloudfront.Distribution(
            self, "Distribution", comment=f"{cfg.prefix} dashboard", default_root_object="index.html",
            http_version=cloudfront.HttpVersion.HTTP2_AND_3, price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                response_headers_policy=headers,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
            ),
            additional_behaviors={API_PATH: cloudfront.BehaviorOptions(
                origin=origins.RestApiOrigin(props.rest_api),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD_OPTIONS,
                cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,  # per-user rows: never cached
                origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
            )},
        )
        self.url = f"https://{self.distribution.distribution_domain_name}/"
        self.client = props.user_pool.add_client(
            "WebClient", user_pool_client_name=f"{cfg.prefix}-web", generate_secret=False,
            auth_flows=cognito.AuthFlow(),  # hosted UI only: no password flows from this client
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True),
                scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL],
                callback_urls=[self.url], logout_urls=[self.url]),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            prevent_user_existence_errors=True, id_token_validity=Duration.hours(1),
            access_token_validity=Duration.hours(1), refresh_token_validity=Duration.hours(12),
        )
        config = {"auth": "cognito", "api": "/v1",
                  "cognito": {"domain": auth_origin, "clientId": self.client.user_pool_client_id,
                              "redirectUri": self.url}}
        self.deployment = s3deploy.BucketDeployment(
            self, "Deploy", destination_bucket=self.bucket,
            sources=[s3deploy.Source.asset(str(bundle)), s3deploy.Source.json_data("config.json", config)],
            distribution=self.distribution, distribution_paths=["/index.html", "/config.json"],
            memory_limit=256, prune=True,
            # pre-created with the ops key and retention, like every other function's
            log_group=props.log_groups.create(self, "DeployLogs", f"/aws/lambda/{cfg.prefix}-web-deploy"),
        )
        # Like the project's custom resources: CloudFormation gives up a minute after the handler's timeout.
        (upload,) = [c.node.default_child for c in self.deployment.node.children
                     if c.node.id.startswith("CustomResource-")]  # "CustomResource-<memory>MiB"
        assert isinstance(upload, CfnResource)
        upload.add_property_override("ServiceTimeout", str(int(DEPLOY_TIMEOUT.to_seconds()
                                                             + SERVICE_TIMEOUT_MARGIN.to_seconds())))
