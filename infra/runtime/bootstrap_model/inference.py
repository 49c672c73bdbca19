"""SageMaker scikit-learn container entry points for the bootstrap model (no trained model exists yet)."""

from __future__ import annotations

import json
from typing import Any

NO_MODEL = {"model": "bootstrap", "status": "no-model-approved", "prediction": None}


def model_fn(model_dir: str) -> dict[str, Any]:
    return NO_MODEL


def input_fn(body: bytes | str, content_type: str) -> Any:
    return body


def predict_fn(data: Any, model: dict[str, Any]) -> dict[str, Any]:
    return model


def output_fn(prediction: dict[str, Any], accept: str) -> tuple[str, str]:
    return json.dumps(prediction), "application/json"
