"""GCP adapters for the runtime controllers: Vertex AI endpoint traffic, Vertex pipeline retraining and the
Vertex AI Model Registry, through the official GAPIC clients (google-cloud-aiplatform's `aiplatform_v1`).

Why runtime code and not Pulumi: pulumi-gcp has no resource for a deployed model, a pipeline job or a model
version, and an endpoint's `trafficSplit` is keyed by deployed-model ids that exist only after a deploy. The
stack declares the endpoints (ignoring `trafficSplit`); these adapters deploy, move traffic and undeploy.

Clients are created on first use against the resource's regional service (`<region>-aiplatform.googleapis.com`),
so importing or building an adapter never needs credentials. Transient API errors (unavailable, quota,
aborted, another operation in progress on the endpoint) are retried with the bounded, deterministic backoff of
`infra.runtime.adapters.traffic.RetryPolicy`.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from infra.runtime.adapters.retraining import RetrainingRequest
from infra.runtime.adapters.traffic import RetryPolicy, TrafficUpdateError

T = TypeVar("T")

_RESOURCE = re.compile(r"^projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)(/.*)?$")
OPERATION_TIMEOUT_SECONDS = 1800.0  # a dedicated-resources deploy usually takes 5-20 minutes


def location_of(resource: str) -> tuple[str, str]:
    """(project, location) of a Vertex resource name `projects/<p>/locations/<l>/...`; ValueError otherwise."""
    match = _RESOURCE.match(resource)
    if not match:
        raise ValueError(f"{resource!r} is not a Vertex AI resource name (projects/<p>/locations/<region>/...)")
    return match["project"], match["location"]


def client_options(resource: str) -> dict[str, str]:
    """Vertex AI's regional API endpoint for a resource (Vertex serves each region from its own host)."""
    return {"api_endpoint": f"{location_of(resource)[1]}-aiplatform.googleapis.com"}


def _is_transient(exc: Exception) -> bool:
    from google.api_core import exceptions as gexc

    if isinstance(exc, gexc.ServiceUnavailable | gexc.TooManyRequests | gexc.Aborted | gexc.InternalServerError):
        return True
    # Vertex refuses a change while another deploy/undeploy/update operation on the endpoint runs.
    return isinstance(exc, gexc.FailedPrecondition) and "in progress" in str(exc).lower()


class _Retrying:
    def __init__(self, retry: RetryPolicy | None, sleep: Callable[[float], None]) -> None:
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self.retries = 0  # transient failures absorbed so far (observability and tests)

    def _call(self, call: Callable[[], T]) -> T:
        for attempt in range(self.retry.max_attempts):
            try:
                return call()
            except Exception as exc:
                if not _is_transient(exc) or attempt == self.retry.max_attempts - 1:
                    raise
                self.retries += 1
                self._sleep(self.retry.delay(attempt))
        raise AssertionError("unreachable: the last attempt returns or raises")


def percentages(weights: Mapping[str, float]) -> dict[str, int]:
    """Relative weights as whole percents summing to 100, which is what a Vertex traffic split accepts.

    Largest-remainder (Hamilton) apportionment; ties go to the variant named first in sorted order, so the
    result is deterministic. Raises ValueError for no, negative, non-finite or all-zero weights.
    """
    target = {str(k): float(v) for k, v in weights.items()}
    if not target or any(not math.isfinite(w) or w < 0 for w in target.values()) or sum(target.values()) <= 0:
        raise ValueError(f"weights must be finite, non-negative and not all zero: {target}")
    total = sum(target.values())
    exact = {k: 100.0 * w / total for k, w in target.items()}
    shares = {k: math.floor(v) for k, v in exact.items()}
    left = 100 - sum(shares.values())
    for k in sorted(exact, key=lambda k: (-(exact[k] - shares[k]), k))[:left]:
        shares[k] += 1
    return shares


@dataclass(frozen=True)
class Deployment:
    """Where a deployed model runs: a deployment resource pool the stack declares (`resource_pool`, its
    resource name: shared resources), else dedicated resources of this machine type and replica bounds."""

    machine_type: str = "n1-standard-4"
    min_replicas: int = 1
    max_replicas: int = 1
    service_account: str = ""
    resource_pool: str = ""


def default_location(env: Mapping[str, str] | None = None) -> str:
    """`projects/<GCP_PROJECT>/locations/<GCP_REGION>` from the environment (the stack sets both on its jobs)."""
    env = os.environ if env is None else env
    project, region = env.get("GCP_PROJECT", ""), env.get("GCP_REGION", "")
    if not project or not region:
        raise ValueError("GCP adapters need GCP_PROJECT and GCP_REGION (or full resource names)")
    return f"projects/{project}/locations/{region}"


class VertexEndpointTraffic(_Retrying):
    """TrafficController over a Vertex AI endpoint; variants are the deployed models' display names.

    `endpoint` is the endpoint id (numeric, as the stack names its endpoints) in `location`
    (default: GCP_PROJECT / GCP_REGION from the environment), or a full resource name
    `projects/<p>/locations/<region>/endpoints/<id>`. Weights are reported as shares of 1 (the split's
    percents / 100); a split change sends only `traffic_split` (UpdateEndpoint with that field mask), so the
    deployed models and their replicas are left as deployed.
    """

    def __init__(self, client: Any | None = None, *, location: str | None = None, retry: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(retry, sleep)
        self._client = client
        self.location = location

    def resource(self, endpoint: str) -> str:
        if endpoint.startswith("projects/"):
            return endpoint
        return f"{self.location or default_location()}/endpoints/{endpoint}"

    def client(self, endpoint: str) -> Any:
        if self._client is None:
            from google.cloud import aiplatform_v1

            self._client = aiplatform_v1.EndpointServiceClient(client_options=client_options(endpoint))
        return self._client

    def _endpoint(self, endpoint: str) -> Any:
        return self._call(lambda: self.client(endpoint).get_endpoint(name=endpoint))

    @staticmethod
    def _ids(description: Any) -> dict[str, str]:
        """Deployed model id by variant (display name); two deployments under one name are an error."""
        ids: dict[str, str] = {}
        for deployed in description.deployed_models:
            if deployed.display_name in ids:
                raise TrafficUpdateError(f"endpoint {description.name} has two deployed models named "
                                         f"{deployed.display_name!r}")
            ids[deployed.display_name] = deployed.id
        return ids

    def get_weights(self, endpoint: str) -> dict[str, float]:
        description = self._endpoint(self.resource(endpoint))
        split = dict(description.traffic_split)
        return {variant: split.get(i, 0) / 100.0 for variant, i in self._ids(description).items()}

    def set_weights(self, endpoint: str, weights: Mapping[str, float]) -> None:
        """Make the split `weights` (rounded to whole percents); a no-op when it already is."""
        from google.cloud import aiplatform_v1
        from google.protobuf import field_mask_pb2

        endpoint = self.resource(endpoint)
        description = self._endpoint(endpoint)
        ids = self._ids(description)
        unknown = sorted(set(weights) - set(ids))
        if unknown:
            raise ValueError(f"endpoint {endpoint} has no deployed model(s) {unknown}; it has {sorted(ids)}")
        wanted = {ids[v]: p for v, p in percentages(weights).items()}
        split = {i: wanted.get(i, 0) for i in ids.values()}  # deployed models not named get no traffic
        if {k: v for k, v in split.items() if v} == {k: v for k, v in dict(description.traffic_split).items() if v}:
            return
        request = aiplatform_v1.UpdateEndpointRequest(
            endpoint=aiplatform_v1.Endpoint(name=endpoint, traffic_split=split),
            update_mask=field_mask_pb2.FieldMask(paths=["traffic_split"]),
        )
        self._call(lambda: self.client(endpoint).update_endpoint(request=request))

    def deploy(self, endpoint: str, model: str, variant: str, share: float, resources: Deployment) -> str:
        """Deploy model version `model` (`projects/.../models/<id>@<version>`) as `variant` with `share` of the
        traffic (0-1); the other variants keep their relative weights in the rest. Returns the deployed model id.
        """
        from google.cloud import aiplatform_v1

        if not 0.0 <= share <= 1.0:
            raise ValueError(f"share must be between 0 and 1, got {share}")
        endpoint = self.resource(endpoint)
        ids = self._ids(self._endpoint(endpoint))
        if variant in ids:
            raise ValueError(f"endpoint {endpoint} already serves a variant {variant!r}; undeploy it first")
        current = self.get_weights(endpoint)
        others = {v: w for v, w in current.items() if w > 0}
        if not others:  # first model on the endpoint: it takes all traffic
            split = {"0": 100}
        else:
            rest = sum(others.values())
            shares = percentages({"0": share, **{v: (1.0 - share) * w / rest for v, w in others.items()}})
            split = {("0" if v == "0" else ids[v]): p for v, p in shares.items()}
        deployed = aiplatform_v1.DeployedModel(model=model, display_name=variant,
                                               service_account=resources.service_account)
        if resources.resource_pool:
            deployed.shared_resources = resources.resource_pool
        else:
            deployed.dedicated_resources = aiplatform_v1.DedicatedResources(
                machine_spec=aiplatform_v1.MachineSpec(machine_type=resources.machine_type),
                min_replica_count=resources.min_replicas, max_replica_count=resources.max_replicas,
            )
        operation = self._call(lambda: self.client(endpoint).deploy_model(
            endpoint=endpoint, deployed_model=deployed, traffic_split=split))
        return str(operation.result(timeout=OPERATION_TIMEOUT_SECONDS).deployed_model.id)

    def undeploy(self, endpoint: str, variant: str) -> None:
        """Remove `variant` from the endpoint; its traffic goes to the remaining variants in proportion."""
        endpoint = self.resource(endpoint)
        description = self._endpoint(endpoint)
        ids = self._ids(description)
        if variant not in ids:
            return  # already gone: undeploying is idempotent
        current = {v: w for v, w in self.get_weights(endpoint).items() if v != variant}
        split: dict[str, int] = {}
        if current:
            positive = {v: w for v, w in current.items() if w > 0} or dict.fromkeys(current, 1.0)
            split = {ids[v]: p for v, p in percentages(positive).items()}
        operation = self._call(lambda: self.client(endpoint).undeploy_model(
            endpoint=endpoint, deployed_model_id=ids[variant], traffic_split=split))
        operation.result(timeout=OPERATION_TIMEOUT_SECONDS)


_JOB_ID_BAD = re.compile(r"[^a-z0-9-]+")


class VertexPipelineTrigger:
    """CreatePipelineJob from the stack's compiled retraining pipeline (a KFP template in Cloud Storage).

    Idempotency: the job id is derived from the request's key, so a retried drift run asks for the same job
    and Vertex answers AlreadyExists; the existing job is returned instead of starting a second one.
    """

    def __init__(
        self, location: str, template_uri: str, *, pipeline_root: str = "", service_account: str = "",
        kms_key_name: str = "", parameters: Mapping[str, str] | None = None, client: Any | None = None,
    ) -> None:
        location_of(location)
        if not template_uri:
            raise ValueError("the vertex-pipeline trigger needs a pipeline template (env PIPELINE_TEMPLATE_URI)")
        self.location = location
        self.template_uri = template_uri
        self.pipeline_root = pipeline_root
        self.service_account = service_account
        self.kms_key_name = kms_key_name
        self.parameters = dict(parameters or {})
        self._client = client

    @classmethod
    def from_settings(cls, settings: Mapping[str, str]) -> VertexPipelineTrigger:
        """GCP_PROJECT and GCP_REGION, PIPELINE_TEMPLATE_URI (required); PIPELINE_ROOT, PIPELINE_SERVICE_ACCOUNT,
        KMS_KEY_NAME, PIPELINE_PARAMETERS (JSON object) optional."""
        location = default_location(settings)
        raw = settings.get("PIPELINE_PARAMETERS", "").strip()
        parameters = json.loads(raw) if raw else {}
        if not isinstance(parameters, dict):
            raise ValueError("PIPELINE_PARAMETERS must be a JSON object")
        return cls(
            location, settings.get("PIPELINE_TEMPLATE_URI", ""),
            pipeline_root=settings.get("PIPELINE_ROOT", ""),
            service_account=settings.get("PIPELINE_SERVICE_ACCOUNT", ""),
            kms_key_name=settings.get("KMS_KEY_NAME", ""),
            parameters={str(k): str(v) for k, v in parameters.items()},
        )

    @property
    def client(self) -> Any:
        if self._client is None:
            from google.cloud import aiplatform_v1

            self._client = aiplatform_v1.PipelineServiceClient(client_options=client_options(self.location))
        return self._client

    @staticmethod
    def job_id(request: RetrainingRequest) -> str:
        """`retrain-<model>-<key>`: lowercase letters, digits and hyphens, at most 128 characters."""
        model = _JOB_ID_BAD.sub("-", request.model_name.lower()).strip("-")[:48] or "model"
        return f"retrain-{model}-{request.idempotency_key[:24]}"

    def trigger(self, request: RetrainingRequest) -> str:
        from google.api_core import exceptions as gexc
        from google.cloud import aiplatform_v1

        job_id = self.job_id(request)
        label = _JOB_ID_BAD.sub("-", request.model_name.lower()).strip("-")[:63]
        job = aiplatform_v1.PipelineJob(
            display_name=f"{request.trigger}-{request.model_name}"[:128],
            template_uri=self.template_uri,
            runtime_config=aiplatform_v1.PipelineJob.RuntimeConfig(
                gcs_output_directory=self.pipeline_root,
                parameter_values={"model_name": request.model_name, "reason": request.reason[:1000],
                                  "report_uri": request.report_uri, **self.parameters},
            ),
            service_account=self.service_account,
            labels={"model": label, "trigger": _JOB_ID_BAD.sub("-", request.trigger.lower())[:63]},
        )
        if self.kms_key_name:
            job.encryption_spec = aiplatform_v1.EncryptionSpec(kms_key_name=self.kms_key_name)
        try:
            created = self.client.create_pipeline_job(parent=self.location, pipeline_job=job, pipeline_job_id=job_id)
        except gexc.AlreadyExists:
            return f"{self.location}/pipelineJobs/{job_id}"
        return str(created.name)


@dataclass(frozen=True)
class ModelVersion:
    """One version of a Vertex AI model: its id and aliases (e.g. `champion`, `challenger`)."""

    version_id: str
    aliases: tuple[str, ...]
    resource_name: str


class VertexModelRegistry(_Retrying):
    """Versions and aliases of a model in the Vertex AI Model Registry (`projects/.../models/<id>`).

    Aliases are unique within a model; `set_alias` moves one by removing it from the version that holds it,
    then adding it to the new one, so the model never has it on two versions.
    """

    def __init__(self, client: Any | None = None, *, retry: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(retry, sleep)
        self._client = client

    def client(self, model: str) -> Any:
        if self._client is None:
            from google.cloud import aiplatform_v1

            self._client = aiplatform_v1.ModelServiceClient(client_options=client_options(model))
        return self._client

    def versions(self, model: str) -> list[ModelVersion]:
        """Every version, oldest first; [] for a model that has none yet (first deploy: nothing registered)."""
        from google.api_core import exceptions as gexc

        try:
            found = list(self._call(lambda: self.client(model).list_model_versions(name=model)))
        except gexc.NotFound:
            return []
        versions = [ModelVersion(m.version_id, tuple(m.version_aliases), f"{model}@{m.version_id}") for m in found]
        return sorted(versions, key=lambda v: int(v.version_id) if v.version_id.isdigit() else 0)

    def version_with_alias(self, model: str, alias: str) -> ModelVersion | None:
        return next((v for v in self.versions(model) if alias in v.aliases), None)

    def set_alias(self, model: str, version_id: str, alias: str) -> None:
        """Point `alias` at `version_id` (a no-op when it already does)."""
        if alias == "default" or not re.fullmatch(r"[a-z][a-z0-9-]{0,126}[a-z0-9]", alias):
            raise ValueError(f"{alias!r} is not a settable Vertex model alias")
        holder = self.version_with_alias(model, alias)
        if holder is not None and holder.version_id == version_id:
            return
        client = self.client(model)
        if holder is not None:
            self._call(lambda: client.merge_version_aliases(name=holder.resource_name, version_aliases=[f"-{alias}"]))
        self._call(lambda: client.merge_version_aliases(name=f"{model}@{version_id}", version_aliases=[alias]))
