"""GCP and EKS pricers on records shaped as pulumi-gcp and pulumi-aws register them (the Vertex and Kubeflow
profiles' resource kinds)."""

from __future__ import annotations

import math
from decimal import Decimal as D
from typing import Any

from infra.cost.catalog import load_catalog
from infra.cost.costing import price_stack
from infra.cost.scenario import ModelUsage, Scenario
from infra.offline.graph import ResourceGraph, ResourceRecord

CATALOG = load_catalog()


def _record(typ: str, logical: str, parent: str, **inputs: Any) -> ResourceRecord:
    return ResourceRecord(type=typ, name=logical, parent=parent, inputs=inputs)


def _graph() -> ResourceGraph:
    labels = {"capability": "monitoring", "model": "recommender"}
    return ResourceGraph(stack="prod", profile="vertex-managed", environment="prod", resources=[
        _record("gcp:vertex/aiEndpoint:AiEndpoint", "recommender-endpoint", "serving",
                labels={"capability": "serving", "model": "recommender"}),
        _record("gcp:vertex/aiDeploymentResourcePool:AiDeploymentResourcePool", "recommender-pool", "serving",
                dedicatedResources={"machineSpec": {"machineType": "n1-standard-4"}, "minReplicaCount": 2,
                                    "maxReplicaCount": 6}),
        _record("gcp:cloudrunv2/job:Job", "drift-recommender-job", "monitoring", name="p-drift-recommender",
                labels=labels, template={"template": {"containers": [
                    {"resources": {"limits": {"cpu": "1", "memory": "4Gi"}}}]}}),
        _record("gcp:cloudscheduler/job:Job", "drift-recommender-schedule", "monitoring", schedule="0 6 * * *",
                httpTarget={"uri": "https://run.googleapis.com/v2/projects/p/locations/r/jobs/p-drift-recommender:run"}),
        _record("gcp:storage/bucket:Bucket", "store-data", "store", name="p-data", labels={"capability": "store"}),
        _record("gcp:monitoring/alertPolicy:AlertPolicy", "monitoring-recommender-errors", "monitoring"),
        _record("gcp:projects/service:Service", "service-aiplatform", "platform"),
    ])


def test_vertex_stack_lines_for_two_models() -> None:
    scenario = Scenario(name="two", models=[ModelUsage(name="recommender"), ModelUsage(name="churn")],
                        operations={"function_seconds_per_run": 60},  # type: ignore[arg-type]
                        data={"ingest_gb_per_month": 10, "retention_months": 3})  # type: ignore[arg-type]
    est = price_stack(_graph(), scenario, CATALOG, "us-central1").estimate
    lines = {(x.group, x.resource, x.unit): x for x in est.lines}
    # The unlabelled pool belongs to the model its name holds, is a serving cost, and is copied for 'churn'.
    for model in ("recommender", "churn"):
        pool = lines[(model, "recommender-pool", "node-hour")]
        assert (pool.quantity, pool.unit_price, pool.category) == (2 * 730, D("0.219"), "serving")
        # The drift job runs daily (730 / 24 runs) for 60 s at 1 vCPU and 4 GiB, from its own model's schedule.
        cpu = lines[(model, "drift-recommender-job", "vCPU-second")]
        assert cpu.quantity == D(730) / 24 * 60
        assert lines[(model, "drift-recommender-job", "GiB-second")].quantity == D(730) / 24 * 60 * 4
    assert lines[("shared platform", "store-data", "GB-month")].monthly == 30 * D("0.020")
    assert [u.reason for u in est.unpriced if u.type.endswith("AlertPolicy")] == [
        "'gcp.monitoring.alert_policy': Cloud Monitoring alerting: price not found"] * 2
    assert "Vertex AI online prediction does not scale to zero: 'recommender-pool' keeps 2 replica(s)" in est.limits
    assert ("service-aiplatform", "gcp:projects/service:Service", "enabling a service API is not billed") in est.free


def test_eks_cluster_node_groups_and_kubernetes_objects() -> None:
    graph = ResourceGraph(stack="prod", profile="wandb-kubeflow", environment="prod", resources=[
        _record("aws:eks/cluster:Cluster", "eks-cluster", "cluster", tags={"capability": "platform"}),
        _record("aws:eks/nodeGroup:NodeGroup", "eks-system", "cluster", instanceTypes=["m5.large"],
                capacityType="ON_DEMAND", scalingConfig={"minSize": 2, "desiredSize": 3, "maxSize": 6}),
        _record("aws:eks/nodeGroup:NodeGroup", "eks-gpu", "cluster", instanceTypes=["g4dn.xlarge"],
                capacityType="SPOT", scalingConfig={"minSize": 0, "desiredSize": 0, "maxSize": 4}),
        _record("kubernetes:helm.sh/v3:Release", "kubeflow-pipelines", "tracking"),
    ])
    scenario = Scenario(name="k", models=[ModelUsage(name="a", training={"runs_per_month": 4, "hours_per_run": 2}),
                                          ModelUsage(name="b", training={"runs_per_month": 1, "hours_per_run": 3})],
                        assumptions={"spot_saving": 0.5})  # type: ignore[arg-type]
    est = price_stack(graph, scenario, CATALOG, "us-east-1").estimate
    monthly = {(x.resource, x.unit): x.monthly for x in est.lines}
    assert monthly[("eks-cluster", "hour")] == 730 * D("0.10")
    assert monthly[("eks-system", "instance-hour")] == 3 * 730 * D("0.096")
    # Training on the GPU group scaled from zero: (4 x 2 + 1 x 3) h on spot at half the on-demand $0.526.
    assert monthly[("eks-gpu", "instance-hour")] == 11 * D("0.526") * D("0.5")
    assert any(name == "kubeflow-pipelines" for name, _, _ in est.free)
    assert est.unpriced == []


def _cluster(*workloads: ResourceRecord) -> ResourceGraph:
    return ResourceGraph(stack="prod", profile="wandb-kubeflow", environment="prod", resources=[
        _record("aws:cloudwatch/logGroup:LogGroup", "recommender-logs", "recommender",
                tags={"model": "recommender"}, retentionInDays=30),
        _record("aws:eks/nodeGroup:NodeGroup", "eks-gpu", "cluster", instanceTypes=["g5.xlarge"], capacityType="SPOT",
                taints=[{"key": "nvidia.com/gpu", "effect": "NO_SCHEDULE"}],
                scalingConfig={"minSize": 0, "desiredSize": 0, "maxSize": 4}),
        _record("aws:eks/nodeGroup:NodeGroup", "eks-system", "cluster", instanceTypes=["m5.large"],
                capacityType="ON_DEMAND", scalingConfig={"minSize": 2, "desiredSize": 2, "maxSize": 6}),
        _record("pulumi:providers:kubernetes", "cluster-k8s", "cluster"),
        *workloads,
    ])


def _pod(cpu: str, memory: str) -> dict[str, Any]:
    return {"resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": "2", "memory": "4Gi"}}}


def test_kubernetes_workloads_are_their_share_of_a_node() -> None:
    """Pods are priced as the share of an always-on m5.large (2 vCPU, 8 GiB) their requests take, the larger of
    the CPU and memory shares; the tainted GPU group is not where they run."""
    graph = _cluster(
        _record("kubernetes:serving.kserve.io/v1beta1:InferenceService", "recommender-champion", "recommender",
                spec={"predictor": {"minReplicas": 2, "model": _pod("500m", "1Gi")}}),
        _record("kubernetes:serving.kserve.io/v1alpha1:InferenceGraph", "recommender-graph", "recommender",
                spec={"minReplicas": 2, **_pod("100m", "128Mi")}),
        _record("kubernetes:batch/v1:CronJob", "recommender-drift-monitor", "recommender",
                metadata={"labels": {"mlopsgen.io/job": "drift-monitor"}},
                spec={"schedule": "0 6 * * *", "jobTemplate": {"spec": {"template": {"spec": {
                    "containers": [_pod("1", "2Gi")]}}}}}),
    )
    scenario = Scenario(name="k", models=[ModelUsage(name="recommender")],
                        operations={"function_seconds_per_run": 60})  # type: ignore[arg-type]
    est = price_stack(graph, scenario, CATALOG, "us-east-1").estimate
    lines = {x.resource: x for x in est.lines if x.group == "recommender" and x.unit == "instance-hour"}
    # 2 pods x max(0.5/2, 1/8) = 0.5 of a node, all month
    assert (lines["recommender-champion"].quantity, lines["recommender-champion"].category) == (
        2 * D("0.25") * 730, "serving")
    assert lines["recommender-champion"].monthly == 365 * D("0.096")
    # the A/B router: 2 pods x max(0.1/2, 0.125/8) = 0.1 of a node
    assert lines["recommender-graph"].quantity == 2 * D("0.05") * 730
    # daily (730/24 runs) for 60 s at max(1/2, 2/8) of a node; a drift monitor is monitoring
    drift = lines["recommender-drift-monitor"]
    assert (drift.quantity, drift.category) == (D(730) / 24 * 60 / 3600 * D("0.5"), "monitoring")
    assert est.unpriced == []
    assert ("cluster-k8s", "pulumi:providers:kubernetes", "a provider is configuration, not a billed resource") \
        in est.free


def test_pods_without_a_node_group_to_run_on_are_unpriced() -> None:
    graph = ResourceGraph(stack="prod", profile="k", environment="prod", resources=[_record(
        "kubernetes:serving.kserve.io/v1beta1:InferenceService", "recommender-champion", "serving",
        spec={"predictor": {"model": _pod("1", "1Gi")}})])
    est = price_stack(graph, Scenario(name="k", models=[ModelUsage(name="m")]), CATALOG, "us-east-1").estimate
    assert [(u.resource, u.reason) for u in est.unpriced] == [
        ("recommender-champion", "no always-on EKS node group in the stack to run its pods")]


def test_vertex_pipeline_template_prices_its_models_runs_and_training() -> None:
    """A per-model template: the run fee for its own model's runs (not every model's), and training node-hours on
    the machine type the scenario names for GCP; a model without one lists its training compute unpriced."""
    graph = ResourceGraph(stack="prod", profile="vertex-managed", environment="prod", resources=[
        _record("gcp:storage/bucketObject:BucketObject", f"{m}-pipeline-template", "training",
                name=f"pipelines/{m}/retraining.json", labels={"model": m}) for m in ("a", "b")])
    scenario = Scenario(name="v", models=[
        ModelUsage(name="a", training={"runs_per_month": 4, "hours_per_run": 2,  # type: ignore[arg-type]
                                       "instance_type": {"gcp": "n1-standard-4"}}),
        ModelUsage(name="b", training={"runs_per_month": 1, "hours_per_run": 3})])  # type: ignore[arg-type]
    est = price_stack(graph, scenario, CATALOG, "us-central1").estimate
    monthly = {(x.group, x.unit): x.monthly for x in est.lines}
    assert monthly[("a", "run")] == 4 * D("0.03") and monthly[("b", "run")] == 1 * D("0.03")
    assert monthly[("a", "node-hour")] == 4 * 2 * D("0.2185")
    assert ("b", "node-hour") not in monthly
    assert [(u.group, u.component) for u in est.unpriced] == [("b", "training compute (b)")]


def test_a_cloud_the_team_does_not_run_today_adds_onboarding() -> None:
    """A team on AWS moving to the Vertex stack learns a second cloud (rubric new-cloud-*: 2 weeks per platform
    engineer, 0.5 per data scientist); a team already on GCP does not."""
    weeks = {}
    for today in ("aws", "gcp"):
        scenario = Scenario(name="c", cloud_today=today, team_size=3, platform_engineers=1,
                            models=[ModelUsage(name="recommender")])
        weeks[today] = price_stack(_graph(), scenario, CATALOG, "us-central1").complexity.person_weeks
    assert weeks["aws"] - weeks["gcp"] == 1 * D(2) + 3 * D("0.5")


def test_a_models_prediction_log_holds_its_own_requests() -> None:
    """Per-model BigQuery datasets: each keeps its own model's requests x payload (not every model's), 90 days."""
    graph = ResourceGraph(stack="prod", profile="vertex-managed", environment="prod", resources=[
        _record("gcp:bigquery/dataset:Dataset", f"{m}-prediction-logs", "serving", labels={"model": m},
                defaultTableExpirationMs=90 * 86400 * 1000) for m in ("a", "b")])
    scenario = Scenario(name="v", models=[
        ModelUsage(name="a", inference={"requests_per_month": 2_097_152, "payload_kb": 1}),  # type: ignore[arg-type]
        ModelUsage(name="b", inference={"requests_per_month": 1_048_576, "payload_kb": 4})])  # type: ignore[arg-type]
    est = price_stack(graph, scenario, CATALOG, "us-central1").estimate
    gb_months = {x.group: x.quantity for x in est.lines if x.unit == "GB-month"}
    # a: 2 GiB a month, b: 4 GiB a month, each kept 90 days = 90 x 12 / 365 months
    assert gb_months == {"a": 2 * D(90) * 12 / 365, "b": 4 * D(90) * 12 / 365}


def _traffic(requests: float) -> Scenario:
    return Scenario(name="t", models=[ModelUsage(name="recommender", inference={  # type: ignore[arg-type]
        "requests_per_month": requests, "traffic": {"peak_to_average": 3}})])


def _peak_replicas(requests: float) -> int:
    """Independently: peak requests a second over 200 a minute per replica, rounded up."""
    return math.ceil(requests * 3 / (730 * 3600) / (200 / 60))


def test_vertex_and_kserve_serving_scale_with_traffic_like_sagemaker() -> None:
    """Every profile sizes real-time replicas for the peak: 3e7 requests -> 34.2/s -> 11 replicas (within the
    graph's range; Vertex's pool stops at 6, a limit); 1e9 -> 343 needed, priced at the max and reported as a
    limit with the same 343."""
    kserve = _cluster(
        _record("kubernetes:serving.kserve.io/v1beta1:InferenceService", "recommender-champion", "recommender",
                metadata={"name": "recommender-champion"},
                spec={"predictor": {"minReplicas": 2, "maxReplicas": 20, "model": _pod("500m", "1Gi")}}),
        _record("kubernetes:serving.kserve.io/v1beta1:InferenceService", "recommender-challenger", "recommender",
                metadata={"name": "recommender-challenger"},
                spec={"predictor": {"minReplicas": 1, "maxReplicas": 20, "model": _pod("500m", "1Gi")}}),
        _record("kubernetes:serving.kserve.io/v1alpha1:InferenceGraph", "recommender-graph", "recommender",
                spec={"nodes": {"root": {"steps": [
                    {"serviceName": "recommender-champion", "weight": 100},
                    {"serviceName": "recommender-challenger", "weight": 0}]}}, **_pod("100m", "128Mi")}),
    )
    assert _peak_replicas(3e7) == 11 and _peak_replicas(1e9) == 343
    for requests, vertex_nodes, champion_pods, capped_needs in (
            (1e4, 2, 2, []), (3e7, 6, 11, ["needs 11 replicas"]),
            (1e9, 6, 20, ["needs 343 replicas", "needs 343 pods"])):
        est = price_stack(_graph(), _traffic(requests), CATALOG, "us-central1").estimate
        pool = next(x for x in est.lines if x.resource == "recommender-pool")
        assert pool.quantity == vertex_nodes * 730
        est_k = price_stack(kserve, _traffic(requests), CATALOG, "us-east-1").estimate
        pods = {x.resource: x.quantity for x in est_k.lines}
        assert pods["recommender-champion"] == champion_pods * D("0.25") * 730  # 0.25 of an m5.large a pod
        assert pods["recommender-challenger"] == 1 * D("0.25") * 730  # weight 0: its minimum
        capped = [t for t in est.limits + est_k.limits if "above its max capacity" in t]
        assert [t[t.index("needs"):][:len(n)] for t, n in zip(capped, capped_needs, strict=False)] == capped_needs
        assert len(capped) == len(capped_needs)
        # the cost line names the same count the limit does
        assert f"= {_peak_replicas(requests)} needed, within 2-6" in pool.component


def test_a_batch_model_served_in_real_time_is_said_so_by_every_profile() -> None:
    """Vertex and KServe deploy no batch jobs: a batch scenario model is priced as real-time capacity, noted once."""
    batch = Scenario(name="b", models=[
        ModelUsage(name="recommender", inference={"mode": "batch"})])  # type: ignore[arg-type]
    kserve = _cluster(_record("kubernetes:serving.kserve.io/v1beta1:InferenceService", "recommender-champion",
                              "recommender", spec={"predictor": {"minReplicas": 1, "model": _pod("500m", "1Gi")}}))
    for graph, how in ((_graph(), "a Vertex AI online prediction endpoint"), (kserve, "KServe InferenceServices")):
        notes = price_stack(graph, batch, CATALOG, None).estimate.notes
        said = [n for n in notes if n.startswith("recommender: the scenario says batch")]
        assert len(said) == 1 and how in said[0] and "priced as provisioned real-time capacity" in said[0]
    real_time = price_stack(_graph(), _traffic(1e6), CATALOG, None).estimate.notes
    assert not [n for n in real_time if "says batch" in n]


def test_rubrics_charge_only_what_the_graph_runs() -> None:
    """Standalone KFP + KServe Standard mode: the KFP rule (12 components x 0.5 h), not a full Kubeflow
    install; an ECR repository named after MLflow is no MLflow server to learn."""
    from infra.cost.complexity import measure

    kubeflow = [_record("kubernetes:kustomize/v2:Directory", "kubeflow-platform", "tracking"),
                _record("kubernetes:helm.sh/v3:Release", "cluster-addons-kserve", "cluster"),
                _record("aws:ecr/repository:Repository", "registry-mlflow-repo", "registry")]
    mlflow = [_record("aws:ecs/service:Service", "mlflow-service", "tracking")]
    scenario = Scenario(name="r", models=[ModelUsage(name="a")])
    for records, expected in ((kubeflow, {"kubeflow-pipelines": D(6), "kubeflow-eng": D("1.5"), "mlflow": D(0)}),
                              (mlflow, {"kubeflow-pipelines": D(0), "kubeflow-eng": D(0), "mlflow": D("0.25")})):
        c = measure(records, scenario, 1)
        totals = {r.rule.id: r.total for r in c.burden + c.learning}
        assert {k: totals[k] for k in expected} == expected
        assert not any(word in r.rule.description for r in c.burden + c.learning if r.total
                       for word in ("22 components", "Kubeflow's"))


def test_kubernetes_training_runs_follow_the_retraining_cronjob() -> None:
    """No runs in the scenario: the model's retraining CronJob (monthly, 0 4 1 * *) gives 1 run of 3 h on the GPU
    group scaled from zero."""
    graph = _cluster(_record("kubernetes:batch/v1:CronJob", "recommender-retrain", "recommender",
                             metadata={"labels": {"mlopsgen.io/job": "retrain"}},
                             spec={"schedule": "0 4 1 * *", "jobTemplate": {"spec": {"template": {"spec": {
                                 "containers": [_pod("100m", "128Mi")]}}}}}))
    scenario = Scenario(name="k", models=[ModelUsage(name="recommender", training={"hours_per_run": 3})])  # type: ignore[arg-type]
    est = price_stack(graph, scenario, CATALOG, "us-east-1").estimate
    gpu = next(x for x in est.lines if x.resource == "eks-gpu" and x.category == "training")
    assert gpu.quantity == 1 * 3 * (1 - D("0.6"))  # spot: billed x (1 - the default 0.6 saving)
