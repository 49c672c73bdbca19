"""Kubernetes objects the project defines, safe by default.

Every workload the project declares goes through these helpers, so the rules hold everywhere (and the offline
checks in `infra.offline.kubernetes` verify them on the recorded manifests):
- requests and limits on every container;
- the pod runs as a non-root user with the RuntimeDefault seccomp profile; every container drops all Linux
  capabilities, may not escalate privileges and has a read-only root filesystem (writable `/tmp` is an
  `emptyDir` with a size limit);
- images are pinned: by digest for the project's own image, by release tag for upstream images;
- namespaces enforce the `restricted` Pod Security Standard and start from a default-deny NetworkPolicy;
  each needed flow (DNS, the EKS Pod Identity agent, HTTPS to AWS APIs, named in-cluster services) is an
  explicit allow.
Sources: Kubernetes "Pod Security Standards" (restricted profile) and "Network Policies"; EKS Best Practices
Guide (security: pods, network); the Pod Identity agent listens on 169.254.170.23:80 (EKS user guide).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

NON_ROOT_UID = 65532  # the conventional "nonroot" user of distroless images
POD_IDENTITY_AGENT = "169.254.170.23/32"
INSTANCE_METADATA = "169.254.169.254/32"


@dataclass(frozen=True)
class Resources:
    """Requests and limits of one container (Kubernetes quantities: `250m`, `512Mi`)."""

    cpu: str = "250m"
    memory: str = "512Mi"
    cpu_limit: str = "1"
    memory_limit: str = "1Gi"

    def spec(self) -> dict[str, Any]:
        return {"requests": {"cpu": self.cpu, "memory": self.memory},
                "limits": {"cpu": self.cpu_limit, "memory": self.memory_limit}}


def container_security() -> dict[str, Any]:
    return {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]}}


def pod_security() -> dict[str, Any]:
    return {"runAsNonRoot": True, "runAsUser": NON_ROOT_UID, "runAsGroup": NON_ROOT_UID, "fsGroup": NON_ROOT_UID,
            "seccompProfile": {"type": "RuntimeDefault"}}


def container(
    name: str, image: pulumi.Input[str], resources: Resources, *, command: list[str] | None = None,
    env: dict[str, pulumi.Input[str]] | None = None, secret_env: dict[str, tuple[str, str]] | None = None,
    ports: list[int] | None = None,
) -> dict[str, Any]:
    """A container with the safety settings and a writable /tmp; `secret_env` maps a variable to (secret, key)."""
    variables: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in sorted((env or {}).items())]
    variables += [{"name": k, "valueFrom": {"secretKeyRef": {"name": s, "key": key}}}
                  for k, (s, key) in sorted((secret_env or {}).items())]
    spec: dict[str, Any] = {
        "name": name, "image": image, "imagePullPolicy": "IfNotPresent", "resources": resources.spec(),
        "securityContext": container_security(), "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    if command:
        spec["command"] = command
    if variables:
        spec["env"] = variables
    if ports:
        spec["ports"] = [{"containerPort": p, "protocol": "TCP"} for p in ports]
    return spec


def pod_spec(containers: list[dict[str, Any]], service_account: str, *, restart: str = "Always",
             tmp_size: str = "1Gi") -> dict[str, Any]:
    return {
        "serviceAccountName": service_account, "securityContext": pod_security(), "restartPolicy": restart,
        "containers": containers, "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": tmp_size}}],
    }


class Cluster:
    """What objects need to be declared in a cluster: its provider and a parent for them."""

    def __init__(self, provider: k8s.Provider, parent: pulumi.Resource) -> None:
        self.provider = provider
        self.parent = parent

    def opts(self, **extra: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(**{"provider": self.provider, "parent": self.parent, **extra})

    def namespace(self, name: str, *, labels: dict[str, str] | None = None,
                  ingress_from: list[dict[str, Any]] | None = None,
                  egress_to: list[dict[str, Any]] | None = None) -> k8s.core.v1.Namespace:
        """A namespace enforcing the restricted Pod Security Standard, denying all traffic except the allows.

        Every namespace may reach DNS and the Pod Identity agent; `egress_to` / `ingress_from` add
        NetworkPolicy egress / ingress rules for all pods of the namespace.
        """
        ns = k8s.core.v1.Namespace(
            f"ns-{name}",
            metadata={"name": name, "labels": {
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest", **(labels or {}),
            }},
            opts=self.opts(),
        )
        after = self.opts(depends_on=[ns])
        meta = {"namespace": name}
        k8s.networking.v1.NetworkPolicy(
            f"{name}-default-deny",
            metadata=_spec({**meta, "name": "default-deny"}),
            spec=_spec({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
            opts=after,
        )
        egress = [
            {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                     "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
             "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
            {"to": [{"ipBlock": {"cidr": POD_IDENTITY_AGENT}}], "ports": [{"protocol": "TCP", "port": 80}]},
            *(egress_to or []),
        ]
        k8s.networking.v1.NetworkPolicy(
            f"{name}-allow-egress",
            metadata=_spec({**meta, "name": "allow-egress"}),
            spec=_spec({"podSelector": {}, "policyTypes": ["Egress"], "egress": egress}),
            opts=after,
        )
        if ingress_from:
            k8s.networking.v1.NetworkPolicy(
                f"{name}-allow-ingress",
                metadata=_spec({**meta, "name": "allow-ingress"}),
                spec=_spec({"podSelector": {}, "policyTypes": ["Ingress"], "ingress": ingress_from}),
                opts=after,
            )
        return ns


def _spec(value: dict[str, Any]) -> Any:
    """A plain-dict spec (pulumi-kubernetes accepts dicts; its TypedDicts are too strict for literals)."""
    return value


def https_egress(*, except_cidrs: tuple[str, ...] = (INSTANCE_METADATA,)) -> dict[str, Any]:
    """HTTPS to AWS APIs (S3 through the gateway endpoint, STS, Secrets Manager, CloudWatch, SNS) and the
    Kubernetes API; never the instance metadata service (pods use Pod Identity, not the node's role)."""
    return {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(except_cidrs)}}],
            "ports": [{"protocol": "TCP", "port": 443}]}


def namespace_peer(namespace: str, port: int | None = None) -> dict[str, Any]:
    """Traffic to or from all pods of another namespace (on one TCP port, if given)."""
    rule: dict[str, Any] = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}
    out: dict[str, Any] = {"to": [rule]}
    if port:
        out["ports"] = [{"protocol": "TCP", "port": port}]
    return out


def from_namespace(namespace: str, port: int | None = None) -> dict[str, Any]:
    peer = namespace_peer(namespace, port)
    return {"from": peer.pop("to"), **peer}
