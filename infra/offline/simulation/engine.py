"""A day in the life of a stack, in the sandbox: the real program deployed into moto, the real handlers run,
for every model of the stack at once (each with its own functions' settings).

What AWS would do on its own and moto does not, the simulation does in AWS's place, and says so (`NOTES`):
schedules fire, pipeline executions produce a model version, the approval event reaches the deployer, alarms
are evaluated. Everything else — ingestion, drift monitoring, retraining triggers, deployment, the A/B
guardrail and its rollbacks — is the project's own handler code, run with the deployed functions' settings.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from infra.components.aws.kubeflow import KFP_NAMESPACE
from infra.components.base import name_prefix
from infra.errors import UserError
from infra.offline.sandbox import SandboxResult, SandboxSession, deploy
from infra.offline.simulation.alarms import evaluate_alarms
from infra.offline.simulation.cluster import CustomObjects, KfpApi
from infra.offline.simulation.data import DEFAULT_SCHEMA, synthetic_batch, to_csv
from infra.offline.simulation.wandb import WandbApi
from infra.profiles.loader import StackSpec
from infra.profiles.model import ModelSpec
from infra.profiles.schedule import parse as parse_schedule
from infra.runtime.abtest.experiment import load_experiment
from infra.runtime.adapters.kserve import KServeGraphTraffic
from infra.runtime.adapters.kubeflow import KubeflowPipelineTrigger
from infra.runtime.adapters.registry import APPROVED, ModelRegistry, ModelVersion, get_model_registry
from infra.runtime.adapters.retraining import RetrainingRequest
from infra.runtime.deploy import DeployDependencies, DeploySettings
from infra.runtime.handlers import ab_controller, batch_transform, deployer, drift_monitor, ingestion, kserve_deployer
from infra.runtime.handlers.ingestion import DatasetSchema
from infra.runtime.jobs import baseline as baseline_job
from infra.runtime.jobs import register as register_job
from infra.runtime.jobs import retrain

NOTES = (
    "EventBridge Scheduler does not fire in moto: the simulation calls each schedule's target at the times its "
    "expression and the profile's time zone give (infra/profiles/schedule.py).",
    "A new stack has no model: after a model's first ingestion the simulation starts one training run, as an "
    "operator would; later runs come from the retraining schedule and from drift.",
    "Each day's export lands in each model's landing prefix at 00:00 UTC; traffic is served in hourly batches at "
    "half past.",
    "moto completes pipeline executions without running their steps: the simulation runs the pipeline's "
    "Baseline step (infra.runtime.jobs.baseline) on the latest day's curated data and registers the model "
    "version the RegisterModel step would.",
    "EventBridge rules do not invoke Lambda in moto: the simulation delivers the model-approval event to the "
    "deployer, after approving the version as a reviewer would.",
    "moto never evaluates CloudWatch alarms: the simulation evaluates them (infra/offline/simulation/alarms.py) "
    "and publishes to their SNS actions.",
    "Lambda invoke needs Docker in moto: the handlers run in-process with the deployed functions' environment.",
    "Visitors and conversions are synthetic (models in `ab` mode): each model version has a true conversion "
    "rate the guardrail does not know.",
    "Each model's daily data is synthetic, drawn from its dataset schema; drift shifts its distributions.",
    "moto completes batch transform jobs without running them.",
)
# Added for models whose jobs are Kubernetes CronJobs (no cluster offline).
CLUSTER_NOTES = (
    "No Kubernetes cluster offline: each CronJob's handler runs in-process with the CronJob's recorded "
    "environment, at the times its schedule gives; the deployer job, which polls every 15 minutes, runs right "
    "after a version is approved.",
    "The KServe InferenceServices and InferenceGraphs the program declares are kept in an in-memory Kubernetes "
    "API (get, JSON merge patch, 409 on a stale resourceVersion) that the runtime's KServe adapter and deployer "
    "call; traffic is served by the graph's Splitter weights.",
    "Kubeflow Pipelines is answered in memory at the KFP client's HTTP boundary (pipelines uploaded by name, runs "
    "created); each run completes like a SageMaker execution: the Baseline step is run and the version the "
    "pipeline registers is registered.",
    "The model registry of such models is the profile's registry kind, reached through the runtime's registry "
    "adapter exactly as the deployer job and the pipeline's register step reach it; for `wandb-artifacts` W&B is "
    "answered in memory at the adapter's HTTP boundary (infra/offline/simulation/wandb.py: GraphQL and the "
    "manifest upload), with the API key the External Secrets chain syncs from Secrets Manager (read from moto); a "
    "reviewer's approval is the alias `approved`.",
)


@dataclass
class Scenario:
    days: int = 30
    seed: int = 7
    rows_per_day: int = 4000
    visitors_per_day: int = 400_000
    base_conversion: float = 0.05
    drift_day: int = 12
    # True relative conversion lift of model versions 2, 3, ... against version 1 (later ones: 0); `ab` models.
    challenger_lifts: tuple[float, ...] = (-0.08, 0.0)
    models: tuple[str, ...] = ()  # models to run (default: all of the stack's)
    start: date | None = None  # first simulated day (UTC); default: `days` days before today


@dataclass
class Event:
    day: int
    at: datetime
    kind: str
    detail: str
    model: str | None = None  # None: the stack as a whole


@dataclass
class Split:
    """A model's endpoint traffic split while serving one hour, and the SageMaker model each variant served."""

    at: datetime
    weights: dict[str, float]
    model: str = ""
    versions: dict[str, str] = field(default_factory=dict)


@dataclass
class DayStats:
    day: int
    date: date
    visitors: dict[str, int]
    conversions: dict[str, int]
    drift_share: float | None
    drifted: bool
    model: str = ""
    by_version: dict[str, tuple[int, int]] = field(default_factory=dict)  # SageMaker model -> (visitors, conv.)


@dataclass
class Timeline:
    stack: str
    scenario: Scenario
    start: date
    events: list[Event] = field(default_factory=list)
    splits: list[Split] = field(default_factory=list)
    days: list[DayStats] = field(default_factory=list)
    models: dict[str, str] = field(default_factory=dict)  # stack model -> serving mode
    lifts: dict[str, float] = field(default_factory=dict)  # SageMaker model name -> true relative lift
    sandbox: SandboxResult | None = None
    drift_thresholds: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = NOTES
    provider: str = "AWS"  # whose services the simulation stands in for, where they do not act on their own
    timezone: str = "UTC"  # the schedules' time zone, in which events are shown
    schedules: dict[str, dict[str, str]] = field(default_factory=dict)  # model -> job -> schedule expression

    def count(self, kind: str, model: str | None = None) -> int:
        return sum(1 for e in self.events if e.kind == kind and (model is None or e.model == model))

    def narrowed(self, model: str) -> Timeline:
        """The timeline of one model (and the stack's own events)."""
        return Timeline(
            stack=self.stack, scenario=self.scenario, start=self.start,
            events=[e for e in self.events if e.model in (None, model)],
            splits=[s for s in self.splits if s.model == model], days=[d for d in self.days if d.model == model],
            models={model: self.models[model]}, lifts=self.lifts, sandbox=self.sandbox,
            drift_thresholds={model: self.drift_thresholds[model]}, notes=self.notes, provider=self.provider,
            timezone=self.timezone,
            schedules={model: self.schedules[model]},
        )

    def to_json(self) -> dict[str, Any]:
        zone = ZoneInfo(self.timezone)
        return {
            "stack": self.stack,
            "start": self.start.isoformat(),
            "days": self.scenario.days,
            "timezone": self.timezone,
            "models": self.models,
            "schedules": self.schedules,
            "events": [{"day": e.day, "at": e.at.isoformat(), "local": e.at.astimezone(zone).isoformat(),
                        "model": e.model, "kind": e.kind, "detail": e.detail} for e in self.events],
            "daily": [{"day": d.day, "date": d.date.isoformat(), "model": d.model, "visitors": d.visitors,
                       "conversions": d.conversions, "drift_share": d.drift_share,
                       "by_version": {name: {"visitors": v, "conversions": c} for name, (v, c) in d.by_version.items()}}
                      for d in self.days],
            "lifts": self.lifts,
            "notes": list(self.notes),
        }


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _env_from(graph: Any, namespace: str, sources: list[dict[str, Any]], secretsmanager: Any) -> dict[str, str]:
    """A pod's `envFrom`, as the cluster would fill it: ConfigMaps as the program declares them, Secrets as the
    External Secrets Operator syncs them (each key read from its Secrets Manager secret in moto). Sources the
    program does not declare in `namespace` are skipped."""
    env: dict[str, str] = {}
    for source in sources:
        if "configMapRef" in source:
            name = source["configMapRef"]["name"]
            env.update(next((r.inputs.get("data") or {} for r in graph.of_type(CONFIG_MAP)
                             if _is(r, name, namespace)), {}))
        elif "secretRef" in source:
            name = source["secretRef"]["name"]
            synced = next((r for r in graph.resources if r.type.endswith(":ExternalSecret")
                           and _is(r, name, namespace)), None)
            for item in synced.inputs["spec"]["data"] if synced is not None else []:
                value = secretsmanager.get_secret_value(SecretId=item["remoteRef"]["key"])["SecretString"]
                prop = item["remoteRef"].get("property")
                env[item["secretKey"]] = str(json.loads(value)[prop]) if prop else value
    return env


def _is(record: Any, name: str, namespace: str) -> bool:
    meta = record.inputs.get("metadata") or {}
    return bool(meta.get("name") == name and meta.get("namespace") == namespace)


def _functions(result: SandboxResult, models: list[str],
               secretsmanager: Any) -> dict[str, dict[str, dict[str, str]]]:
    """Each model's deployed functions' (or CronJobs') environments, by model and job (`ingestion`,
    `drift-monitor`, ...): the handlers run with exactly these settings (a CronJob's `envFrom` resolved)."""
    functions: dict[str, dict[str, dict[str, str]]] = {}
    for f in result.graph.of_type("aws:lambda/function:Function"):
        env = dict(f.inputs["environment"]["variables"])
        model = env.get("MODEL")
        if model:
            functions.setdefault(model, {})[f.name.removeprefix(f"{model}-")] = env
    for job in result.graph.of_type(CRON_JOB):
        name = str(job.inputs["metadata"]["name"])
        container = job.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
        model = next((m for m in models if name.startswith(f"{m}-")), None)
        if model:
            env = _env_from(result.graph, str(job.inputs["metadata"]["namespace"]), container.get("envFrom", []),
                            secretsmanager)
            env.update({str(e["name"]): str(e["value"]) for e in container.get("env", []) if "value" in e})
            functions.setdefault(model, {})[name.removeprefix(f"{model}-")] = env
    return functions


@contextmanager
def _quiet_logs() -> Iterator[None]:
    import logging

    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)


@dataclass
class ModelRun:
    """One model's state in the simulation: its functions' settings and what its pipeline produced."""

    name: str
    mode: str
    env: dict[str, dict[str, str]]
    schema: DatasetSchema
    excluded: list[str]
    version: int = 0
    handled_executions: set[str] = field(default_factory=set)
    registry: dict[str, str] = field(default_factory=dict)  # the pipeline's register step's environment

    @property
    def on_cluster(self) -> bool:
        """Its jobs are Kubernetes CronJobs (KServe serving, Kubeflow retraining), not Lambda functions."""
        return "retrain" in self.env

    @property
    def group(self) -> str:
        return self.env["drift-monitor"]["MODEL_NAME"]

    @property
    def pipeline(self) -> str:
        return self.env["drift-monitor"]["PIPELINE_NAME"]

    @property
    def deploy_settings(self) -> DeploySettings | None:
        if self.on_cluster or "deployer" not in self.env:
            return None
        return DeploySettings.from_env(self.env["deployer"])

    @property
    def experiment_place(self) -> tuple[str, str, str]:
        """(bucket, prefix, endpoint) of the model's experiment record."""
        env = self.env["deployer"]
        return env["DECISIONS_BUCKET"], env.get("DECISIONS_PREFIX", "experiments"), env["ENDPOINT_NAME"]


class Simulation:
    def __init__(self, spec: StackSpec, session: SandboxSession, scenario: Scenario,
                 on_day: Callable[[int], None] | None = None) -> None:
        unknown = sorted(set(scenario.models) - set(spec.body.models))
        if unknown:
            raise UserError.single(spec.profile_file, f"no model {unknown[0]!r} in the stack; it has "
                                   f"{', '.join(spec.body.models) or 'none'}", field="--model")
        self.spec, self.session, self.scenario, self.on_day = spec, session, scenario, on_day
        self.rng = np.random.default_rng(scenario.seed)
        self.start = scenario.start or datetime.now(UTC).date() - timedelta(days=scenario.days)
        self.clock = Clock(datetime.combine(self.start, time(0), UTC))
        selected = scenario.models or tuple(spec.body.models)
        timezone = spec.body.automation.timezone
        self.timeline = Timeline(
            stack=spec.stack, scenario=scenario, start=self.start,
            models={m: spec.body.models[m].serving.mode for m in selected},
            drift_thresholds={m: spec.body.models[m].monitoring.drift.drift_share for m in selected},
            timezone=timezone, schedules={m: schedules(spec.body.models[m]) for m in selected},
        )
        # The schedules are created with the stack, at the start of day 0.
        self.fires = {m: fire_times(jobs, timezone, self.clock.now, scenario.days)
                      for m, jobs in self.timeline.schedules.items()}
        self.runs: list[ModelRun] = []

    # ------------------------------------------------------------------ setup
    def setup(self) -> None:
        result = deploy(self.spec, self.session)
        if result.failed:
            first = result.failed[0]
            raise UserError.single(self.spec.profile_file, f"sandbox deploy failed: {first['reason']}",
                                   field=f"{first['type']} {first['name']}")
        self.timeline.sandbox = result
        functions = _functions(result, list(self.timeline.models), self.session.client("secretsmanager"))
        c = self.session.client
        self.s3, self.sagemaker, self.cloudwatch, self.sns = c("s3"), c("sagemaker"), c("cloudwatch"), c("sns")
        for name in self.timeline.models:
            env = functions[name]
            schema = self.spec.schemas.get(name)
            if schema is None:  # no schema file: the stack uploaded none, so the simulation provides one
                ing = env["ingestion"]
                self.s3.put_object(Bucket=ing["ARTIFACT_BUCKET"], Key=ing["SCHEMA_KEY"],
                                   Body=DEFAULT_SCHEMA.model_dump_json().encode())
            drift = self.spec.body.models[name].monitoring.drift
            self.runs.append(ModelRun(
                name=name, mode=self.spec.body.models[name].serving.mode, env=env,
                schema=DatasetSchema.model_validate(schema) if schema else DEFAULT_SCHEMA,
                excluded=list(drift.baseline.exclude),
            ))
        if any(run.on_cluster for run in self.runs):
            self.timeline.notes = NOTES + CLUSTER_NOTES
            self.kube = CustomObjects(result.graph)
            # The team uploads each model's retraining pipeline to KFP once the stack exists.
            self.kfp = KfpApi(pipelines={run.env["retrain"]["KFP_PIPELINE_NAME"]: f"pipeline-{run.name}"
                                         for run in self.runs if run.on_cluster})
            self.labels: dict[str, str] = {}  # storageUri -> model version, for the traffic split
        ing = self.runs[0].env["ingestion"] if self.runs else next(iter(functions.values()))["ingestion"]
        self.data_bucket, self.artifact_bucket = ing["DATA_BUCKET"], ing["ARTIFACT_BUCKET"]
        self.serving_image = next(
            r.inputs["name"] for r in result.graph.of_type("aws:ecr/repository:Repository")
            if r.inputs["name"].endswith("/serving")
        )
        sqs = c("sqs")
        queue = sqs.create_queue(QueueName=f"{self.spec.stack}-simulation-alerts")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.sns.subscribe(TopicArn=ing["ALERT_TOPIC_ARN"], Protocol="sqs", Endpoint=queue_arn)
        self.sqs, self.queue = sqs, queue
        self.event(0, "deploy", f"{len(result.emulated)} resources created in emulated AWS, "
                                f"{len(result.recorded)} recorded, not emulated; models: "
                                + ", ".join(f"{m} ({mode})" for m, mode in self.timeline.models.items()))
        if any(run.on_cluster for run in self.runs):
            # A pipeline step runs in the kubeflow namespace, with the W&B settings and key synced there.
            step_env = _env_from(result.graph, KFP_NAMESPACE, [{"configMapRef": {"name": "wandb"}},
                                                               {"secretRef": {"name": "wandb"}}],
                                 self.session.client("secretsmanager"))
            image = f"{self.session.account_id}.dkr.ecr.{self.session.region}.amazonaws.com/{self.serving_image}"
            for run in (run for run in self.runs if run.on_cluster):
                run.registry = {**result.graph.outputs["models"][run.name]["registry"], **step_env,
                                "SERVING_IMAGE": image}
            self.wandb = WandbApi(step_env.get("WANDB_API_KEY", ""))

    def event(self, day: int, kind: str, detail: str, model: str | None = None) -> None:
        self.timeline.events.append(Event(day, self.clock.now, kind, detail, model))

    # ------------------------------------------------------------------ the day
    def run(self) -> Timeline:
        self.setup()
        for day in range(self.scenario.days):
            with _quiet_logs():
                self.simulate_day(day)
            if self.on_day:
                self.on_day(day)
        return self.timeline

    def simulate_day(self, day: int) -> None:
        """The day's scheduled jobs of every model at their times (UTC day `day`), between the exports landing at
        00:00 and the alarm evaluation at 23:59; A/B models' traffic is served hour by hour."""
        s = self.scenario
        today = self.start + timedelta(days=day)
        midnight = datetime.combine(today, time(0), UTC)
        drifted = day >= s.drift_day
        self.clock.now = midnight
        for run in self.runs:
            batch = synthetic_batch(run.schema, self.rng, s.rows_per_day, drifted=drifted)
            landing = run.env["ingestion"]["LANDING_PREFIX"]
            self.s3.put_object(Bucket=self.data_bucket, Key=f"{landing}export-{today.isoformat()}.csv",
                               Body=to_csv(batch))
            if day == s.drift_day:
                self.event(day, "drift-injected", "input distributions shifted", run.name)
        tested = [run for run in self.runs if "ab-controller" in run.env]
        visitors = {run.name: {"champion": 0, "challenger": 0} for run in tested}
        conversions = {run.name: {"champion": 0, "challenger": 0} for run in tested}
        versions: dict[str, dict[str, tuple[int, int]]] = {run.name: {} for run in self.runs}
        shares: dict[str, float | None] = {run.name: None for run in self.runs}
        end = midnight + timedelta(days=1)
        agenda = [(t, JOBS.index(job), i, job) for i, run in enumerate(self.runs)
                  for job, times in self.fires[run.name].items() for t in times if midnight <= t < end]
        agenda += [(midnight + timedelta(hours=h, minutes=30), JOBS.index("traffic"), i, "traffic")
                   for i, run in enumerate(self.runs) if run in tested for h in range(24)]
        for at, _, i, job in sorted(agenda):
            run = self.runs[i]
            self.clock.now = at
            if job == "ingestion":
                self.ingest(run, day, today)
            elif job == "retraining":
                expression = self.timeline.schedules[run.name][job]
                self.start_retraining(run, day, today, f"scheduled pipeline execution started ({expression})")
            elif job == "drift":
                shares[run.name] = self.monitor_drift(run, day, today)
                self.complete_executions(run, day, today)  # a drift-triggered retraining
            elif job == "guardrail":
                self.look(run, day)
            elif job == "batch":
                self.score_batch(run, day, today)
            else:
                self.serve_hour(run, visitors[run.name], conversions[run.name], versions[run.name])
                continue
            self.drain_alerts(day)  # a job's alerts carry the job's time, not the end of the day
        self.clock.now = midnight + timedelta(hours=23, minutes=59)
        for change in evaluate_alarms(self.cloudwatch, self.sns, name_prefix(self.spec), self.clock.now):
            self.event(day, "alarm", f"{change.name}: {change.old} -> {change.new} ({change.reason})",
                       self.model_named_in(change.name))
        self.drain_alerts(day)
        for run in self.runs:
            self.timeline.days.append(DayStats(day, today, visitors.get(run.name, {}), conversions.get(run.name, {}),
                                               shares[run.name], drifted, run.name, versions[run.name]))

    def ingest(self, run: ModelRun, day: int, today: date) -> None:
        summary = ingestion.run(ingestion.IngestionSettings.from_env(run.env["ingestion"]),
                                ingestion.IngestionDependencies(s3=self.s3, sns=self.sns, clock=self.clock),
                                {"model": run.name, "date": today.isoformat()})
        self.event(day, "ingestion", f"{len(summary.get('curated', []))} file(s) curated, "
                                     f"{len(summary.get('quarantined', []))} quarantined", run.name)
        if run.version == 0 and not run.handled_executions:
            self.start_retraining(run, day, today, "first training run on the first curated data (a new stack "
                                                   "has no model yet)", kind="first-training")

    def start_retraining(self, run: ModelRun, day: int, today: date, detail: str, kind: str = "retraining") -> None:
        if run.on_cluster:  # the retrain CronJob's handler, or (first training) the same trigger directly
            if kind == "retraining":
                retrain.handler({}, None, env=run.env["retrain"], now=self.clock.now, trigger=self.kfp_trigger(run))
            else:
                key = RetrainingRequest.key_for(run.group, kind)
                self.kfp_trigger(run).trigger(RetrainingRequest(run.group, detail, key))
            self.event(day, kind, detail.replace("pipeline execution", "Kubeflow pipeline run"), run.name)
            self.complete_executions(run, day, today)
            return
        self.sagemaker.start_pipeline_execution(
            PipelineName=run.pipeline, PipelineExecutionDisplayName=f"{kind}-{self.clock.now:%Y%m%dT%H%M}",
            PipelineParameters=[{"Name": "TrainingData",
                                 "Value": f"s3://{self.data_bucket}/{run.env['drift-monitor']['CURRENT_PREFIX']}"}],
        )
        self.event(day, kind, detail, run.name)
        self.complete_executions(run, day, today)

    def model_named_in(self, text: str) -> str | None:
        """The model whose physical names appear in `text` (alarm names, alert subjects)."""
        found = [run.name for run in self.runs if f"{run.group}-" in text or text.endswith(run.group)
                 or f"{run.group} " in text or f"{run.group}:" in text]
        return max(found, key=len) if found else None

    # ------------------------------------------------------------------ pieces
    def kfp_trigger(self, run: ModelRun) -> KubeflowPipelineTrigger:
        return KubeflowPipelineTrigger.from_settings(run.env["retrain"], session=self.kfp)

    def complete_executions(self, run: ModelRun, day: int, today: date) -> None:
        """moto finishes executions instantly without running steps (and KFP runs are only recorded): produce
        what the steps would."""
        if run.on_cluster:
            pipeline = self.kfp.pipelines[run.env["retrain"]["KFP_PIPELINE_NAME"]]
            arns = [r["run_id"] for r in self.kfp.runs if r["pipeline_version_reference"]["pipeline_id"] == pipeline]
        else:
            executions = self.sagemaker.list_pipeline_executions(
                PipelineName=run.pipeline)["PipelineExecutionSummaries"]
            arns = [e["PipelineExecutionArn"] for e in sorted(executions, key=lambda e: e["StartTime"])]
        for arn in arns:
            if arn in run.handled_executions:
                continue
            run.handled_executions.add(arn)
            self.register_version(run, day, today, arn)

    def run_baseline_step(self, run: ModelRun, today: date, execution_id: str, version: int) -> str:
        """The pipeline's Baseline step, as SageMaker Processing would run it: inputs downloaded, the job's
        outputs uploaded to the versioned and the current baseline keys."""
        drift_env = run.env["drift-monitor"]
        with tempfile.TemporaryDirectory() as scratch:
            root = Path(scratch)
            prefix = f"{drift_env['CURRENT_PREFIX']}dt={today.isoformat()}/"
            listing = self.s3.list_objects_v2(Bucket=self.data_bucket, Prefix=prefix).get("Contents", [])
            for obj in listing:
                target = root / "input" / obj["Key"].rsplit("/", 1)[-1]
                target.parent.mkdir(parents=True, exist_ok=True)
                self.s3.download_file(self.data_bucket, obj["Key"], str(target))
            outputs = {"versioned": root / "versioned", "current": root / "current"}
            excluded = [arg for column in run.excluded for arg in ("--exclude", column)]
            baseline_job.main(["--input", str(root / "input"), "--output", str(outputs["versioned"]),
                               "--output", str(outputs["current"]), "--model-name", run.group,
                               "--model-version", str(version), *excluded])
            versioned = drift_env["BASELINE_KEY"].replace("/current/", f"/{execution_id}/")
            for key, folder in ((versioned, outputs["versioned"]), (drift_env["BASELINE_KEY"], outputs["current"])):
                self.s3.upload_file(str(folder / "baseline.json"), self.artifact_bucket, key)
        return versioned

    def register_version(self, run: ModelRun, day: int, today: date, execution_arn: str) -> None:
        run.version += 1
        version = run.version
        execution_id = execution_arn.rsplit("/", 1)[-1]
        with contextlib.redirect_stdout(io.StringIO()):
            baseline = self.run_baseline_step(run, today, execution_id, version)
        auc = round(0.78 + 0.01 * float(self.rng.random()), 4)
        properties = {"baseline": f"s3://{self.artifact_bucket}/{baseline}", "metric:validation_auc": str(auc)}
        lifts = self.scenario.challenger_lifts
        lift = 0.0 if version == 1 or run.mode != "ab" else (lifts[version - 2] if version - 2 < len(lifts) else 0.0)
        detail = f"model version {version}" + (f" (true conversion lift {lift:+.0%})" if run.mode == "ab" else
                                               f" (validation AUC {auc})")
        uri = f"s3://{self.artifact_bucket}/models/{run.name}/v{version}/model.tar.gz"
        if run.on_cluster:  # the pipeline's register step, into the profile's registry
            registry = get_model_registry(run.registry, sagemaker=self.sagemaker, wandb=self.wandb)
            registered = register_job.handler({}, None, registry=registry, env={
                **run.registry, "MODEL_URI": uri, "METADATA": json.dumps(properties),
                "DESCRIPTION": f"trained by {execution_id} on {today.isoformat()}"})
            self.event(day, "registered", f"{detail}: {registered.label} in {registry!r}", run.name)
            self.deploy_on_kserve(run, day, version, registry, registered, lift)
            return
        package = self.sagemaker.create_model_package(
            ModelPackageGroupName=run.group,
            ModelPackageDescription=f"trained by {execution_id} on {today.isoformat()}",
            InferenceSpecification={
                "Containers": [{"Image": f"{self.session.account_id}.dkr.ecr.{self.session.region}.amazonaws.com/"
                                         f"{self.serving_image}:v{version}",
                                "ModelDataUrl": uri}],
                "SupportedContentTypes": ["application/json"], "SupportedResponseMIMETypes": ["application/json"],
            },
            ModelApprovalStatus="PendingManualApproval",
            CustomerMetadataProperties=properties,
        )["ModelPackageArn"]
        self.event(day, "registered", detail, run.name)
        settings = run.deploy_settings
        if settings is None:  # serving mode `none`: nothing to deploy; the reviewer still approves
            self.approve(package, properties)
            self.event(day, "approved", f"version {version} (serving mode none: not deployed)", run.name)
            return
        if run.mode == "ab":
            experiment = load_experiment(self.s3, settings.decisions_bucket, settings.decisions_prefix,
                                         settings.endpoint_name)
            if experiment is not None and not experiment.concluded:
                self.event(day, "held", f"version {version} stays PendingManualApproval: experiment "
                                        f"{experiment.experiment_id} is still running", run.name)
                return
        self.approve(package, properties)
        event = {
            "source": "aws.sagemaker", "detail-type": "SageMaker Model Package State Change",
            "detail": {"ModelPackageArn": package, "ModelPackageGroupName": run.group,
                       "ModelApprovalStatus": "Approved", "ModelPackageVersion": version},
        }
        result = deployer.handle_event(event, settings, self.deps_for_deploy())
        self.timeline.lifts[result.get("model_name", f"{run.name}-v{version}")] = lift
        status = result.get("status")
        card = f"; model card {result['model_card']}" if result.get("model_card") else ""
        if status == "first_model":
            self.event(day, "first-model", f"version {version} replaces the bootstrap model (all traffic){card}",
                       run.name)
        elif status == "deployed" and run.mode == "ab":
            weight = result["weights"][settings.challenger_variant]
            self.event(day, "challenger", f"version {version} on the challenger at {weight:.0%}{card}", run.name)
        elif status == "deployed":
            how = "blue/green with auto-rollback alarms" if result.get("blue_green") else "replaced"
            self.event(day, "deployed", f"version {version} live on the {run.mode} endpoint ({how}){card}", run.name)
        elif status == "batch_ready":
            self.event(day, "deployed", f"version {version} ready for the next batch transform{card}", run.name)
        else:
            self.event(day, "deployer", f"version {version}: {status}", run.name)

    def deploy_on_kserve(self, run: ModelRun, day: int, version: int, registry: ModelRegistry,
                         registered: ModelVersion, lift: float) -> None:
        """The reviewer approves in the registry (unless the model's experiment still runs), then the deployer
        job runs, finding the version through its own registry settings."""
        if "deployer" not in run.env:  # serving mode `none`
            registry.mark(registered, APPROVED)
            self.event(day, "approved", f"version {version} (serving mode none: not deployed)", run.name)
            return
        settings = kserve_deployer.KServeDeploySettings.from_env(run.env["deployer"])
        experiment = load_experiment(self.s3, *run.experiment_place)
        if experiment is not None and not experiment.concluded:
            self.event(day, "held", f"version {version} stays unapproved: experiment "
                                    f"{experiment.experiment_id} is still running", run.name)
            return
        registry.mark(registered, APPROVED)
        deps = kserve_deployer.Dependencies(sagemaker=self.sagemaker, s3=self.s3, sns=self.sns, clock=self.clock,
                                            api=self.kube, wandb=self.wandb)
        result = kserve_deployer.run(settings, deps)
        label = result.get("model_name", f"{run.group}-v{version}")
        self.timeline.lifts[label] = lift
        self.labels[result.get("storage_uri", "")] = label
        status = result.get("status")
        if status == "first_model":
            self.event(day, "first-model", f"version {version} replaces the bootstrap model (all traffic)", run.name)
        elif status == "deployed" and run.mode == "ab":
            weight = result["weights"][settings.challenger_variant]
            self.event(day, "challenger", f"version {version} on the challenger at {weight:.0%}", run.name)
        elif status == "deployed":
            self.event(day, "deployed", f"version {version} live on the {run.mode} InferenceService (replaced)",
                       run.name)
        else:
            self.event(day, "deployer", f"version {version}: {status}", run.name)

    def approve(self, package: str, properties: dict[str, str]) -> None:
        """A reviewer approves the version (repeating its properties: moto 5.2.5 clears them on an update that
        does not; AWS keeps them either way)."""
        self.sagemaker.update_model_package(ModelPackageArn=package, ModelApprovalStatus="Approved",
                                            CustomerMetadataProperties=properties)

    def deps_for_deploy(self) -> DeployDependencies:
        return DeployDependencies(sagemaker=self.sagemaker, s3=self.s3, sns=self.sns, clock=self.clock)

    def score_batch(self, run: ModelRun, day: int, today: date) -> None:
        settings = batch_transform.BatchSettings.from_env(run.env["batch-transform"])
        result = batch_transform.run(settings, self.deps_for_deploy(), {"model": run.name, "date": today.isoformat()})
        if result["status"] == "started":
            self.event(day, "batch", f"transform job {result['transform_job']} with {result['model_name']}",
                       run.name)

    def monitor_drift(self, run: ModelRun, day: int, today: date) -> float | None:
        settings = drift_monitor.DriftSettings.from_env(run.env["drift-monitor"])
        deps = drift_monitor.Dependencies(s3=self.s3, cloudwatch=self.cloudwatch, sns=self.sns, clock=self.clock,
                                          retraining=self.kfp_trigger(run) if run.on_cluster else None)
        result = drift_monitor.run({"model": run.name, "date": today.isoformat()}, settings, deps)
        share = result.get("drift_share")
        if result.get("dataset_drift"):
            retrain = result.get("retraining") or {}
            drifted = ", ".join(result.get("drifted_features", []))
            self.event(day, "drift", f"dataset drift: {share:.0%} of features ({drifted}); "
                                     f"retraining {retrain.get('status', 'not triggered')}", run.name)
        return float(share) if share is not None else None

    def serve_hour(self, run: ModelRun, visitors: dict[str, int], conversions: dict[str, int],
                   by_version: dict[str, tuple[int, int]]) -> None:
        endpoint_name, metric_namespace, weights, models = self.split_of(run)
        total = sum(weights.values()) or 1.0
        n = self.scenario.visitors_per_day // 24
        challenger_n = int(self.rng.binomial(n, weights.get("challenger", 0.0) / total))
        data = []
        for variant, count in (("champion", n - challenger_n), ("challenger", challenger_n)):
            rate = self.scenario.base_conversion * (1 + self.timeline.lifts.get(models.get(variant, ""), 0.0))
            converted = int(self.rng.binomial(count, rate)) if count else 0
            visitors[variant] += count
            conversions[variant] += converted
            seen, won = by_version.get(models.get(variant, variant), (0, 0))
            by_version[models.get(variant, variant)] = (seen + count, won + converted)
            dims = [{"Name": "EndpointName", "Value": endpoint_name}, {"Name": "VariantName", "Value": variant}]
            data += [{"MetricName": "Visitors", "Dimensions": dims, "Value": count, "Timestamp": self.clock.now},
                     {"MetricName": "Conversions", "Dimensions": dims, "Value": converted,
                      "Timestamp": self.clock.now}]
        self.cloudwatch.put_metric_data(Namespace=metric_namespace, MetricData=data)
        self.timeline.splits.append(Split(self.clock.now, {k: v / total for k, v in weights.items()}, run.name,
                                          models))

    def split_of(self, run: ModelRun) -> tuple[str, str, dict[str, float], dict[str, str]]:
        """(endpoint, metric namespace, weights by variant, model (version) by variant) of an `ab` model now."""
        if run.on_cluster:
            env = run.env["ab-controller"]
            endpoint_name, namespace = env["ENDPOINT_NAME"], env["KSERVE_NAMESPACE"]
            weights = KServeGraphTraffic(namespace, api=self.kube).get_weights(endpoint_name)
            models = {variant: self.labels.get(kserve_deployer.served_uri(
                self.kube, kserve_deployer.KServeDeploySettings.from_env(run.env["deployer"]), variant), "bootstrap")
                for variant in weights}
            return endpoint_name, env["METRIC_NAMESPACE"], weights, models
        settings = run.deploy_settings
        assert settings is not None
        endpoint = self.sagemaker.describe_endpoint(EndpointName=settings.endpoint_name)
        config = self.sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
        models = {v["VariantName"]: v["ModelName"] for v in config["ProductionVariants"]}
        weights = {v["VariantName"]: float(v.get("CurrentWeight", 0.0)) for v in endpoint["ProductionVariants"]}
        return settings.endpoint_name, settings.metric_namespace, weights, models

    def look(self, run: ModelRun, day: int) -> None:
        settings = ab_controller.ControllerSettings.from_env(run.env["ab-controller"])
        traffic = KServeGraphTraffic(run.env["ab-controller"]["KSERVE_NAMESPACE"], api=self.kube) \
            if run.on_cluster else None
        deps = ab_controller.Dependencies(s3=self.s3, cloudwatch=self.cloudwatch, sns=self.sns, clock=self.clock,
                                          traffic=traffic)
        result = ab_controller.run(settings, deps)
        status = result.get("status", "")
        if status in ("rollback", "promote", "srm_halt", "advance"):
            self.event(day, status, result.get("reason", ""), run.name)

    def drain_alerts(self, day: int) -> None:
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return
            for message in messages:
                body = json.loads(message["Body"])
                subject = str(body.get("Subject") or "")
                self.event(day, "alert", subject[:100], self.model_named_in(subject + " " + str(body.get("Message"))))
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"])


CRON_JOB = "kubernetes:batch/v1:CronJob"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
# Jobs in the order they run when they fire at the same minute.
JOBS = ("ingestion", "retraining", "drift", "batch", "traffic", "guardrail")


def schedules(model: ModelSpec) -> dict[str, str]:
    """A model's scheduled jobs and their EventBridge Scheduler expressions, as the program deploys them."""
    jobs = {"ingestion": model.dataset.ingestion_schedule, "retraining": model.training.schedule,
            "drift": model.monitoring.drift_schedule}
    if model.serving.mode == "ab":
        jobs["guardrail"] = model.serving.ab.guardrail_schedule
    if model.serving.mode == "batch":
        jobs["batch"] = model.serving.batch.schedule
    return jobs


def fire_times(expressions: dict[str, str], timezone: str, start: datetime, days: int) -> dict[str, list[datetime]]:
    """When each job fires in the `days` days from `start` (its creation): aware UTC datetimes."""
    zone, end = ZoneInfo(timezone), start + timedelta(days=days)
    return {job: parse_schedule(expr).fire_times(start, end, zone) for job, expr in expressions.items()}


def simulate_aws(spec: StackSpec, scenario: Scenario, on_day: Callable[[int], None] | None = None) -> Timeline:
    """Deploy `spec` into a fresh sandbox and run the scenario; moto's state is discarded afterwards."""
    with SandboxSession(region=spec.body.region) as session:
        return Simulation(spec, session, scenario, on_day).run()


def _simulate_gcp(spec: StackSpec, scenario: Scenario, on_day: Callable[[int], None] | None = None) -> Timeline:
    from infra.offline.simulation.gcp import simulate_gcp  # the Google client libraries: only when simulated

    return simulate_gcp(spec, scenario, on_day)


Simulator = Callable[[StackSpec, Scenario, Callable[[int], None] | None], Timeline]
SIMULATORS: dict[str, Simulator] = {"aws": simulate_aws, "gcp": _simulate_gcp}
"""How each cloud's stacks are simulated, by the profile's `cloud`."""


def simulate(spec: StackSpec, scenario: Scenario, on_day: Callable[[int], None] | None = None) -> Timeline:
    """Run the scenario on the stack `spec` describes, in the simulator of its cloud."""
    return SIMULATORS[spec.cloud](spec, scenario, on_day)
