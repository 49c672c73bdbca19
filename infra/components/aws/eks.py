"""EKS: the cluster, its managed node groups, Pod Identity per workload, and the Kubernetes provider.

Raw `aws.eks.*` resources, not the `pulumi_eks` component (a remote component that is opaque to the offline
engine). Secure defaults: a pinned Kubernetes version; the API endpoint private (a public endpoint only when
the profile asks, limited to allow-listed CIDRs); Kubernetes secrets envelope-encrypted with the stack's KMS
key; all five control-plane log types to a KMS-encrypted log group created first (so EKS does not create an
unencrypted one); access entries (API authentication mode) instead of the aws-auth ConfigMap; pods get AWS
credentials from EKS Pod Identity, one role per workload, never from the node's role.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from infra.components.aws.network import Network
from infra.components.aws.security import EncryptionKey
from infra.components.base import Capability, Grantable, StackContext, policy_json
from infra.components.kubernetes.workloads import Cluster
from infra.profiles.model import EksCluster as EksClusterArgs

NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly", "AmazonEKS_CNI_Policy")
ADDONS = ("vpc-cni", "coredns", "kube-proxy", "eks-pod-identity-agent")


def kubeconfig(name: pulumi.Input[str], endpoint: pulumi.Input[str], ca_data: pulumi.Input[str],
               region: str) -> pulumi.Output[str]:
    """A kubeconfig that authenticates with `aws eks get-token` (short-lived tokens, no static credentials)."""
    return pulumi.Output.json_dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "eks",
        "clusters": [{"name": "eks", "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}],
        "contexts": [{"name": "eks", "context": {"cluster": "eks", "user": "eks"}}],
        "users": [{"name": "eks", "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws",
            "args": ["eks", "get-token", "--cluster-name", name, "--region", region, "--output", "json"],
        }}}],
    })


class EksCluster(Capability):
    """The cluster every Kubernetes workload of the stack runs on; `kube` declares objects in it."""

    capability = "cluster"

    def __init__(
        self, name: str, ctx: StackContext, args: EksClusterArgs, *, key: EncryptionKey, network: Network,
        log_retention_days: int, opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("mlopsgen:aws:EksCluster", name, opts)
        self.ctx = ctx
        self.cluster_name = ctx.name("cluster", 100)
        cluster_role = aws.iam.Role(
            f"{name}-cluster-role", name=ctx.name("eks-cluster", 64),
            assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            }]}),
            opts=self.child(),
        )
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-cluster-policy", role=cluster_role.name,
            policy_arn="arn:aws:iam::aws:policy/AmazonEKSClusterPolicy", opts=self.child(),
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-control-plane-logs", name=f"/aws/eks/{self.cluster_name}/cluster",
            retention_in_days=log_retention_days, kms_key_id=key.arn, opts=self.child(),
        )
        public = not args.private_endpoint_only
        self.cluster = aws.eks.Cluster(
            f"{name}-cluster",
            name=self.cluster_name,
            version=args.kubernetes_version,
            role_arn=cluster_role.arn,
            vpc_config={
                "subnet_ids": network.subnet_ids,
                "endpoint_private_access": True,
                "endpoint_public_access": public,
                "public_access_cidrs": args.public_access_cidrs if public else None,
            },
            encryption_config={"provider": {"key_arn": key.arn}, "resources": ["secrets"]},
            enabled_cluster_log_types=list(args.control_plane_logs),
            access_config={"authentication_mode": "API", "bootstrap_cluster_creator_admin_permissions": True},
            upgrade_policy={"support_type": "STANDARD"},
            deletion_protection=ctx.protect_data,
            opts=self.child(depends_on=[attachment, log_group]),
        )
        self.node_role = aws.iam.Role(
            f"{name}-node-role", name=ctx.name("eks-node", 64),
            assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole",
            }]}),
            opts=self.child(),
        )
        node_policies = [
            aws.iam.RolePolicyAttachment(
                f"{name}-node-{policy}", role=self.node_role.name,
                policy_arn=f"arn:aws:iam::aws:policy/{policy}", opts=self.child(),
            )
            for policy in NODE_POLICIES
        ]
        self.node_groups: dict[str, aws.eks.NodeGroup] = {}
        for group, spec in args.node_groups.items():
            self.node_groups[group] = aws.eks.NodeGroup(
                f"{name}-{group}-nodes",
                cluster_name=self.cluster.name,
                node_group_name=group,
                node_role_arn=self.node_role.arn,
                subnet_ids=network.subnet_ids,
                version=args.kubernetes_version,
                capacity_type="SPOT" if spec.capacity == "spot" else "ON_DEMAND",
                ami_type="AL2023_x86_64_NVIDIA" if spec.gpu else "AL2023_x86_64_STANDARD",
                instance_types=spec.instance_types,
                disk_size=spec.disk_size_gb,
                scaling_config={"min_size": spec.min_size, "desired_size": spec.desired_size,
                                "max_size": spec.max_size},
                update_config={"max_unavailable": 1},
                labels={"mlopsgen.io/node-group": group, **spec.labels},
                taints=[{"key": t.key, "value": t.value, "effect": t.effect} for t in spec.taints],
                # The cluster autoscaler (or Karpenter) owns the current size; `pulumi up` must not reset it.
                opts=self.child(depends_on=node_policies, ignore_changes=["scalingConfig.desiredSize"]),
            )
        first_group = next(iter(self.node_groups.values()))
        self.addons = [
            aws.eks.Addon(
                f"{name}-{addon}", cluster_name=self.cluster.name, addon_name=addon,
                resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="PRESERVE",
                # coredns needs nodes to become active
                opts=self.child(depends_on=[first_group] if addon == "coredns" else None),
            )
            for addon in ADDONS
        ]
        self.kubeconfig = kubeconfig(self.cluster.name, self.cluster.endpoint,
                                     self.cluster.certificate_authority.data, ctx.region)
        # Explicit provider: without one, pulumi-kubernetes would use whatever KUBECONFIG points at.
        self.provider = k8s.Provider(
            f"{name}-k8s", kubeconfig=self.kubeconfig, enable_server_side_apply=True,
            delete_unreachable=False, opts=self.child(depends_on=[*self.node_groups.values(), *self.addons]),
        )
        self.kube = Cluster(self.provider, self)
        self.oidc_issuer = self.cluster.identities[0].oidcs[0].issuer
        self.register_outputs({
            "clusterName": self.cluster.name, "endpoint": self.cluster.endpoint,
            "nodeGroups": {g: n.node_group_name for g, n in self.node_groups.items()},
        })

    def workload_role(self, logical: str, namespace: str, service_account: str) -> Grantable:
        """An IAM role only pods of `namespace`/`service_account` in this cluster get (EKS Pod Identity).

        Returns the role to grant to (e.g. `bucket.grant_read(role, prefix)`); the Kubernetes service account
        itself is declared by the workload. Trust: `pods.eks.amazonaws.com` with sts:AssumeRole and
        sts:TagSession, limited to this account and cluster (aws:SourceAccount, aws:SourceArn); the association
        binds it to one namespace and service account.
        """
        ctx = self.ctx
        cluster_arn = pulumi.Output.concat("arn:aws:eks:", ctx.region, ":", ctx.account_id, ":cluster/",
                                           self.cluster_name)
        role = aws.iam.Role(
            logical, name=ctx.name(logical, 64), max_session_duration=3600,
            assume_role_policy=policy_json([{
                "Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Condition": {"StringEquals": {"aws:SourceAccount": ctx.account_id},
                              "ArnEquals": {"aws:SourceArn": cluster_arn}},
            }]),
            opts=self.child(),
        )
        aws.eks.PodIdentityAssociation(
            f"{logical}-association", cluster_name=self.cluster.name, namespace=namespace,
            service_account=service_account, role_arn=role.arn,
            opts=self.child(depends_on=self.addons),
        )
        return Grantable(logical, role, self)

    def service_account(self, namespace: str, name: str, depends_on: list[pulumi.Resource]) -> Any:
        return k8s.core.v1.ServiceAccount(
            f"{namespace}-{name}-sa", metadata={"name": name, "namespace": namespace},
            automount_service_account_token=False, opts=self.kube.opts(depends_on=depends_on),
        )
