"""Who may touch raw PHI: the raw bucket's deny-by-default policy and the raw key's users.

Roles (docs/adr/0007-producers-bound-to-facilities.md, README "What the stack enforces"):
- the ingest function's role reads and decrypts (its only reader in normal operation);
- one producer role per configured producer (cdk.json `producers`) may only PutObject under
  `<entity>/facility=<id>/` of the facilities it owns; the raw key's encryption context (the
  object ARN: the raw bucket has no S3 Bucket Key) binds its KMS use to the same prefixes;
- the raw operator role makes the platform's own trusted uploads (`<entity>/<file>`) and starts
  Glacier restores for replays; it never reads object content;
- the break-glass role (MFA required, one-hour sessions) reads and decrypts for an authorized
  person (incident, legal request); every use is an AssumeRole in CloudTrail;
- what the stack itself needs: AWS Backup's role in prod, CDK's auto-delete handler in dev.
Everybody else, account administrators included, is denied object access by the bucket policy
and has no use of the raw key (its policy grants the account administration only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Aws, CustomResourceProviderBase, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import LakeConfig, Producer
from lake.contract import ENTITIES
from lake.producers import producer_prefix

AUTO_DELETE_PROVIDER = "Custom::S3AutoDeleteObjectsCustomResourceProvider"
PRODUCER_ACTIONS = ("s3:PutObject", "s3:AbortMultipartUpload")
OPERATOR_ACTIONS = ("s3:PutObject", "s3:AbortMultipartUpload", "s3:RestoreObject", "s3:ListBucket",
                    "s3:ListBucketVersions")
BREAK_GLASS_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket", "s3:ListBucketVersions",
                       "s3:RestoreObject")
# Upload through S3: GenerateDataKey for the object, Decrypt to complete a multipart upload.
WRITE_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")


@dataclass(frozen=True)
class RawAccessProps:
    config: LakeConfig
    bucket: s3.Bucket
    bucket_name: str  # the configured name: the key policy cannot reference the bucket (cycle)
    key: kms.Key
    ingest_role: iam.IRole
    backup_role: iam.IRole | None = None  # prod: AWS Backup for S3


def producer_role_name(config: LakeConfig, producer: Producer) -> str:
    return f"{config.prefix}-producer-{producer.name}"


class RawAccess(Construct):
    """Producer, operator and break-glass roles; the raw bucket policy and raw key statements."""

    def __init__(self, scope: Construct, construct_id: str, props: RawAccessProps) -> None:
        super().__init__(scope, construct_id)
        cfg, bucket = props.config, props.bucket
        self._props = props
        self.producer_roles: dict[str, iam.Role] = {}
        for producer in cfg.producers:
            prefixes = [producer_prefix(e, f) for f in producer.facilities for e in ENTITIES]
            role = self._role(f"Producer-{producer.name}", producer_role_name(cfg, producer),
                              f"{producer.name}: uploads {', '.join(producer.facilities)} only",
                              _trusted(producer.assumed_by))
            role.add_to_policy(iam.PolicyStatement(
                sid="UploadOwnFacilitiesOnly", actions=list(PRODUCER_ACTIONS),
                resources=[bucket.arn_for_objects(f"{p}*") for p in prefixes]))
            self._allow_key(role, f"Producer{producer.name.title().replace('-', '')}Uploads", WRITE_KEY_ACTIONS,
                            [f"{p}*" for p in prefixes])
            self.producer_roles[producer.name] = role

        self.operator = self._role("Operator", f"{cfg.prefix}-raw-operator",
                                   "Trusted platform uploads (<entity>/<file>) and Glacier restores; never reads",
                                   iam.AccountRootPrincipal())
        self.operator.add_to_policy(iam.PolicyStatement(
            sid="UploadAndRestore", actions=list(OPERATOR_ACTIONS),
            resources=[bucket.bucket_arn, bucket.arn_for_objects("*")]))
        self._allow_key(self.operator, "OperatorUploads", WRITE_KEY_ACTIONS, ["*"])

        mfa = iam.AccountRootPrincipal().with_conditions({"Bool": {"aws:MultiFactorAuthPresent": "true"}})
        self.break_glass = self._role("BreakGlass", f"{cfg.prefix}-raw-break-glass",
                                      "Break-glass read of raw PHI (MFA, 1 h sessions, audited)", mfa)
        self.break_glass.add_to_policy(iam.PolicyStatement(
            sid="ReadRawForAnAuthorizedPerson", actions=list(BREAK_GLASS_ACTIONS),
            resources=[bucket.bucket_arn, bucket.arn_for_objects("*")]))
        self._allow_key(self.break_glass, "BreakGlassReads", ("kms:Decrypt",), ["*"])
        self._allow_key(props.ingest_role, "IngestReads", ("kms:Decrypt",), ["*"])
        if props.backup_role is not None:
            self._allow_key(props.backup_role, "BackupReadsAndRestores",
                            ("kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"), None)
        self._deny_by_default()

    @property
    def allowed_principal_arns(self) -> list[str]:
        """Every principal that may touch raw objects at all (the rest are denied)."""
        arns = [self._props.ingest_role.role_arn, self.operator.role_arn, self.break_glass.role_arn,
                *(r.role_arn for r in self.producer_roles.values())]
        if self._props.backup_role is not None:
            arns.append(self._props.backup_role.role_arn)
        provider = Stack.of(self).node.try_find_child(AUTO_DELETE_PROVIDER)
        if isinstance(provider, CustomResourceProviderBase):  # dev: CDK's handler empties the buckets
            arns.append(provider.role_arn)
        return arns

    def _role(self, construct_id: str, name: str, description: str, trusted: iam.IPrincipal) -> iam.Role:
        return iam.Role(self, construct_id, role_name=name, description=description, assumed_by=trusted,
                        max_session_duration=Duration.hours(1))

    def _allow_key(self, role: iam.IRole, sid: str, actions: Sequence[str], object_patterns: list[str] | None) -> None:
        """A raw-key statement for one role: the account principal narrowed by aws:PrincipalArn
        (KMS accepts it before IAM has propagated a new role), through S3 only, and for
        `object_patterns` of the raw bucket (the object ARN is the encryption context)."""
        conditions: dict[str, dict[str, object]] = {"ArnEquals": {"aws:PrincipalArn": role.role_arn}}
        if object_patterns is not None:
            conditions["StringEquals"] = {"kms:ViaService": f"s3.{Aws.REGION}.amazonaws.com"}
            conditions["StringLike"] = {"kms:EncryptionContext:aws:s3:arn": [
                f"arn:{Aws.PARTITION}:s3:::{self._props.bucket_name}/{p}" for p in object_patterns]}
        self._props.key.add_to_resource_policy(iam.PolicyStatement(
            sid=sid, principals=[iam.AccountRootPrincipal()], actions=list(actions), resources=["*"],
            conditions=conditions))
        role.add_to_principal_policy(iam.PolicyStatement(actions=list(actions), resources=[self._props.key.key_arn]))

    def _deny_by_default(self) -> None:
        bucket = self._props.bucket
        outsiders = {"ArnNotEquals": {"aws:PrincipalArn": self.allowed_principal_arns}}
        bucket.add_to_resource_policy(iam.PolicyStatement(
            sid="DenyObjectAccessOutsideTheLakeRoles", effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()], actions=["s3:*"], resources=[bucket.arn_for_objects("*")],
            conditions=outsiders))
        bucket.add_to_resource_policy(iam.PolicyStatement(
            sid="DenyListingOutsideTheLakeRoles", effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads"],
            resources=[bucket.bucket_arn], conditions=outsiders))
        for sid, roles, allowed in (
            ("ProducersOnlyUpload", list(self.producer_roles.values()), PRODUCER_ACTIONS),
            ("OperatorNeverReads", [self.operator], OPERATOR_ACTIONS),
        ):
            if roles:
                bucket.add_to_resource_policy(iam.PolicyStatement(
                    sid=sid, effect=iam.Effect.DENY, principals=[iam.AnyPrincipal()], not_actions=list(allowed),
                    resources=[bucket.bucket_arn, bucket.arn_for_objects("*")],
                    conditions={"ArnEquals": {"aws:PrincipalArn": [r.role_arn for r in roles]}}))


def _trusted(principal_arns: Sequence[str]) -> iam.IPrincipal:
    if not principal_arns:
        return iam.AccountRootPrincipal()
    return iam.CompositePrincipal(*(iam.ArnPrincipal(arn) for arn in principal_arns))
