"""Per-model serving on KServe: champion and challenger InferenceServices behind an InferenceGraph Splitter.

Why a Splitter (README "Serving on KServe"): KServe's canary in Standard mode splits by replica count, not per
request, and its per-request canary needs Knative and Istio. A Splitter routes each request by weight, so a
5% challenger gets 5% of requests with one replica, and the A/B controller moves the weights with one merge
patch (`infra.runtime.adapters.kserve`). The graph ignores changes to its steps and the services to their
`storageUri`, so `pulumi up` never reverts what the controller and the deployer did.

Each model's pods get their own Pod Identity role that may only read `models/<model>/` in the artifacts bucket.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra.components.aws.eks import EksCluster
from infra.components.aws.security import EncryptionKey
from infra.components.aws.storage import ArtifactStore
from infra.components.kubernetes.workloads import Resources, container_security, pod_security

SERVING_NAMESPACE = "mlops-serving"
VARIANTS = ("champion", "challenger")


class KServeModel:
    """One model's InferenceServices and graph; `endpoint` is the graph's name (the A/B controller's endpoint)."""

    def __init__(
        self, model: str, *, eks: EksCluster, key: EncryptionKey, store: ArtifactStore,
        model_format: str, resources: Resources, min_replicas: int, max_replicas: int, ab: bool,
        parent: pulumi.Resource, depends_on: list[pulumi.Resource],
    ) -> None:
        kube = eks.kube
        account = f"{model}-serving"
        role = eks.workload_role(f"{model}-serving-pod", SERVING_NAMESPACE, account)
        store.artifacts.grant_read(role, f"models/{model}/")
        key.grant_use(role)
        opts = pulumi.ResourceOptions(provider=kube.provider, parent=parent, depends_on=depends_on)
        sa = k8s.core.v1.ServiceAccount(
            f"{model}-serving-sa", metadata={"name": account, "namespace": SERVING_NAMESPACE},
            automount_service_account_token=False, opts=opts,
        )
        annotations = {"serving.kserve.io/deploymentMode": "Standard"}
        # Until the deployer puts an approved version on them, both variants serve `models/<model>/current/`.
        self.bootstrap_uri = store_uri(store, model, "current")
        self.services: dict[str, Any] = {}
        self.variants = VARIANTS if ab else VARIANTS[:1]  # `single`: the champion takes all traffic
        for variant in self.variants:
            self.services[variant] = k8s.apiextensions.CustomResource(
                f"{model}-{variant}", api_version="serving.kserve.io/v1beta1", kind="InferenceService",
                metadata={"name": f"{model}-{variant}", "namespace": SERVING_NAMESPACE,
                          "annotations": annotations,
                          "labels": {"mlopsgen.io/model": model, "mlopsgen.io/variant": variant}},
                spec={"predictor": {
                    "serviceAccountName": account,
                    "minReplicas": min_replicas if variant == "champion" else 1,
                    "maxReplicas": max_replicas,
                    "securityContext": pod_security(),
                    "model": {
                        "modelFormat": {"name": model_format},
                        "storageUri": self.bootstrap_uri,
                        "resources": resources.spec(),
                        "securityContext": container_security(),
                    },
                }},
                opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
                    depends_on=[sa], ignore_changes=["spec.predictor.model.storageUri"])),
            )
        self.endpoint_name = model
        self._opts = opts
        self.graph = k8s.apiextensions.CustomResource(
            f"{model}-graph", api_version="serving.kserve.io/v1alpha1", kind="InferenceGraph",
            metadata={"name": model, "namespace": SERVING_NAMESPACE, "annotations": annotations,
                      "labels": {"mlopsgen.io/model": model}},
            spec={"nodes": {"root": {"routerType": "Splitter", "steps": [
                {"name": variant, "serviceName": f"{model}-{variant}", "weight": 100 if variant == "champion" else 0}
                for variant in self.variants
            ]}}, "resources": Resources(cpu="100m", memory="128Mi", cpu_limit="500m", memory_limit="256Mi").spec(),
                "minReplicas": min(2, max_replicas), "maxReplicas": max_replicas},
            # The A/B controller owns the weights after the first deploy.
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
                depends_on=list(self.services.values()), ignore_changes=["spec.nodes.root.steps"])),
        )


    def allow_traffic_changes(self, service_account: str, namespace: str) -> None:
        """RBAC: that service account may read and patch this model's graph (its weights), nothing else."""
        self._allow("traffic", service_account, namespace, [
            {"apiGroups": ["serving.kserve.io"], "resources": ["inferencegraphs"],
             "resourceNames": [self.endpoint_name], "verbs": ["get", "patch"]}])

    def allow_deployments(self, service_account: str, namespace: str) -> None:
        """RBAC: that service account may read and patch this model's InferenceServices (their `storageUri`) and
        graph (the first ramp stage), nothing else in the namespace."""
        self._allow("deploy", service_account, namespace, [
            {"apiGroups": ["serving.kserve.io"], "resources": ["inferenceservices"],
             "resourceNames": [f"{self.endpoint_name}-{v}" for v in self.variants], "verbs": ["get", "patch"]},
            {"apiGroups": ["serving.kserve.io"], "resources": ["inferencegraphs"],
             "resourceNames": [self.endpoint_name], "verbs": ["get", "patch"]}])

    def _allow(self, purpose: str, service_account: str, namespace: str, rules: list[dict[str, Any]]) -> None:
        name = f"{self.endpoint_name}-{purpose}"
        role = k8s.rbac.v1.Role(
            f"{name}-role", metadata={"name": name, "namespace": SERVING_NAMESPACE}, rules=_any(rules),
            opts=self._opts,
        )
        k8s.rbac.v1.RoleBinding(
            f"{name}-binding", metadata={"name": name, "namespace": SERVING_NAMESPACE},
            role_ref=_any({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name}),
            subjects=_any([{"kind": "ServiceAccount", "name": service_account, "namespace": namespace}]),
            opts=pulumi.ResourceOptions.merge(self._opts, pulumi.ResourceOptions(depends_on=[role])),
        )


def _any(value: Any) -> Any:
    return value  # plain dicts: pulumi-kubernetes accepts them; its TypedDicts are too strict for literals


def store_uri(store: ArtifactStore, model: str, version: str) -> pulumi.Output[str]:
    return pulumi.Output.concat("s3://", store.artifacts.id, f"/models/{model}/{version}/")
