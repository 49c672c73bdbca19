"""Starting a retraining run when drift calls for it, behind one small interface.

The drift monitor only needs "start retraining for this reason, once". Each orchestrator implements that
(a SageMaker pipeline execution here, a Vertex AI pipeline job in `infra.runtime.adapters.gcp`, a Kubeflow
Pipelines run in `infra.runtime.adapters.kubeflow`; others register under their own names), and the monitor
picks one by name (env `RETRAINING_TRIGGER`), configured from a settings mapping (the function's
environment), so a new trigger needs no change to the handler.

Idempotency: every request carries a key derived from the model and the batch it judged. SageMaker receives
it as ClientRequestToken, so a retried Lambda invocation does not start a second execution for the same batch.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from botocore.config import Config


@dataclass(frozen=True)
class RetrainingRequest:
    """Why retraining is asked for, and a key that makes repeated requests for one batch start one run."""

    model_name: str
    reason: str
    idempotency_key: str
    report_uri: str = ""
    drifted_features: tuple[str, ...] = field(default_factory=tuple)
    trigger: str = "drift"  # what asked: `drift`, `schedule` (labels and names the run where the service allows)

    @staticmethod
    def key_for(*parts: str) -> str:
        """A 64-hex-digit key from the identifying parts (model, batch date or object key)."""
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@runtime_checkable
class RetrainingTrigger(Protocol):
    """Starts one retraining run; returns an identifier of the run (e.g. an execution ARN)."""

    def trigger(self, request: RetrainingRequest) -> str: ...


_DISPLAY_NAME_BAD = re.compile(r"[^a-zA-Z0-9-]+")


class SageMakerPipelineTrigger:
    """StartPipelineExecution of a SageMaker pipeline (the retraining pipeline the stack deploys)."""

    def __init__(
        self,
        pipeline_name: str,
        *,
        client: Any | None = None,
        parameters: Mapping[str, str] | None = None,
        region_name: str | None = None,
    ) -> None:
        if not pipeline_name:
            raise ValueError("the sagemaker-pipeline trigger needs a pipeline name (env PIPELINE_NAME)")
        self.pipeline_name = pipeline_name
        self.parameters = dict(parameters or {})
        self._client = client
        self._region_name = region_name

    @classmethod
    def from_settings(cls, settings: Mapping[str, str]) -> SageMakerPipelineTrigger:
        """PIPELINE_NAME (required); PIPELINE_PARAMETERS: optional JSON object of pipeline parameters."""
        raw = settings.get("PIPELINE_PARAMETERS", "").strip()
        parameters = json.loads(raw) if raw else {}
        if not isinstance(parameters, dict):
            raise ValueError("PIPELINE_PARAMETERS must be a JSON object")
        return cls(settings.get("PIPELINE_NAME", ""), parameters={str(k): str(v) for k, v in parameters.items()})

    @property
    def client(self) -> Any:
        """Created on first use, so building the trigger never needs AWS credentials."""
        if self._client is None:
            import boto3

            self._client = boto3.client(
                "sagemaker",
                region_name=self._region_name,
                config=Config(retries={"mode": "standard", "max_attempts": 5}),
            )
        return self._client

    def trigger(self, request: RetrainingRequest) -> str:
        # Display names allow [a-zA-Z0-9-], 82 characters at most.
        display = _DISPLAY_NAME_BAD.sub("-", f"drift-{request.model_name}").strip("-")[:82] or "drift"
        description = request.reason
        if request.report_uri:
            description += f" Report: {request.report_uri}"
        kwargs: dict[str, Any] = {
            "PipelineName": self.pipeline_name,
            "PipelineExecutionDisplayName": display,
            "PipelineExecutionDescription": description[:3072],
            "ClientRequestToken": request.idempotency_key[:128],
        }
        if self.parameters:
            kwargs["PipelineParameters"] = [{"Name": k, "Value": v} for k, v in self.parameters.items()]
        response = self.client.start_pipeline_execution(**kwargs)
        return str(response["PipelineExecutionArn"])


TriggerFactory = Callable[[Mapping[str, str]], RetrainingTrigger]


def _vertex_pipeline(settings: Mapping[str, str]) -> RetrainingTrigger:
    from infra.runtime.adapters.gcp import VertexPipelineTrigger  # google-cloud-aiplatform: only when used

    return VertexPipelineTrigger.from_settings(settings)


def _kubeflow_pipeline(settings: Mapping[str, str]) -> RetrainingTrigger:
    from infra.runtime.adapters.kubeflow import KubeflowPipelineTrigger  # only where KFP is the orchestrator

    return KubeflowPipelineTrigger.from_settings(settings)


RETRAINING_TRIGGERS: dict[str, TriggerFactory] = {
    "sagemaker-pipeline": SageMakerPipelineTrigger.from_settings,
    "vertex-pipeline": _vertex_pipeline,
    "kubeflow-pipeline": _kubeflow_pipeline,
}
"""Retraining triggers by name (env `RETRAINING_TRIGGER`); other orchestrators' triggers register here."""


def register_retraining_trigger(name: str, factory: TriggerFactory, *, replace: bool = False) -> None:
    """Add a trigger under `name`; refuses to shadow an existing one unless `replace`."""
    if name in RETRAINING_TRIGGERS and not replace:
        raise ValueError(f"retraining trigger {name!r} is already registered")
    RETRAINING_TRIGGERS[name] = factory


def get_retraining_trigger(name: str, settings: Mapping[str, str]) -> RetrainingTrigger:
    """A new trigger by name, configured from `settings` (the environment); clients are created on first use."""
    try:
        factory = RETRAINING_TRIGGERS[name]
    except KeyError:
        raise ValueError(f"unknown retraining trigger {name!r}; known: {sorted(RETRAINING_TRIGGERS)}") from None
    return factory(settings)
