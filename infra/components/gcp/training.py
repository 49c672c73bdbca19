"""A model's retraining on Vertex AI Pipelines: its compiled pipeline (KFP IR) in the artifacts bucket and the
service account its runs use."""

from __future__ import annotations

import re
from typing import Any

import pulumi
import pulumi_gcp as gcp

from infra.components.base import Capability, ModelScope
from infra.components.gcp.context import GcpContext, Workload
from infra.components.gcp.registry import ImageRegistry
from infra.components.gcp.security import CmekKey
from infra.components.gcp.storage import READ, READ_WRITE, GcsStore
from infra.profiles.model import VertexPipelineTraining

# Memory per vCPU of each Compute Engine family's standard shape (GB), for the container's resource request.
GB_PER_CPU = {"standard": 3.75, "highmem": 6.5, "highcpu": 0.9}


def container_resources(machine_type: str) -> dict[str, float]:
    """KFP resource requests that make Vertex pick `machine_type`'s shape (e.g. n1-standard-4: 4 CPU, 15 GB)."""
    match = re.match(r"^[a-z0-9]+-([a-z]+)-(\d+)$", machine_type)
    if not match or match[1] not in GB_PER_CPU:
        return {}
    cpus = int(match[2])
    return {"cpuLimit": float(cpus), "memoryLimit": round(cpus * GB_PER_CPU[match[1]], 2)}


def pipeline_spec(*, name: str, training_image: Any, runtime_image: Any, data_uri: Any, baselines_uri: Any,
                  model_name: str, machine_type: str, approval: str) -> pulumi.Output[str]:
    """The retraining pipeline as KFP pipeline IR (schemaVersion 2.1.0), the format Vertex AI Pipelines runs.

    Two tasks: `train` (the team's training image: trains on `training_data` and uploads a version of
    `model_name` to the Vertex AI Model Registry, with the alias `approved` when `approval` is automatic)
    and `baseline` (the runtime image's infra.runtime.jobs.baseline: the drift baseline of that data, versioned
    by the pipeline run and copied to `current`). Vertex mounts Cloud Storage at /gcs/ (Cloud Storage FUSE).
    Root parameters are the ones the retraining triggers send (model_name, reason, report_uri).
    """
    def param(default: Any) -> dict[str, Any]:
        return {"parameterType": "STRING", "defaultValue": default}

    def as_fuse(uri: Any) -> pulumi.Output[str]:
        return pulumi.Output.from_input(uri).apply(lambda u: "/gcs/" + u.removeprefix("gs://"))

    inputs = {"training_data": param(data_uri), "model_name": param(model_name), "reason": param("scheduled"),
              "report_uri": param("")}
    component_inputs = {"parameters": {k: {"parameterType": "STRING"} for k in inputs}}
    spec = {
        "pipelineInfo": {"name": name},
        "schemaVersion": "2.1.0",
        "sdkVersion": "mlopsgen",
        "root": {
            "inputDefinitions": {"parameters": inputs},
            "dag": {"tasks": {
                task: {
                    "taskInfo": {"name": task},
                    "componentRef": {"name": f"comp-{task}"},
                    "inputs": {"parameters": {k: {"componentInputParameter": k} for k in inputs}},
                    **({"dependentTasks": ["train"]} if task == "baseline" else {}),
                }
                for task in ("train", "baseline")
            }},
        },
        "components": {f"comp-{task}": {"executorLabel": f"exec-{task}", "inputDefinitions": component_inputs}
                       for task in ("train", "baseline")},
        "deploymentSpec": {"executors": {
            "exec-train": {"container": {
                "image": training_image,
                "args": ["--training-data", "{{$.inputs.parameters['training_data']}}",
                         "--model-name", "{{$.inputs.parameters['model_name']}}",
                         "--approval", approval, "--reason", "{{$.inputs.parameters['reason']}}"],
                "resources": container_resources(machine_type),
            }},
            "exec-baseline": {"container": {
                "image": runtime_image,
                "command": ["python3", "-m", "infra.runtime.jobs.baseline"],
                "args": ["--input", as_fuse(data_uri),
                         "--output", pulumi.Output.concat(as_fuse(baselines_uri), "{{$.pipeline_job_uuid}}"),
                         "--output", pulumi.Output.concat(as_fuse(baselines_uri), "current"),
                         "--model-name", "{{$.inputs.parameters['model_name']}}"],
            }},
        }},
    }
    return pulumi.Output.json_dumps(spec)


class ModelTraining(Capability):
    """The model's retraining pipeline template and the service account its runs use (least privilege: the
    model's curated data, its model, baseline and pipeline areas, the images, the Vertex AI user role to upload
    model versions, log writing)."""

    capability = "training"

    def __init__(self, name: str, ctx: GcpContext, model: ModelScope, args: VertexPipelineTraining, *,
                 key: CmekKey, store: GcsStore, registry: ImageRegistry, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlopsgen:gcp:TrainingPipeline", name, opts)
        self.ctx = ctx
        self.key = key
        self.workload = Workload(ctx, "trainer", f"Vertex AI pipeline runs of {model.name}: training and "
                                 "baselines", self, model)
        store.data.grant(self.workload, READ, model.prefix("curated"))
        store.artifacts.grant(self.workload, READ_WRITE, model.prefix("models"), model.prefix("baselines"),
                              model.prefix("pipeline-root"))
        store.artifacts.grant(self.workload, READ, model.prefix("pipelines"))
        registry.grant_pull(self.workload)
        for role in ("roles/aiplatform.user", "roles/logging.logWriter"):
            self.workload.grant_project_role(role)
        self.root = store.artifacts.path(model.prefix("pipeline-root"))
        key_name = f"{model.prefix('pipelines')}retraining.json"
        self.template = gcp.storage.BucketObject(
            f"{model.name}-pipeline-template", bucket=store.artifacts.id, name=key_name,
            content_type="application/json",
            content=pipeline_spec(
                name=model.physical("retraining"), training_image=registry.image("training", args.image_tag),
                runtime_image=registry.runtime_uri, data_uri=store.data.path(model.prefix("curated")),
                baselines_uri=store.artifacts.path(model.prefix("baselines")), model_name=model.base,
                machine_type=args.machine_type, approval=args.approval,
            ),
            opts=self.child(),
        )
        self.template_uri = store.artifacts.path(key_name)
        self.register_outputs({"templateUri": self.template_uri, "serviceAccount": self.workload.email})

    def settings(self) -> dict[str, pulumi.Input[str]]:
        """What a job needs to submit this pipeline (infra.runtime.adapters.gcp.VertexPipelineTrigger)."""
        return {
            "RETRAINING_TRIGGER": "vertex-pipeline", "PIPELINE_TEMPLATE_URI": self.template_uri,
            "PIPELINE_ROOT": self.root, "PIPELINE_SERVICE_ACCOUNT": self.workload.email, "KMS_KEY_NAME": self.key.id,
        }

    def grant_submit(self, workload: Workload) -> None:
        """Let a workload submit runs of this pipeline as the trainer account (Vertex AI user, and act as it)."""
        workload.grant_project_role("roles/aiplatform.user")
        workload.grant_act_as(self.workload)
