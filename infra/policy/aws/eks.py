"""EKS controls: the cluster's endpoint, secrets encryption, audit logging, version, authentication; node groups;
the trust of the roles pods get through EKS Pod Identity."""

from __future__ import annotations

from pulumi_policy import ResourceValidationArgs

from infra.policy.helpers import allows, as_list, statements
from infra.policy.registry import OWN, Report, resource_control

CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
ROLE = "aws:iam/role:Role"
OPEN = ("0.0.0.0/0", "::/0")
# The oldest Kubernetes minor version the pack accepts; raise it as EKS ends standard support for a version
# (EKS user guide, "Understand the Kubernetes version lifecycle on EKS").
OLDEST_VERSION = (1, 31)
POD_IDENTITY = "pods.eks.amazonaws.com"


@resource_control("aws-eks-private-endpoint", "The cluster's API endpoint is private, or public only to allow-listed "
                  "networks", CLUSTER, service="EKS", refs=("FSBP EKS.1",),
                  loosened_by=("cluster.private_endpoint_only",))
def private_endpoint(args: ResourceValidationArgs, report: Report) -> None:
    vpc = args.props.get("vpcConfig") or {}
    if vpc.get("endpointPublicAccess") is False:
        return
    cidrs = as_list(vpc.get("publicAccessCidrs"))
    if not cidrs or any(c in OPEN for c in cidrs):
        report("the cluster's API endpoint is open to the whole internet")


@resource_control("aws-eks-secrets-encryption", "Kubernetes secrets are envelope-encrypted with the stack's KMS key",
                  CLUSTER, service="EKS", refs=("FSBP EKS.3",))
def secrets_encryption(args: ResourceValidationArgs, report: Report) -> None:
    config = args.props.get("encryptionConfig") or {}
    if "secrets" not in as_list(config.get("resources")) or not (config.get("provider") or {}).get("keyArn"):
        report("Kubernetes secrets are not envelope-encrypted with a KMS key")


@resource_control("aws-eks-audit-logging", "The control plane's audit and authenticator logs go to CloudWatch Logs",
                  CLUSTER, service="EKS", refs=("FSBP EKS.8",))
def audit_logging(args: ResourceValidationArgs, report: Report) -> None:
    missing = {"audit", "authenticator"} - set(as_list(args.props.get("enabledClusterLogTypes")))
    if missing:
        report(f"control-plane log types {', '.join(sorted(missing))} are off")


@resource_control("aws-eks-supported-version", "The cluster pins a Kubernetes version still in support", CLUSTER,
                  service="EKS", refs=("FSBP EKS.2",))
def supported_version(args: ResourceValidationArgs, report: Report) -> None:
    version = str(args.props.get("version") or "")
    parts = version.split(".")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        report("the Kubernetes version is not pinned (EKS would pick its default)")
    elif (int(parts[0]), int(parts[1])) < OLDEST_VERSION:
        report(f"Kubernetes {version} is older than {'.'.join(map(str, OLDEST_VERSION))}")


@resource_control("aws-eks-access-entries", "Cluster access is granted through EKS access entries, not the aws-auth "
                  "ConfigMap", CLUSTER, service="EKS", source=OWN + ": EKS best practices guide, security, "
                  "'Identity and access management' (use the EKS access entries API)")
def access_entries(args: ResourceValidationArgs, report: Report) -> None:
    if (args.props.get("accessConfig") or {}).get("authenticationMode") != "API":
        report("the cluster's authentication mode is not API (access entries only)")


@resource_control("aws-eks-nodes-no-ssh", "Managed nodes accept no SSH", NODE_GROUP, service="EKS",
                  source=OWN + ": EKS best practices guide, security, 'Protecting the infrastructure' (minimize "
                  "access to worker nodes; use SSM instead of SSH)")
def nodes_no_ssh(args: ResourceValidationArgs, report: Report) -> None:
    if args.props.get("remoteAccess"):
        report("the node group allows SSH (remoteAccess)")


@resource_control("aws-eks-pod-identity-scoped", "Roles for EKS Pod Identity trust only this account's cluster",
                  ROLE, service="EKS, IAM", source=OWN + ": EKS user guide, 'Create an IAM role with a trust "
                  "policy required by EKS Pod Identity' (aws:SourceAccount / aws:SourceArn conditions)")
def pod_identity_scoped(args: ResourceValidationArgs, report: Report) -> None:
    for statement in statements(args.props.get("assumeRolePolicy")):
        services = as_list((statement.get("Principal") or {}).get("Service")) \
            if isinstance(statement.get("Principal"), dict) else []
        if allows(statement) and POD_IDENTITY in services:
            conditions = {k for block in (statement.get("Condition") or {}).values() for k in block}
            if not {"aws:SourceAccount", "aws:SourceArn"} <= conditions:
                report("the role trusts EKS Pod Identity without naming the account and cluster")
