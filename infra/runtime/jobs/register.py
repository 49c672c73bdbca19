"""Register a trained model version in the model's registry: the last step of a retraining pipeline.

`python -m infra.runtime.jobs.run register-model` in the pipeline's final step (a KFP component running the
runtime image). Environment: MODEL_REGISTRY and that registry's settings (for `wandb-artifacts`: REGISTERED_MODEL,
the stack output `registeredModel` of the model, and the W&B ConfigMap and Secret `wandb` the stack syncs into the
`kubeflow` namespace), MODEL_URI (the archive the training step wrote, `s3://.../model.tar.gz`), APPROVE (`true`
registers it approved: the profile's `approval: auto`; default false, a reviewer approves), DESCRIPTION and
METADATA (a JSON object: metrics, the baseline's URI). Registering the same archive twice gives the same version.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from infra.runtime.adapters.registry import ModelRegistry, ModelVersion, get_model_registry


def handler(event: Mapping[str, Any] | None, context: Any, env: Mapping[str, str] | None = None,
            registry: ModelRegistry | None = None) -> ModelVersion:
    """The registered version (printed as JSON by `infra.runtime.jobs.run`); `registry`: the one to use instead
    of the one MODEL_REGISTRY names (tests, the simulation)."""
    settings = os.environ if env is None else env
    uri = settings.get("MODEL_URI", "")
    if not uri.startswith("s3://"):
        raise ValueError("register-model: MODEL_URI must be the s3:// URI of the model archive")
    metadata = json.loads(settings.get("METADATA") or "{}")
    if not isinstance(metadata, dict):
        raise ValueError("register-model: METADATA must be a JSON object")
    approve = (settings.get("APPROVE") or "false").lower() == "true"
    return (registry or get_model_registry(settings)).register(
        uri, description=settings.get("DESCRIPTION", ""), metadata=metadata, approved=approve)
