"""The resource graph each environment declares, from the real program under Pulumi's mock runtime."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from infra.cli.main import app
from infra.offline.graph import ResourceGraph
from infra.offline.preview import preview
from infra.offline.tokens import taggable
from infra.profiles.loader import resolve

TAGS = ("project", "environment", "profile", "capability")

# Build 4 of the foundation issue: every capability's resources, by Pulumi type token.
REQUIRED = {
    "aws:kms/key:Key", "aws:s3/bucket:Bucket", "aws:s3/bucketServerSideEncryptionConfiguration:"
    "BucketServerSideEncryptionConfiguration", "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet",
    "aws:ec2/vpcEndpoint:VpcEndpoint", "aws:ecs/cluster:Cluster", "aws:ecs/service:Service",
    "aws:ecs/taskDefinition:TaskDefinition", "aws:lb/loadBalancer:LoadBalancer", "aws:lb/listener:Listener",
    "aws:rds/instance:Instance", "aws:ecr/repository:Repository", "aws:iam/role:Role",
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup", "aws:sagemaker/pipeline:Pipeline",
    "aws:sagemaker/model:Model", "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
    "aws:sagemaker/endpoint:Endpoint", "aws:appautoscaling/target:Target", "aws:appautoscaling/policy:Policy",
    "aws:scheduler/schedule:Schedule", "aws:lambda/function:Function", "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:cloudwatch/dashboard:Dashboard", "aws:sns/topic:Topic", "aws:sagemaker/modelCard:ModelCard",
}


def one(graph: ResourceGraph, token: str) -> Any:
    found = graph.of_type(token)
    assert len(found) == 1, f"{token}: {len(found)}"
    return found[0]


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_every_capability_is_declared(graphs: dict[str, ResourceGraph], env: str) -> None:
    types = {r.type for r in graphs[env].resources}
    assert types >= REQUIRED, REQUIRED - types
    components = {r.type for r in graphs[env].resources if r.is_component}
    assert {"mlopsgen:aws:ArtifactStore", "mlopsgen:aws:ModelEndpoint", "mlopsgen:aws:Monitoring",
            "mlopsgen:aws:Model", "mlopsgen:aws:TrainingPipeline", "mlopsgen:aws:ModelMonitor"} <= components


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_taggable_resources_carry_the_four_tags(graphs: dict[str, ResourceGraph], env: str) -> None:
    checked = 0
    for r in graphs[env].custom:
        if not taggable(r.type):
            continue
        tags = r.inputs.get("tags") or {}
        assert all(tags.get(t) for t in TAGS), f"{r.type} {r.name}: {tags}"
        assert tags["environment"] == env and tags["profile"] == "mlflow-sagemaker"
        checked += 1
    assert checked > 50
    caps = {r.inputs["tags"]["capability"] for r in graphs[env].custom if taggable(r.type)}
    assert {"artifact-store", "tracking", "serving", "monitoring", "automation", "networking"} <= caps


def test_children_are_parented_to_their_component(graphs: dict[str, ResourceGraph]) -> None:
    graph = graphs["dev"]
    components = {r.name for r in graph.resources if r.is_component}
    for r in graph.custom:
        assert r.parent is not None, f"{r.type} {r.name} has no component"
    assert graph.named("store-data").parent == "store"
    assert graph.named("recommender-serving-endpoint").parent == "recommender-serving"
    assert graph.named("recommender-serving").parent == "recommender"
    assert graph.named("recommender").parent is None  # each model's component sits under the stack
    assert {r.parent for r in graph.custom} <= components | {r.name for r in graph.custom}


def test_endpoint_has_champion_and_challenger_and_survives_first_deploy(graphs: dict[str, ResourceGraph]) -> None:
    graph = graphs["prod"]
    config = graph.named("recommender-serving-config").inputs
    variants = {v["variantName"]: v for v in config["productionVariants"]}
    assert set(variants) == {"champion", "challenger"}
    assert variants["champion"]["initialVariantWeight"] == 1 and variants["challenger"]["initialVariantWeight"] == 0
    model = graph.named("recommender-serving-bootstrap").inputs
    # No trained model is needed: the bootstrap model ships with the program and is uploaded by it.
    assert model["primaryContainer"]["modelDataUrl"].endswith("/models/recommender/bootstrap/model.tar.gz")
    upload = graph.named("recommender-serving-bootstrap-model").inputs
    assert upload["key"] == "models/recommender/bootstrap/model.tar.gz"
    # Approved models reach the challenger through the deployer; Pulumi must not undo that.
    rule = graph.named("recommender-model-approved").inputs
    pattern = json.loads(rule["eventPattern"])
    assert pattern["detail"] == {"ModelPackageGroupName": ["mlflow-sagemaker-prod-recommender"],
                                 "ModelApprovalStatus": ["Approved"]}
    deployer = graph.named("recommender-deployer")
    assert deployer.inputs["imageConfig"]["commands"] == ["infra.runtime.handlers.deployer.handler"]
    assert deployer.inputs["environment"]["variables"]["SERVING_MODE"] == "ab"


def test_prod_differs_from_dev_where_it_must(graphs: dict[str, ResourceGraph]) -> None:
    dev, prod = graphs["dev"], graphs["prod"]
    db_dev, db_prod = one(dev, "aws:rds/instance:Instance"), one(prod, "aws:rds/instance:Instance")
    assert db_prod.inputs["multiAz"] and db_prod.inputs["deletionProtection"]
    assert db_prod.inputs["backupRetentionPeriod"] >= 7 and not db_prod.inputs["skipFinalSnapshot"]
    assert not db_dev.inputs["multiAz"] and not db_dev.inputs["deletionProtection"]
    assert db_dev.inputs["instanceClass"] == "db.t4g.micro"
    for bucket in prod.of_type("aws:s3/bucket:Bucket"):
        assert bucket.protect and bucket.retain_on_delete, bucket.name
    assert db_prod.protect and db_prod.retain_on_delete
    for bucket in dev.of_type("aws:s3/bucket:Bucket"):
        assert not bucket.protect
    champion = prod.named("recommender-serving-champion-scaling")
    assert champion.inputs["minCapacity"] >= 2
    assert all(g.inputs["retentionInDays"] >= 90 for g in prod.of_type("aws:cloudwatch/logGroup:LogGroup"))
    assert not dev.of_type("aws:ec2/natGateway:NatGateway") and prod.of_type("aws:ec2/natGateway:NatGateway")
    dev_config = dev.named("recommender-serving-config").inputs
    assert {v["instanceType"] for v in dev_config["productionVariants"]} == {"ml.t2.medium"}


def _statements(policy: Any) -> list[dict[str, Any]]:
    doc = json.loads(policy) if isinstance(policy, str) else policy
    statements = doc["Statement"]
    return statements if isinstance(statements, list) else [statements]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_no_iam_policy_allows_any_action_on_any_resource(graphs: dict[str, ResourceGraph], env: str) -> None:
    policies = [r.inputs["policy"] for r in graphs[env].of_type("aws:iam/rolePolicy:RolePolicy")]
    assert len(policies) > 20
    for policy in policies:
        for s in _statements(policy):
            if s["Effect"] != "Allow":
                continue
            actions, resources = _as_list(s["Action"]), _as_list(s["Resource"])
            assert not ({"*", "*:*"} & set(actions) and "*" in resources), s
            assert not any(a.endswith(":*") for a in actions) or "*" not in resources, s


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_buckets_are_kms_encrypted_private_and_tls_only(graphs: dict[str, ResourceGraph], env: str) -> None:
    graph = graphs[env]
    buckets = {r.name for r in graph.of_type("aws:s3/bucket:Bucket")}
    encrypted = {r.name.removesuffix("-encryption") for r in graph.of_type(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
        if r.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
        and r.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"].startswith("arn:aws:kms")}
    blocked = {r.name.removesuffix("-public-access-block") for r in graph.of_type(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
        if all(r.inputs[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                     "restrictPublicBuckets"))}
    tls_only = {r.name.removesuffix("-policy") for r in graph.of_type("aws:s3/bucketPolicy:BucketPolicy")
                if any(s["Effect"] == "Deny" and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")
                       == "false" for s in _statements(r.inputs["policy"]))}
    # S3 and Elastic Load Balancing deliver access logs only to SSE-S3 buckets: the log bucket is the exception.
    logs = {r.name.removesuffix("-encryption") for r in graph.of_type(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
        if r.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"}
    assert logs == {"store-access-logs"}
    assert buckets and buckets == encrypted | logs == blocked == tls_only and not encrypted & logs


def test_everything_at_rest_uses_the_stack_key(graphs: dict[str, ResourceGraph]) -> None:
    graph = graphs["prod"]
    key_arn = "arn:aws:kms:"
    key = one(graph, "aws:kms/key:Key").inputs
    assert key["enableKeyRotation"]
    db = one(graph, "aws:rds/instance:Instance").inputs
    assert db["storageEncrypted"] and db["kmsKeyId"].startswith(key_arn) and not db["publiclyAccessible"]
    assert all(g.inputs["kmsKeyId"].startswith(key_arn) for g in graph.of_type("aws:cloudwatch/logGroup:LogGroup"))
    assert one(graph, "aws:sns/topic:Topic").inputs["kmsMasterKeyId"].startswith(key_arn)
    assert all(f.inputs["kmsKeyArn"].startswith(key_arn) for f in graph.of_type("aws:lambda/function:Function"))
    for config in graph.of_type("aws:sagemaker/endpointConfiguration:EndpointConfiguration"):  # instance-based
        assert config.inputs["kmsKeyArn"].startswith(key_arn)
    for card in graph.of_type("aws:sagemaker/modelCard:ModelCard"):
        assert card.inputs["securityConfig"]["kmsKeyId"].startswith(key_arn)


def test_networking_is_private(graphs: dict[str, ResourceGraph]) -> None:
    for graph in graphs.values():
        for subnet in graph.of_type("aws:ec2/subnet:Subnet"):
            assert not subnet.inputs.get("mapPublicIpOnLaunch")
        alb = one(graph, "aws:lb/loadBalancer:LoadBalancer").inputs
        assert alb["internal"]
        service = one(graph, "aws:ecs/service:Service").inputs
        assert service["networkConfiguration"]["assignPublicIp"] is False
        endpoints = graph.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        gateway = [e for e in endpoints if e.inputs["vpcEndpointType"] == "Gateway"]
        assert gateway and gateway[0].inputs["serviceName"].endswith(".s3")


def test_secrets_never_appear_in_plain_inputs(graphs: dict[str, ResourceGraph]) -> None:
    graph = graphs["dev"]
    task = one(graph, "aws:ecs/taskDefinition:TaskDefinition").inputs
    container = json.loads(task["containerDefinitions"])[0]
    assert {s["name"] for s in container["secrets"]} == {"DB_PASSWORD", "MLFLOW_ADMIN_PASSWORD"}
    assert not any("PASSWORD" in e["name"] for e in container["environment"])
    db = one(graph, "aws:rds/instance:Instance").inputs
    assert db["manageMasterUserPassword"] and "password" not in db
    # The generated MLflow admin password is a Pulumi secret: masked in every listing.
    version = one(graph, "aws:secretsmanager/secretVersion:SecretVersion").inputs
    assert version["secretString"] == "[secret]"
    assert one(graph, "docker-build:index:Image").inputs["registries"] == "[secret]"  # holds the ECR token


def test_schedules_match_the_profile(graphs: dict[str, ResourceGraph]) -> None:
    schedules = {r.name: r.inputs for r in graphs["dev"].of_type("aws:scheduler/schedule:Schedule")}
    assert schedules["recommender-daily-ingestion"]["scheduleExpression"] == "cron(0 2 * * ? *)"
    assert schedules["recommender-retraining"]["scheduleExpression"] == "cron(0 3 ? * SUN *)"
    retraining_target = schedules["recommender-retraining"]["target"]["arn"]
    assert retraining_target.endswith(":pipeline/mlflow-sagemaker-dev-recommender-retraining")
    assert schedules["recommender-drift-daily"]["scheduleExpression"] == "cron(0 6 * * ? *)"
    assert schedules["credit-scoring-drift-daily"]["scheduleExpression"] == "cron(0 7 * * ? *)"
    assert schedules["credit-scoring-retraining"]["scheduleExpression"] == "cron(0 4 1 * ? *)"
    # every function a schedule starts is told which model it runs for
    for name, schedule in schedules.items():
        if ":function:" in schedule["target"]["arn"]:
            model = "credit-scoring" if name.startswith("credit-scoring") else "recommender"
            assert json.loads(schedule["target"]["input"]) == {"model": model}, name


def test_preview_json_shape() -> None:
    result = CliRunner().invoke(app, ["preview", "--stack", "dev", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert (doc["stack"], doc["profile"], doc["environment"]) == ("dev", "mlflow-sagemaker", "dev")
    first = doc["resources"][0]
    assert set(first) == {"type", "name", "parent", "inputs", "options"}
    assert {"protect", "retainOnDelete"} <= set(first["options"])
    endpoints = [r for r in doc["resources"] if r["type"] == "aws:sagemaker/endpoint:Endpoint"]
    # The deployer swaps endpoint configs at run time: `pulumi up` must not put the old one back.
    assert endpoints and all(r["options"]["ignoreChanges"] == ["endpointConfigName"] for r in endpoints)
    secrets = [r for r in doc["resources"] if r["type"] == "aws:secretsmanager/secretVersion:SecretVersion"]
    assert any(r["options"]["ignoreChanges"] == ["secretString"] for r in secrets)  # the rotator owns it


def test_managed_mlflow_kind_builds() -> None:
    graph = preview(resolve(str(Path(__file__).parent / "fixtures" / "managed-mlflow.yaml"), "prod"))
    assert graph.of_type("aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer")
    assert not graph.of_type("aws:ecs/service:Service")


def test_only_the_stacks_functions_may_pull_the_runtime_image(graphs: dict[str, ResourceGraph]) -> None:
    policy = one(graphs["dev"], "aws:ecr/repositoryPolicy:RepositoryPolicy").inputs
    assert policy["repository"] == "mlflow-sagemaker-dev/runtime"
    (statement,) = _statements(policy["policy"])
    assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert set(statement["Action"]) == {"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"}
    assert statement["Condition"]["StringLike"]["aws:sourceArn"].endswith(":function:mlflow-sagemaker-dev-*")
