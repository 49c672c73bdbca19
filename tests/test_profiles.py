"""Profile validation: built-in profiles, overlays, schema, and clear errors for malformed files."""

from __future__ import annotations

from pathlib import Path

import botocore.session
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from infra.cli.main import app
from infra.errors import UserError
from infra.profiles.exceptions import loosened_defaults
from infra.profiles.loader import PROFILES_DIR, load_stack, resolve
from infra.profiles.schema import SCHEMA_FILE, schema_text
from infra.profiles.validators import check_region, check_schedule_expression
from infra.profiles.wording import did_you_mean

BAD = Path(__file__).parent / "fixtures" / "bad"
runner = CliRunner()

# file -> (line, field) the error must name
MALFORMED = {
    "wrong-type.yaml": (7, "models.churn.serving.min_capacity"),
    "unknown-field.yaml": (7, "models.churn.serving.min_capacty"),
    "unknown-kind.yaml": (3, "tracking.kind"),
    "bad-schedule.yaml": (6, "models.churn.dataset.ingestion_schedule"),
    "bad-bucket-name.yaml": (4, "artifact_store.bucket_prefix"),
    "bad-instance-type.yaml": (7, "models.churn.serving.instance_type"),
    "bad-rds-class.yaml": (5, "tracking.database.instance_class"),
    "bad-ramp.yaml": (8, "models.churn.serving.ab.challenger_ramp"),
    "bad-model-name.yaml": (2, "models"),
    "bad-schema-file.yaml": (6, "models.churn.dataset.schema_file"),
    "missing-card.yaml": (3, "models.churn.card"),
    "invalid-yaml.yaml": (5, ""),
    "duplicate-key.yaml": (3, "region"),
    "unknown-environment.yaml": (2, "environments"),
    "overlay-invalid.yaml": (7, "networking"),
    "not-a-mapping.yaml": (1, ""),
    "Pulumi.unknown-setting.yaml": (4, "mlopsgen:profle"),
    "Pulumi.bad-override.yaml": (8, "models.recommender.serving.max_capacity"),
    "Pulumi.missing-profile.yaml": (1, "mlopsgen:profile"),
    "Pulumi.unknown-profile.yaml": (2, "mlopsgen:profile"),
    # deploy-time checks moto does not make
    "bad-fargate-size.yaml": (5, "tracking.memory_mib"),
    "bad-region.yaml": (3, "region"),
    "bad-training-type.yaml": (7, "models.churn.training.instance_type"),
    "never-fires.yaml": (6, "models.churn.dataset.ingestion_schedule"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_file_exits_2_naming_file_line_and_field(name: str) -> None:
    line, field = MALFORMED[name]
    result = runner.invoke(app, ["validate", str(BAD / name)])
    assert result.exit_code == 2, result.output
    assert f"{name}:{line}:" in result.output
    assert field in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_every_malformed_fixture_is_covered() -> None:
    assert {p.name for p in BAD.iterdir()} == set(MALFORMED)


def test_builtin_stacks_validate() -> None:
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 0, result.output
    for env in ("dev", "staging", "prod"):
        assert f"Pulumi.{env}.yaml" in result.output


def test_overlays_change_sizing_and_protection() -> None:
    dev, prod = load_stack("dev").body, load_stack("prod").body
    assert dev.networking.nat_gateways == 0 and prod.networking.nat_gateways >= 1
    assert dev.models["recommender"].serving.instance_type == "ml.t2.medium"
    # the body's value where the overlay says nothing
    assert prod.models["recommender"].serving.instance_type == "ml.m5.large"
    assert prod.tracking.kind == "mlflow-ecs" and dev.tracking.kind == "mlflow-ecs"
    assert prod.tracking.database.multi_az and not dev.tracking.database.multi_az
    assert prod.security.protect_data and not dev.security.protect_data


def test_loosened_defaults_are_reported_only_where_loosened() -> None:
    dev = loosened_defaults(load_stack("dev"))
    prod = loosened_defaults(load_stack("prod"))
    assert any(line.startswith("security.protect_data") for line in dev)
    assert any(line.startswith("tracking.database.deletion_protection") for line in dev)
    assert not any(line.startswith(("security.", "tracking.database.")) for line in prod)


def test_overlay_may_switch_kind() -> None:
    spec = resolve("mlflow-sagemaker", "dev")
    assert spec.body.tracking.kind == "mlflow-ecs"
    switched = resolve(str(BAD.parent / "managed-mlflow.yaml"), "prod")
    assert switched.body.tracking.kind == "sagemaker-mlflow"


def test_schema_file_is_generated_from_the_models() -> None:
    expected = schema_text()
    assert SCHEMA_FILE.read_text(encoding="utf-8") == expected, f"run: mlopsgen schema -o {SCHEMA_FILE}"


def test_schema_command_prints_the_schema() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    assert '"title": "mlopsgen stack profile"' in result.output


@pytest.mark.parametrize("expr", [
    "rate(1 day)", "rate(5 minutes)", "cron(0 2 * * ? *)", "cron(0 3 ? * SUN *)", "cron(15 10 ? * MON-FRI *)",
    "at(2026-12-01T10:00:00)",
])
def test_valid_schedule_expressions(expr: str) -> None:
    assert check_schedule_expression(expr) == expr


@pytest.mark.parametrize("expr", [
    "rate(1 days)", "rate(0 minutes)", "cron(0 2 * * *)", "cron(0 2 * * * *)", "cron(61 2 * * ? *)",
    "cron(0 2 ? * FUNDAY *)", "daily", "rate(2 day)",
])
def test_invalid_schedule_expressions(expr: str) -> None:
    with pytest.raises(ValueError):
        check_schedule_expression(expr)


def test_stack_and_profile_options_are_exclusive() -> None:
    result = runner.invoke(app, ["preview", "--stack", "dev", "--profile", "mlflow-sagemaker"])
    assert result.exit_code == 2
    assert "either --stack or --profile" in result.output


def test_user_error_lists_every_problem() -> None:
    with pytest.raises(UserError) as info:
        resolve(str(BAD / "unknown-field.yaml"), "dev")
    assert len(info.value.problems) == 1


def test_builtin_profile_ships_the_two_seed_models() -> None:
    for env in ("dev", "staging", "prod"):
        spec = load_stack(env)
        recommender, credit = spec.body.models["recommender"], spec.body.models["credit-scoring"]
        assert recommender.serving.mode == "ab" and recommender.serving.ab.guardrail.max_relative_drop == 0.05
        assert recommender.dataset.ingestion_schedule == "cron(0 2 * * ? *)"
        assert recommender.training.schedule == "cron(0 3 ? * SUN *)"
        assert credit.serving.mode == ("serverless" if env == "dev" else "single")
        assert credit.monitoring.retrain_on_drift and credit.monitoring.drift.features["income"].threshold == 0.2
        assert credit.card.risk_rating == "high"
        assert {c["name"] for c in spec.schemas["credit-scoring"]["columns"]} >= {"income", "debt_to_income"}


def test_overlay_reaches_one_model_and_only_that_model() -> None:
    dev = load_stack("dev").body.models
    prod = load_stack("prod").body.models
    assert dev["credit-scoring"].serving.mode == "serverless"
    assert dev["credit-scoring"].serving.serverless.max_concurrency == 5
    # the overlay changes a model's section without touching its other settings or the other model
    assert dev["credit-scoring"].monitoring == prod["credit-scoring"].monitoring
    assert dev["credit-scoring"].card == prod["credit-scoring"].card
    assert dev["recommender"].serving.ab == prod["recommender"].serving.ab


def test_a_section_without_kind_is_the_default_kind() -> None:
    from infra.profiles.model import ModelSpec

    spec = ModelSpec.model_validate({"card": {"owner": "x"}, "serving": {"mode": "batch"}, "training": {}})
    assert spec.serving.kind == "sagemaker-endpoint" and spec.training.kind == "sagemaker-pipeline"


def test_per_model_loosened_defaults_are_reported() -> None:
    dev = loosened_defaults(load_stack("dev"))
    assert any(line.startswith("models.recommender.serving.min_capacity is 1") for line in dev)
    assert not any(line.startswith("models.") for line in loosened_defaults(load_stack("prod")))


# Fargate task sizes as the ECS developer guide tabulates them ("Task CPU and memory"), written out here
# independently of the validator's table.
def _fargate_allows(cpu: int, memory: int) -> bool:
    if cpu == 256:
        return memory in (512, 1024, 2048)
    low, high = {512: (1, 4), 1024: (2, 8), 2048: (4, 16), 4096: (8, 30)}[cpu]
    return memory % 1024 == 0 and low <= memory // 1024 <= high


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(cpu=st.sampled_from([256, 512, 1024, 2048, 4096]),
       memory=st.one_of(st.integers(512, 30720), st.integers(1, 30).map(lambda g: g * 1024)))
def test_fargate_sizes_are_accepted_exactly_as_aws_lists_them(tmp_path_factory: pytest.TempPathFactory,
                                                              cpu: int, memory: int) -> None:
    path = tmp_path_factory.mktemp("fargate") / "profile.yaml"
    path.write_text(f"name: sized\ntracking:\n  kind: mlflow-ecs\n  cpu: {cpu}\n  memory_mib: {memory}\n"
                    "  certificate_arn: arn:aws:acm:us-east-1:123456789012:certificate/1234abcd\n")
    result = runner.invoke(app, ["validate", str(path)])
    if _fargate_allows(cpu, memory):
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code == 2
        assert "profile.yaml:5:" in result.output and "tracking.memory_mib" in result.output


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(region=st.from_regex(r"\A[a-z]{2}-(east|west|north|south|central)-\d{1,2}\Z"))
def test_a_region_is_accepted_only_where_botocore_lists_sagemaker(region: str) -> None:
    session = botocore.session.get_session()
    known = {r for p in session.get_available_partitions()
             for r in session.get_available_regions("sagemaker", partition_name=p)}
    if region in known:
        assert check_region(region) == region
    else:
        with pytest.raises(ValueError, match="is not an AWS region"):
            check_region(region)


@pytest.mark.parametrize("expr", ["cron(0 2 30 2 ? *)", "cron(0 2 31 APR,JUN,SEP,NOV ? *)",
                                  "cron(0 2 30,31 FEB ? *)"])
def test_a_cron_on_days_its_months_lack_never_fires_and_is_rejected(expr: str) -> None:
    with pytest.raises(ValueError, match="never fires"):
        check_schedule_expression(expr)


@pytest.mark.parametrize("expr", ["cron(0 2 29 FEB ? *)", "cron(0 2 31 * ? *)", "cron(0 2 31 JAN,APR ? *)"])
def test_a_cron_with_one_real_day_is_kept(expr: str) -> None:
    assert check_schedule_expression(expr) == expr


EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "stacks" / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_profiles_validate_in_every_environment(path: Path) -> None:
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert all(env in result.output for env in ("dev", "staging", "prod"))


def test_validate_takes_a_builtin_profile_by_name() -> None:
    result = runner.invoke(app, ["validate", "vertex-managed"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(("target", "message"), [
    ("mlflow-sagemakr", "mlflow-sagemakr: no such file; did you mean 'mlflow-sagemaker'?"),
    (str(BAD), "is a directory; give a profile file"),
])
def test_validate_says_what_a_wrong_target_is(target: str, message: str) -> None:
    result = runner.invoke(app, ["validate", target])
    assert result.exit_code == 2 and message in " ".join(result.output.split()), result.output


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(number=st.integers(0, 10_000) | st.floats(0, 1e4, allow_nan=False))
def test_a_number_is_never_taken_for_a_misspelling(number: float) -> None:
    assert did_you_mean(number, ["1", "7", "30", "90", "365"]) == ""
    assert did_you_mean(str(number), ["1", "7", "30", "90", "365"]) == ""


WANDB = PROFILES_DIR / "wandb-kubeflow.yaml"


@pytest.mark.parametrize(("replace", "with_", "message"), [
    ("instance_types: [g5.xlarge, g6.xlarge]", "instance_types: [banana]", "'banana' is not an EC2 instance type"),
    ("instance_types: [g5.xlarge, g6.xlarge]", "instance_types: [ml.g5.xlarge]", "is a SageMaker instance type"),
    ("instance_types: [g5.xlarge, g6.xlarge]", "instance_types: [m6i.large]", "'m6i.large' has no NVIDIA GPU"),
    ('kubernetes_version: "1.33"', 'kubernetes_version: "1.99"', "Kubernetes 1.99 is newer than the 1.36 API"),
])
def test_eks_node_types_and_version_are_checked(tmp_path: Path, replace: str, with_: str, message: str) -> None:
    text = WANDB.read_text()
    assert replace in text
    path = tmp_path / "eks.yaml"
    path.write_text(text.replace(replace, with_, 1))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2 and message in " ".join(result.output.split()), result.output
    assert "eks.yaml:" in result.output
