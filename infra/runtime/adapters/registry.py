"""The model registry, behind one small interface: where the runtime finds and marks a model's versions.

The deployer needs "the model's latest approved version" and, once a version serves, to mark it `champion` or
`challenger`; the pipeline's register step needs "register this version". Each registry implements that (the
SageMaker model package group here, W&B artifacts with aliases in `infra.runtime.adapters.wandb`) and is picked
by the profile's `registry.kind` (env `MODEL_REGISTRY`), configured from a settings mapping (the job's
environment), so a new registry needs no change to the jobs.

States, as the profiles map them: SageMaker `PendingManualApproval` is a registered version without alias,
`Approved` is the alias `approved` (on the newest approved version); the variant a version serves is the alias
`champion` or `challenger` (SageMaker has no aliases: there the experiment record and the endpoint say it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

APPROVED, CHAMPION, CHALLENGER = "approved", "champion", "challenger"
ALIASES = (APPROVED, CHAMPION, CHALLENGER)


@dataclass(frozen=True)
class ModelVersion:
    """One registered version: `label` (`<model>-v<n>`, the name in experiment records and alerts), the URI of
    its model archive (`s3://.../model.tar.gz`), the registry's id for it and the aliases it holds."""

    model: str
    version: int
    uri: str
    ref: str
    aliases: tuple[str, ...] = field(default_factory=tuple)

    @property
    def label(self) -> str:
        return f"{self.model}-v{self.version}"


@runtime_checkable
class ModelRegistry(Protocol):
    """One model's versions in a registry."""

    model: str

    def register(self, uri: str, *, description: str = "", metadata: Mapping[str, Any] | None = None,
                 approved: bool = False) -> ModelVersion: ...

    def latest_approved(self) -> ModelVersion | None: ...

    def version_with_alias(self, alias: str) -> ModelVersion | None:
        """The version holding `alias`, or None."""
        ...

    def mark(self, version: ModelVersion, alias: str) -> None:
        """Point `alias` (one of ALIASES) at `version`; it leaves the version that held it."""
        ...


class SageMakerModelRegistry:
    """A SageMaker model package group: versions are model packages with an approval status."""

    def __init__(self, group: str, *, client: Any | None = None, image: str = "") -> None:
        if not group:
            raise ValueError("the sagemaker-model-registry needs a model package group (env MODEL_PACKAGE_GROUP)")
        self.model = group
        self.image = image
        self._client = client

    @classmethod
    def from_settings(cls, settings: Mapping[str, str], **clients: Any) -> SageMakerModelRegistry:
        """MODEL_PACKAGE_GROUP (required), SERVING_IMAGE (the inference image registered with a version)."""
        return cls(settings.get("MODEL_PACKAGE_GROUP", ""), client=clients.get("sagemaker"),
                   image=settings.get("SERVING_IMAGE", ""))

    def __repr__(self) -> str:
        return f"SageMaker model package group {self.model}"

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("sagemaker")
        return self._client

    def _version(self, package: Mapping[str, Any]) -> ModelVersion:
        approved = package.get("ModelApprovalStatus") == "Approved"
        return ModelVersion(self.model, int(package.get("ModelPackageVersion") or 0),
                            str(package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]),
                            str(package["ModelPackageArn"]), (APPROVED,) if approved else ())

    def register(self, uri: str, *, description: str = "", metadata: Mapping[str, Any] | None = None,
                 approved: bool = False) -> ModelVersion:
        if not self.image:
            raise ValueError("registering on SageMaker needs the inference image (env SERVING_IMAGE)")
        arn = self.client.create_model_package(
            ModelPackageGroupName=self.model, ModelPackageDescription=description[:1024],
            InferenceSpecification={"Containers": [{"Image": self.image, "ModelDataUrl": uri}],
                                    "SupportedContentTypes": ["application/json"],
                                    "SupportedResponseMIMETypes": ["application/json"]},
            ModelApprovalStatus="Approved" if approved else "PendingManualApproval",
            CustomerMetadataProperties={str(k): str(v) for k, v in (metadata or {}).items()},
        )["ModelPackageArn"]
        return self._version(self.client.describe_model_package(ModelPackageName=arn))

    def latest_approved(self) -> ModelVersion | None:
        listed = self.client.list_model_packages(ModelPackageGroupName=self.model, ModelApprovalStatus="Approved",
                                                 SortBy="CreationTime", SortOrder="Descending", MaxResults=1)
        summaries = listed.get("ModelPackageSummaryList") or []
        if not summaries:
            return None
        return self._version(self.client.describe_model_package(ModelPackageName=summaries[0]["ModelPackageArn"]))

    def version_with_alias(self, alias: str) -> ModelVersion | None:
        """`approved`: the latest approved version; `champion` / `challenger` are not kept here (see `mark`)."""
        return self.latest_approved() if alias == APPROVED else None

    def mark(self, version: ModelVersion, alias: str) -> None:
        """`approved` sets the approval status; `champion` / `challenger` have no SageMaker counterpart (the
        endpoint and the experiment record say which version serves which variant), so nothing is written."""
        if alias not in ALIASES:
            raise ValueError(f"unknown registry alias {alias!r}; known: {', '.join(ALIASES)}")
        if alias == APPROVED:
            self.client.update_model_package(ModelPackageArn=version.ref, ModelApprovalStatus="Approved")


RegistryFactory = Callable[..., ModelRegistry]


def _wandb_artifacts(settings: Mapping[str, str], **clients: Any) -> ModelRegistry:
    from infra.runtime.adapters.wandb import WandbModelRegistry

    return WandbModelRegistry.from_settings(settings, session=clients.get("wandb"))


MODEL_REGISTRIES: dict[str, RegistryFactory] = {
    "sagemaker-model-registry": SageMakerModelRegistry.from_settings,
    "wandb-artifacts": _wandb_artifacts,
}
"""Registries by the profile's `registry.kind` (env `MODEL_REGISTRY`); other registries register here."""


def get_model_registry(settings: Mapping[str, str], **clients: Any) -> ModelRegistry:
    """The registry env MODEL_REGISTRY names (default: sagemaker-model-registry), configured from `settings`;
    `clients`: injected clients (`sagemaker=` a boto3 client, `wandb=` a requests-style session)."""
    kind = settings.get("MODEL_REGISTRY") or "sagemaker-model-registry"
    try:
        factory = MODEL_REGISTRIES[kind]
    except KeyError:
        raise ValueError(f"unknown model registry {kind!r}; known: {sorted(MODEL_REGISTRIES)}") from None
    return factory(settings, **clients)
