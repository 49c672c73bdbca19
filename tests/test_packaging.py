"""What the runtime functions are built from stays consistent with the project's own pins and code."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from infra.offline.graph import ResourceGraph

ROOT = Path(__file__).resolve().parents[1]


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        if m := re.match(r"^([A-Za-z0-9_.-]+)==(\S+)$", line.strip()):
            pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    return pins


def test_runtime_requirements_match_the_project_pins() -> None:
    runtime = _pins(ROOT / "infra" / "runtime" / "requirements.txt")
    gcp = _pins(ROOT / "infra" / "runtime" / "requirements-gcp.txt")  # the Cloud Run image installs both
    project = _pins(ROOT / "constraints.txt")
    assert {"numpy", "scipy", "pyarrow", "pydantic", "boto3"} <= set(runtime)
    assert {"google-cloud-aiplatform", "google-cloud-monitoring", "google-cloud-storage", "protobuf"} <= set(gcp)
    pins = {**runtime, **gcp}
    assert {name: version for name, version in pins.items() if project.get(name) != version} == {}


def test_the_image_holds_only_the_runtime_package() -> None:
    """The build context is the installed infra.runtime package (package data: Dockerfile, .dockerignore,
    requirements.txt), so the image builds the same from a wheel as from a source checkout."""
    import infra.runtime

    runtime_dir = Path(infra.runtime.__file__).resolve().parent
    dockerfile = (runtime_dir / "Dockerfile").read_text()
    assert "COPY . ${LAMBDA_TASK_ROOT}/infra/runtime" in dockerfile
    assert "COPY requirements.txt /tmp/requirements.txt" in dockerfile and (runtime_dir / "requirements.txt").exists()
    assert "**/__pycache__" in (runtime_dir / ".dockerignore").read_text().split()


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_function_handler_exists_in_the_runtime_package(graphs: dict[str, ResourceGraph], env: str) -> None:
    functions = graphs[env].of_type("aws:lambda/function:Function")
    # recommender (ab): ingestion, drift monitor, A/B controller, deployer; credit-scoring: no A/B controller
    assert len(functions) == 8  # two models' functions and the MLflow password rotator
    for function in functions:
        (handler,) = function.inputs["imageConfig"]["commands"]
        module, _, attribute = handler.rpartition(".")
        assert module.startswith("infra.runtime.handlers.")
        assert callable(getattr(importlib.import_module(module), attribute))
        assert function.inputs["packageType"] == "Image" and "@sha256:" in function.inputs["imageUri"]


def test_function_settings_parse_with_the_runtime_models(graphs: dict[str, ResourceGraph]) -> None:
    """What the program puts in each function's environment is what the handlers accept."""
    from infra.runtime.abtest.policy import GuardrailPolicy
    from infra.runtime.deploy import DeploySettings
    from infra.runtime.drift.config import parse_config_text
    from infra.runtime.handlers.ab_controller import ControllerSettings

    env = {f.name: f.inputs["environment"]["variables"] for f in graphs["prod"].of_type("aws:lambda/function:Function")}
    assert parse_config_text(env["recommender-drift-monitor"]["DRIFT_CONFIG"], source="DRIFT_CONFIG").drift_share == 0.5
    credit = parse_config_text(env["credit-scoring-drift-monitor"]["DRIFT_CONFIG"], source="DRIFT_CONFIG")
    assert credit.drift_share == 0.3 and credit.features["income"].threshold == 0.2
    policy = GuardrailPolicy.model_validate_json(env["recommender-ab-controller"]["GUARDRAIL_POLICY"])
    # The drift monitor reads CSV with the dialect of the schema ingestion checks against.
    for model in ("recommender", "credit-scoring"):
        assert env[f"{model}-drift-monitor"]["SCHEMA_KEY"] == env[f"{model}-ingestion"]["SCHEMA_KEY"]
    assert policy.max_relative_drop == 0.05 and policy.rollback_rule.value == "harm-first"
    controller = ControllerSettings.from_env(env["recommender-ab-controller"])
    assert controller.endpoint_name == "mlflow-sagemaker-prod-recommender"
    deploy = DeploySettings.from_env(env["recommender-deployer"])
    assert deploy.bootstrap_model == "mlflow-sagemaker-prod-recommender-bootstrap" and deploy.ramp == (0.05, 0.25, 0.5)
    assert deploy.mode == "ab" and deploy.model_card == "mlflow-sagemaker-prod-recommender"
    single = DeploySettings.from_env(env["credit-scoring-deployer"])
    assert single.mode == "single" and single.champion_variant == "primary"
    assert single.deployment_config and single.deployment_config["BlueGreenUpdatePolicy"]
