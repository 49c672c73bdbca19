"""IAM and Secrets Manager controls."""

from __future__ import annotations

from pulumi_policy import ResourceValidationArgs, StackValidationArgs

from infra.policy.helpers import allows, as_list, is_public_principal, of_type, referenced, statements
from infra.policy.registry import OWN, Report, StackReport, resource_control, stack_control

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
POLICY = "aws:iam/policy:Policy"
SECRET = "aws:secretsmanager/secret:Secret"
ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"
ROTATED_BY = "rotated-by"  # tag of a secret whose value a third party issues and rotates
POLICIES = (ROLE_POLICY, POLICY)
# Actions IAM cannot scope to a resource ("Actions, resources, and condition keys" of each service: no resource
# type listed), so `Resource: "*"` is the only way to grant them.
NO_RESOURCE_LEVEL = (
    "ec2:Describe", "ecr:GetAuthorizationToken", "xray:PutTraceSegments", "xray:PutTelemetryRecords",
    "cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics", "cloudwatch:PutMetricData",
    "secretsmanager:GetRandomPassword",
)


def _allowed(args: ResourceValidationArgs) -> list[tuple[dict, list[str], list[str]]]:
    out = []
    for s in statements(args.props.get("policy")):
        if allows(s):
            out.append((dict(s), [str(a) for a in as_list(s.get("Action"))], [str(r) for r in
                                                                               as_list(s.get("Resource"))]))
    return out


@resource_control("aws-iam-no-admin", "IAM policies do not allow '*' actions on '*'", *POLICIES, service="IAM",
                  refs=("FSBP IAM.1", "CIS 1.16"))
def iam_no_admin(args: ResourceValidationArgs, report: Report) -> None:
    for _, actions, resources in _allowed(args):
        if "*" in actions and "*" in resources:
            report("a statement allows every action on every resource")


@resource_control("aws-iam-no-service-wildcards", "IAM policies do not allow every action of a service ('s3:*')",
                  *POLICIES, service="IAM", refs=("FSBP IAM.21",))
def iam_no_service_wildcards(args: ResourceValidationArgs, report: Report) -> None:
    for _, actions, _resources in _allowed(args):
        wild = [a for a in actions if a.endswith(":*")]
        if wild:
            report(f"a statement allows whole services: {', '.join(wild)}")


@resource_control("aws-iam-resource-scoped", "IAM policies name their resources; '*' only for actions IAM cannot "
                  "scope (Describe*, ECR token, X-Ray, metric reads and writes)", *POLICIES, service="IAM",
                  source=OWN + ": IAM user guide, 'Grant least privilege'; service authorization reference")
def iam_resource_scoped(args: ResourceValidationArgs, report: Report) -> None:
    for statement, actions, resources in _allowed(args):
        if "*" not in resources:
            continue
        unscoped = [a for a in actions if ":" in a and not a.endswith(":*") and not a.startswith(NO_RESOURCE_LEVEL)]
        if unscoped and not statement.get("Condition"):
            report(f"{', '.join(unscoped)} allowed on '*' without a condition")


@resource_control("aws-iam-pass-role-scoped", "iam:PassRole names the role and the service it is passed to",
                  *POLICIES, service="IAM", source=OWN + ": IAM user guide, 'Granting a user permissions to pass a "
                  "role to an AWS service' (iam:PassedToService)")
def iam_pass_role_scoped(args: ResourceValidationArgs, report: Report) -> None:
    for statement, actions, resources in _allowed(args):
        if any(a in ("iam:PassRole", "iam:*") for a in actions):
            condition = statement.get("Condition") or {}
            if "*" in resources or "iam:PassedToService" not in str(condition):
                report("iam:PassRole is not limited to named roles and an iam:PassedToService condition")


@resource_control("aws-iam-trust-services-only", "Roles are assumable only by named AWS services", ROLE,
                  service="IAM", source=OWN + ": IAM user guide, 'Roles terms and concepts' (trust policy)")
def iam_trust_services_only(args: ResourceValidationArgs, report: Report) -> None:
    for s in statements(args.props.get("assumeRolePolicy")):
        if allows(s) and (is_public_principal(s.get("Principal")) or "AWS" in (s.get("Principal") or {})):
            report("the trust policy lets principals other than AWS services assume the role")


@resource_control("aws-iam-session-duration", "Role sessions last at most one hour", ROLE, service="IAM",
                  source=OWN + ": IAM user guide, 'Modifying a role maximum session duration'")
def iam_session_duration(args: ResourceValidationArgs, report: Report) -> None:
    duration = args.props.get("maxSessionDuration", 3600)
    if duration is not None and duration > 3600:
        report(f"sessions may last {duration} s")


@resource_control("aws-iam-no-inline-role-policies", "Role permissions are separate RolePolicy resources, not the "
                  "deprecated inline/managed arguments", ROLE, service="IAM",
                  source=OWN + ": pulumi-aws v7 deprecates iam.Role inline_policies and managed_policy_arns")
def iam_no_inline(args: ResourceValidationArgs, report: Report) -> None:
    if args.props.get("inlinePolicies") or args.props.get("managedPolicyArns"):
        report("the role embeds its policies; declare RolePolicy / RolePolicyAttachment resources")


@resource_control("aws-secrets-cmk", "Secrets are encrypted with the stack's KMS key", SECRET,
                  service="Secrets Manager", source=OWN + ": Secrets Manager user guide, 'Secret encryption and "
                  "decryption' (customer managed key)")
def secrets_cmk(args: ResourceValidationArgs, report: Report) -> None:
    if not args.props.get("kmsKeyId"):
        report("the secret uses the AWS managed key instead of the stack's key")


@stack_control("aws-secrets-rotation", "Every secret the stack generates rotates automatically",
               service="Secrets Manager", refs=("FSBP SecretsManager.1",),
               loosened_by=("tracking.rotate_admin_password",))
def secrets_rotation(args: StackValidationArgs, report: StackReport) -> None:
    """A credential a third party issues (tag `rotated-by: issuer`, e.g. a W&B API key) is not generated by the
    stack: Secrets Manager cannot rotate it; it is rotated at its issuer and set again as Pulumi secret config."""
    rotated = referenced(of_type(args, ROTATION), "secretId")
    for secret in of_type(args, SECRET):
        if secret.urn not in rotated and (secret.props.get("tags") or {}).get(ROTATED_BY) != "issuer":
            report(f"secret {secret.name} is never rotated", secret.urn)


@resource_control("aws-secrets-rotation-period", "Secrets rotate at least every 90 days", ROTATION,
                  service="Secrets Manager", refs=("FSBP SecretsManager.4",))
def secrets_rotation_period(args: ResourceValidationArgs, report: Report) -> None:
    rules = args.props.get("rotationRules") or {}
    days = rules.get("automaticallyAfterDays")
    if days is None and not rules.get("scheduleExpression"):
        report("the rotation has no schedule")
    elif days is not None and days > 90:
        report(f"the secret rotates every {days} days")
