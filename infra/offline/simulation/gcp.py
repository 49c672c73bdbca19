"""A day in the life of a GCP stack: the program's Cloud Run jobs run their real handlers, day by day, for every
model, through the real GCP adapters; the Google services behind those adapters are in-process doubles.

No emulator exists for Vertex AI, Cloud Monitoring, Cloud Run or Cloud Scheduler, and the Cloud Storage emulator
is a test dependency, not a user's: so each service the adapters call is replaced by a double that takes and
returns the official client library's messages (`aiplatform_v1`, `monitoring_v3`) and keeps the state the
service would (deployed models and their traffic split, model versions and aliases, pipeline jobs, time series,
objects with generations). What Google would do on its own (Scheduler firing, pipeline steps running, a reviewer
approving) the simulation does in its place, and says so (`NOTES`).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, cast

import numpy as np
from google.api_core import exceptions as gexc
from google.cloud import aiplatform_v1, monitoring_v3

from infra.errors import UserError
from infra.offline.graph import ResourceGraph
from infra.offline.preview import preview
from infra.offline.simulation.data import DEFAULT_SCHEMA, synthetic_batch, to_csv
from infra.offline.simulation.engine import (
    JOBS,
    Clock,
    DayStats,
    Event,
    Scenario,
    Split,
    Timeline,
    _quiet_logs,
    fire_times,
)
from infra.profiles.loader import StackSpec
from infra.profiles.model import ModelSpec, VertexEndpointServing
from infra.runtime.abtest.experiment import load_experiment
from infra.runtime.adapters.gcp import VertexEndpointTraffic, VertexModelRegistry, VertexPipelineTrigger
from infra.runtime.adapters.metrics import CloudMonitoringMetrics, MetricPoint
from infra.runtime.adapters.retraining import RetrainingRequest
from infra.runtime.adapters.storage import SHA_METADATA, Downloaded, Head, ObjectChanged, ObjectNotFound
from infra.runtime.handlers import ab_controller, drift_monitor, ingestion, vertex_deployer
from infra.runtime.handlers.ingestion import DatasetSchema
from infra.runtime.jobs import baseline as baseline_job
from infra.runtime.jobs.cloudrun import scheduled_request

NOTES = (
    "GCP has no emulator for Vertex AI, Cloud Monitoring, Cloud Run or Cloud Scheduler: the stack's resources are "
    "those `mlopsgen preview` lists (recorded, not created), and each Cloud Run job's handler runs in-process "
    "with the environment the program gives that job.",
    "Cloud Scheduler does not fire here: the simulation starts each job at the times its schedule (unix cron, "
    "from the profile's expression) gives in the profile's time zone.",
    "The GCP adapters run unchanged against in-process doubles of the services: Cloud Storage (objects with "
    "generations), Cloud Monitoring (time series), Vertex AI endpoints (deployed models, traffic split), Model "
    "Registry (versions, aliases) and Pipelines (jobs); the doubles take and return the client library's "
    "messages.",
    "A new stack has no model: after a model's first ingestion the simulation submits one pipeline job, as an "
    "operator would; later jobs come from the retraining schedule and from drift.",
    "Vertex AI Pipelines does not run here: for each pipeline job the simulation runs its baseline step for real "
    "(infra.runtime.jobs.baseline) on the latest curated day and uploads the model version its train step would.",
    "A reviewer approves each new version (alias `approved`), except while the model's experiment runs; the "
    "deployer job then puts it live.",
    "Cloud Monitoring alert policies are not evaluated; alerts are the log entries the jobs write (the stack's "
    "log-match alert policy sends those).",
    "Visitors and conversions are synthetic (models in `ab` mode): each model version has a true conversion rate "
    "the guardrail does not know.",
    "Each model's daily data is synthetic, drawn from its dataset schema; drift shifts its distributions.",
)


# ------------------------------------------------------------------------------------------- service doubles
class MemoryStorage:
    """Cloud Storage double behind the ObjectStore interface: objects with generations and metadata."""

    scheme = "gs"

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], tuple[bytes, int, dict[str, str], str | None]] = {}
        self._generation = 0

    def _write(self, bucket: str, key: str, body: bytes, metadata: Mapping[str, str], content_type: str | None) -> None:
        self._generation += 1
        self.objects[(bucket, key)] = (bytes(body), self._generation, dict(metadata), content_type)

    def get(self, bucket: str, key: str) -> bytes:
        try:
            return self.objects[(bucket, key)][0]
        except KeyError:
            raise ObjectNotFound(f"gs://{bucket}/{key}") from None

    def put(self, bucket: str, key: str, body: bytes, content_type: str = "application/json") -> None:
        self._write(bucket, key, body, {}, content_type)

    def keys(self, bucket: str, prefix: str) -> list[str]:
        return sorted(k for b, k in self.objects if b == bucket and k.startswith(prefix))

    def download(self, bucket: str, key: str, path: str) -> None:
        Path(path).write_bytes(self.get(bucket, key))

    def fetch(self, bucket: str, key: str, path: Path) -> Downloaded:
        body = self.get(bucket, key)
        path.write_bytes(body)
        _, generation, _, content_type = self.objects[(bucket, key)]
        return Downloaded(len(body), hashlib.sha256(body).hexdigest(), str(generation), content_type)

    def head(self, bucket: str, key: str) -> Head | None:
        found = self.objects.get((bucket, key))
        if found is None:
            return None
        return Head(found[2].get(SHA_METADATA) or hashlib.sha256(found[0]).hexdigest(), found[2])

    def copy(self, bucket: str, source: str, target: str, *, if_version: str, metadata: Mapping[str, str],
             content_type: str | None) -> None:
        body, generation, _, source_type = self.objects[(bucket, source)]
        if str(generation) != if_version:
            raise ObjectChanged(f"gs://{bucket}/{source}")
        self._write(bucket, target, body, metadata, content_type or source_type)

    def delete(self, bucket: str, key: str) -> None:
        self.objects.pop((bucket, key), None)


class MetricServiceDouble:
    """Cloud Monitoring's MetricServiceClient: CreateTimeSeries keeps the series, ListTimeSeries answers an
    exact-match filter on metric type and labels within the interval."""

    def __init__(self) -> None:
        self.series: list[monitoring_v3.TimeSeries] = []

    def create_time_series(self, name: str, time_series: list[monitoring_v3.TimeSeries]) -> None:
        self.series.extend(time_series)

    def list_time_series(self, request: Mapping[str, Any]) -> list[monitoring_v3.TimeSeries]:
        wanted = dict(re.findall(r'([\w.]+) = "([^"]*)"', request["filter"]))
        interval = request["interval"]
        start, end = interval.start_time, interval.end_time
        return [s for s in self.series if s.metric.type == wanted["metric.type"]
                and all(s.metric.labels.get(k.removeprefix("metric.labels.")) == v
                        for k, v in wanted.items() if k.startswith("metric.labels."))
                and all(start <= p.interval.end_time < end for p in s.points)]


class _Done:
    def __init__(self, response: Any) -> None:
        self.response = response

    def result(self, timeout: float | None = None) -> Any:
        return self.response


class EndpointServiceDouble:
    """Vertex AI's EndpointServiceClient: deployed models (ids counting up) and the traffic split."""

    def __init__(self) -> None:
        self.endpoints: dict[str, aiplatform_v1.Endpoint] = {}
        self._ids = 1000

    def get_endpoint(self, name: str) -> aiplatform_v1.Endpoint:
        return self.endpoints.setdefault(name, aiplatform_v1.Endpoint(name=name))

    def update_endpoint(self, request: aiplatform_v1.UpdateEndpointRequest) -> aiplatform_v1.Endpoint:
        assert list(request.update_mask.paths) == ["traffic_split"]
        endpoint = self.get_endpoint(request.endpoint.name)
        _check_split(dict(request.endpoint.traffic_split), endpoint)
        endpoint.traffic_split = dict(request.endpoint.traffic_split)
        return endpoint

    def deploy_model(self, endpoint: str, deployed_model: aiplatform_v1.DeployedModel,
                     traffic_split: Mapping[str, int]) -> _Done:
        found = self.get_endpoint(endpoint)
        self._ids += 1
        new_id = str(self._ids)
        found.deployed_models.append(aiplatform_v1.DeployedModel(
            id=new_id, model=deployed_model.model, display_name=deployed_model.display_name))
        found.traffic_split = {(new_id if k == "0" else k): v for k, v in traffic_split.items()}
        _check_split(dict(found.traffic_split), found)
        return _Done(aiplatform_v1.DeployModelResponse(deployed_model=aiplatform_v1.DeployedModel(id=new_id)))

    def undeploy_model(self, endpoint: str, deployed_model_id: str, traffic_split: Mapping[str, int]) -> _Done:
        found = self.get_endpoint(endpoint)
        kept = [d for d in found.deployed_models if d.id != deployed_model_id]
        del found.deployed_models[:]
        found.deployed_models.extend(kept)
        found.traffic_split = dict(traffic_split)
        if kept:
            _check_split(dict(found.traffic_split), found)
        return _Done(aiplatform_v1.UndeployModelResponse())

    def models_of(self, endpoint: str) -> dict[str, str]:
        """Display name -> model version resource of each deployed model."""
        return {d.display_name: d.model for d in self.get_endpoint(endpoint).deployed_models}


def _check_split(split: dict[str, int], endpoint: aiplatform_v1.Endpoint) -> None:
    """What Vertex AI enforces: whole percents summing to 100 over deployed models only."""
    ids = {d.id for d in endpoint.deployed_models}
    if sum(split.values()) != 100 or not set(split) <= ids:
        raise gexc.InvalidArgument(f"traffic split {split} is not 100% over the deployed models {sorted(ids)}")


class ModelServiceDouble:
    """Vertex AI's ModelServiceClient: versions of each model and their aliases (unique within the model)."""

    def __init__(self) -> None:
        self.versions: dict[str, list[aiplatform_v1.Model]] = {}

    def upload(self, model: str) -> str:
        versions = self.versions.setdefault(model, [])
        versions.append(aiplatform_v1.Model(name=model, version_id=str(len(versions) + 1)))
        return versions[-1].version_id

    def list_model_versions(self, name: str) -> list[aiplatform_v1.Model]:
        if name not in self.versions:
            raise gexc.NotFound(f"{name} not found")
        return list(self.versions[name])

    def merge_version_aliases(self, name: str, version_aliases: list[str]) -> aiplatform_v1.Model:
        model, _, version_id = name.partition("@")
        [target] = [v for v in self.versions[model] if v.version_id == version_id]
        for alias in version_aliases:
            if alias.startswith("-"):
                target.version_aliases = [a for a in target.version_aliases if a != alias[1:]]
            elif any(alias in v.version_aliases for v in self.versions[model] if v is not target):
                raise gexc.FailedPrecondition(f"alias {alias} is on another version")
            elif alias not in target.version_aliases:
                target.version_aliases.append(alias)
        return target


class PipelineServiceDouble:
    """Vertex AI's PipelineServiceClient: submitted jobs by id (a second submission with an id is refused)."""

    def __init__(self) -> None:
        self.jobs: dict[str, aiplatform_v1.PipelineJob] = {}
        self.done: set[str] = set()

    def create_pipeline_job(self, parent: str, pipeline_job: aiplatform_v1.PipelineJob,
                            pipeline_job_id: str) -> aiplatform_v1.PipelineJob:
        name = f"{parent}/pipelineJobs/{pipeline_job_id}"
        if name in self.jobs:
            raise gexc.AlreadyExists(name)
        job = aiplatform_v1.PipelineJob(pipeline_job)
        job.name = name
        self.jobs[name] = job
        return job


class Alerts:
    """The jobs' alert log entries (what the stack's log-match alert policy sends), collected in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def publish(self, subject: str, message: str) -> str:
        self.sent.append((subject, message))
        return str(len(self.sent))


# ------------------------------------------------------------------------------------------- the simulation
def _jobs(graph: ResourceGraph) -> dict[str, dict[str, dict[str, str]]]:
    """Each model's Cloud Run jobs' environments, by model and task (`ingestion`, `drift`, ...)."""
    jobs: dict[str, dict[str, dict[str, str]]] = {}
    for job in graph.of_type("gcp:cloudrunv2/job:Job"):
        [container] = job.inputs["template"]["template"]["containers"]
        env = {e["name"]: e["value"] for e in container["envs"]}
        if env.get("MODEL"):
            jobs.setdefault(env["MODEL"], {})[container["args"][0]] = env
    return jobs


def schedules(model: ModelSpec) -> dict[str, str]:
    """A model's scheduled jobs and their profile expressions, as the program schedules them on GCP."""
    jobs = {"ingestion": model.dataset.ingestion_schedule, "retraining": model.training.schedule,
            "drift": model.monitoring.drift_schedule}
    if model.serving.mode == "ab":
        jobs["guardrail"] = model.serving.ab.guardrail_schedule
    if model.serving.mode != "none":
        jobs["deploy"] = cast(VertexEndpointServing, model.serving).deploy_schedule
    return jobs


@dataclass
class GcpModelRun:
    """One model's state in the simulation: its jobs' settings (by task) and its latest version."""

    name: str
    mode: str
    env: dict[str, dict[str, str]]
    schema: DatasetSchema
    excluded: list[str]
    version: int = 0

    @property
    def vertex_model(self) -> str:
        """The model's Vertex AI Model Registry resource (its id is the stack's model name, `MODEL_NAME`)."""
        env = self.env["retraining"]
        return f"projects/{env['GCP_PROJECT']}/locations/{env['GCP_REGION']}/models/{env['MODEL_NAME']}"


class GcpSimulation:
    def __init__(self, spec: StackSpec, scenario: Scenario, on_day: Callable[[int], None] | None = None) -> None:
        unknown = sorted(set(scenario.models) - set(spec.body.models))
        if unknown:
            raise UserError.single(spec.profile_file, f"no model {unknown[0]!r} in the stack; it has "
                                   f"{', '.join(spec.body.models) or 'none'}", field="--model")
        self.spec, self.scenario, self.on_day = spec, scenario, on_day
        self.rng = np.random.default_rng(scenario.seed)
        self.start = scenario.start or datetime.now(UTC).date() - timedelta(days=scenario.days)
        self.clock = Clock(datetime.combine(self.start, time(0), UTC))
        selected = scenario.models or tuple(spec.body.models)
        timezone = spec.body.automation.timezone
        self.timeline = Timeline(
            stack=spec.stack, scenario=scenario, start=self.start,
            models={m: spec.body.models[m].serving.mode for m in selected},
            drift_thresholds={m: spec.body.models[m].monitoring.drift.drift_share for m in selected},
            timezone=timezone, schedules={m: schedules(spec.body.models[m]) for m in selected}, notes=NOTES,
            provider="GCP",
        )
        self.fires = {m: fire_times(jobs, timezone, self.clock.now, scenario.days)
                      for m, jobs in self.timeline.schedules.items()}
        self.storage, self.monitoring = MemoryStorage(), MetricServiceDouble()
        self.endpoints, self.registry_service = EndpointServiceDouble(), ModelServiceDouble()
        self.pipelines, self.alerts = PipelineServiceDouble(), Alerts()
        self.runs: list[GcpModelRun] = []

    # ------------------------------------------------------------------ setup
    def setup(self) -> None:
        graph = preview(self.spec)
        jobs = _jobs(graph)
        for name in self.timeline.models:
            env = jobs[name]
            schema = self.spec.schemas.get(name)
            ing = env["ingestion"]  # the Model component uploads the schema; the double starts empty
            self.storage.put(ing["ARTIFACT_BUCKET"], ing["SCHEMA_KEY"],
                             (DatasetSchema.model_validate(schema) if schema else DEFAULT_SCHEMA)
                             .model_dump_json().encode())
            drift = self.spec.body.models[name].monitoring.drift
            self.runs.append(GcpModelRun(
                name=name, mode=self.spec.body.models[name].serving.mode, env=env,
                schema=DatasetSchema.model_validate(schema) if schema else DEFAULT_SCHEMA,
                excluded=list(drift.baseline.exclude),
            ))
        self.event(0, "deploy", f"{len(graph.custom)} GCP resources recorded (no emulator; `mlopsgen preview` "
                                "lists them); models: "
                                + ", ".join(f"{m} ({mode})" for m, mode in self.timeline.models.items()))

    def event(self, day: int, kind: str, detail: str, model: str | None = None) -> None:
        self.timeline.events.append(Event(day, self.clock.now, kind, detail, model))

    # ------------------------------------------------------------------ adapters over the doubles
    def metrics(self, run: GcpModelRun) -> CloudMonitoringMetrics:
        return CloudMonitoringMetrics(run.env["drift"]["GCP_PROJECT"], self.monitoring)

    def traffic(self) -> VertexEndpointTraffic:
        location = f"projects/{self.spec.body.project}/locations/{self.spec.body.region}"
        return VertexEndpointTraffic(self.endpoints, location=location, sleep=lambda _: None)

    def trigger(self, env: Mapping[str, str]) -> VertexPipelineTrigger:
        trigger = VertexPipelineTrigger.from_settings(env)
        trigger._client = self.pipelines
        return trigger

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
        s = self.scenario
        today = self.start + timedelta(days=day)
        midnight = datetime.combine(today, time(0), UTC)
        drifted = day >= s.drift_day
        self.clock.now = midnight
        for run in self.runs:
            batch = synthetic_batch(run.schema, self.rng, s.rows_per_day, drifted=drifted)
            ing = run.env["ingestion"]
            self.storage.put(ing["DATA_BUCKET"], f"{ing['LANDING_PREFIX']}export-{today.isoformat()}.csv",
                             to_csv(batch), "text/csv")
            if day == s.drift_day:
                self.event(day, "drift-injected", "input distributions shifted", run.name)
        tested = [run for run in self.runs if "ab-controller" in run.env]
        visitors = {run.name: {"champion": 0, "challenger": 0} for run in tested}
        conversions = {run.name: {"champion": 0, "challenger": 0} for run in tested}
        versions: dict[str, dict[str, tuple[int, int]]] = {run.name: {} for run in self.runs}
        shares: dict[str, float | None] = {run.name: None for run in self.runs}
        end = midnight + timedelta(days=1)
        order = (*JOBS, "deploy")
        agenda = [(t, order.index(job), i, job) for i, run in enumerate(self.runs)
                  for job, times in self.fires[run.name].items() for t in times if midnight <= t < end]
        agenda += [(midnight + timedelta(hours=h, minutes=30), order.index("traffic"), i, "traffic")
                   for i, run in enumerate(self.runs) if run in tested for h in range(24)]
        for at, _, i, job in sorted(agenda):
            run = self.runs[i]
            self.clock.now = at
            if job == "ingestion":
                self.ingest(run, day, today)
            elif job == "retraining":
                self.scheduled_retraining(run, day, today)
            elif job == "drift":
                shares[run.name] = self.monitor_drift(run, day, today)
            elif job == "guardrail":
                self.look(run, day)
            elif job == "deploy":
                self.deploy(run, day)
            else:
                self.serve_hour(run, visitors[run.name], conversions[run.name], versions[run.name])
        self.clock.now = midnight + timedelta(hours=23, minutes=59)
        self.drain_alerts(day)
        for run in self.runs:
            self.timeline.days.append(DayStats(day, today, visitors.get(run.name, {}), conversions.get(run.name, {}),
                                               shares[run.name], drifted, run.name, versions[run.name]))

    def ingest(self, run: GcpModelRun, day: int, today: date) -> None:
        settings = ingestion.IngestionSettings.from_env(run.env["ingestion"])
        deps = ingestion.IngestionDependencies(store=self.storage, notifier=self.alerts, clock=self.clock)
        summary = ingestion.run(settings, deps, {"model": run.name, "date": today.isoformat()})
        self.event(day, "ingestion", f"{len(summary.get('curated', []))} file(s) curated, "
                                     f"{len(summary.get('quarantined', []))} quarantined", run.name)
        if run.version == 0 and not _jobs_of(self, run):
            env = run.env["retraining"]
            request = RetrainingRequest(env["MODEL_NAME"], "First training run on the first curated data.",
                                        RetrainingRequest.key_for(env["MODEL_NAME"], "first"))
            self.trigger(env).trigger(request)
            self.event(day, "first-training", "first pipeline job on the first curated data (a new stack has no "
                                              "model yet)", run.name)
            self.complete_pipeline_jobs(run, day, today)

    def scheduled_retraining(self, run: GcpModelRun, day: int, today: date) -> None:
        env = run.env["retraining"]  # what the job's task does (infra.runtime.jobs.cloudrun), with its settings
        run_id = self.trigger(env).trigger(scheduled_request(env["MODEL_NAME"], self.clock.now))
        result = {"run": run_id}
        expression = self.timeline.schedules[run.name]["retraining"]
        self.event(day, "retraining", f"scheduled pipeline job {result['run'].rsplit('/', 1)[-1]} ({expression})",
                   run.name)
        self.complete_pipeline_jobs(run, day, today)

    def complete_pipeline_jobs(self, run: GcpModelRun, day: int, today: date) -> None:
        """Vertex AI Pipelines does not run here: each new job's baseline step runs for real, and the version the
        train step would upload is registered."""
        for name, job in list(self.pipelines.jobs.items()):
            if name in self.pipelines.done or dict(job.labels).get("model") != _label(run.env["drift"]["MODEL_NAME"]):
                continue
            self.pipelines.done.add(name)
            self.register_version(run, day, today, name.rsplit("/", 1)[-1])

    def run_baseline_step(self, run: GcpModelRun, today: date, job_id: str, version: str) -> None:
        drift_env = run.env["drift"]
        data, artifacts = drift_env["DATA_BUCKET"], drift_env["ARTIFACT_BUCKET"]
        with tempfile.TemporaryDirectory() as scratch:
            root = Path(scratch)
            (root / "input").mkdir()
            for key in self.storage.keys(data, f"{drift_env['CURRENT_PREFIX']}dt={today.isoformat()}/"):
                self.storage.download(data, key, str(root / "input" / key.rsplit("/", 1)[-1]))
            excluded = [arg for column in run.excluded for arg in ("--exclude", column)]
            baseline_job.main(["--input", str(root / "input"), "--output", str(root / "versioned"),
                               "--output", str(root / "current"), "--model-name", drift_env["MODEL_NAME"],
                               "--model-version", version, *excluded])
            current = drift_env["BASELINE_KEY"]
            body = (root / "current" / "baseline.json").read_bytes()
            self.storage.put(artifacts, current, body)
            self.storage.put(artifacts, current.replace("/current/", f"/{job_id}/"), body)

    def register_version(self, run: GcpModelRun, day: int, today: date, job_id: str) -> None:
        model = run.vertex_model
        version = self.registry_service.upload(model)
        run.version = int(version)
        with contextlib.redirect_stdout(io.StringIO()):
            self.run_baseline_step(run, today, job_id, version)
        lifts = self.scenario.challenger_lifts
        n = run.version
        lift = 0.0 if n == 1 or run.mode != "ab" else (lifts[n - 2] if n - 2 < len(lifts) else 0.0)
        self.timeline.lifts[_version_label(model, version)] = lift
        auc = round(0.78 + 0.01 * float(self.rng.random()), 4)
        self.event(day, "registered", f"model version {version} (pipeline job {job_id}; "
                   + (f"true conversion lift {lift:+.0%})" if run.mode == "ab" else f"validation AUC {auc})"),
                   run.name)
        if run.mode == "none":
            self.event(day, "approved", f"version {version} (serving mode none: not deployed)", run.name)
            return
        deploy_env = run.env["deployer"]
        experiment = load_experiment(self.storage, deploy_env["DECISIONS_BUCKET"], deploy_env["DECISIONS_PREFIX"],
                                     deploy_env["ENDPOINT_NAME"])
        if run.mode == "ab" and experiment is not None and not experiment.concluded:
            self.event(day, "held", f"version {version} not approved yet: experiment {experiment.experiment_id} is "
                                    "still running", run.name)
            return
        VertexModelRegistry(self.registry_service).set_alias(model, version, "approved")
        self.deploy(run, day)

    def deploy(self, run: GcpModelRun, day: int) -> None:
        settings = vertex_deployer.VertexDeploySettings.from_env(run.env["deployer"])
        deps = vertex_deployer.Dependencies(registry=VertexModelRegistry(self.registry_service),
                                            traffic=self.traffic(), store=self.storage, notifier=self.alerts,
                                            clock=self.clock)
        result = vertex_deployer.run(settings, deps)
        status, version = result.get("status"), result.get("version")
        if status == "first_model":
            self.event(day, "first-model", f"version {version} deployed with all traffic", run.name)
        elif status == "deployed" and run.mode == "ab":
            share = result["weights"]["challenger"]
            self.event(day, "challenger", f"version {version} deployed as the challenger at {share:.0%}", run.name)
        elif status in ("deployed", "promoted"):
            self.event(day, "deployed", f"version {version} live on the endpoint ({status})", run.name)

    def monitor_drift(self, run: GcpModelRun, day: int, today: date) -> float | None:
        env = run.env["drift"]
        settings = drift_monitor.DriftSettings.from_env(env)
        if run.version == 0:
            return None  # no baseline before the first pipeline job: the job fails, as it would in GCP
        deps = drift_monitor.Dependencies(store=self.storage, metrics=self.metrics(run), notifier=self.alerts,
                                          clock=self.clock, retraining=self.trigger(env) if
                                          settings.retraining_trigger else None)
        result = drift_monitor.run({"model": run.name, "date": today.isoformat()}, settings, deps)
        share = result.get("drift_share")
        if result.get("dataset_drift"):
            retrain = result.get("retraining") or {}
            drifted = ", ".join(result.get("drifted_features", []))
            self.event(day, "drift", f"dataset drift: {share:.0%} of features ({drifted}); "
                                     f"retraining {retrain.get('status', 'not triggered')}", run.name)
            self.complete_pipeline_jobs(run, day, today)
        return float(share) if share is not None else None

    def serve_hour(self, run: GcpModelRun, visitors: dict[str, int], conversions: dict[str, int],
                   by_version: dict[str, tuple[int, int]]) -> None:
        env = run.env["ab-controller"]
        endpoint = f"projects/{env['GCP_PROJECT']}/locations/{env['GCP_REGION']}/endpoints/{env['ENDPOINT_NAME']}"
        weights = self.traffic().get_weights(endpoint)
        if not weights:
            return  # nothing deployed yet: the endpoint answers no prediction
        models = {v: _version_label(*m.split("@")) for v, m in self.endpoints.models_of(endpoint).items()}
        total = sum(weights.values()) or 1.0
        n = self.scenario.visitors_per_day // 24
        challenger_n = int(self.rng.binomial(n, weights.get("challenger", 0.0) / total))
        points = []
        for variant, count in (("champion", n - challenger_n), ("challenger", challenger_n)):
            rate = self.scenario.base_conversion * (1 + self.timeline.lifts.get(models.get(variant, ""), 0.0))
            converted = int(self.rng.binomial(count, rate)) if count else 0
            visitors[variant] += count
            conversions[variant] += converted
            seen, won = by_version.get(models.get(variant, variant), (0, 0))
            by_version[models.get(variant, variant)] = (seen + count, won + converted)
            dims = {"EndpointName": env["ENDPOINT_NAME"], "VariantName": variant}
            points += [MetricPoint("Visitors", count, dims), MetricPoint("Conversions", converted, dims)]
        self.metrics(run).put(env["METRIC_NAMESPACE"], points, self.clock.now)
        self.timeline.splits.append(Split(self.clock.now, {k: v / total for k, v in weights.items()}, run.name,
                                          models))

    def look(self, run: GcpModelRun, day: int) -> None:
        settings = ab_controller.ControllerSettings.from_env(run.env["ab-controller"])
        deps = ab_controller.Dependencies(store=self.storage, metrics=self.metrics(run), notifier=self.alerts,
                                          traffic=self.traffic(), clock=self.clock)
        result = ab_controller.run(settings, deps)
        status = result.get("status", "")
        if status in ("rollback", "promote", "srm_halt", "advance"):
            self.event(day, status, result.get("reason", ""), run.name)

    def drain_alerts(self, day: int) -> None:
        """The day's alerts, each under the model whose names (Vertex model, endpoint id) it carries."""
        for subject, message in self.alerts.sent:
            text = f"{subject} {message}"
            model = next((r.name for r in self.runs if r.env["drift"]["MODEL_NAME"] in text
                          or r.env.get("deployer", {}).get("ENDPOINT_NAME", "\0") in text), None)
            self.event(day, "alert", subject[:100], model)
        self.alerts.sent.clear()


def _label(model_name: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", model_name.lower()).strip("-")[:63]


def _version_label(model: str, version: str) -> str:
    """`<model id>-v<version>-<hash>`: how the chart names a model version."""
    return f"{model.rsplit('/', 1)[-1]}-v{version}-{hashlib.sha256(f'{model}@{version}'.encode()).hexdigest()[:8]}"


def _jobs_of(simulation: GcpSimulation, run: GcpModelRun) -> set[str]:
    return {n for n, j in simulation.pipelines.jobs.items()
            if dict(j.labels).get("model") == _label(run.env["drift"]["MODEL_NAME"])}


def simulate_gcp(spec: StackSpec, scenario: Scenario, on_day: Callable[[int], None] | None = None) -> Timeline:
    return GcpSimulation(spec, scenario, on_day).run()
