"""The audit findings (issue 10, items 1-12), closed by default in the program's own resource inputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.errors import UserError
from infra.offline.graph import ResourceGraph
from infra.offline.preview import preview
from infra.policy.audit import audit
from infra.profiles.exceptions import loosened_defaults
from infra.profiles.loader import PROFILES_DIR, load_stack, resolve
from infra.profiles.model import S3ArtifactStore

PROFILE = PROFILES_DIR / "mlflow-sagemaker.yaml"


def _copy() -> str:
    """The built-in profile's text as a copy of it (a copy must have its own name)."""
    return PROFILE.read_text().replace("name: mlflow-sagemaker\n", "name: mlflow-variant\n", 1)


def _variant(tmp_path: Path, old: str, new: str) -> Path:
    text = _copy()
    assert old in text
    path = tmp_path / "variant.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


def _statements(policy: Any) -> list[dict[str, Any]]:
    doc = json.loads(policy)
    return doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]


def _types(graph: ResourceGraph, token: str) -> list[Any]:
    return graph.of_type(token)


def test_item1_https_with_tls12_and_redirect_in_prod(graphs: dict[str, ResourceGraph]) -> None:
    listeners = {r.name: r.inputs for r in graphs["prod"].of_type("aws:lb/listener:Listener")}
    https, redirect = listeners["mlflow-https-listener"], listeners["mlflow-http-redirect"]
    assert (https["protocol"], https["port"]) == ("HTTPS", 443)
    assert https["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert https["certificateArn"].startswith("arn:aws:acm:us-east-1:")
    assert redirect["defaultActions"] == [{"type": "redirect", "redirect": {
        "protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}}]
    dev = {r.name: r.inputs for r in graphs["dev"].of_type("aws:lb/listener:Listener")}
    assert list(dev) == ["mlflow-listener"] and dev["mlflow-listener"]["protocol"] == "HTTP"
    assert any(line.startswith("tracking.require_https is off") for line in graphs["dev"].loosened)


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_item1_staging_and_prod_refuse_to_validate_without_a_certificate(tmp_path: Path, env: str) -> None:
    lines = [line for line in _copy().splitlines(keepends=True) if "certificate_arn:" not in line]
    path = tmp_path / "no-cert.yaml"
    path.write_text("".join(lines))
    with pytest.raises(UserError) as caught:
        resolve(str(path), env)
    message = str(caught.value)
    assert "tracking.certificate_arn" in message and "sagemaker-mlflow" in message
    assert str(path) in message and ":" in message.split(str(path))[1][:3]  # names the file and line


def test_item1_only_dev_may_serve_http(tmp_path: Path) -> None:
    path = _variant(tmp_path, "      hostname: mlflow.prod.mlops.example.com\n",
                    "      hostname: mlflow.prod.mlops.example.com\n      require_https: false\n")
    with pytest.raises(UserError, match="allowed in dev only"):
        resolve(str(path), "prod")


def test_item2_network_interface_actions_are_scoped_to_the_vpc(graphs: dict[str, ResourceGraph]) -> None:
    policy = graphs["prod"].named("recommender-training-execution-role-jobs").inputs["policy"]
    for s in _statements(policy):
        actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        if any(a.startswith(("ec2:Create", "ec2:Delete")) for a in actions):
            assert s["Resource"] != "*" and s["Condition"]["ArnEquals"]["ec2:Vpc"].startswith("arn:aws:ec2:")
        if "ec2:CreateNetworkInterfacePermission" in actions:
            assert s["Condition"]["StringEquals"]["ec2:AuthorizedService"] == "sagemaker.amazonaws.com"
        if s["Resource"] == "*":
            assert all(a.startswith(("ec2:Describe", "ecr:GetAuthorizationToken")) for a in actions), actions


def test_item3_no_security_group_allows_open_egress(graphs: dict[str, ResourceGraph], tmp_path: Path) -> None:
    prod = graphs["prod"]
    assert all(not g.inputs.get("egress") for g in prod.of_type("aws:ec2/securityGroup:SecurityGroup"))
    egress = prod.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
    assert egress and not [r.name for r in egress if r.inputs.get("cidrIpv4")]
    rds_egress = {r.inputs["fromPort"] for r in egress if r.name == "mlflow-task-to-db"}
    assert rds_egress == {5432}
    path = _variant(tmp_path, "  nat_gateways: 2\n", "  nat_gateways: 2\n  internet_https_egress: [training]\n")
    spec = resolve(str(path), "prod")
    opened = [r for r in preview(spec).of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
              if r.inputs.get("cidrIpv4")]
    assert sorted((r.name, r.inputs["cidrIpv4"], r.inputs["fromPort"], r.inputs["ipProtocol"]) for r in opened) == [
        (f"{model}-training-sg-to-internet", "0.0.0.0/0", 443, "tcp") for model in ("credit-scoring", "recommender")]
    assert any("internet_https_egress includes training" in line for line in loosened_defaults(spec))


def test_item4_immutable_tags_and_no_latest(graphs: dict[str, ResourceGraph], tmp_path: Path) -> None:
    prod = graphs["prod"]
    assert {r.inputs["imageTagMutability"] for r in prod.of_type("aws:ecr/repository:Repository")} == {"IMMUTABLE"}
    assert ":latest" not in json.dumps([r.inputs for r in prod.custom])
    definition = json.loads(prod.named("recommender-training-pipeline").inputs["pipelineDefinition"])
    train = next(s for s in definition["Steps"] if s["Name"] == "Train")
    assert train["Arguments"]["AlgorithmSpecification"]["TrainingImage"].endswith("/training:1.0.0")
    path = _variant(tmp_path, "      approval: manual\n", "      approval: manual\n      image_tag: latest\n")
    with pytest.raises(UserError, match="moving tag"):
        resolve(str(path), "prod")


def test_item5_and_6_isolated_model_and_read_only_mlflow(graphs: dict[str, ResourceGraph]) -> None:
    prod = graphs["prod"]
    assert prod.named("recommender-serving-bootstrap").inputs["enableNetworkIsolation"] is True
    task = prod.named("mlflow-task").inputs
    (container,) = json.loads(task["containerDefinitions"])
    assert container["readonlyRootFilesystem"] is True
    assert container["mountPoints"] == [{"sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": False}]
    assert task["volumes"] == [{"name": "tmp"}]
    assert "/tmp/auth.ini" in container["command"][0] and "mlflow_auth" in container["command"][0]


def test_item7_admin_password_rotates_through_mlflow(graphs: dict[str, ResourceGraph]) -> None:
    prod = graphs["prod"]
    rotation = prod.named("mlflow-admin-password-rotation")
    assert rotation.inputs["rotationRules"] == {"automaticallyAfterDays": 30}
    assert rotation.inputs["rotationLambdaArn"].endswith(":function:mlflow-sagemaker-prod-mlflow-rotator")
    rotator = prod.named("mlflow-rotator").inputs
    assert rotator["imageConfig"]["commands"] == ["infra.runtime.handlers.mlflow_rotation.handler"]
    assert rotator["environment"]["variables"]["TRACKING_URL"] == "https://mlflow.prod.mlops.example.com"
    assert rotator["vpcConfig"]["subnetIds"]
    permission = prod.named("mlflow-rotator-from-secretsmanager").inputs
    assert permission["principal"] == "secretsmanager.amazonaws.com" and permission["sourceArn"]


def test_item8_access_logs_and_database_observability(graphs: dict[str, ResourceGraph]) -> None:
    prod = graphs["prod"]
    logged = {r.inputs["bucket"].rsplit("-", 1)[-1] for r in prod.of_type("aws:s3/bucketLogging:BucketLogging")}
    assert logged == {"data", "artifacts"}
    assert prod.named("mlflow-alb").inputs["accessLogs"]["enabled"] is True
    db = prod.named("mlflow-db").inputs
    assert db["enabledCloudwatchLogsExports"] == ["postgresql", "upgrade"]
    assert db["monitoringInterval"] == 60 and db["monitoringRoleArn"]
    assert db["performanceInsightsEnabled"] is True and db["performanceInsightsKmsKeyId"].startswith("arn:aws:kms")
    parameters = {p["name"]: p["value"] for p in prod.named("mlflow-db-parameters").inputs["parameters"]}
    assert parameters["rds.force_ssl"] == "1" and parameters["log_min_duration_statement"] == "1000"


def test_item9_functions_keep_failures_and_alarm(graphs: dict[str, ResourceGraph]) -> None:
    prod = graphs["prod"]
    functions = prod.of_type("aws:lambda/function:Function")
    assert {"recommender-ingestion", "recommender-deployer", "recommender-drift-monitor", "recommender-ab-controller",
            "mlflow-rotator"} <= {f.name for f in functions}
    alarms = {(a.inputs["metricName"], a.inputs["dimensions"].get("FunctionName") or a.inputs["dimensions"].get(
        "QueueName")) for a in prod.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    for f in functions:
        inputs = f.inputs
        assert inputs["deadLetterConfig"]["targetArn"].endswith(f"{f.name}-dlq")
        assert inputs["tracingConfig"] == {"mode": "Active"} and inputs["reservedConcurrentExecutions"] == 1
        assert ("Errors", inputs["name"]) in alarms
        assert ("ApproximateNumberOfMessagesVisible", f"{inputs['name']}-dlq") in alarms


def test_item10_and_11_schedules_use_the_stack_key_and_rules_say_why(graphs: dict[str, ResourceGraph]) -> None:
    prod = graphs["prod"]
    key = prod.named("platform-key")
    assert key  # the stack's key
    for schedule in prod.of_type("aws:scheduler/schedule:Schedule"):
        assert schedule.inputs["kmsKeyArn"].startswith("arn:aws:kms:"), schedule.name
        assert schedule.inputs["target"]["deadLetterConfig"]["arn"]
    rules = [*prod.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"),
             *prod.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")]
    assert rules and all(r.inputs.get("description") for r in rules)


def test_item12_replication_is_off_by_default_and_states_its_cost(graphs: dict[str, ResourceGraph],
                                                                   tmp_path: Path) -> None:
    for graph in graphs.values():
        assert not graph.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig")
    description = S3ArtifactStore.model_fields["replication_region"].description or ""
    assert "off by default" in description and "$0.02/GB" in description and "$0.023/GB-month" in description
    path = _variant(tmp_path, "  kind: s3\n", "  kind: s3\n  replication_region: us-west-2\n")
    graph = preview(resolve(str(path), "prod"))
    provider = graph.named("store-replica-region")
    assert provider.type == "pulumi:providers:aws" and provider.inputs["region"] == "us-west-2"
    configs = {r.name: r.inputs for r in graph.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig")}
    assert set(configs) == {"store-data-replication", "store-artifacts-replication"}
    rule = configs["store-data-replication"]["rules"][0]
    assert rule["destination"]["bucket"] == "arn:aws:s3:::mlflow-variant-prod-123456789012-data-replica"
    assert rule["destination"]["encryptionConfiguration"]["replicaKmsKeyId"]
    assert audit(graph).violations == []  # the replicas are as protected as their sources
    with pytest.raises(UserError, match="must differ"):
        resolve(str(_variant(tmp_path, "  kind: s3\n", "  kind: s3\n  replication_region: us-east-1\n")), "prod")


def test_built_in_stacks_still_load() -> None:
    for env in ("dev", "staging", "prod"):
        assert load_stack(env).environment == env
