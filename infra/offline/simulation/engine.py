"""A day in the life of a stack, in the sandbox: the real program deployed into moto, the real handlers run.

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

from infra.components.base import name_prefix
from infra.errors import UserError
from infra.offline.sandbox import SandboxResult, SandboxSession, deploy
from infra.offline.simulation.alarms import evaluate_alarms
from infra.offline.simulation.data import SCHEMA, daily_batch, to_csv
from infra.profiles.loader import StackSpec
from infra.profiles.schedule import parse as parse_schedule
from infra.runtime.abtest.experiment import load_experiment
from infra.runtime.deploy import DeployDependencies, DeploySettings
from infra.runtime.handlers import ab_controller, deployer, drift_monitor, ingestion
from infra.runtime.jobs import baseline as baseline_job

NOTES = (
    "EventBridge Scheduler does not fire in moto: the simulation calls each schedule's target at the times its "
    "expression and the profile's time zone give (infra/profiles/schedule.py).",
    "A new stack has no model: after the first ingestion the simulation starts one training run, as an operator "
    "would; later runs come from the retraining schedule and from drift.",
    "Each day's export lands in the landing prefix at 00:00 UTC; traffic is served in hourly batches at half past.",
    "moto completes pipeline executions without running their steps: the simulation runs the pipeline's "
    "Baseline step (infra.runtime.jobs.baseline) on the latest day's curated data and registers the model "
    "version the RegisterModel step would.",
    "EventBridge rules do not invoke Lambda in moto: the simulation delivers the model-approval event to the "
    "deployer, after approving the version as a reviewer would.",
    "moto never evaluates CloudWatch alarms: the simulation evaluates them (infra/offline/simulation/alarms.py) "
    "and publishes to their SNS actions.",
    "Lambda invoke needs Docker in moto: the handlers run in-process with the deployed functions' environment.",
    "Visitors and conversions are synthetic: each model version has a true conversion rate the guardrail "
    "does not know.",
)


@dataclass
class Scenario:
    days: int = 30
    seed: int = 7
    rows_per_day: int = 4000
    visitors_per_day: int = 400_000
    base_conversion: float = 0.05
    drift_day: int = 12
    # True relative conversion lift of model versions 2, 3, ... against version 1 (later ones: 0).
    challenger_lifts: tuple[float, ...] = (-0.08, 0.0)
    start: date | None = None  # first simulated day (UTC); default: `days` days before today


@dataclass
class Event:
    day: int
    at: datetime
    kind: str
    detail: str


@dataclass
class Split:
    """The endpoint's traffic split while serving one hour, and the model each variant served."""

    at: datetime
    weights: dict[str, float]
    models: dict[str, str] = field(default_factory=dict)


@dataclass
class DayStats:
    day: int
    date: date
    visitors: dict[str, int]
    conversions: dict[str, int]
    drift_share: float | None
    drifted: bool
    by_model: dict[str, tuple[int, int]] = field(default_factory=dict)  # model name -> (visitors, conversions)


@dataclass
class Timeline:
    stack: str
    scenario: Scenario
    start: date
    events: list[Event] = field(default_factory=list)
    splits: list[Split] = field(default_factory=list)
    days: list[DayStats] = field(default_factory=list)
    models: dict[str, float] = field(default_factory=dict)  # model name -> true relative lift
    sandbox: SandboxResult | None = None
    drift_threshold: float = 0.5
    notes: tuple[str, ...] = NOTES
    timezone: str = "UTC"  # the schedules' time zone, in which events are shown
    schedules: dict[str, str] = field(default_factory=dict)  # job -> schedule expression

    def count(self, kind: str) -> int:
        return sum(1 for e in self.events if e.kind == kind)

    def to_json(self) -> dict[str, Any]:
        zone = ZoneInfo(self.timezone)
        return {
            "stack": self.stack,
            "start": self.start.isoformat(),
            "days": self.scenario.days,
            "timezone": self.timezone,
            "schedules": self.schedules,
            "events": [{"day": e.day, "at": e.at.isoformat(), "local": e.at.astimezone(zone).isoformat(),
                        "kind": e.kind, "detail": e.detail} for e in self.events],
            "daily": [{"day": d.day, "date": d.date.isoformat(), "visitors": d.visitors,
                       "conversions": d.conversions, "drift_share": d.drift_share,
                       "by_model": {name: {"visitors": v, "conversions": c} for name, (v, c) in d.by_model.items()}}
                      for d in self.days],
            "models": self.models,
            "notes": list(self.notes),
        }


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _functions(result: SandboxResult) -> dict[str, dict[str, str]]:
    """Each deployed function's environment, by logical name: the handlers run with exactly these settings."""
    return {f.name: dict(f.inputs["environment"]["variables"])
            for f in result.graph.of_type("aws:lambda/function:Function")}


@contextmanager
def _quiet_logs() -> Iterator[None]:
    import logging

    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)


class Simulation:
    def __init__(self, spec: StackSpec, session: SandboxSession, scenario: Scenario,
                 on_day: Callable[[int], None] | None = None) -> None:
        self.spec, self.session, self.scenario, self.on_day = spec, session, scenario, on_day
        self.rng = np.random.default_rng(scenario.seed)
        self.start = scenario.start or datetime.now(UTC).date() - timedelta(days=scenario.days)
        self.clock = Clock(datetime.combine(self.start, time(0), UTC))
        self.timeline = Timeline(stack=spec.stack, scenario=scenario, start=self.start,
                                 drift_threshold=spec.body.monitoring.drift.drift_share,
                                 timezone=spec.body.automation.timezone, schedules=schedules(spec))
        self.fires = fire_times(self.timeline.schedules, spec.body.automation.timezone, self.clock.now,
                                scenario.days)
        self.handled_executions: set[str] = set()
        self.version = 0

    # ------------------------------------------------------------------ setup
    def setup(self) -> None:
        result = deploy(self.spec, self.session)
        if result.failed:
            first = result.failed[0]
            raise UserError.single(self.spec.profile_file, f"sandbox deploy failed: {first['reason']}",
                                   field=f"{first['type']} {first['name']}")
        self.timeline.sandbox = result
        self.env = _functions(result)
        c = self.session.client
        self.s3, self.sagemaker, self.cloudwatch, self.sns = c("s3"), c("sagemaker"), c("cloudwatch"), c("sns")
        ing = self.env["ingestion"]
        self.data_bucket, self.artifact_bucket = ing["DATA_BUCKET"], ing["ARTIFACT_BUCKET"]
        self.s3.put_object(Bucket=self.artifact_bucket, Key=ing["SCHEMA_KEY"], Body=SCHEMA.model_dump_json().encode())
        self.deploy_settings = DeploySettings.from_env(self.env["deployer"])
        self.controller_settings = ab_controller.ControllerSettings.from_env(self.env["ab-controller"])
        self.group = self.env["drift-monitor"]["MODEL_NAME"]
        self.pipeline = self.env["drift-monitor"]["PIPELINE_NAME"]
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
                                f"{len(result.recorded)} recorded, not emulated")

    def event(self, day: int, kind: str, detail: str) -> None:
        self.timeline.events.append(Event(day, self.clock.now, kind, detail))

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
        """The day's scheduled jobs at their times (UTC day `day`), between the export landing at 00:00 and the
        alarm evaluation at 23:59; traffic is served hour by hour."""
        s = self.scenario
        today = self.start + timedelta(days=day)
        midnight = datetime.combine(today, time(0), UTC)
        drifted = day >= s.drift_day
        self.clock.now = midnight
        batch = daily_batch(self.rng, s.rows_per_day, drifted=drifted)
        landing = self.env["ingestion"]["LANDING_PREFIX"]
        self.s3.put_object(Bucket=self.data_bucket, Key=f"{landing}events-{today.isoformat()}.csv", Body=to_csv(batch))
        if day == s.drift_day:
            self.event(day, "drift-injected", "input distribution shifted (baskets, sessions, device mix)")
        visitors = {"champion": 0, "challenger": 0}
        conversions = {"champion": 0, "challenger": 0}
        by_model: dict[str, tuple[int, int]] = {}
        drift_share: float | None = None
        agenda = [(t, JOBS.index(job), job) for job, times in self.fires.items() for t in times
                  if midnight <= t < midnight + timedelta(days=1)]
        agenda += [(midnight + timedelta(hours=h, minutes=30), JOBS.index("traffic"), "traffic") for h in range(24)]
        for at, _, job in sorted(agenda):
            self.clock.now = at
            if job == "ingestion":
                self.ingest(day, today)
            elif job == "retraining":
                expression = self.timeline.schedules[job]
                self.start_retraining(day, today, f"scheduled pipeline execution started ({expression})")
            elif job == "drift":
                drift_share = self.monitor_drift(day, today)
                self.complete_executions(day, today)  # a drift-triggered retraining
            elif job == "guardrail":
                self.look(day)
            else:
                self.serve_hour(visitors, conversions, by_model)
        self.clock.now = midnight + timedelta(hours=23, minutes=59)
        for change in evaluate_alarms(self.cloudwatch, self.sns, name_prefix(self.spec), self.clock.now):
            self.event(day, "alarm", f"{change.name}: {change.old} -> {change.new} ({change.reason})")
        self.drain_alerts(day)
        self.timeline.days.append(DayStats(day, today, visitors, conversions, drift_share, drifted, by_model))

    def ingest(self, day: int, today: date) -> None:
        summary = ingestion.run(ingestion.IngestionSettings.from_env(self.env["ingestion"]),
                                ingestion.IngestionDependencies(s3=self.s3, sns=self.sns, clock=self.clock),
                                {"date": today.isoformat()})
        self.event(day, "ingestion", f"{len(summary.get('curated', []))} file(s) curated, "
                                     f"{len(summary.get('quarantined', []))} quarantined")
        if self.version == 0 and not self.handled_executions:
            self.start_retraining(day, today, "first training run on the first curated data (a new stack has "
                                              "no model yet)", kind="first-training")

    def start_retraining(self, day: int, today: date, detail: str, kind: str = "retraining") -> None:
        self.sagemaker.start_pipeline_execution(
            PipelineName=self.pipeline, PipelineExecutionDisplayName=f"{kind}-{self.clock.now:%Y%m%dT%H%M}",
            PipelineParameters=[{"Name": "TrainingData", "Value": f"s3://{self.data_bucket}/curated/"}],
        )
        self.event(day, kind, detail)
        self.complete_executions(day, today)

    # ------------------------------------------------------------------ pieces
    def complete_executions(self, day: int, today: date) -> None:
        """moto finishes executions instantly without running steps: produce what the steps would."""
        executions = self.sagemaker.list_pipeline_executions(PipelineName=self.pipeline)["PipelineExecutionSummaries"]
        for execution in sorted(executions, key=lambda e: e["StartTime"]):
            arn = execution["PipelineExecutionArn"]
            if arn in self.handled_executions:
                continue
            self.handled_executions.add(arn)
            self.register_version(day, today, arn)

    def run_baseline_step(self, today: date, execution_id: str, version: int) -> str:
        """The pipeline's Baseline step, as SageMaker Processing would run it: inputs downloaded, the job's
        outputs uploaded to the versioned and the current baseline keys."""
        with tempfile.TemporaryDirectory() as scratch:
            root = Path(scratch)
            prefix = f"curated/dt={today.isoformat()}/"
            listing = self.s3.list_objects_v2(Bucket=self.data_bucket, Prefix=prefix).get("Contents", [])
            for obj in listing:
                target = root / "input" / obj["Key"].rsplit("/", 1)[-1]
                target.parent.mkdir(parents=True, exist_ok=True)
                self.s3.download_file(self.data_bucket, obj["Key"], str(target))
            outputs = {"versioned": root / "versioned", "current": root / "current"}
            baseline_job.main(["--input", str(root / "input"), "--output", str(outputs["versioned"]),
                               "--output", str(outputs["current"]), "--model-name", self.group,
                               "--model-version", str(version), "--exclude", "user_id"])
            versioned = f"baselines/{self.group}/{execution_id}/baseline.json"
            for key, folder in ((versioned, outputs["versioned"]),
                                (self.env["drift-monitor"]["BASELINE_KEY"], outputs["current"])):
                self.s3.upload_file(str(folder / "baseline.json"), self.artifact_bucket, key)
        return versioned

    def register_version(self, day: int, today: date, execution_arn: str) -> None:
        self.version += 1
        version = self.version
        with contextlib.redirect_stdout(io.StringIO()):
            baseline = self.run_baseline_step(today, execution_arn.rsplit("/", 1)[-1], version)
        package = self.sagemaker.create_model_package(
            ModelPackageGroupName=self.group,
            ModelPackageDescription=f"trained by {execution_arn.rsplit('/', 1)[-1]} on {today.isoformat()}",
            InferenceSpecification={
                "Containers": [{"Image": f"{self.session.account_id}.dkr.ecr.{self.session.region}.amazonaws.com/"
                                         f"{self.serving_image}:v{version}",
                                "ModelDataUrl": f"s3://{self.artifact_bucket}/models/v{version}/model.tar.gz"}],
                "SupportedContentTypes": ["application/json"], "SupportedResponseMIMETypes": ["application/json"],
            },
            ModelApprovalStatus="PendingManualApproval",
            CustomerMetadataProperties={"baseline": f"s3://{self.artifact_bucket}/{baseline}"},
        )["ModelPackageArn"]
        lifts = self.scenario.challenger_lifts
        lift = 0.0 if version == 1 else (lifts[version - 2] if version - 2 < len(lifts) else 0.0)
        self.event(day, "registered", f"model version {version} (true conversion lift {lift:+.0%})")
        experiment = load_experiment(self.s3, self.deploy_settings.decisions_bucket,
                                     self.deploy_settings.decisions_prefix, self.deploy_settings.endpoint_name)
        if experiment is not None and not experiment.concluded:
            self.event(day, "held", f"version {version} stays PendingManualApproval: experiment "
                                    f"{experiment.experiment_id} is still running")
            return
        self.sagemaker.update_model_package(ModelPackageArn=package, ModelApprovalStatus="Approved")
        event = {
            "source": "aws.sagemaker", "detail-type": "SageMaker Model Package State Change",
            "detail": {"ModelPackageArn": package, "ModelPackageGroupName": self.group,
                       "ModelApprovalStatus": "Approved", "ModelPackageVersion": version},
        }
        result = deployer.handle_event(event, self.deploy_settings, self.deps_for_deploy())
        self.timeline.models[result.get("model_name", f"v{version}")] = lift
        status = result.get("status")
        if status == "first_model":
            self.event(day, "first-model", f"version {version} replaces the bootstrap model (all traffic)")
        elif status == "deployed":
            weight = result["weights"][self.deploy_settings.challenger_variant]
            self.event(day, "challenger", f"version {version} on the challenger at {weight:.0%}")
        else:
            self.event(day, "deployer", f"version {version}: {status}")

    def deps_for_deploy(self) -> DeployDependencies:
        return DeployDependencies(sagemaker=self.sagemaker, s3=self.s3, sns=self.sns, clock=self.clock)

    def monitor_drift(self, day: int, today: date) -> float | None:
        settings = drift_monitor.DriftSettings.from_env(self.env["drift-monitor"])
        deps = drift_monitor.Dependencies(s3=self.s3, cloudwatch=self.cloudwatch, sns=self.sns, clock=self.clock)
        result = drift_monitor.run({"date": today.isoformat()}, settings, deps)
        share = result.get("drift_share")
        if result.get("dataset_drift"):
            retrain = result.get("retraining") or {}
            drifted = ", ".join(result.get("drifted_features", []))
            self.event(day, "drift", f"dataset drift: {share:.0%} of features ({drifted}); "
                                     f"retraining {retrain.get('status', 'not triggered')}")
        return float(share) if share is not None else None

    def serve_hour(self, visitors: dict[str, int], conversions: dict[str, int],
                   by_model: dict[str, tuple[int, int]]) -> None:
        endpoint = self.sagemaker.describe_endpoint(EndpointName=self.deploy_settings.endpoint_name)
        config = self.sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
        models = {v["VariantName"]: v["ModelName"] for v in config["ProductionVariants"]}
        weights = {v["VariantName"]: float(v.get("CurrentWeight", 0.0)) for v in endpoint["ProductionVariants"]}
        total = sum(weights.values()) or 1.0
        n = self.scenario.visitors_per_day // 24
        challenger_n = int(self.rng.binomial(n, weights.get("challenger", 0.0) / total))
        data = []
        for variant, count in (("champion", n - challenger_n), ("challenger", challenger_n)):
            rate = self.scenario.base_conversion * (1 + self.timeline.models.get(models.get(variant, ""), 0.0))
            converted = int(self.rng.binomial(count, rate)) if count else 0
            visitors[variant] += count
            conversions[variant] += converted
            seen, won = by_model.get(models.get(variant, variant), (0, 0))
            by_model[models.get(variant, variant)] = (seen + count, won + converted)
            dims = [{"Name": "EndpointName", "Value": self.deploy_settings.endpoint_name},
                    {"Name": "VariantName", "Value": variant}]
            data += [{"MetricName": "Visitors", "Dimensions": dims, "Value": count, "Timestamp": self.clock.now},
                     {"MetricName": "Conversions", "Dimensions": dims, "Value": converted,
                      "Timestamp": self.clock.now}]
        self.cloudwatch.put_metric_data(Namespace=self.controller_settings.metric_namespace, MetricData=data)
        self.timeline.splits.append(Split(self.clock.now, {k: v / total for k, v in weights.items()}, models))

    def look(self, day: int) -> None:
        deps = ab_controller.Dependencies(s3=self.s3, cloudwatch=self.cloudwatch, sns=self.sns, clock=self.clock)
        result = ab_controller.run(self.controller_settings, deps)
        status = result.get("status", "")
        if status in ("rollback", "promote", "srm_halt", "advance"):
            self.event(day, status, result.get("reason", ""))

    def drain_alerts(self, day: int) -> None:
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return
            for message in messages:
                body = json.loads(message["Body"])
                self.event(day, "alert", str(body.get("Subject") or "")[:100])
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"])


# Jobs in the order they run when they fire at the same minute.
JOBS = ("ingestion", "retraining", "drift", "traffic", "guardrail")


def schedules(spec: StackSpec) -> dict[str, str]:
    """Each scheduled job of the stack and its EventBridge Scheduler expression, as the program deploys them."""
    body = spec.body
    return {"ingestion": body.automation.ingestion_schedule, "retraining": body.automation.retraining_schedule,
            "drift": body.monitoring.drift_schedule, "guardrail": body.monitoring.ab_guardrail_schedule}


def fire_times(expressions: dict[str, str], timezone: str, start: datetime, days: int) -> dict[str, list[datetime]]:
    """When each job fires in the `days` days from `start` (its creation): aware UTC datetimes."""
    zone, end = ZoneInfo(timezone), start + timedelta(days=days)
    return {job: parse_schedule(expr).fire_times(start, end, zone) for job, expr in expressions.items()}


def simulate(spec: StackSpec, scenario: Scenario, on_day: Callable[[int], None] | None = None) -> Timeline:
    """Deploy `spec` into a fresh sandbox and run the scenario; moto's state is discarded afterwards."""
    with SandboxSession(region=spec.body.region) as session:
        return Simulation(spec, session, scenario, on_day).run()
