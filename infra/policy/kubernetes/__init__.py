"""Kubernetes controls (the objects the program declares through pulumi-kubernetes), one registry with AWS's.

The workload rules are the same functions the sandbox applies to every recorded manifest
(`infra.offline.kubernetes`), so `mlopsgen audit`, `pulumi preview --policy-pack` and `sandbox up` agree.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import ResourceValidationArgs, StackValidationArgs

from infra.offline.kubernetes import (
    NAMESPACE,
    NETWORK_POLICY,
    api_version_of,
    image_problems,
    resource_problems,
    security_problems,
    undenied_namespaces,
)
from infra.policy.helpers import of_type
from infra.policy.registry import OWN, Report, StackReport, resource_control, stack_control

WORKLOADS = ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:DaemonSet",
             "kubernetes:batch/v1:Job", "kubernetes:batch/v1:CronJob",
             "kubernetes:serving.kserve.io/v1beta1:InferenceService")
PSS = OWN + ": Kubernetes documentation, 'Pod Security Standards' (restricted profile)"


def _object(args: ResourceValidationArgs) -> dict[str, Any]:
    api_version, kind = api_version_of(args.resource_type) or ("", "")
    return {"apiVersion": api_version, "kind": kind, **args.props}


def _report_all(problems: list[str], report: Report) -> None:
    for problem in problems:
        report(problem)


@resource_control("k8s-workload-restricted", "Workloads run as non-root, without privilege escalation, with all "
                  "capabilities dropped and a read-only root filesystem", *WORKLOADS, service="Kubernetes",
                  cloud="kubernetes", source=PSS)
def workload_restricted(args: ResourceValidationArgs, report: Report) -> None:
    _report_all(security_problems(_object(args)), report)


@resource_control("k8s-workload-resources", "Every container requests and limits CPU and memory", *WORKLOADS,
                  service="Kubernetes", cloud="kubernetes", source=OWN + ": Kubernetes documentation, 'Resource "
                  "Management for Pods and Containers'; EKS best practices guide, reliability")
def workload_resources(args: ResourceValidationArgs, report: Report) -> None:
    _report_all(resource_problems(_object(args)), report)


@resource_control("k8s-images-pinned", "Every container image is pinned to a release tag or digest", *WORKLOADS,
                  service="Kubernetes", cloud="kubernetes", source=OWN + ": Kubernetes documentation, 'Images' "
                  "(avoid :latest in production)")
def images_pinned(args: ResourceValidationArgs, report: Report) -> None:
    _report_all(image_problems(_object(args)), report)


@resource_control("k8s-namespace-restricted", "Namespaces enforce the restricted Pod Security Standard", NAMESPACE,
                  service="Kubernetes", cloud="kubernetes", source=PSS)
def namespace_restricted(args: ResourceValidationArgs, report: Report) -> None:
    labels = (args.props.get("metadata") or {}).get("labels") or {}
    if labels.get("pod-security.kubernetes.io/enforce") != "restricted":
        report("the namespace does not enforce the restricted Pod Security Standard")


@stack_control("k8s-namespace-default-deny", "Every namespace starts from a default-deny NetworkPolicy",
               service="Kubernetes", cloud="kubernetes", source=OWN + ": Kubernetes documentation, 'Network "
               "Policies' (default deny all ingress and egress traffic)")
def namespace_default_deny(args: StackValidationArgs, report: StackReport) -> None:
    namespaces = of_type(args, NAMESPACE)
    missing = set(undenied_namespaces([n.props for n in namespaces], [p.props for p in of_type(args, NETWORK_POLICY)]))
    for namespace in namespaces:
        name = (namespace.props.get("metadata") or {}).get("name")
        if name in missing:
            report(f"namespace {name} has no default-deny NetworkPolicy", namespace.urn)
