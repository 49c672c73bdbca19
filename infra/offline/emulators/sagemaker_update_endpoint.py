"""SageMaker UpdateEndpoint for moto, which (5.2.5) does not implement it.

Why: the deployer swaps endpoint configurations with UpdateEndpoint, and without it nothing past "create the
endpoint config" can be exercised offline. `install()` adds the operation to moto's SageMaker backend and
response classes, the same way moto implements UpdateEndpointWeightsAndCapacities, with AWS's semantics:

- The endpoint must exist (ValidationException `Could not find endpoint "<arn>".`) and so must the new
  endpoint configuration (ValidationException `Could not find endpoint configuration "<arn>".`).
- An endpoint that is mid-operation (Creating, Updating, SystemUpdating, RollingBack, Deleting) is rejected
  with `Cannot update in-progress endpoint "<arn>".`, the message the traffic adapter treats as "busy"; a
  Failed endpoint can only be deleted (DescribeEndpoint docs), so it is rejected too.
- The endpoint's EndpointConfigName, ProductionVariants and DataCaptureConfig are replaced by the new
  config's: CurrentWeight = DesiredWeight = InitialVariantWeight (AWS's default 1.0 when unset; a weight of 0
  is reported as 0, unlike moto's CreateEndpoint which drops it), CurrentInstanceCount = DesiredInstanceCount
  = InitialInstanceCount, serverless configs likewise.
- RetainAllVariantProperties=true keeps the running variants' weights and instance counts (matched by
  variant name), except the property types listed in ExcludeRetainedVariantProperties, which come from the
  new config. DataCaptureConfig retention is "not currently supported" by AWS, so it always comes from the
  new config.
- DeploymentConfig is reported back as LastDeploymentConfig (kept when RetainDeploymentConfig=true).
- AWS goes Updating -> InService asynchronously; moto has no clock, so the update completes within the call
  and the endpoint ends InService. Returns {"EndpointArn": ...}.
"""

from __future__ import annotations

import copy
from typing import Any

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import FakeEndpoint, FakeEndpointConfig, SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse

IN_PROGRESS_STATUSES = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"})
VARIANT_PROPERTY_TYPES = frozenset({"DesiredInstanceCount", "DesiredWeight", "DataCaptureConfig"})
DEFAULT_VARIANT_WEIGHT = 1.0


def update_endpoint(
    backend: SageMakerModelBackend,
    endpoint_name: str,
    endpoint_config_name: str,
    retain_all_variant_properties: bool = False,
    exclude_retained_variant_properties: list[dict[str, str]] | None = None,
    deployment_config: dict[str, Any] | None = None,
    retain_deployment_config: bool = False,
) -> str:
    """Deploy `endpoint_config_name` on `endpoint_name` and return the endpoint ARN (backend method)."""
    endpoint: FakeEndpoint | None = backend.endpoints.get(endpoint_name)
    if endpoint is None:
        arn = FakeEndpoint.arn_formatter(endpoint_name, backend.account_id, backend.region_name)
        raise ValidationError(message=f'Could not find endpoint "{arn}".')
    config: FakeEndpointConfig | None = backend.endpoint_configs.get(endpoint_config_name)
    if config is None:
        arn = FakeEndpointConfig.arn_formatter(endpoint_config_name, backend.account_id, backend.region_name)
        raise ValidationError(message=f'Could not find endpoint configuration "{arn}".')
    if endpoint.endpoint_status in IN_PROGRESS_STATUSES:
        raise ValidationError(message=f'Cannot update in-progress endpoint "{endpoint.arn}".')
    if endpoint.endpoint_status == "Failed":
        raise ValidationError(message=f'Cannot update failed endpoint "{endpoint.arn}".')

    excluded = set()
    for item in exclude_retained_variant_properties or []:
        kind = item.get("VariantPropertyType")
        if kind not in VARIANT_PROPERTY_TYPES:
            raise ValidationError(
                message=f"Value '{kind}' at 'excludeRetainedVariantProperties.member.variantPropertyType' "
                f"failed to satisfy constraint: Member must satisfy enum value set: "
                f"[{', '.join(sorted(VARIANT_PROPERTY_TYPES))}]"
            )
        excluded.add(kind)

    running = {v["VariantName"]: v for v in endpoint.production_variants}
    variants = []
    for spec in config.production_variants:
        variant = _variant_from_config(spec)
        previous = running.get(variant["VariantName"])
        if retain_all_variant_properties and previous is not None:
            if "DesiredWeight" not in excluded:
                for key in ("CurrentWeight", "DesiredWeight"):
                    if key in previous:
                        variant[key] = previous[key]
            if "DesiredInstanceCount" not in excluded:
                for key in ("CurrentInstanceCount", "DesiredInstanceCount"):
                    if key in previous:
                        variant[key] = previous[key]
        variants.append(variant)

    endpoint.endpoint_status = "Updating"
    endpoint.endpoint_config_name = endpoint_config_name
    endpoint.production_variants = variants
    endpoint.data_capture_config = copy.deepcopy(config.data_capture_config)
    if deployment_config is not None or not retain_deployment_config:
        endpoint.last_deployment_config = copy.deepcopy(deployment_config)  # type: ignore[attr-defined]
    endpoint.last_modified_time = utcnow()
    endpoint.endpoint_status = "InService"
    return str(endpoint.arn)


def _variant_from_config(spec: dict[str, Any]) -> dict[str, Any]:
    """A DescribeEndpoint ProductionVariantSummary for a freshly deployed config variant."""
    variant: dict[str, Any] = {"VariantName": spec["VariantName"]}
    weight = spec.get("InitialVariantWeight")
    weight = DEFAULT_VARIANT_WEIGHT if weight is None else float(weight)
    variant["CurrentWeight"] = variant["DesiredWeight"] = weight
    count = spec.get("InitialInstanceCount")
    if count is not None:
        variant["CurrentInstanceCount"] = variant["DesiredInstanceCount"] = int(count)
    serverless = spec.get("ServerlessConfig")
    if serverless:
        variant["CurrentServerlessConfig"] = copy.deepcopy(serverless)
        variant["DesiredServerlessConfig"] = copy.deepcopy(serverless)
    return variant


def _response_update_endpoint(self: SageMakerResponse) -> ActionResult:
    """The UpdateEndpoint action of moto's SageMaker response class."""
    arn = update_endpoint(
        self.sagemaker_backend,
        endpoint_name=self._get_param("EndpointName"),
        endpoint_config_name=self._get_param("EndpointConfigName"),
        retain_all_variant_properties=bool(self._get_param("RetainAllVariantProperties", False)),
        exclude_retained_variant_properties=self._get_param("ExcludeRetainedVariantProperties"),
        deployment_config=self._get_param("DeploymentConfig"),
        retain_deployment_config=bool(self._get_param("RetainDeploymentConfig", False)),
    )
    return ActionResult({"EndpointArn": arn})


def installed() -> bool:
    """Whether this emulation is what moto's SageMaker backend runs for UpdateEndpoint."""
    return getattr(SageMakerModelBackend, "update_endpoint", None) is update_endpoint


def install() -> bool:
    """Teach moto's SageMaker UpdateEndpoint; True if this call patched moto, False if it was already there.

    Idempotent. A moto that implements UpdateEndpoint itself is left alone (returns False), so upgrading
    moto never silently replaces its implementation with this one. Patches classes, so it holds for every
    `mock_aws()` started afterwards in this process.
    """
    if installed():
        return False
    native = "update_endpoint" in vars(SageMakerModelBackend) or "update_endpoint" in vars(SageMakerResponse)
    if native:
        return False
    # setattr: the classes are moto's; mypy cannot know about attributes added at run time.
    setattr(SageMakerModelBackend, "update_endpoint", update_endpoint)  # noqa: B010
    setattr(SageMakerResponse, "update_endpoint", _response_update_endpoint)  # noqa: B010
    return True
