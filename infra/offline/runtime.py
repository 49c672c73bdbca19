"""Run the program under Pulumi's mock runtime and record every resource it registers.

Facts this relies on (see the project's notes): mocks must run with preview=False so `apply` callbacks run;
the mock monitor's RegisterResource request carries parent, protect and retainOnDelete, which the mocks'
`new_resource` does not see, so a recording monitor keeps them; the root stack (which holds the legacy stack
transformations) is reset before each run so runs do not leak into each other.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from infra.offline.graph import ResourceGraph, ResourceRecord
from infra.offline.synth import project_number
from infra.profiles.loader import PROJECT, StackSpec

_RUN_LOCK = threading.Lock()  # the Pulumi SDK keeps its runtime state in module globals


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a burst of allocations, then restore it.

    A program run allocates about 150k short-lived objects (Outputs, futures, tasks) beside the hundreds of
    thousands of long-lived ones the cloud SDKs' modules hold, and every full collection re-scans the latter:
    measured here, one run of the prod stack took 2.2 s with the collector on and 0.7 s with it paused.
    Reference counting still frees nearly everything at once; the few cycles wait for the next collection.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# How the SDK's wire format marks a Pulumi secret (pulumi.runtime.rpc).
_SIG_KEY, _SECRET_SIG = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"
SECRET_MARK = "[secret]"


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(_SIG_KEY) == _SECRET_SIG


def _ints(value: Any) -> Any:
    """Plain values for an emulator: secrets unwrapped, and whole floats back to ints (the wire turns 1 into
    1.0, and boto3 rejects floats where it wants ints)."""
    if _is_secret(value):
        return _ints(value.get("value"))
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ints(v) for v in value]
    return value


def _jsonable(value: Any) -> Any:
    """Inputs as JSON: secrets masked, assets and archives shown as their kind and path."""
    if _is_secret(value):
        return SECRET_MARK
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, pulumi.asset.AssetArchive):
        return {"archive": "AssetArchive", "entries": sorted(value.assets)}
    if isinstance(value, pulumi.asset.Asset | pulumi.asset.Archive):
        return {type(value).__name__: getattr(value, "path", None)}
    return value


async def _plain_output(value: Any) -> Any:
    """A stack output's value as JSON, with secrets masked (Outputs nested in dicts and lists resolved too)."""
    if isinstance(value, pulumi.Output):
        if await value.is_secret():
            return SECRET_MARK
        value = await value.future()
    if isinstance(value, dict):
        return {k: await _plain_output(v) for k, v in value.items()}
    if isinstance(value, list):
        return [await _plain_output(v) for v in value]
    return _jsonable(value)


def _provider_name(reference: str) -> str:
    """`urn:...::pulumi:providers:kubernetes::cluster-k8s::<id>` -> `cluster-k8s` ("" for default providers)."""
    urn = reference.rsplit("::", 1)[0] if reference else ""
    name = urn.rsplit("::", 1)[-1] if urn else ""
    return "" if name.startswith("default") else name


def _name_of(urn: str) -> str | None:
    """The parent's logical name; None for the stack itself (a top-level resource)."""
    if not urn or "::pulumi:pulumi:Stack::" in urn:
        return None
    return urn.rsplit("::", 1)[-1]


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A mock monitor that keeps what the engine would know of each registration."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.records: list[ResourceRecord] = []
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str], dict[str, Any]] = {}

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            with self._lock:
                self._pending[(request.type, request.name)] = {
                    "parent": request.parent,
                    "protect": bool(request.protect),
                    "retain": bool(request.retainOnDelete),
                    "custom": bool(request.custom),
                    "urn": response.urn,
                    # which resources each input came from (what CrossGuard's stack policies see)
                    "property_dependencies": {
                        key: list(deps.urns) for key, deps in request.propertyDependencies.items() if deps.urns
                    },
                    "ignore_changes": list(request.ignoreChanges),
                    "provider": request.provider,
                }
        return response


class GraphMocks(pulumi.runtime.Mocks):
    """Base mocks: record inputs; subclasses decide what each resource's id and state are."""

    def __init__(self, account_id: str = "123456789012", region: str = "us-east-1") -> None:
        self.account_id = account_id
        self.region = region
        self.inputs: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = _ints(dict(args.inputs))
        with self._lock:
            self.inputs[(args.typ, args.name)] = _ints(_jsonable(dict(args.inputs)))
        if not args.custom:
            return None, {}
        return self.create(args.typ, args.name, inputs)

    def create(self, typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        token = args.token
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": self.account_id, "arn": f"arn:aws:iam::{self.account_id}:user/offline",
                    "userId": "OFFLINE", "id": self.account_id}
        if token == "aws:index/getRegion:getRegion":
            return {"region": self.region, "name": self.region, "id": self.region}
        if token == "aws:sagemaker/getPrebuiltEcrImage:getPrebuiltEcrImage":
            return prebuilt_image(dict(args.args), self.region)
        if token == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            # Offline nothing is pushed; the credentials only have to be well-formed.
            return {"userName": "AWS", "password": "offline", "authorizationToken": "QVdTOm9mZmxpbmU=",
                    "proxyEndpoint": f"https://{self.account_id}.dkr.ecr.{self.region}.amazonaws.com",
                    "expiresAt": "2099-01-01T00:00:00Z", "id": self.region}
        if token == "aws:secretsmanager/getRandomPassword:getRandomPassword":
            return {"randomPassword": self.random_password(int(args.args.get("passwordLength", 32)))}
        if token == "gcp:organizations/getProject:getProject":
            project = str(args.args.get("projectId") or "offline-project")
            return {"projectId": project, "number": project_number(project), "name": project,
                    "id": f"projects/{project}", "labels": {}, "effectiveLabels": {}}
        if token == "gcp:organizations/getClientConfig:getClientConfig":
            # Offline nothing is pushed; the registry credentials only have to be well-formed.
            return {"accessToken": "offline", "project": "", "region": self.region, "zone": "", "id": "offline",
                    "defaultLabels": {}}
        raise LookupError(f"no offline answer for invoke {token}")

    def random_password(self, length: int) -> str:
        import secrets
        import string

        return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(length))


# Account that publishes SageMaker's scikit-learn images, per region (from the SageMaker Python SDK's
# image_uri_config/sklearn.json); offline runs only need a plausible, correctly shaped URI.
SKLEARN_IMAGE_ACCOUNTS = {"us-east-1": "683313688378", "us-east-2": "257758044811", "us-west-2": "246618743249",
                          "eu-west-1": "141502667606", "eu-central-1": "492215442770"}


def prebuilt_image(args: dict[str, Any], default_region: str) -> dict[str, Any]:
    region = args.get("region") or default_region
    account = SKLEARN_IMAGE_ACCOUNTS.get(region, "683313688378")
    repo, tag = args.get("repositoryName"), args.get("imageTag")
    path = f"{account}.dkr.ecr.{region}.amazonaws.com/{repo}" + (f":{tag}" if tag else "")
    return {"registryId": account, "registryPath": path, "repositoryName": repo, "id": path,
            "imageTag": tag, "region": region}


def secret_config(spec: StackSpec, secrets: dict[str, str] | None) -> dict[str, str]:
    """Values of the secret config keys the profile needs (e.g. `wandbApiKey`), as Pulumi secrets.

    A real stack sets them with `pulumi config set --secret`; offline, a test may pass its own, and anything
    else gets a placeholder (the value only ever appears masked).
    """
    given = secrets or {}
    keys = {key for name in type(spec.body).model_fields
            for key in getattr(getattr(spec.body, name), "secret_config", ())}
    # `pulumi config set` without a namespace puts a key under the Pulumi project's name, where the program reads it.
    return {f"{spec.project}:{key}": given.get(key, f"offline-placeholder-{key}") for key in sorted(keys)}


def run_program(spec: StackSpec, mocks: GraphMocks, program: Callable[[], object] | None = None,
                secrets: dict[str, str] | None = None) -> ResourceGraph:
    """Run the real program for `spec` under `mocks`; return every registered resource with its inputs.

    ``program`` runs instead of ``build(spec)`` when given: a project's own entry point (its __main__.py, which
    loads the stack Pulumi selects, ``spec.stack``), to check what `pulumi up` would run there.
    ``secrets``: values for the secret config keys the profile needs (placeholders otherwise).
    """
    from infra.components.catalog import cloud_backend
    from infra.profiles.exceptions import loosened_defaults
    from infra.program import build

    with _RUN_LOCK, gc_paused():
        monitor = RecordingMonitor(mocks)
        pulumi_settings.set_root_resource(None)  # type: ignore[arg-type]
        pulumi.runtime.set_mocks(mocks, project=spec.project, stack=spec.stack, preview=False, monitor=monitor)
        config = {f"{PROJECT}:profile": spec.profile_name, f"{PROJECT}:environment": spec.environment,
                  **cloud_backend(spec.cloud).provider_config(spec)}
        hidden = secret_config(spec, secrets)
        pulumi.runtime.set_all_config({**config, **hidden}, list(hidden))
        pulumi_settings.SETTINGS.rpc_manager.clear()
        pulumi_settings.SETTINGS.outputs.clear()
        def run() -> None:
            if program is not None:
                program()
            else:
                build(spec)

        # The SDK sends each registration to the loop's default executor. When one fails, the run stops while
        # others are still in flight on those threads; shutting down our own executor waits for every one, so
        # whoever reads the mocks' state afterwards sees each registration either finished or never started.
        loop = _ensure_event_loop()
        executor = ThreadPoolExecutor(thread_name_prefix="pulumi-mock")
        loop.set_default_executor(executor)
        async def run_and_read_outputs() -> dict[str, Any]:
            await run_pulumi_func(run)
            # Stack exports never reach the monitor: they are on the root stack resource.
            root = pulumi_settings.get_root_resource()
            return {key: await _plain_output(value) for key, value in (getattr(root, "outputs", None) or {}).items()}

        try:
            outputs = _sync_await(run_and_read_outputs())
        finally:
            executor.shutdown(wait=True)
            loop.set_default_executor(ThreadPoolExecutor(thread_name_prefix="pulumi-mock"))
            pulumi.runtime.set_all_config({}, [])
        graph = ResourceGraph(stack=spec.stack, project=spec.project, profile=spec.profile_name,
                              environment=spec.environment, loosened=loosened_defaults(spec), outputs=outputs)
        for (typ, name), meta in monitor._pending.items():
            graph.resources.append(ResourceRecord(
                type=typ, name=name, parent=_name_of(meta["parent"]), inputs=mocks.inputs.get((typ, name), {}),
                protect=meta["protect"], retain_on_delete=meta["retain"], custom=meta["custom"], urn=meta["urn"],
                property_dependencies=meta["property_dependencies"],
                ignore_changes=meta["ignore_changes"], provider=_provider_name(meta["provider"]),
            ))
        return graph
