"""RetrainingTrigger that starts a Kubeflow Pipelines run through the KFP REST API (v2beta1).

Why the REST API and not the `kfp` SDK: `kfp.Client.run_pipeline` is a thin wrapper over the same two calls,
and the SDK pins protobuf below the version Pulumi needs, so it cannot live in one environment with the
program. The calls, as documented in KFP's API reference (backend/api/v2beta1/run.proto):

- `GET  {host}/apis/v2beta1/runs?filter=...&page_size=1` with a filter on `display_name`, to find a run
  already started for this batch (the idempotency check: KFP runs have no client request token);
- `POST {host}/apis/v2beta1/runs` with `display_name`, `description`, `pipeline_version_reference`
  (`pipeline_id`, optional `pipeline_version_id`: latest when absent), `runtime_config.parameters` and an
  optional `experiment_id`; the answer carries `run_id`.

- `GET  {host}/apis/v2beta1/pipelines?filter=...` with a filter on `display_name`, when the pipeline is
  named rather than given by id (pipelines are uploaded to KFP after the stack exists, so the stack knows
  their names, not their ids).

Settings (the CronJob's environment): KFP_HOST (default: the in-cluster `ml-pipeline` service of standalone
KFP), KFP_PIPELINE_ID or KFP_PIPELINE_NAME (one is required), KFP_PIPELINE_VERSION_ID, KFP_EXPERIMENT_ID,
PIPELINE_PARAMETERS (a JSON object), KFP_TOKEN_FILE (a projected service-account token for multi-user KFP;
sent as a bearer token).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infra.runtime.adapters.retraining import RetrainingRequest

DEFAULT_HOST = "http://ml-pipeline.kubeflow.svc.cluster.local:8888"
_DISPLAY_BAD = re.compile(r"[^a-zA-Z0-9-]+")


class KubeflowRunError(RuntimeError):
    """The KFP API refused or failed the request."""


class KubeflowPipelineTrigger:
    """Starts one run of a KFP pipeline per retraining request (idempotent per request key)."""

    def __init__(
        self,
        pipeline_id: str = "",
        *,
        pipeline_name: str = "",
        host: str = DEFAULT_HOST,
        pipeline_version_id: str = "",
        experiment_id: str = "",
        parameters: Mapping[str, str] | None = None,
        token_file: str = "",
        session: Any | None = None,
        timeout: float = 30.0,
    ) -> None:
        if not (pipeline_id or pipeline_name):
            raise ValueError("the kubeflow-pipeline trigger needs a pipeline (env KFP_PIPELINE_ID or "
                             "KFP_PIPELINE_NAME)")
        self.pipeline_id = pipeline_id
        self.pipeline_name = pipeline_name
        self.host = host.rstrip("/")
        self.pipeline_version_id = pipeline_version_id
        self.experiment_id = experiment_id
        self.parameters = dict(parameters or {})
        self.token_file = token_file
        self.timeout = timeout
        self._session = session

    @classmethod
    def from_settings(cls, settings: Mapping[str, str], session: Any | None = None) -> KubeflowPipelineTrigger:
        """From a job's environment; `session`: a `requests.Session`-like object (default: a new session)."""
        raw = settings.get("PIPELINE_PARAMETERS", "").strip()
        parameters = json.loads(raw) if raw else {}
        if not isinstance(parameters, dict):
            raise ValueError("PIPELINE_PARAMETERS must be a JSON object")
        return cls(
            settings.get("KFP_PIPELINE_ID", ""),
            pipeline_name=settings.get("KFP_PIPELINE_NAME", ""),
            host=settings.get("KFP_HOST") or DEFAULT_HOST,
            pipeline_version_id=settings.get("KFP_PIPELINE_VERSION_ID", ""),
            experiment_id=settings.get("KFP_EXPERIMENT_ID", ""),
            parameters={str(k): str(v) for k, v in parameters.items()},
            token_file=settings.get("KFP_TOKEN_FILE", ""),
            session=session,
        )

    @property
    def session(self) -> Any:
        if self._session is None:
            import requests

            self._session = requests.Session()
        return self._session

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token_file:  # re-read each time: projected tokens are rotated by the kubelet
            headers["Authorization"] = f"Bearer {Path(self.token_file).read_text().strip()}"
        return headers

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.session.request(method, f"{self.host}{path}", headers=self._headers(),
                                        timeout=self.timeout, **kwargs)
        if response.status_code >= 400:
            raise KubeflowRunError(f"KFP {method} {path}: HTTP {response.status_code}: {response.text[:500]}")
        body: dict[str, Any] = response.json() if response.content else {}
        return body

    @staticmethod
    def display_name(request: RetrainingRequest) -> str:
        """`drift-<model>-<first 16 hex digits of the request key>`: unique per batch, readable in the UI."""
        model = _DISPLAY_BAD.sub("-", request.model_name).strip("-")[:80] or "model"
        return f"drift-{model}-{request.idempotency_key[:16]}"

    @staticmethod
    def _by_display_name(name: str) -> str:
        return json.dumps({"predicates": [{"key": "display_name", "operation": "EQUALS", "string_value": name}]})

    def resolve_pipeline(self) -> str:
        """The pipeline id: as configured, or looked up once by display name."""
        if not self.pipeline_id:
            found = self._call("GET", "/apis/v2beta1/pipelines",
                               params={"filter": self._by_display_name(self.pipeline_name), "page_size": 1})
            pipelines = found.get("pipelines") or []
            if not pipelines:
                raise KubeflowRunError(f"KFP has no pipeline named {self.pipeline_name!r}; upload it first")
            self.pipeline_id = str(pipelines[0]["pipeline_id"])
        return self.pipeline_id

    def existing_run(self, display_name: str) -> str | None:
        params: dict[str, Any] = {"filter": self._by_display_name(display_name), "page_size": 1}
        if self.experiment_id:
            params["experiment_id"] = self.experiment_id
        runs = self._call("GET", "/apis/v2beta1/runs", params=params).get("runs") or []
        return str(runs[0]["run_id"]) if runs else None

    def trigger(self, request: RetrainingRequest) -> str:
        """Start the run, or return the run already started for this request key. Returns the KFP run id."""
        name = self.display_name(request)
        existing = self.existing_run(name)
        if existing:
            return existing
        description = request.reason + (f" Report: {request.report_uri}" if request.report_uri else "")
        reference = {"pipeline_id": self.resolve_pipeline()}
        if self.pipeline_version_id:
            reference["pipeline_version_id"] = self.pipeline_version_id
        body: dict[str, Any] = {
            "display_name": name,
            "description": description,
            "pipeline_version_reference": reference,
            "runtime_config": {"parameters": dict(self.parameters)},
        }
        if self.experiment_id:
            body["experiment_id"] = self.experiment_id
        run = self._call("POST", "/apis/v2beta1/runs", data=json.dumps(body))
        if not run.get("run_id"):
            raise KubeflowRunError(f"KFP answered without a run_id: {json.dumps(run)[:300]}")
        return str(run["run_id"])
