"""Batch transform: a model in `batch` serving mode scores its input prefix on a schedule.

Each run takes the latest Approved version of the model's package group, creates its SageMaker model (reused
when it exists; network settings from the model's bootstrap model) and starts one transform job over
INPUT_URI, results to `<OUTPUT_URI><date>/`. The job name holds the version and the date, so a retried
invocation finds the job it started and starts no second one.

Environment contract (set by `infra.components.aws.serving.BatchScoring`): MODEL, MODEL_PACKAGE_GROUP,
NAME_BASE (prefix of the model and job names, inside the function's IAM grant), EXECUTION_ROLE_ARN (the job's
role), NETWORK_FROM_MODEL, KMS_KEY_ARN, INPUT_URI, OUTPUT_URI, INSTANCE_TYPE, INSTANCE_COUNT, CONTENT_TYPE,
SPLIT_TYPE, MAX_PAYLOAD_MB. Event: `{"model": "<name>", "date": "YYYY-MM-DD"}` (date default: today, UTC).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from botocore.exceptions import ClientError

from infra.runtime.deploy import APPROVED, NAME_LIMIT, DeployDependencies, DeploySettings, ensure_model
from infra.runtime.handlers import for_model

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchSettings:
    model: str
    group: str
    name_base: str
    execution_role_arn: str
    network_from: str
    input_uri: str
    output_uri: str
    instance_type: str
    kms_key_arn: str | None = None
    instance_count: int = 1
    content_type: str = "text/csv"
    split_type: str = "Line"
    max_payload_mb: int = 6

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> BatchSettings:
        env = os.environ if env is None else env
        required = ("MODEL", "MODEL_PACKAGE_GROUP", "NAME_BASE", "EXECUTION_ROLE_ARN", "NETWORK_FROM_MODEL",
                    "INPUT_URI", "OUTPUT_URI", "INSTANCE_TYPE")
        missing = [k for k in required if not env.get(k)]
        if missing:
            raise ValueError(f"batch transform: missing environment variables: {', '.join(missing)}")
        return cls(
            model=env["MODEL"], group=env["MODEL_PACKAGE_GROUP"], name_base=env["NAME_BASE"],
            execution_role_arn=env["EXECUTION_ROLE_ARN"], network_from=env["NETWORK_FROM_MODEL"],
            input_uri=env["INPUT_URI"], output_uri=env["OUTPUT_URI"], instance_type=env["INSTANCE_TYPE"],
            kms_key_arn=env.get("KMS_KEY_ARN") or None, instance_count=int(env.get("INSTANCE_COUNT") or 1),
            content_type=env.get("CONTENT_TYPE") or "text/csv", split_type=env.get("SPLIT_TYPE") or "Line",
            max_payload_mb=int(env.get("MAX_PAYLOAD_MB") or 6),
        )

    def models(self) -> DeploySettings:
        """The deploy settings `ensure_model` needs: model names `<NAME_BASE>-v<version>-<hash>`."""
        return DeploySettings(endpoint_name=self.name_base, decisions_bucket="", mode="batch",
                              execution_role_arn=self.execution_role_arn)


def latest_approved(sagemaker: Any, group: str) -> dict[str, Any] | None:
    listing = sagemaker.list_model_packages(
        ModelPackageGroupName=group, ModelApprovalStatus=APPROVED, SortBy="CreationTime", SortOrder="Descending",
        MaxResults=1,
    )["ModelPackageSummaryList"]
    if not listing:
        return None
    return dict(sagemaker.describe_model_package(ModelPackageName=listing[0]["ModelPackageArn"]))


def run(settings: BatchSettings, deps: DeployDependencies, event: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Start (at most once per version and day) the transform job of the latest approved version."""
    raw = (event or {}).get("date") if isinstance(event, Mapping) else None
    day = date.fromisoformat(raw) if raw else deps.clock().date()
    package = latest_approved(deps.sagemaker, settings.group)
    if package is None:
        return {"status": "no_approved_version", "changed": False, "model": settings.model}
    model = ensure_model(settings.models(), deps, package, network_from=settings.network_from)
    suffix = f"-v{package.get('ModelPackageVersion', 0)}-{day:%Y%m%d}"
    job = settings.name_base[: NAME_LIMIT - len(suffix)] + suffix
    output = f"{settings.output_uri}{day.isoformat()}/"
    base = {"model": settings.model, "transform_job": job, "model_name": model, "output": output}
    try:
        deps.sagemaker.describe_transform_job(TransformJobName=job)
        return {**base, "status": "already_started", "changed": False}
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("ValidationException", "ResourceNotFound"):
            raise
    request: dict[str, Any] = {
        "TransformJobName": job, "ModelName": model, "MaxPayloadInMB": settings.max_payload_mb,
        "BatchStrategy": "MultiRecord",
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": settings.input_uri}},
                           "ContentType": settings.content_type, "SplitType": settings.split_type},
        "TransformOutput": {"S3OutputPath": output, "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": settings.instance_type, "InstanceCount": settings.instance_count},
    }
    if settings.kms_key_arn:
        request["TransformOutput"]["KmsKeyId"] = settings.kms_key_arn
        request["TransformResources"]["VolumeKmsKeyId"] = settings.kms_key_arn
    deps.sagemaker.create_transform_job(**request)
    log.info("started %s with %s", job, model)
    return {**base, "status": "started", "changed": True}


@for_model
def handler(event: Mapping[str, Any] | None, context: Any) -> dict[str, Any]:
    """Lambda entry point: settings from the environment, real clients created on first use."""
    return run(BatchSettings.from_env(), DeployDependencies(), event)
