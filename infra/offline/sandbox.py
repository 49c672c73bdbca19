"""`mlopsgen sandbox up`: run the real program with every AWS resource created in moto, in-process and offline.

Each custom resource goes to the emulator for its type token (`infra.offline.emulators.EMULATORS`), which
creates it in moto and reads it back. The outcome of every resource is one of:

- emulated: moto created it and a describe/get call returned it as declared;
- recorded, not emulated: moto cannot create it (no emulator, an API moto lacks, an input the emulator
  does not map, or it references a resource that is itself only recorded); it gets synthesized outputs and
  the reason is listed;
- failed: moto rejected the input (bad policy syntax, a reference to something that does not exist, ...) or
  the read-back disagrees. That is an error of the program, as it would be in `pulumi up`: the resources
  that depend on it are not created and the deploy is reported as failed.

The moto state lives as long as the `SandboxSession`, so later code can run the stack's handlers against it.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import boto3
import moto
import pulumi
from botocore.exceptions import ClientError, ParamValidationError
from moto import mock_aws
from pulumi.runtime import rpc

from infra.offline.emulators import EMULATORS, EmulatorContext, MissingReference, NotEmulated, VerificationError
from infra.offline.emulators.base import Emulator, walk_strings
from infra.offline.emulators.sagemaker_update_endpoint import install as install_update_endpoint
from infra.offline.gcp_checks import CHECKS as STRUCTURAL_CHECKS
from infra.offline.gcp_checks import StructuralError
from infra.offline.graph import ResourceGraph, ResourceRecord
from infra.offline.kubernetes import ObjectCheck, check_graph
from infra.offline.runtime import GraphMocks, _ints, run_program
from infra.offline.synth import ARN_SHAPES, synthesize
from infra.profiles.exceptions import loosened_defaults
from infra.profiles.loader import StackSpec

ResourceCallback = Callable[[str, str, str], None]
# Declared in a cluster, not in AWS: recorded with their manifests and checked (infra.offline.kubernetes).
KUBERNETES_TYPES = ("kubernetes:", "pulumi:providers:kubernetes")

FAKE_ENVIRONMENT = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_SESSION_TOKEN": "testing", "AWS_SECURITY_TOKEN": "testing"}
# Removed for the session: a profile or credentials file would be read (and could be a real account's).
CLEARED_ENVIRONMENT = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE")
_MISSING_MARKERS = ("not found", "does not exist", "could not find", "not valid", "invalid id")


class SandboxSession:
    """moto started with fake credentials; boto3 clients bound to it; restored environment on exit.

    moto keeps one state per process (a nested `mock_aws` shares it), so only one session may be active at a
    time; several stacks can be deployed into the same session.
    """

    _active: SandboxSession | None = None
    _active_lock = threading.Lock()

    def __init__(self, region: str = "us-east-1") -> None:
        self.region = region
        self.account_id = ""
        self.results: list[SandboxResult] = []
        self._saved: dict[str, str | None] = {}
        self._mock: Any = None
        self._boto: boto3.session.Session | None = None
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> SandboxSession:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        with SandboxSession._active_lock:
            if SandboxSession._active is not None:
                raise RuntimeError("another sandbox session is active in this process (moto's state is per process)")
            SandboxSession._active = self
        wanted: dict[str, str | None] = {**FAKE_ENVIRONMENT, "AWS_DEFAULT_REGION": self.region}
        wanted.update(dict.fromkeys(CLEARED_ENVIRONMENT))
        self._saved = {key: os.environ.get(key) for key in wanted}
        _set_environment(wanted)
        try:
            self._mock = mock_aws()
            self._mock.start()
            install_update_endpoint()  # an AWS API moto lacks, emulated by this project
            _hide_wire_logs(True)
            self._boto = boto3.session.Session(region_name=self.region)
            self.account_id = self.client("sts").get_caller_identity()["Account"]
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stop moto (its state is gone) and put the environment back as it was."""
        if SandboxSession._active is not self:
            return
        try:
            if self._mock is not None:
                self._mock.stop()
        finally:
            self._mock = None
            self._boto = None
            self._clients.clear()
            _set_environment(self._saved)
            _hide_wire_logs(False)
            with SandboxSession._active_lock:
                SandboxSession._active = None

    @property
    def active(self) -> bool:
        return self._mock is not None

    def client(self, service: str, region: str | None = None) -> Any:
        """A boto3 client for `service` talking to moto (clients are shared; creating them is not thread-safe)."""
        if self._boto is None:
            raise RuntimeError("sandbox session is not started")
        key = (service, region or self.region)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self._boto.client(service, region_name=key[1])
            return self._clients[key]


# botocore logs every request and response body at DEBUG; in the sandbox those bodies carry secret values
# (PutSecretValue, GetSecretValue, RDS passwords), so a debug log of a sandbox run would print them.
_WIRE_LOGGERS = ("botocore.endpoint", "botocore.parsers")


def _drop_record(record: logging.LogRecord) -> bool:
    return False


def _hide_wire_logs(hide: bool) -> None:
    for name in _WIRE_LOGGERS:
        (logging.getLogger(name).addFilter if hide else logging.getLogger(name).removeFilter)(_drop_record)


def _set_environment(values: dict[str, str | None]) -> None:
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@dataclass
class SandboxResult:
    """What a sandbox deploy did with each custom resource."""

    graph: ResourceGraph
    emulated: list[dict[str, str]] = field(default_factory=list)
    recorded: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    # Outputs each custom resource got (moto's values when emulated), by (type token, logical name).
    states: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict, repr=False)
    seconds: float = 0.0
    # Every Kubernetes object, recorded with its manifest and checked against its schema, never applied.
    kubernetes: list[ObjectCheck] = field(default_factory=list)

    @property
    def coverage(self) -> float:
        """Share of the cloud resources that moto created and returned (failed ones are not counted; Kubernetes
        objects are not cloud resources: see `kubernetes`)."""
        total = len(self.emulated) + len(self.recorded)
        return len(self.emulated) / total if total else 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    def state(self, name: str, typ: str | None = None) -> dict[str, Any]:
        """Outputs of the resource with this logical name (and type, when names repeat across types)."""
        matches = [s for (t, n), s in self.states.items() if n == name and (typ is None or t == typ)]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r}" + (f" of type {typ}" if typ else ""))
        return matches[0]

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.graph.stack,
            "profile": self.graph.profile,
            "environment": self.graph.environment,
            "emulated": self.emulated,
            "recorded": self.recorded,
            "failed": self.failed,
            "coverage": round(self.coverage, 4),
            "kubernetes": [c.to_json() for c in self.kubernetes],
            "outputs": self.graph.outputs,
            "loosenedDefaults": self.graph.loosened,
        }


class SandboxResourceError(Exception):
    """moto rejected a resource: the deploy fails, as `pulumi up` would, and its dependents are not created."""

    def __init__(self, typ: str, name: str, message: str) -> None:
        super().__init__(f"{typ} {name}: {message}")
        self.type, self.name, self.message = typ, name, message


def _reveal(value: Any) -> Any:
    """Inputs with Pulumi's secret wrappers removed (moto needs the plain value)."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return _reveal(value.get("value"))
        return {k: _reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_reveal(v) for v in value]
    return value


def _identifiers(typ: str, inputs: dict[str, Any], state: dict[str, Any]) -> Iterator[str]:
    """Values by which other resources refer to a recorded one: its id, ARN, physical name, computed outputs."""
    physical_key = ARN_SHAPES.get(typ, ("", "", "name"))[2]
    for key, value in state.items():
        if key in ("tags", "tagsAll"):
            continue
        if key not in inputs or key in ("id", "arn", "name", physical_key):
            yield from (s for s in walk_strings(value) if len(s) >= 3)


class Outcome(NamedTuple):
    """What became of one resource: emulated (with its id and outputs), recorded or failed (with why)."""

    status: str
    reason: str = ""
    id: str = ""
    outputs: dict[str, Any] = {}


def _recorded(reason: str) -> Outcome:
    return Outcome("recorded", reason)


def _failed(reason: str) -> Outcome:
    return Outcome("failed", reason)


class SandboxMocks(GraphMocks):
    """Creates each custom resource in moto through its emulator; records what moto cannot create."""

    def __init__(self, session: SandboxSession, region: str, on_resource: ResourceCallback | None = None) -> None:
        super().__init__(account_id=session.account_id, region=region)
        self.session = session
        self.on_resource = on_resource
        self.emulated: list[dict[str, str]] = []
        self.recorded: list[dict[str, str]] = []
        self.failed: list[dict[str, str]] = []
        self.states: dict[tuple[str, str], dict[str, Any]] = {}
        self.custom: dict[tuple[str, str], bool] = {}
        self._recorded_ids: dict[str, tuple[str, str]] = {}
        self._emulated_keys: set[tuple[str, str]] = set()
        self._moto_lock = threading.Lock()  # one moto call sequence at a time: moto's backends are not thread-safe

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        with self._lock:
            self.custom[(args.typ, args.name)] = bool(args.custom)
        return super().new_resource(args)

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        """Invokes moto can answer are answered by moto; the rest as in preview."""
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            with self._moto_lock:
                identity = self.session.client("sts", self.region).get_caller_identity()
            return {"accountId": identity["Account"], "arn": identity["Arn"], "userId": identity["UserId"],
                    "id": identity["Account"]}
        if args.token == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            registry = dict(args.args).get("registryId")
            with self._moto_lock:
                data = self.session.client("ecr", self.region).get_authorization_token(
                    **({"registryIds": [registry]} if registry else {}))["authorizationData"][0]
            user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
            return {"authorizationToken": data["authorizationToken"], "userName": user, "password": password,
                    "proxyEndpoint": data["proxyEndpoint"], "expiresAt": data["expiresAt"].isoformat(),
                    "registryId": registry or self.account_id, "id": self.region}
        return super().call(args)

    def lookup(self, typ: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            return self.states.get((typ, name)) if (typ, name) in self._emulated_keys else None

    def create(self, typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if typ.startswith(KUBERNETES_TYPES):
            # No cluster offline: the object is recorded; its manifest is checked after the run.
            rid, state = synthesize(typ, name, inputs, self.account_id, self.region)
            with self._lock:
                self.states[(typ, name)] = state
            self._notify("recorded", typ, name)
            return rid, state
        plain = _reveal(inputs)
        emulator = EMULATORS.get(typ)
        if emulator is None and typ in STRUCTURAL_CHECKS:
            return self._check_structure(typ, name, inputs, plain)
        if emulator is None:
            return self._record(typ, name, inputs, f"no emulator for {typ}")
        unmapped = emulator.unhandled(plain)
        if unmapped:
            return self._record(typ, name, inputs, f"inputs the emulator does not map: {', '.join(unmapped)}")
        ctx = EmulatorContext(clients=self.session, account=self.account_id, default_region=self.region, type=typ,
                              name=name, inputs_region=plain.get("region"), lookup_state=self.lookup)
        with self._moto_lock:
            outcome = self._emulate(emulator, ctx, name, plain)
        if outcome.status == "recorded":
            return self._record(typ, name, inputs, outcome.reason)
        if outcome.status == "failed":
            with self._lock:
                self.failed.append({"type": typ, "name": name, "reason": outcome.reason})
            self._notify("failed", typ, name)
            raise SandboxResourceError(typ, name, outcome.reason)
        state = {**inputs, **{k: v for k, v in outcome.outputs.items() if v is not None}}
        with self._lock:
            self.states[(typ, name)] = state
            self._emulated_keys.add((typ, name))
            self.emulated.append({"type": typ, "name": name, "id": outcome.id, "check": ", ".join(ctx.checks)})
        self._notify("emulated", typ, name)
        return outcome.id, state

    def _emulate(self, emulator: Emulator, ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> Outcome:
        """Run the emulator and sort its exceptions: moto cannot (recorded) or moto says no (failed)."""
        try:
            rid, outputs = emulator(ctx, name, inputs)
        except NotEmulated as exc:
            return _recorded(exc.reason)
        except NotImplementedError as exc:
            return _recorded(f"moto {moto.__version__} does not implement it ({exc})")
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code, message = str(error.get("Code", "")), str(error.get("Message", exc))
            if code == "404" and "not yet implemented" in message.lower():
                return _recorded(f"moto {moto.__version__} does not implement {exc.operation_name}")
            reference = self._recorded_reference(inputs) if self._looks_missing(code, message) else None
            if reference:
                return _recorded(f"references {reference[0]} {reference[1]}, which is recorded, not emulated "
                                 f"(moto: {message})")
            return _failed(f"{exc.operation_name} rejected: {code}: {message}")
        except MissingReference as exc:
            reference = self._recorded_reference(inputs)
            if reference:
                return _recorded(f"references {reference[0]} {reference[1]}, which is recorded, not emulated ({exc})")
            return _failed(f"missing reference: {exc}")
        except ParamValidationError as exc:
            return _failed(f"invalid request: {exc}")
        except VerificationError as exc:
            return _failed(f"read-back does not match: {exc}")
        except Exception as exc:  # moto crashing on an input, a missing local file, an emulator bug: all surfaced
            return _failed(f"{type(exc).__name__}: {exc}")
        if not ctx.checks:
            return _failed("the emulator made no describe/get call to verify it")
        return Outcome("emulated", id=rid, outputs=outputs)

    @staticmethod
    def _looks_missing(code: str, message: str) -> bool:
        lowered = message.lower()
        return "notfound" in code.lower() or "nosuch" in code.lower() or any(m in lowered for m in _MISSING_MARKERS)

    def _recorded_reference(self, inputs: dict[str, Any]) -> tuple[str, str] | None:
        with self._lock:
            for value in walk_strings(inputs):
                if value in self._recorded_ids:
                    return self._recorded_ids[value]
        return None

    def _check_structure(self, typ: str, name: str, inputs: dict[str, Any],
                         plain: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """No emulator exists (GCP): check the inputs as the cloud would at create time, then record the resource;
        a failed check fails the deploy, as the cloud would."""
        try:
            checked = STRUCTURAL_CHECKS[typ](_ints(plain))
        except (StructuralError, KeyError, TypeError, ValueError) as exc:
            reason = f"structural check failed: {exc}"
            with self._lock:
                self.failed.append({"type": typ, "name": name, "reason": reason})
            self._notify("failed", typ, name)
            raise SandboxResourceError(typ, name, reason) from None
        return self._record(typ, name, inputs, f"no emulator; checked structurally: {', '.join(checked)}")

    def _record(self, typ: str, name: str, inputs: dict[str, Any], reason: str) -> tuple[str, dict[str, Any]]:
        rid, state = synthesize(typ, name, inputs, self.account_id, self.region)
        with self._lock:
            self.states[(typ, name)] = state
            self.recorded.append({"type": typ, "name": name, "reason": reason})
            for identifier in _identifiers(typ, inputs, state):
                self._recorded_ids.setdefault(identifier, (typ, name))
        self._notify("recorded", typ, name)
        return rid, state

    def _notify(self, status: str, typ: str, name: str) -> None:
        if self.on_resource is not None:
            self.on_resource(status, typ, name)

    def partial_graph(self, spec: StackSpec) -> ResourceGraph:
        """The resources registered before a failure stopped the run (parents are not known here)."""
        graph = ResourceGraph(stack=spec.stack, project=spec.project, profile=spec.profile_name,
                              environment=spec.environment,
                              loosened=loosened_defaults(spec))
        with self._lock:
            for key, custom in self.custom.items():
                graph.resources.append(ResourceRecord(type=key[0], name=key[1], parent=None,
                                                      inputs=self.inputs.get(key, {}), custom=custom))
        return graph


def _ignore_reported_failures(loop: asyncio.AbstractEventLoop) -> None:
    """Keep asyncio from logging a traceback for every output future of a resource moto rejected.

    The Pulumi SDK leaves those futures unawaited once the run stops; when they are garbage collected asyncio
    reports "Future exception was never retrieved" for each. The failure is already in `SandboxResult.failed`,
    so only exceptions of that kind are dropped; everything else reaches the previous handler.
    """
    previous = loop.get_exception_handler()
    if getattr(previous, "ignores_sandbox_failures", False):
        return

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if isinstance(context.get("exception"), SandboxResourceError):
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    handler.ignores_sandbox_failures = True  # type: ignore[attr-defined]
    loop.set_exception_handler(handler)


def deploy(spec: StackSpec, session: SandboxSession, on_resource: ResourceCallback | None = None,
           secrets: dict[str, str] | None = None) -> SandboxResult:
    """Run the stack's program with its resources created in the session's moto; the state stays in the session.

    `on_resource(status, type, name)` is called once per custom resource, from executor threads, with status
    "emulated", "recorded" or "failed".
    """
    if not session.active:
        raise RuntimeError("deploy needs a started SandboxSession")
    mocks = SandboxMocks(session, spec.body.region, on_resource)
    started = time.perf_counter()
    try:
        graph = run_program(spec, mocks, secrets=secrets)
    except SandboxResourceError:
        _ignore_reported_failures(asyncio.get_event_loop())  # the loop the SDK ran the program on
        graph = mocks.partial_graph(spec)
    order = {(r.type, r.name): i for i, r in enumerate(graph.resources)}

    def ordered(entries: list[dict[str, str]]) -> list[dict[str, str]]:
        return sorted(entries, key=lambda e: (order.get((e["type"], e["name"]), len(order)), e["type"], e["name"]))

    checks, namespace_problems = check_graph(graph)
    failed = mocks.failed + [{"type": c.type, "name": c.name, "reason": f"manifest check: {problem}"}
                             for c in checks for problem in c.problems]
    failed += [{"type": "kubernetes:core/v1:Namespace", "name": "-", "reason": p} for p in namespace_problems]
    result = SandboxResult(graph=graph, emulated=ordered(mocks.emulated), recorded=ordered(mocks.recorded),
                           failed=ordered(failed), states=dict(mocks.states),
                           seconds=time.perf_counter() - started, kubernetes=checks)
    session.results.append(result)
    return result
