"""Many models on one platform: per-model resources, tags, serving modes, IAM isolation and stability."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from infra.cli.main import app
from infra.offline.graph import ResourceGraph, ResourceRecord
from infra.offline.preview import preview
from infra.offline.tokens import taggable
from infra.profiles.loader import PROFILES_DIR, resolve

STARTUP = Path(__file__).resolve().parents[1] / "stacks" / "examples" / "startup.yaml"
ACCOUNT, REGION = "123456789012", "us-east-1"
# Actions IAM offers no resource-level permission for: the only ones a model's role may hold on "*".
UNSCOPED_ACTIONS = {
    "ecr:GetAuthorizationToken", "cloudwatch:PutMetricData", "cloudwatch:GetMetricData",
    "cloudwatch:GetMetricStatistics", "ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface", "ec2:DeleteNetworkInterfacePermission", "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups",
    "xray:PutTraceSegments", "xray:PutTelemetryRecords",  # X-Ray has no resource-level permissions
}
DATA_AREAS = ("landing", "curated", "quarantine", "scoring")
ARTIFACT_AREAS = ("models", "checkpoints", "baselines", "reports/drift", "experiments", "schemas", "datacapture")


def ancestors(graph: ResourceGraph, record: ResourceRecord) -> list[str]:
    by_name = {r.name: r for r in graph.resources}
    out, parent = [], record.parent
    while parent is not None:
        out.append(parent)
        parent = by_name[parent].parent
    return out


def model_of(graph: ResourceGraph, record: ResourceRecord, models: set[str]) -> str | None:
    return next((a for a in ancestors(graph, record) if a in models), None)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.fixture(scope="module")
def startup() -> ResourceGraph:
    return preview(resolve(str(STARTUP), "prod"))


# ---------------------------------------------------------------- preview
def test_preview_json_lists_shared_resources_once_and_each_models_own(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["preview", "--stack", "dev", "--json"])
    assert result.exit_code == 0, result.output
    resources = json.loads(result.output)["resources"]
    by_name = {r["name"]: r for r in resources}
    types = [r["type"] for r in resources]
    for shared in ("aws:kms/key:Key", "aws:sns/topic:Topic", "aws:ec2/vpc:Vpc", "aws:rds/instance:Instance",
                   "docker-build:index:Image"):
        assert types.count(shared) == 1, shared
    assert types.count("aws:s3/bucket:Bucket") == 3  # data, artifacts and their access-log bucket, once
    for model, serving in (("recommender", "aws:sagemaker/endpoint:Endpoint"),
                           ("credit-scoring", "aws:sagemaker/endpoint:Endpoint")):
        own = [r for r in resources if r["name"].startswith(f"{model}-")]
        own_types = {r["type"] for r in own}
        assert {"aws:sagemaker/modelPackageGroup:ModelPackageGroup", "aws:sagemaker/pipeline:Pipeline",
                "aws:sagemaker/modelCard:ModelCard", serving, "aws:scheduler/schedule:Schedule",
                "aws:cloudwatch/metricAlarm:MetricAlarm", "aws:cloudwatch/dashboard:Dashboard"} <= own_types
        assert by_name[model]["type"] == "mlopsgen:aws:Model" and by_name[model]["parent"] is None
        for r in own:
            if r["type"].startswith("aws:") and "tags" in r["inputs"]:
                assert r["inputs"]["tags"]["model"] == model, r["name"]
    card = json.loads(by_name["credit-scoring-model-card"]["inputs"]["content"])
    assert card["intended_uses"]["risk_rating"] == "High"
    assert card["model_overview"]["model_owner"] == "credit-risk-team"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_resource_of_a_model_is_tagged_with_it_and_shared_ones_are_not(
    graphs: dict[str, ResourceGraph], env: str
) -> None:
    graph = graphs[env]
    models = set(graph_models(graph))
    tagged = 0
    for r in graph.custom:
        if not taggable(r.type):
            continue
        owner = model_of(graph, r, models)
        assert r.inputs["tags"].get("model") == owner, f"{r.type} {r.name}"
        tagged += owner is not None
    assert tagged > 40


def graph_models(graph: ResourceGraph) -> list[str]:
    return [r.name for r in graph.of_type("mlopsgen:aws:Model")]


# ---------------------------------------------------------------- serving modes
def test_single_mode_is_blue_green_with_auto_rollback_alarms(graphs: dict[str, ResourceGraph]) -> None:
    graph = graphs["prod"]
    endpoint = graph.named("credit-scoring-serving-endpoint").inputs
    policy = endpoint["deploymentConfig"]
    routing = policy["blueGreenUpdatePolicy"]["trafficRoutingConfiguration"]
    assert routing == {"type": "CANARY", "waitIntervalInSeconds": 600,
                       "canarySize": {"type": "CAPACITY_PERCENT", "value": 10}}
    alarms = {a["alarmName"] for a in policy["autoRollbackConfiguration"]["alarms"]}
    declared = {r.inputs["name"]: r.inputs for r in graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert alarms == {"mlflow-sagemaker-prod-credit-scoring-primary-5xx",
                      "mlflow-sagemaker-prod-credit-scoring-primary-latency"}
    assert all(declared[a]["dimensions"]["EndpointName"] == endpoint["name"] for a in alarms)
    config = graph.named("credit-scoring-serving-config").inputs
    assert [v["variantName"] for v in config["productionVariants"]] == ["primary"]
    env = graph.named("credit-scoring-deployer").inputs["environment"]["variables"]
    assert env["SERVING_MODE"] == "single" and env["CHAMPION_VARIANT"] == "primary"
    assert json.loads(env["DEPLOYMENT_CONFIG"])["AutoRollbackConfiguration"]["Alarms"] == [
        {"AlarmName": a} for a in sorted(alarms, key=lambda n: n.endswith("latency"))]


def test_serverless_mode_has_no_instances(graphs: dict[str, ResourceGraph]) -> None:
    graph = graphs["dev"]
    (variant,) = graph.named("credit-scoring-serving-config").inputs["productionVariants"]
    assert variant["serverlessConfig"] == {"memorySizeInMb": 2048, "maxConcurrency": 5}
    assert "instanceType" not in variant
    assert not [r for r in graph.of_type("aws:appautoscaling/target:Target") if r.name.startswith("credit-scoring")]
    assert graph.named("credit-scoring-deployer").inputs["environment"]["variables"]["SERVING_MODE"] == "serverless"


def test_batch_mode_schedules_a_transform_and_has_no_endpoint(startup: ResourceGraph) -> None:
    names = {r.name for r in startup.resources}
    assert "churn-serving-endpoint" not in names
    function = startup.named("churn-batch-transform").inputs
    assert function["imageConfig"]["commands"] == ["infra.runtime.handlers.batch_transform.handler"]
    env = function["environment"]["variables"]
    assert env["INPUT_URI"].endswith("-data/scoring/churn/input/")
    schedule = startup.named("churn-batch-scoring").inputs
    assert schedule["scheduleExpression"] == "cron(0 5 ? * MON *)"
    assert json.loads(schedule["target"]["input"]) == {"model": "churn"}
    assert startup.named("churn-deployer").inputs["environment"]["variables"]["SERVING_MODE"] == "batch"


def test_none_mode_registers_and_monitors_but_serves_nothing(tmp_path: Path) -> None:
    profile = tmp_path / "none.yaml"
    profile.write_text(yaml.safe_dump({"name": "only-registry", "models": {
        "research": {"serving": {"mode": "none"}, "card": {"owner": "lab"}}}}))
    graph = preview(resolve(str(profile), "dev"))
    own = {r.type for r in graph.resources if r.name.startswith("research-")}
    assert {"aws:sagemaker/modelPackageGroup:ModelPackageGroup", "aws:sagemaker/pipeline:Pipeline",
            "aws:sagemaker/modelCard:ModelCard"} <= own
    assert not {"aws:sagemaker/endpoint:Endpoint", "aws:sagemaker/model:Model"} & own
    assert "research-deployer" not in {r.name for r in graph.resources}
    assert "research-drift-monitor" in {r.name for r in graph.resources}


# ---------------------------------------------------------------- IAM isolation
def model_arns(graph: ResourceGraph, model: str) -> list[str]:
    """ARNs of what belongs to `model` (computed from its names, not read from the policies)."""
    prefix = f"{graph.profile}-{graph.environment}"
    base = f"{prefix}-{model}"
    sagemaker = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:"
    buckets = [r.inputs["bucket"] for r in graph.of_type("aws:s3/bucket:Bucket")]
    landing = [r.inputs["environment"]["variables"]["LANDING_PREFIX"] for r in graph.of_type(
        "aws:lambda/function:Function") if r.name == f"{model}-ingestion"]
    arns = [f"arn:aws:s3:::{b}/{area}/{model}/x" for b in buckets for area in DATA_AREAS + ARTIFACT_AREAS]
    arns += [f"arn:aws:s3:::{b}/{p}x" for b in buckets for p in landing]
    arns += [f"{sagemaker}endpoint/{base}", f"{sagemaker}model-package-group/{base}",
             f"{sagemaker}model-package/{base}/1", f"{sagemaker}pipeline/{base}-retraining",
             f"{sagemaker}model-card/{base}", f"{sagemaker}model-card/{base}-v1", f"{sagemaker}model/{base}-v1-abc",
             f"{sagemaker}endpoint-config/{base}-live-abc", f"{sagemaker}transform-job/{base}-v1-20260101"]
    arns += [f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{r.inputs['name']}"
             for r in graph.of_type("aws:lambda/function:Function") if r.name.startswith(f"{model}-")]
    arns += [f"arn:aws:iam::{ACCOUNT}:role/{r.inputs['name']}"
             for r in graph.of_type("aws:iam/role:Role") if r.name.startswith(f"{model}-")]
    return arns


def model_prefixes(graph: ResourceGraph, model: str) -> list[str]:
    return [f"{area}/{model}/x" for area in DATA_AREAS + ARTIFACT_AREAS]


def statements_of_roles_of(graph: ResourceGraph, model: str) -> list[dict[str, Any]]:
    out = []
    for policy in graph.of_type("aws:iam/rolePolicy:RolePolicy"):
        if model in ancestors(graph, policy):
            doc = json.loads(policy.inputs["policy"])
            out += [dict(s, _policy=policy.name) for s in as_list(doc["Statement"])]
    return out


def grants_on(statement: dict[str, Any], arns: list[str], prefixes: list[str]) -> list[str]:
    """What of `arns` / listable `prefixes` the statement grants (empty: nothing)."""
    if statement["Effect"] != "Allow":
        return []
    actions, resources = as_list(statement["Action"]), as_list(statement["Resource"])
    if resources == ["*"]:
        return [] if set(actions) <= UNSCOPED_ACTIONS else ["* with " + ", ".join(actions)]
    hits = [a for a in arns for pattern in resources if fnmatch.fnmatchcase(a, pattern)]
    if "s3:ListBucket" in actions:
        allowed = (statement.get("Condition") or {}).get("StringLike", {}).get("s3:prefix")
        if allowed is None:
            hits.append("ListBucket without a prefix condition")
        else:
            hits += [p for p in prefixes for pattern in as_list(allowed) if fnmatch.fnmatchcase(p, pattern)]
    return hits


@pytest.mark.parametrize("profile,env", [("mlflow-sagemaker", "dev"), ("mlflow-sagemaker", "prod"),
                                         (str(STARTUP), "prod")])
def test_a_models_roles_grant_nothing_on_another_models_resources(
    graphs: dict[str, ResourceGraph], startup: ResourceGraph, profile: str, env: str
) -> None:
    graph = startup if profile == str(STARTUP) else graphs[env]
    models = graph_models(graph)
    assert len(models) >= 2
    for a in models:
        statements = statements_of_roles_of(graph, a)
        assert len(statements) > 20, a
        own = model_arns(graph, a)
        # the check can fail: each model's roles do reach its own data, group and endpoint
        assert any(grants_on(s, own, model_prefixes(graph, a)) for s in statements)
        for b in models:
            if b == a:
                continue
            for s in statements:
                assert not grants_on(s, model_arns(graph, b), model_prefixes(graph, b)), (a, b, s)


def test_the_isolation_check_catches_a_stack_wide_grant() -> None:
    wide = {"Effect": "Allow", "Action": ["sagemaker:UpdateEndpoint"],
            "Resource": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/mlflow-sagemaker-dev-*"}
    listing = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b"}
    other = [f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/mlflow-sagemaker-dev-credit-scoring"]
    assert grants_on(wide, other, []) and grants_on(listing, [], ["curated/credit-scoring/x"])


# ---------------------------------------------------------------- stability
def with_models(tmp_path: Path, change: Any) -> str:
    """A renamed copy of the built-in profile changed by `change(data)` (its schema files are found in stacks/)."""
    data = yaml.safe_load((PROFILES_DIR / "mlflow-sagemaker.yaml").read_text())
    data["name"] = "stability"
    change(data)
    path = tmp_path / f"copy-{len(list(tmp_path.iterdir()))}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(path)


def records(graph: ResourceGraph) -> dict[tuple[str, str], ResourceRecord]:
    return {(r.type, r.name): r for r in graph.resources}


def test_adding_a_model_changes_only_that_models_resources(tmp_path: Path) -> None:
    def add(data: dict[str, Any]) -> None:
        data["models"]["churn"] = {"serving": {"mode": "batch"}, "card": {"owner": "growth"}}

    original = records(preview(resolve(with_models(tmp_path, lambda d: None), "prod")))
    added = preview(resolve(with_models(tmp_path, add), "prod"))
    after = records(added)
    assert set(original) <= set(after)
    for key, before in original.items():  # same names, inputs, parents and options for everything else
        now = after[key]
        assert (now.inputs, now.parent, now.protect, now.retain_on_delete) == (
            before.inputs, before.parent, before.protect, before.retain_on_delete), key
    new = [after[k] for k in set(after) - set(original)]
    assert len(new) > 30
    assert all(r.name == "churn" or "churn" in ancestors(added, r) for r in new)


def test_removing_a_model_retains_its_data(tmp_path: Path) -> None:
    graph = preview(resolve(with_models(tmp_path, lambda d: None), "prod"))
    removed = preview(resolve(with_models(tmp_path, lambda d: d["models"].pop("credit-scoring")), "prod"))
    gone = set(records(graph)) - set(records(removed))
    assert gone and all(r.name == "credit-scoring" or "credit-scoring" in ancestors(graph, r)
                        for r in (records(graph)[k] for k in gone))
    # its data lives under its prefixes in the shared buckets, which stay (and are retained on destroy) ...
    assert all(b.retain_on_delete and b.protect for b in removed.of_type("aws:s3/bucket:Bucket"))
    # ... and its registered versions and model card are retained when Pulumi deletes the model's resources
    for name in ("credit-scoring-model-package-group", "credit-scoring-model-card"):
        assert graph.named(name).retain_on_delete, name
