"""TrafficController over a KServe InferenceGraph Splitter: exact per-request champion/challenger split.

Why an InferenceGraph Splitter and not KServe's own canary (see README, "Serving on KServe"): in Standard
(raw deployment) mode `spec.canary[].trafficPercent` is replica-weighted, so a 5% challenger share needs 20
replicas; in Knative mode `canaryTrafficPercent` is per request but needs Istio and Knative. A Splitter routes
each request by weight in KServe's router, with only KServe (Standard mode) and cert-manager installed.

The graph (`serving.kserve.io/v1alpha1`, kind InferenceGraph) has one root Splitter node whose steps are the
variants: step `name` is the variant name (`champion`, `challenger`), `serviceName` the InferenceService,
`weight` an integer percentage; the weights of a Splitter sum to 100 (KServe's admission webhook rejects
anything else). Pulumi declares the graph with `ignore_changes` on the steps, so `pulumi up` never reverts
what this adapter set.

The change is one JSON merge patch (RFC 7386) through `CustomObjectsApi.patch_namespaced_custom_object`. A
merge patch replaces a list whole, so the patch carries every step (unchanged fields included) and the
`metadata.resourceVersion` read with it: if anyone changed the graph in between, the API server answers 409
Conflict and the adapter re-reads and tries again. 409, 429 and 5xx are retried with bounded backoff.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from infra.runtime.adapters.traffic import RetryPolicy, TrafficUpdateError, _validated

GROUP, VERSION, PLURAL = "serving.kserve.io", "v1alpha1", "inferencegraphs"
RETRYABLE_STATUSES = frozenset({409, 429, 500, 502, 503, 504})


def percentages(weights: Mapping[str, float]) -> dict[str, int]:
    """Relative weights as integer percentages summing to exactly 100 (largest remainder method).

    Ties in the remainders go to the variant listed first, so the result is deterministic.
    """
    target = _validated(weights)
    total = sum(target.values())
    exact = {name: 100.0 * w / total for name, w in target.items()}
    floors = {name: math.floor(v) for name, v in exact.items()}
    left = 100 - sum(floors.values())
    order = sorted(exact, key=lambda n: (-(exact[n] - floors[n]), list(exact).index(n)))
    for name in order[:left]:
        floors[name] += 1
    return floors


def custom_objects_api() -> Any:
    """A `kubernetes.client.CustomObjectsApi` from the pod's service account (in-cluster config), falling back to
    the local kubeconfig (`KUBECONFIG`)."""
    import os

    from kubernetes import client, config

    try:
        config.load_incluster_config()
    except config.ConfigException:
        # The client reads KUBECONFIG once, at import; read it when the adapter starts instead.
        config.load_kube_config(config_file=os.environ.get("KUBECONFIG"))
    return client.CustomObjectsApi()


class KServeGraphTraffic:
    """Reads and sets the Splitter weights of InferenceGraphs in one namespace.

    `api` is a `kubernetes.client.CustomObjectsApi` (or anything with its `get_namespaced_custom_object` and
    `patch_namespaced_custom_object`); by default one is built on first use from the pod's service account
    (in-cluster config), falling back to the local kubeconfig.
    """

    def __init__(
        self,
        namespace: str,
        api: Any | None = None,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not namespace:
            raise ValueError("the kserve-inferencegraph controller needs a namespace (env KSERVE_NAMESPACE)")
        self.namespace = namespace
        self._api = api
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self.retries = 0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> KServeGraphTraffic:
        """KSERVE_NAMESPACE (required): the namespace of the InferenceGraphs."""
        return cls(env.get("KSERVE_NAMESPACE", ""))

    @property
    def api(self) -> Any:
        if self._api is None:
            self._api = custom_objects_api()
        return self._api

    def get_weights(self, endpoint: str) -> dict[str, float]:
        steps = _steps(self._get(endpoint), endpoint)
        return {str(s["name"]): float(s.get("weight", 0)) / 100.0 for s in steps}

    def set_weights(self, endpoint: str, weights: Mapping[str, float]) -> None:
        """Make the split `weights` (relative); a no-op when the graph already has it."""
        from kubernetes.client.exceptions import ApiException

        wanted = percentages(weights)
        for attempt in range(self.retry.max_attempts):
            graph = self._get(endpoint)
            steps = _steps(graph, endpoint)
            names = [str(s["name"]) for s in steps]
            unknown = sorted(set(wanted) - set(names))
            if unknown:
                raise ValueError(f"inference graph {endpoint} has no step(s) {unknown}; it has {sorted(names)}")
            new_steps = [{**s, "weight": wanted.get(str(s["name"]), 0)} for s in steps]
            if new_steps == steps:
                return
            patch = {
                "metadata": {"resourceVersion": graph.get("metadata", {}).get("resourceVersion")},
                "spec": {"nodes": {"root": {"steps": new_steps}}},
            }
            try:
                self.api.patch_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, endpoint, patch)
                return
            except ApiException as exc:
                if exc.status not in RETRYABLE_STATUSES or attempt == self.retry.max_attempts - 1:
                    raise TrafficUpdateError(
                        f"inference graph {endpoint}: weights not changed ({exc.status} {exc.reason})"
                    ) from exc
                self.retries += 1
                self._sleep(self.retry.delay(attempt))
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _get(self, endpoint: str) -> dict[str, Any]:
        from kubernetes.client.exceptions import ApiException

        for attempt in range(self.retry.max_attempts):
            try:
                graph: dict[str, Any] = self.api.get_namespaced_custom_object(
                    GROUP, VERSION, self.namespace, PLURAL, endpoint
                )
                return graph
            except ApiException as exc:
                if exc.status not in RETRYABLE_STATUSES or attempt == self.retry.max_attempts - 1:
                    raise TrafficUpdateError(
                        f"inference graph {endpoint} in {self.namespace}: cannot read it ({exc.status} {exc.reason})"
                    ) from exc
                self.retries += 1
                self._sleep(self.retry.delay(attempt))
        raise AssertionError("unreachable: the last attempt returns or raises")


def _steps(graph: Mapping[str, Any], endpoint: str) -> list[dict[str, Any]]:
    root = graph.get("spec", {}).get("nodes", {}).get("root", {})
    if root.get("routerType") != "Splitter":
        raise TrafficUpdateError(f"inference graph {endpoint}: root node is {root.get('routerType')!r}, not Splitter")
    steps = root.get("steps") or []
    if any("name" not in s for s in steps):
        raise TrafficUpdateError(f"inference graph {endpoint}: every Splitter step needs a name (the variant)")
    return [dict(s) for s in steps]
