"""What the simulation keeps in place of a Kubernetes cluster (there is none offline), at the clients' boundary.

- `CustomObjects`: the KServe objects the program declares (InferenceServices, InferenceGraphs), served to the
  runtime's real adapters through the two `kubernetes.client.CustomObjectsApi` calls they make: get, and a JSON
  merge patch (RFC 7386) that fails with 409 Conflict when it carries a stale `metadata.resourceVersion`, as the
  API server does.
- `KfpApi`: the Kubeflow Pipelines REST calls the retraining trigger makes (`requests`-style `request(...)`):
  list pipelines and runs by display name, create a run. Runs are recorded; the simulation then completes each
  the way it completes a SageMaker pipeline execution (see `infra.offline.simulation.engine`).
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from json import dumps, loads
from typing import Any
from urllib.parse import urlparse

from infra.offline.graph import ResourceGraph

KSERVE_TYPES = {"kubernetes:serving.kserve.io/v1beta1:InferenceService": "inferenceservices",
                "kubernetes:serving.kserve.io/v1alpha1:InferenceGraph": "inferencegraphs"}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge key by key, `None` deletes a key, anything else (lists included) replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


class CustomObjects:
    """An in-memory `CustomObjectsApi` holding the graph's KServe objects, with resource versions."""

    def __init__(self, graph: ResourceGraph) -> None:
        self._objects: dict[tuple[str, str, str, str, str], dict[str, Any]] = {}
        self._versions = itertools.count(1)
        for record in graph.resources:
            plural = KSERVE_TYPES.get(record.type)
            if plural is None:
                continue
            group, version = str(record.inputs["apiVersion"]).split("/")
            meta = record.inputs["metadata"]
            obj = copy.deepcopy(record.inputs)
            obj["metadata"] = {**meta, "resourceVersion": str(next(self._versions))}
            self._objects[(group, version, meta["namespace"], plural, meta["name"])] = obj

    def get_namespaced_custom_object(self, group: str, version: str, namespace: str, plural: str,
                                     name: str) -> dict[str, Any]:
        return copy.deepcopy(self._find(group, version, namespace, plural, name))

    def patch_namespaced_custom_object(self, group: str, version: str, namespace: str, plural: str, name: str,
                                       body: dict[str, Any]) -> dict[str, Any]:
        from kubernetes.client.exceptions import ApiException

        current = self._find(group, version, namespace, plural, name)
        expected = (body.get("metadata") or {}).get("resourceVersion")
        if expected is not None and expected != current["metadata"]["resourceVersion"]:
            raise ApiException(status=409, reason="Conflict")
        patched = merge_patch(current, body)
        patched["metadata"]["resourceVersion"] = str(next(self._versions))
        self._objects[(group, version, namespace, plural, name)] = patched
        return copy.deepcopy(patched)

    def _find(self, group: str, version: str, namespace: str, plural: str, name: str) -> dict[str, Any]:
        from kubernetes.client.exceptions import ApiException

        try:
            return self._objects[(group, version, namespace, plural, name)]
        except KeyError:
            raise ApiException(status=404, reason="Not Found") from None


@dataclass
class Response:
    status_code: int
    body: dict[str, Any]

    @property
    def content(self) -> bytes:
        return dumps(self.body).encode()

    @property
    def text(self) -> str:
        return self.content.decode()

    def json(self) -> dict[str, Any]:
        return self.body


@dataclass
class KfpApi:
    """The KFP v2beta1 REST endpoints the trigger calls, in memory. `pipelines`: display name -> pipeline id
    (the pipelines a team uploads after the stack exists)."""

    pipelines: dict[str, str] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)

    def request(self, method: str, url: str, *, headers: dict[str, str] | None = None, timeout: float = 0,
                params: dict[str, Any] | None = None, data: str | None = None) -> Response:
        path = urlparse(url).path
        wanted = _display_name((params or {}).get("filter"))
        if method == "GET" and path == "/apis/v2beta1/pipelines":
            found = [{"pipeline_id": pid, "display_name": name} for name, pid in self.pipelines.items()
                     if wanted in (None, name)]
            return Response(200, {"pipelines": found} if found else {})
        if method == "GET" and path == "/apis/v2beta1/runs":
            found = [r for r in self.runs if wanted in (None, r["display_name"])]
            return Response(200, {"runs": found} if found else {})
        if method == "POST" and path == "/apis/v2beta1/runs" and data is not None:
            body = loads(data)
            pipeline = body.get("pipeline_version_reference", {}).get("pipeline_id")
            if pipeline not in self.pipelines.values():
                return Response(404, {"error": f"pipeline {pipeline} not found"})
            run = {**body, "run_id": f"run-{len(self.runs) + 1}", "state": "PENDING"}
            self.runs.append(run)
            return Response(200, run)
        return Response(404, {"error": f"no route {method} {path}"})


def _display_name(filter_json: str | None) -> str | None:
    if not filter_json:
        return None
    predicates = loads(filter_json).get("predicates", [])
    return next((str(p["string_value"]) for p in predicates if p.get("key") == "display_name"), None)
