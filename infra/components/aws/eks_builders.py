"""Builders of the Kubernetes-on-AWS kinds (EKS, Kubeflow Pipelines, KServe, W&B, CronJobs), beside the AWS ones.

Shared platform: `cluster` kind `eks` (the cluster, its namespaces, add-ons and Kubeflow Pipelines) and
`tracking` kind `wandb`. Per model: `model.training` kind `kubeflow-pipelines`, `model.serving` kind `kserve`,
`model.monitoring` and `model.automation` kind `kubernetes-cronjob`.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.components.aws.eks import EksCluster
from infra.components.aws.k8s_jobs import JOBS_NAMESPACE, CronJob, eventbridge_to_cron
from infra.components.aws.kserve import SERVING_NAMESPACE, KServeModel
from infra.components.aws.kubeflow import KFP_NAMESPACE, ClusterAddons, KubeflowPipelines
from infra.components.aws.monitoring import DRIFT_NAMESPACE, DRIFT_SHARE_METRIC
from infra.components.aws.registry import WandbArtifactRegistry
from infra.components.aws.wandb import WandbServerPlatform, WandbTracking
from infra.components.base import ModelScope, StackContext
from infra.components.catalog import ModelBuild, Platform, builder
from infra.components.kubernetes.workloads import Resources, from_namespace, https_egress, namespace_peer

AB_NAMESPACE = "MLOpsGen/ABTest"
JOB_RESOURCES = Resources(cpu="500m", memory="1Gi", cpu_limit="2", memory_limit="4Gi")


def _log_retention(ctx: StackContext) -> int:
    return int(ctx.spec.body.monitoring.log_retention_days)


@builder("cluster", "eks")
def eks(ctx: StackContext, cfg: Any, platform: Platform) -> None:
    cluster = EksCluster("cluster", ctx, cfg, key=platform["security"], network=platform["networking"],
                         log_retention_days=_log_retention(ctx))
    kube = cluster.kube
    namespaces = [
        kube.namespace(SERVING_NAMESPACE, ingress_from=[from_namespace(SERVING_NAMESPACE, 8080),
                                                         from_namespace(JOBS_NAMESPACE, 8080)],
                       egress_to=[https_egress(), namespace_peer(SERVING_NAMESPACE, 8080)]),
        kube.namespace(JOBS_NAMESPACE, egress_to=[https_egress(), namespace_peer(KFP_NAMESPACE, 8888),
                                                  namespace_peer(SERVING_NAMESPACE, 8080)]),
    ]
    addons = ClusterAddons("cluster-addons", ctx, cluster, platform["security"])
    platform["cluster"] = cluster
    platform["cluster.addons"] = addons
    platform["cluster.namespaces"] = namespaces
    platform["cluster.kubeflow"] = KubeflowPipelines(
        "kubeflow", ctx, cfg.kubeflow_pipelines, eks=cluster, addons=addons, key=platform["security"],
        store=platform["artifact_store"], network=platform["networking"])


@builder("registry", "wandb-artifacts")
def wandb_artifacts(ctx: StackContext, cfg: Any, platform: Platform) -> None:
    platform["registry"] = WandbArtifactRegistry("registry", ctx, cfg, platform["security"])


@builder("tracking", "wandb")
def wandb(ctx: StackContext, cfg: Any, platform: Platform) -> None:
    platform["tracking"] = WandbTracking(
        "wandb", ctx, cfg, key=platform["security"], addons=platform["cluster.addons"],
        namespaces=[*platform["cluster.namespaces"], platform["cluster.kubeflow"].platform])


@builder("tracking", "wandb-server")
def wandb_server(ctx: StackContext, cfg: Any, platform: Platform) -> None:
    """The self-managed server, then the same API-key chain to the pods as for SaaS (pointed at the server)."""
    platform["tracking.server"] = WandbServerPlatform(
        "wandb-server", ctx, cfg, key=platform["security"], network=platform["networking"],
        eks=platform["cluster"], addons=platform["cluster.addons"], store=platform["artifact_store"])
    wandb(ctx, cfg, platform)


def _scope(model: ModelBuild) -> ModelScope:
    assert model.scope is not None
    return model.scope


class _Jobs:
    """A model's jobs: what every CronJob of the model shares (cluster, image, namespace readiness)."""

    def __init__(self, ctx: StackContext, platform: Platform, model: ModelBuild) -> None:
        self.ctx, self.platform, self.model = ctx, platform, model
        self.scope = _scope(model)

    def cron(self, job: str, handler: str, schedule: str, env: dict[str, Any], *, api_access: bool = False,
             wandb: bool = False) -> CronJob:
        platform = self.platform
        tracking_secret = ("wandb",) if wandb and isinstance(platform["tracking"], WandbTracking) else ()
        cron = CronJob(
            f"{self.scope.name}-{job}", eks=platform["cluster"], handler=handler,
            schedule=eventbridge_to_cron(schedule), timezone=self.ctx.spec.body.automation.timezone,
            image=platform["registry"].runtime_image.uri, env=env, resources=JOB_RESOURCES,
            parent=self.model.component, depends_on=platform["cluster.namespaces"], api_access=api_access,
            config_maps=tracking_secret, secrets=tracking_secret,
        )
        self.platform["security"].grant_use(cron.role)
        return cron


@builder("model.training", "kubeflow-pipelines")
def kfp_training(ctx: StackContext, cfg: Any, platform: Platform, model: ModelBuild) -> None:
    scope = _scope(model)
    kfp = platform["cluster.kubeflow"]
    pipeline = f"{scope.name}-retraining"
    settings = {"MODEL_NAME": scope.base, "RETRAINING_TRIGGER": "kubeflow-pipeline", "KFP_HOST": kfp.api_url,
                "KFP_PIPELINE_NAME": pipeline, "PIPELINE_PARAMETERS": json.dumps(cfg.pipeline_parameters)}
    _Jobs(ctx, platform, model).cron("retrain", "retrain", cfg.schedule, settings)
    model["training"] = KfpTraining(pipeline, settings)


class KfpTraining:
    """A model's retraining: the KFP pipeline it runs (uploaded under `pipeline_name`) and the trigger settings."""

    def __init__(self, pipeline_name: str, trigger_settings: dict[str, str]) -> None:
        self.pipeline_name = pipeline_name
        self.trigger_settings = trigger_settings


@builder("model.serving", "kserve")
def kserve(ctx: StackContext, cfg: Any, platform: Platform, model: ModelBuild) -> None:
    scope = _scope(model)
    if cfg.mode == "none":
        model["serving"] = None
        return
    model["serving"] = KServeModel(
        scope.name, eks=platform["cluster"], key=platform["security"], store=platform["artifact_store"],
        model_format=cfg.model_format, resources=Resources(cpu=cfg.cpu, memory=cfg.memory, cpu_limit=cfg.cpu_limit,
                                                             memory_limit=cfg.memory_limit),
        min_replicas=cfg.min_replicas, max_replicas=cfg.max_replicas, ab=cfg.mode == "ab", parent=model.component,
        depends_on=[*platform["cluster.namespaces"], platform["cluster.addons"].kserve],
    )


@builder("model.monitoring", "kubernetes-cronjob")
def k8s_monitoring(ctx: StackContext, cfg: Any, platform: Platform, model: ModelBuild) -> None:
    scope, store, jobs = _scope(model), platform["artifact_store"], _Jobs(ctx, platform, model)
    topic = platform["monitoring"].topic
    training = model["training"]
    drift = jobs.cron("drift-monitor", "drift-monitor", cfg.drift_schedule, {
        "ARTIFACT_BUCKET": store.artifacts.id, "DATA_BUCKET": store.data.id, "MODEL_NAME": scope.base,
        "BASELINE_KEY": f"{scope.prefix('baselines')}current/baseline.json",
        "CURRENT_PREFIX": scope.prefix("curated"), "REPORT_PREFIX": "reports/drift/",
        "METRIC_NAMESPACE": DRIFT_NAMESPACE, "ALERT_TOPIC_ARN": topic.arn,
        "DRIFT_CONFIG": cfg.drift.model_dump_json(),
        **(training.trigger_settings if cfg.retrain_on_drift else {"RETRAINING_TRIGGER": "none"}),
    })
    store.data.grant_read(drift.role, scope.prefix("curated"))
    store.artifacts.grant_read_write(drift.role, f"reports/drift/{scope.name}/")  # one grant per bucket and mode
    store.artifacts.grant_read(drift.role, scope.prefix("baselines"))
    _allow_alerts_and_metrics(drift, topic, DRIFT_NAMESPACE)
    serving = model["serving"]
    controllers = [drift]
    spec_serving = scope.spec.serving
    if serving is not None and spec_serving.mode == "ab":
        ab = jobs.cron("ab-controller", "ab-controller", spec_serving.ab.guardrail_schedule, {
            "ENDPOINT_NAME": serving.endpoint_name, "DECISIONS_BUCKET": store.artifacts.id,
            "DECISIONS_PREFIX": "experiments", "METRIC_NAMESPACE": AB_NAMESPACE, "ALERT_TOPIC_ARN": topic.arn,
            "TRAFFIC_CONTROLLER": "kserve-inferencegraph", "KSERVE_NAMESPACE": SERVING_NAMESPACE,
            "GUARDRAIL_POLICY": spec_serving.ab.guardrail.model_dump_json(),
        }, api_access=True)
        store.artifacts.grant_read_write(ab.role, f"experiments/{serving.endpoint_name}/")
        _allow_alerts_and_metrics(ab, topic, AB_NAMESPACE)
        serving.allow_traffic_changes(ab.account, JOBS_NAMESPACE)
        controllers.append(ab)
    _drift_alarm(ctx, scope, cfg.drift.drift_share, topic, model.component)
    model["monitoring"] = controllers


def _drift_alarm(ctx: StackContext, scope: ModelScope, threshold: float, topic: Any, parent: Any) -> None:
    """The model's dataset-drift alarm on the drift monitor's metric (as the Lambda profile's ModelMonitor)."""
    aws.cloudwatch.MetricAlarm(
        f"{scope.name}-dataset-drift", name=scope.physical("dataset-drift", 255), namespace=DRIFT_NAMESPACE,
        metric_name=DRIFT_SHARE_METRIC, dimensions={"Model": scope.base}, statistic="Maximum", period=86400,
        evaluation_periods=1, threshold=threshold, comparison_operator="GreaterThanOrEqualToThreshold",
        alarm_description=f"{scope.name} dataset drift: the share of drifted input features reached the threshold",
        alarm_actions=[topic.arn], ok_actions=[topic.arn], treat_missing_data="notBreaching",
        opts=pulumi.ResourceOptions(parent=parent),
    )


def _allow_alerts_and_metrics(job: CronJob, topic: Any, namespace: str) -> None:
    job.role.allow("alerts-and-metrics", [
        {"Effect": "Allow", "Action": "sns:Publish", "Resource": topic.arn},
        # CloudWatch metric actions have no resource-level permissions; the namespace condition scopes them.
        {"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
         "Condition": {"StringEquals": {"cloudwatch:namespace": namespace}}},
        {"Effect": "Allow", "Action": "cloudwatch:GetMetricData", "Resource": "*"},
    ])


@builder("model.automation", "kubernetes-cronjob")
def k8s_automation(ctx: StackContext, cfg: Any, platform: Platform, model: ModelBuild) -> None:
    scope, store, jobs = _scope(model), platform["artifact_store"], _Jobs(ctx, platform, model)
    ingestion = jobs.cron("ingestion", "ingestion", scope.spec.dataset.ingestion_schedule, {
        "DATA_BUCKET": store.data.id, "LANDING_PREFIX": scope.landing, "CURATED_PREFIX": scope.prefix("curated"),
        "QUARANTINE_PREFIX": scope.prefix("quarantine"), "SCHEMA_KEY": scope.schema_key,
        "ARTIFACT_BUCKET": store.artifacts.id, "ALERT_TOPIC_ARN": platform["monitoring"].topic.arn,
    })
    data = store.data
    ingestion.role.allow("ingest", [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject",
                                       "s3:AbortMultipartUpload"],
         "Resource": [data.objects(scope.landing), data.objects(scope.prefix("curated")),
                      data.objects(scope.prefix("quarantine"))]},
        {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"], "Resource": data.arn},
    ])
    store.artifacts.grant_read(ingestion.role, scope.prefix("schemas"))
    ingestion.role.allow("alerts", [{"Effect": "Allow", "Action": "sns:Publish",
                                     "Resource": platform["monitoring"].topic.arn}])
    automation = [ingestion]
    serving = model["serving"]
    if serving is not None:
        automation.append(_deployer(jobs, scope, serving, platform, model))
    model["automation"] = automation


def _deployer(jobs: _Jobs, scope: ModelScope, serving: KServeModel, platform: Platform, model: ModelBuild) -> CronJob:
    """Every 15 minutes, the model's latest approved version onto its InferenceServices (a no-op when it is
    there already): infra.runtime.handlers.kserve_deployer."""
    store, topic, spec = platform["artifact_store"], platform["monitoring"].topic, scope.spec.serving
    versions = model.component.versions
    deployer = jobs.cron("deployer", "kserve-deployer", "rate(15 minutes)", {
        **versions.settings, "KSERVE_NAMESPACE": SERVING_NAMESPACE,
        "ENDPOINT_NAME": serving.endpoint_name, "SERVING_MODE": spec.mode,
        "BOOTSTRAP_URI": serving.bootstrap_uri, "DECISIONS_BUCKET": store.artifacts.id,
        "DECISIONS_PREFIX": "experiments", "RAMP": json.dumps(spec.ab.challenger_ramp), "ALERT_TOPIC_ARN": topic.arn,
    }, api_access=True, wandb=versions.tracking_key)
    versions.grant_read(deployer.role)
    store.artifacts.grant_read_write(deployer.role, f"experiments/{serving.endpoint_name}/")
    deployer.role.allow("alerts", [{"Effect": "Allow", "Action": "sns:Publish", "Resource": topic.arn}])
    serving.allow_deployments(deployer.account, JOBS_NAMESPACE)
    return deployer
