"""IAM controls on GCP: who is bound to which role, at which level."""

from __future__ import annotations

from pulumi_policy import ResourceValidationArgs, StackValidationArgs

from infra.policy.helpers import of_type
from infra.policy.registry import OWN, Report, StackReport, resource_control, stack_control

CIS_GCP = "CIS Google Cloud Platform Foundation Benchmark v3.0.0"
PROJECT_IAM = "gcp:projects/iAMMember:IAMMember"
BINDINGS = (
    PROJECT_IAM, "gcp:storage/bucketIAMMember:BucketIAMMember", "gcp:serviceaccount/iAMMember:IAMMember",
    "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember", "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember",
    "gcp:cloudrunv2/jobIamMember:JobIamMember", "gcp:bigquery/datasetIamMember:DatasetIamMember",
)
BASIC_ROLES = ("roles/owner", "roles/editor", "roles/viewer")
PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")
ACT_AS_ROLES = ("roles/iam.serviceAccountUser", "roles/iam.serviceAccountTokenCreator")


def is_admin(role: str) -> bool:
    return role.rsplit("/", 1)[-1].lower().endswith("admin")


@resource_control("gcp-iam-no-basic-roles", "No binding grants a basic role (owner, editor, viewer)", *BINDINGS,
                  service="IAM", cloud="gcp", source=OWN)
def no_basic_roles(args: ResourceValidationArgs, report: Report) -> None:
    # CIS 1.5 covers service accounts at project level; the stack holds every binding to it, at every level.
    role = str(args.props.get("role", ""))
    if role in BASIC_ROLES:
        report(f"binds the basic role {role}: grant a predefined role of the service instead")


@resource_control("gcp-iam-no-project-admin", "Service accounts hold no admin role at project level",
                  PROJECT_IAM, service="IAM", cloud="gcp", refs=("CIS 1.5",), source=CIS_GCP)
def no_project_admin(args: ResourceValidationArgs, report: Report) -> None:
    role = str(args.props.get("role", ""))
    if is_admin(role):
        report(f"binds {role} on the whole project: bind it on the one resource that needs it")


@resource_control("gcp-iam-no-project-act-as", "No project-level Service Account User or Token Creator binding",
                  PROJECT_IAM, service="IAM", cloud="gcp", refs=("CIS 1.6",), source=CIS_GCP)
def no_project_act_as(args: ResourceValidationArgs, report: Report) -> None:
    role = str(args.props.get("role", ""))
    if role in ACT_AS_ROLES:
        report(f"binds {role} on the project: it could act as every service account; bind it on one account")


@resource_control("gcp-iam-no-public-members", "No binding grants anything to allUsers or allAuthenticatedUsers",
                  *BINDINGS, service="IAM", cloud="gcp", refs=("CIS 5.1", "CIS 7.1", "CIS 1.9"), source=CIS_GCP)
def no_public_members(args: ResourceValidationArgs, report: Report) -> None:
    member = str(args.props.get("member", ""))
    if member in PUBLIC_MEMBERS:
        report(f"grants {args.props.get('role')} to {member}: the resource becomes public")


@stack_control("gcp-iam-no-user-managed-keys", "Service accounts have no user-managed keys", service="IAM",
               cloud="gcp", refs=("CIS 1.4",), source=CIS_GCP)
def no_user_managed_keys(args: StackValidationArgs, report: StackReport) -> None:
    for key in of_type(args, "gcp:serviceaccount/key:Key"):
        report(f"{key.name} is a user-managed service account key: workloads use their attached account", key.urn)
