"""Kubernetes objects offline: recorded with their full manifests and checked, never applied.

Nothing here emulates a cluster. Each object the program declares through pulumi-kubernetes is rebuilt as the
manifest the provider would send and checked:
- built-in kinds against the Kubernetes OpenAPI schema as the official `kubernetes` Python client encodes it
  (its generated models: field names, types, required fields and enums; client 36.x = Kubernetes 1.36 API);
  `...Patch` resources (server-side apply patches) are partial, so required fields are not demanded;
- custom resources against the CRD schemas vendored in `infra/offline/schemas/` (KServe, External Secrets),
  written from those projects' documented CRD fields for the pinned releases;
- the project's workload-safety rules (see `infra.components.kubernetes.workloads`);
- upstream installs (Helm releases, remote kustomizations) are recorded, not rendered: only that their
  versions are pinned and, for the project's own KFP overlay, that the overlay parses and references the
  pinned release, are checked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from infra.offline.graph import ResourceGraph, ResourceRecord

SCHEMAS = Path(__file__).with_name("schemas")
_TOKEN = re.compile(r"^kubernetes:(?P<group>[^:]+):(?P<kind>\w+)$")
_LIST = re.compile(r"^list\[(.+)\]$")
_DICT = re.compile(r"^dict[\[(]str, (.+)[\])]$")
_PINNED_TAG = re.compile(r"[:@]")
NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


@dataclass
class ObjectCheck:
    """The outcome for one Kubernetes resource of the graph."""

    type: str
    name: str
    kind: str
    checked_against: str
    problems: list[str] = field(default_factory=list)
    recorded_not_rendered: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, "kind": self.kind, "checkedAgainst": self.checked_against,
                "recordedNotRendered": self.recorded_not_rendered, "problems": self.problems}


def api_version_of(token: str) -> tuple[str, str] | None:
    """`kubernetes:apps/v1:Deployment` -> ("apps/v1", "Deployment"); core group -> "v1"."""
    m = _TOKEN.match(token)
    if not m:
        return None
    group = m.group("group")
    return (group.removeprefix("core/"), m.group("kind")) if group.startswith("core/") else (group, m.group("kind"))


def manifest(record: ResourceRecord) -> dict[str, Any]:
    """The object as the provider would apply it: apiVersion and kind first, then the declared fields."""
    found = api_version_of(record.type)
    inputs = dict(record.inputs)
    api_version = inputs.pop("apiVersion", found[0] if found else "")
    kind = inputs.pop("kind", found[1] if found else "")
    return {"apiVersion": api_version, "kind": kind, **inputs}


# ---------------------------------------------------------------- built-in kinds: the client's models
def _model(api_version: str, kind: str) -> Any:
    from kubernetes import client

    version = api_version.rsplit("/", 1)[-1]
    return getattr(client, f"{version.capitalize()}{kind}", None)


def _check_value(value: Any, type_name: str, path: str, problems: list[str], partial: bool) -> Any:
    from kubernetes import client

    if value is None:
        return None
    if m := _LIST.match(type_name):
        if not isinstance(value, list):
            problems.append(f"{path}: expected a list, got {type(value).__name__}")
            return None
        return [_check_value(v, m.group(1), f"{path}[{i}]", problems, partial) for i, v in enumerate(value)]
    if m := _DICT.match(type_name):
        if not isinstance(value, dict):
            problems.append(f"{path}: expected a mapping, got {type(value).__name__}")
            return None
        return {k: _check_value(v, m.group(1), f"{path}.{k}", problems, partial) for k, v in value.items()}
    simple: dict[str, type | tuple[type, ...]] = {"str": str, "int": int, "bool": bool, "float": (int, float),
                                                  "datetime": str, "date": str}
    if type_name in simple:
        if not isinstance(value, simple[type_name]) or (type_name == "int" and isinstance(value, bool)):
            problems.append(f"{path}: expected {type_name}, got {type(value).__name__} {value!r}")
        return value
    if type_name == "object":
        return value
    model = getattr(client, type_name, None)
    if model is None:
        return value
    return _check_object(value, model, path, problems, partial)


def _check_object(data: Any, model: Any, path: str, problems: list[str], partial: bool) -> Any:
    if not isinstance(data, dict):
        problems.append(f"{path}: expected an object ({model.__name__}), got {type(data).__name__}")
        return None
    by_json = {json_name: attr for attr, json_name in model.attribute_map.items()}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        attr = by_json.get(key)
        if attr is None:
            problems.append(f"{path}.{key}: unknown field of {model.__name__}")
            continue
        kwargs[attr] = _check_value(value, model.openapi_types[attr], f"{path}.{key}", problems, partial)
    if not partial:
        try:
            model(**kwargs)  # the generated setters enforce required fields and enumerations
        except ValueError as exc:
            problems.append(f"{path or model.__name__}: {exc}")
    return kwargs


def check_builtin(obj: dict[str, Any], partial: bool) -> tuple[str, list[str]]:
    model = _model(obj["apiVersion"], obj["kind"])
    if model is None:
        return "", [f"no Kubernetes schema for {obj['apiVersion']} {obj['kind']}"]
    problems: list[str] = []
    _check_object(obj, model, "", problems, partial)
    return f"Kubernetes OpenAPI ({model.__name__}, kubernetes client models)", problems


# ---------------------------------------------------------------- custom resources: vendored CRD schemas
@cache
def crd_schema(api_version: str, kind: str) -> dict[str, Any] | None:
    path = SCHEMAS / f"{api_version.replace('/', '_')}_{kind}.json"
    return json.loads(path.read_text()) if path.exists() else None


def check_custom(obj: dict[str, Any]) -> tuple[str, list[str]]:
    from jsonschema import Draft202012Validator

    schema = crd_schema(obj["apiVersion"], obj["kind"])
    if schema is None:
        return "", [f"no vendored CRD schema for {obj['apiVersion']} {obj['kind']}"]
    problems = [f"{'.'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
                for e in sorted(Draft202012Validator(schema).iter_errors(obj), key=lambda e: list(e.absolute_path))]
    return f"CRD schema {schema.get('$id', obj['kind'])}", problems


# ---------------------------------------------------------------- workload safety
def pod_specs(obj: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(path, pod spec) of every pod template in a workload object, KServe predictors included."""
    spec = obj.get("spec") or {}
    kind = obj.get("kind")
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return [("spec.template.spec", (spec.get("template") or {}).get("spec") or {})]
    if kind == "CronJob":
        job = (spec.get("jobTemplate") or {}).get("spec") or {}
        return [("spec.jobTemplate.spec.template.spec", (job.get("template") or {}).get("spec") or {})]
    if kind == "InferenceService":
        predictor = spec.get("predictor") or {}
        model = predictor.get("model")
        return [("spec.predictor", {**predictor, "containers": [{"name": "kserve-container", **model}]})] \
            if model else []
    return []


def _containers(obj: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(path, container) of every container, init containers included, of every pod template in `obj`."""
    return [(f"{where}.containers[{c.get('name')}]", c) for where, pod in pod_specs(obj)
            for c in [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]]


def security_problems(obj: dict[str, Any]) -> list[str]:
    """The restricted Pod Security Standard's container rules: non-root pod, no privilege escalation, all
    capabilities dropped; plus a read-only root filesystem."""
    problems = [f"{where}.securityContext.runAsNonRoot is not true" for where, pod in pod_specs(obj)
                if not (pod.get("securityContext") or {}).get("runAsNonRoot")]
    for at, c in _containers(obj):
        sc = c.get("securityContext") or {}
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{at}: allowPrivilegeEscalation is not false")
        if sc.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{at}: readOnlyRootFilesystem is not true")
        if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
            problems.append(f"{at}: capabilities are not all dropped")
    return problems


def resource_problems(obj: dict[str, Any]) -> list[str]:
    """Every container requests and limits CPU and memory."""
    problems = []
    for at, c in _containers(obj):
        resources = c.get("resources") or {}
        for part in ("requests", "limits"):
            missing = {"cpu", "memory"} - set(resources.get(part) or {})
            if missing:
                problems.append(f"{at}.resources.{part} lacks {', '.join(sorted(missing))}")
    return problems


def image_problems(obj: dict[str, Any]) -> list[str]:
    """Every image names a release tag or a digest, never `latest` or nothing."""
    problems = []
    for at, c in _containers(obj):
        image = c.get("image")
        if image is not None and (not _PINNED_TAG.search(str(image).rsplit("/", 1)[-1])
                                  or str(image).endswith(":latest")):
            problems.append(f"{at}: image {image} is not pinned (tag or digest)")
    return problems


def workload_problems(obj: dict[str, Any]) -> list[str]:
    return [*security_problems(obj), *resource_problems(obj), *image_problems(obj)]


def is_default_deny(policy: Mapping[str, Any]) -> bool:
    """A NetworkPolicy selecting every pod of its namespace that allows nothing in or out."""
    spec = policy.get("spec") or {}
    return spec.get("podSelector") == {} and set(spec.get("policyTypes") or []) == {"Ingress", "Egress"} \
        and not spec.get("ingress") and not spec.get("egress")


def undenied_namespaces(namespaces: Sequence[Mapping[str, Any]], policies: Sequence[Mapping[str, Any]]) -> list[str]:
    """Names of the namespaces (objects as declared) that no default-deny NetworkPolicy covers."""
    names = {(n.get("metadata") or {}).get("name") for n in namespaces}
    denied = {(p.get("metadata") or {}).get("namespace") for p in policies if is_default_deny(p)}
    return sorted(str(n) for n in names - denied)


def network_policy_problems(graph: ResourceGraph) -> list[str]:
    """Every namespace the project creates needs a default-deny NetworkPolicy."""
    missing = undenied_namespaces([r.inputs for r in graph.of_type(NAMESPACE)],
                                  [r.inputs for r in graph.of_type(NETWORK_POLICY)])
    return [f"namespace {ns} has no default-deny NetworkPolicy" for ns in missing]


# ---------------------------------------------------------------- upstream installs: recorded, not rendered
def _pinned_remote(url: str) -> bool:
    return bool(re.search(r"[?&]ref=v?\d+\.\d+\.\d+$", url))


def check_kustomization(directory: str) -> list[str]:
    """A local overlay: it parses, every remote base is pinned to a release, every patch names its target."""
    path = Path(directory) / "kustomization.yaml"  # relative to the working directory, as the program made it
    if not path.exists():
        return [f"{directory}: no kustomization.yaml"]
    doc = yaml.safe_load(path.read_text())
    problems = []
    for resource in doc.get("resources") or []:
        if "://" in resource and not _pinned_remote(resource):
            problems.append(f"{directory}: remote resource {resource} is not pinned to a release (?ref=x.y.z)")
    for i, patch in enumerate(doc.get("patches") or []):
        body = yaml.safe_load(patch.get("patch", "")) if "patch" in patch else \
            yaml.safe_load((path.parent / patch["path"]).read_text())
        target = patch.get("target") or {}
        if not isinstance(body, dict) or not {"apiVersion", "kind", "metadata"} <= set(body):
            problems.append(f"{directory}: patch {i} is not a Kubernetes object patch")
        elif target and (target.get("kind"), target.get("name")) != (body["kind"], body["metadata"].get("name")):
            problems.append(f"{directory}: patch {i} targets {target} but patches {body['kind']} "
                            f"{body['metadata'].get('name')}")
    return problems


def check_upstream(record: ResourceRecord) -> tuple[str, list[str]]:
    inputs = record.inputs
    if record.type == "kubernetes:helm.sh/v3:Release":
        version = str(inputs.get("version") or "")
        problems = [] if re.match(r"^v?\d+\.\d+\.\d+$", version) else [f"chart {inputs.get('chart')} version "
                                                                        f"{version!r} is not an exact release"]
        return f"Helm chart {inputs.get('chart')} {version}", problems
    directory = str(inputs.get("directory") or "")
    if "://" in directory:
        return f"kustomization {directory}", [] if _pinned_remote(directory) else [f"{directory} is not pinned"]
    return f"project overlay {directory}", check_kustomization(directory)


UPSTREAM = {"kubernetes:helm.sh/v3:Release", "kubernetes:kustomize/v2:Directory"}


def check_graph(graph: ResourceGraph) -> tuple[list[ObjectCheck], list[str]]:
    """Check every Kubernetes resource of the graph; returns per-object results and namespace-level problems."""
    results = []
    for record in graph.resources:
        if record.type in UPSTREAM:  # kustomize.v2.Directory is a (provider-side) component, Release custom
            against, problems = check_upstream(record)
            results.append(ObjectCheck(record.type, record.name, record.type.rsplit(":", 1)[-1], against, problems,
                                       recorded_not_rendered=True))
            continue
        if not record.type.startswith("kubernetes:") or not record.custom:
            continue
        obj = manifest(record)
        # `...Patch` resources (server-side apply) change part of an object someone else owns: the schema's
        # required fields and the safety rules apply to the whole object, not to the patch.
        patch = record.type.endswith("Patch")
        if _model(obj["apiVersion"], obj["kind"]) is not None:
            against, problems = check_builtin(obj, partial=patch)
        else:
            against, problems = check_custom(obj)
        if not patch:
            problems += workload_problems(obj)
        results.append(ObjectCheck(record.type, record.name, obj["kind"], against, problems))
    return results, network_policy_problems(graph)
