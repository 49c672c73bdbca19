"""Moving live traffic between model variants, behind one small interface.

The A/B controller only needs "what is the split now" and "make it this". Each serving platform implements
that (SageMaker production-variant weights here; a Vertex AI endpoint's traffic split in
`infra.runtime.adapters.gcp`; KServe InferenceGraph Splitter weights in `infra.runtime.adapters.kserve`;
others register under their own names), and the controller picks one by name (env `TRAFFIC_CONTROLLER`).

SageMaker specifics handled here, because they decide whether a rollback actually happens:
- UpdateEndpointWeightsAndCapacities is rejected while the endpoint is not InService (e.g. still `Updating`
  from a previous change) with a ValidationException, and the control plane throttles (ThrottlingException).
  Both are transient: retry with bounded exponential backoff, re-reading the endpoint before each attempt.
- Weights are relative; `get_weights` reports DesiredWeight (where the endpoint is converging to) and falls
  back to CurrentWeight, so a rerun right after a change sees the change and does nothing.
- Only weights are sent, never instance counts, so capacity is left as the deployer configured it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

from botocore.config import Config
from botocore.exceptions import ClientError

T = TypeVar("T")


@runtime_checkable
class TrafficController(Protocol):
    """Reads and sets the traffic split of one serving endpoint; weights are relative, keyed by variant."""

    def get_weights(self, endpoint: str) -> dict[str, float]: ...

    def set_weights(self, endpoint: str, weights: Mapping[str, float]) -> None: ...


class TrafficUpdateError(RuntimeError):
    """The split could not be read or changed (after retries, or the endpoint is in a failed state)."""


THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ServiceUnavailable",
        "InternalFailure",
    }
)
TRANSITIONAL_STATUSES = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack"})
_BUSY_MARKERS = ("updating", "in-progress", "in progress", "status creating")


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff: delay(n) = min(max_delay, base_delay * 2**n) before attempt n + 2.

    Deterministic (no jitter): one controller acts on one endpoint, so there is no herd to spread out. The
    defaults wait at most about two minutes in total; give the Lambda a timeout above that.
    """

    max_attempts: int = 8
    base_delay: float = 2.0
    max_delay: float = 30.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("max_attempts must be >= 1 and delays >= 0")

    def delay(self, retry: int) -> float:
        return min(self.max_delay, self.base_delay * 2.0**retry)


def is_throttling(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code", "") in THROTTLING_CODES


def is_endpoint_busy(exc: ClientError) -> bool:
    """A ValidationException because the endpoint is mid-update ("Cannot update in-progress endpoint")."""
    error = exc.response.get("Error", {})
    message = str(error.get("Message", "")).lower()
    return error.get("Code") == "ValidationException" and any(m in message for m in _BUSY_MARKERS)


class SageMakerVariantTraffic:
    """TrafficController over SageMaker real-time endpoint production variants."""

    def __init__(
        self,
        client: Any | None = None,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        region_name: str | None = None,
    ) -> None:
        self._client = client
        self._region_name = region_name
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self.retries = 0  # transient failures absorbed so far (observability and tests)

    @property
    def client(self) -> Any:
        """Created on first use, so importing or building the controller never needs AWS credentials.

        botocore keeps its own standard-mode retries for transport errors; endpoint-state retries are ours.
        """
        if self._client is None:
            import boto3

            self._client = boto3.client(
                "sagemaker",
                region_name=self._region_name,
                config=Config(retries={"mode": "standard", "max_attempts": 3}),
            )
        return self._client

    def get_weights(self, endpoint: str) -> dict[str, float]:
        return _variant_weights(self._describe(endpoint))

    def set_weights(self, endpoint: str, weights: Mapping[str, float]) -> None:
        """Make the split `weights`; a no-op when the endpoint already has (or is converging to) it."""
        target = _validated(weights)
        for attempt in range(self.retry.max_attempts):
            last = attempt == self.retry.max_attempts - 1
            description = self._describe(endpoint)
            current = _variant_weights(description)
            unknown = sorted(set(target) - set(current))
            if unknown:
                raise ValueError(f"endpoint {endpoint} has no variant(s) {unknown}; it has {sorted(current)}")
            if all(math.isclose(current[name], w, abs_tol=1e-9) for name, w in target.items()):
                return
            status = description.get("EndpointStatus", "")
            if status in TRANSITIONAL_STATUSES:
                if last:
                    break
                self._backoff(attempt)
                continue
            if status != "InService":
                raise TrafficUpdateError(f"endpoint {endpoint} is {status}; cannot change its traffic")
            try:
                self.client.update_endpoint_weights_and_capacities(
                    EndpointName=endpoint,
                    DesiredWeightsAndCapacities=[
                        {"VariantName": name, "DesiredWeight": w} for name, w in target.items()
                    ],
                )
                return
            except ClientError as exc:
                if not (is_throttling(exc) or is_endpoint_busy(exc)):
                    raise
                if last:
                    raise TrafficUpdateError(
                        f"endpoint {endpoint}: weights not changed after {self.retry.max_attempts} attempts"
                    ) from exc
                self._backoff(attempt)
        raise TrafficUpdateError(
            f"endpoint {endpoint} stayed busy for {self.retry.max_attempts} attempts; weights not changed"
        )

    def _describe(self, endpoint: str) -> dict[str, Any]:
        return self._with_throttling_retry(lambda: self.client.describe_endpoint(EndpointName=endpoint))

    def _with_throttling_retry(self, call: Callable[[], T]) -> T:
        for attempt in range(self.retry.max_attempts):
            try:
                return call()
            except ClientError as exc:
                if not is_throttling(exc) or attempt == self.retry.max_attempts - 1:
                    raise
                self._backoff(attempt)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _backoff(self, attempt: int) -> None:
        self.retries += 1
        self._sleep(self.retry.delay(attempt))


def _validated(weights: Mapping[str, float]) -> dict[str, float]:
    target = {str(k): float(v) for k, v in weights.items()}
    if not target:
        raise ValueError("no weights given")
    if any(not math.isfinite(w) or w < 0.0 for w in target.values()):
        raise ValueError(f"weights must be finite and non-negative: {target}")
    if sum(target.values()) <= 0.0:
        raise ValueError("at least one variant needs a positive weight")
    return target


def _variant_weights(description: Mapping[str, Any]) -> dict[str, float]:
    weights: dict[str, float] = {}
    for variant in description.get("ProductionVariants", []):
        weight = variant.get("DesiredWeight", variant.get("CurrentWeight"))
        if weight is None:
            raise TrafficUpdateError(f"variant {variant.get('VariantName')} reports no weight")
        weights[variant["VariantName"]] = float(weight)
    return weights


TrafficControllerFactory = Callable[[], TrafficController]


def _vertex_endpoint() -> TrafficController:
    from infra.runtime.adapters.gcp import VertexEndpointTraffic  # google-cloud-aiplatform: only when used

    return VertexEndpointTraffic()


def _kserve_inferencegraph() -> TrafficController:
    # Imported here: the kubernetes client is only needed where this controller runs.
    import os

    from infra.runtime.adapters.kserve import KServeGraphTraffic

    return KServeGraphTraffic.from_env(os.environ)


TRAFFIC_CONTROLLERS: dict[str, TrafficControllerFactory] = {
    "sagemaker-variants": SageMakerVariantTraffic,
    "vertex-endpoint": _vertex_endpoint,
    "kserve-inferencegraph": _kserve_inferencegraph,
}
"""Traffic controllers by name (env `TRAFFIC_CONTROLLER`); other serving platforms' adapters register here."""


def register_traffic_controller(name: str, factory: TrafficControllerFactory, *, replace: bool = False) -> None:
    """Add a controller under `name`; refuses to shadow an existing one unless `replace`."""
    if name in TRAFFIC_CONTROLLERS and not replace:
        raise ValueError(f"traffic controller {name!r} is already registered")
    TRAFFIC_CONTROLLERS[name] = factory


def get_traffic_controller(name: str) -> TrafficController:
    """A new controller by name; its cloud clients are created on first use."""
    try:
        factory = TRAFFIC_CONTROLLERS[name]
    except KeyError:
        raise ValueError(f"unknown traffic controller {name!r}; known: {sorted(TRAFFIC_CONTROLLERS)}") from None
    return factory()
