"""The PHI pseudonymization (HMAC) key: the re-identification key, guarded on its own.

Whoever reads the secret can invert every `patient_key` (HMAC the whole MRN space: 10^8 values
at ~1.2 M/s, minutes). Hence, beyond the Secrets Manager defaults:
- its own KMS key. The key policy lets the account administer the key and lets any principal of
  the account encrypt through Secrets Manager (to create or update the secret), but only the
  ingest role and the break-glass role may decrypt, and only through Secrets Manager;
- a resource policy that denies GetSecretValue to every principal but those two (an explicit
  deny: no identity policy, administrator or not, overrides it), and DeleteSecret,
  PutSecretValue and RotateSecret to all but the break-glass role;
- kept wherever the data is kept (secret and key, `infra.removal.data_removal_policy`: prod
  retains them on update and delete): a deleted or replaced key silently changes every pseudonym
  and breaks linkage with everything loaded before. dev deletes them with the data they key
  (its fixed secret name would otherwise block the next deploy after a `cdk destroy`);
- an EventBridge rule -> the alarm topic on every GetSecretValue of it by anyone but the ingest
  role (the break-glass role included: its use must be seen). CloudTrail must be on: EventBridge
  receives "AWS API Call via CloudTrail" events only for what a trail in the account and region
  records (management events, read included), and read-only events such as GetSecretValue only
  reach rules whose state is ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS (EventBridge user
  guide, "Receiving read-only management events from AWS services"). BatchGetSecretValue logs
  a GetSecretValue entry per secret, so it is covered.
Break-glass path (README "What the stack enforces"): an administrator with MFA assumes
`<prefix>-hmac-break-glass` (one-hour sessions), reads the secret, and the alarm fires.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

KEY_ADMIN_ACTIONS = [
    "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*",
    "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
    "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:RotateKeyOnDemand",
]
# The read alarm's rule state: plain ENABLED rules never see read-only management events.
ALL_MANAGEMENT_EVENTS = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"


def _via_secrets_manager() -> dict[str, dict[str, str]]:
    return {"StringEquals": {"kms:ViaService": f"secretsmanager.{Aws.REGION}.amazonaws.com",
                             "kms:CallerAccount": Aws.ACCOUNT_ID}}


class PhiSecretGuard(Construct):
    """The HMAC secret's KMS key and break-glass role; `protect` and `alarm_on_reads` do the rest."""

    def __init__(self, scope: Construct, construct_id: str, *, prefix: str, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        self.prefix = prefix
        self.reader: iam.IRole | None = None
        account = iam.AccountRootPrincipal()
        self.break_glass_role = iam.Role(
            self,
            "BreakGlass",
            role_name=f"{prefix}-hmac-break-glass",
            description="Break-glass read of the PHI HMAC key (re-identification): MFA required, alarmed",
            assumed_by=iam.AccountPrincipal(Aws.ACCOUNT_ID).with_conditions(
                {"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
            max_session_duration=Duration.hours(1),
        )
        self.key = kms.Key(
            self,
            "Key",
            alias=f"alias/{prefix}-phi-hmac",
            description=f"{prefix}: the PHI pseudonymization (HMAC) secret only",
            enable_key_rotation=True,
            removal_policy=removal_policy,
            policy=iam.PolicyDocument(statements=[
                iam.PolicyStatement(sid="KeyAdministrationWithoutUse", principals=[account],
                                    actions=KEY_ADMIN_ACTIONS, resources=["*"]),
                iam.PolicyStatement(sid="EncryptThroughSecretsManager", principals=[account],
                                    actions=["kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
                                    resources=["*"], conditions=_via_secrets_manager()),
            ]),
        )

    def encrypt(self, secret: secretsmanager.Secret) -> None:
        """Encrypt `secret` with the guard's key. Set on the CloudFormation resource, not through
        `Secret(encryption_key=...)`, which would add a key-policy statement letting every
        principal of the account decrypt through Secrets Manager."""
        cfn = secret.node.default_child
        assert isinstance(cfn, secretsmanager.CfnSecret)
        cfn.kms_key_id = self.key.key_arn

    def protect(self, secret: secretsmanager.Secret, reader: iam.IRole) -> None:
        """Only `reader` (the ingest role) and the break-glass role may read `secret`."""
        self.reader = reader
        readers = [reader, self.break_glass_role]
        self.key.add_to_resource_policy(iam.PolicyStatement(
            sid="DecryptThroughSecretsManagerIngestAndBreakGlassOnly",
            principals=[iam.ArnPrincipal(r.role_arn) for r in readers],
            actions=["kms:Decrypt"], resources=["*"], conditions=_via_secrets_manager()))
        for role in readers:
            secret.grant_read(role)
        secret.add_to_resource_policy(iam.PolicyStatement(
            sid="ReadByIngestAndBreakGlassOnly", effect=iam.Effect.DENY, principals=[iam.AnyPrincipal()],
            actions=["secretsmanager:GetSecretValue"], resources=["*"],
            conditions={"ArnNotEquals": {"aws:PrincipalArn": [r.role_arn for r in readers]}}))
        secret.add_to_resource_policy(iam.PolicyStatement(
            sid="NoDeleteOrNewValueButBreakGlass", effect=iam.Effect.DENY, principals=[iam.AnyPrincipal()],
            actions=["secretsmanager:DeleteSecret", "secretsmanager:PutSecretValue", "secretsmanager:RotateSecret"],
            resources=["*"], conditions={"ArnNotEquals": {"aws:PrincipalArn": self.break_glass_role.role_arn}}))

    def alarm_on_reads(self, secret_name: str) -> events.Rule:
        """A rule matching GetSecretValue of `secret_name` by any principal but the reader given to
        `protect`; the caller routes it to the alarm topic (`LakeMonitoring.publish_rule`)."""
        reader = self.reader
        if reader is None:
            raise ValueError("protect() the secret first: the alarm excludes its reader")
        reader_sessions = f"arn:{Aws.PARTITION}:sts::{Aws.ACCOUNT_ID}:assumed-role/{reader.role_name}/"
        rule = events.Rule(
            self,
            "ReadOutsideIngest",
            description=f"{secret_name} (PHI HMAC key) read by a principal other than the ingest role",
            event_pattern=events.EventPattern(
                source=["aws.secretsmanager"],
                detail_type=["AWS API Call via CloudTrail"],
                detail={
                    "eventSource": ["secretsmanager.amazonaws.com"],
                    "eventName": ["GetSecretValue"],
                    "requestParameters": {"secretId": [{"wildcard": f"*{secret_name}*"}]},
                    "userIdentity": {"arn": [{"anything-but": {"prefix": reader_sessions}}]},
                },
            ),
        )
        cfn = rule.node.default_child
        assert isinstance(cfn, events.CfnRule)
        cfn.state = ALL_MANAGEMENT_EVENTS
        return rule
