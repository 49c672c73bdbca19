"""Model registry: ECR repositories for the project's images, and where each model's versions live (a SageMaker
model package group, or a W&B artifact collection for registry kind `wandb-artifacts`)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Protocol

import pulumi
import pulumi_aws as aws
import pulumi_docker_build as docker_build

from infra.components.aws.security import EncryptionKey
from infra.components.base import Capability, Grantable, ModelScope, StackContext
from infra.components.images import RUNTIME_DIR, context_tag
from infra.profiles.model import SageMakerModelRegistry, WandbArtifactsRegistry

REPOSITORIES = ("training", "serving", "mlflow", "runtime")
KEEP_IMAGES = 30


class RuntimeImage:
    """The image the runtime functions and the pipeline's baseline step run: the `infra.runtime` package with
    numpy, scipy and pyarrow (together past Lambda's 250 MB zip limit; images may be 10 GB). `pulumi up` builds
    it from the installed package's infra/runtime/Dockerfile and pushes it to the `runtime` repository (needs
    Docker with buildx)."""

    def __init__(self, repository: aws.ecr.Repository, parent: Capability):
        auth = aws.ecr.get_authorization_token_output(registry_id=repository.registry_id)
        # The package's path relative to the project root (Pulumi runs the program there): the inputs stay the same
        # on every machine with the same layout (infra/runtime in this repository, the virtualenv's site-packages
        # in a rendered project), and `pulumi preview` does not need Docker.
        runtime_dir = os.path.relpath(RUNTIME_DIR, Path.cwd())
        self.image = docker_build.Image(
            "runtime-image",
            context={"location": runtime_dir},
            dockerfile={"location": f"{runtime_dir}/Dockerfile"},
            build_on_preview=False,
            platforms=[docker_build.Platform.LINUX_AMD64],
            push=True,
            # Repositories are immutable: the tag is the digest of the build context, so a changed runtime is a
            # new tag and an unchanged one is the same image.
            tags=[pulumi.Output.concat(repository.repository_url, ":", context_tag())],
            registries=[{
                "address": repository.repository_url,
                "username": auth.user_name,
                "password": pulumi.Output.secret(auth.password),
            }],
            opts=pulumi.ResourceOptions(parent=parent),
        )
        # The digest-qualified reference: a rebuilt image changes it, so the functions are updated.
        self.uri = self.image.ref




class ModelRegistry(Capability):
    """Versioned model packages (with approval status) and the container images that train and serve them."""

    capability = "registry"

    def __init__(
        self, name: str, ctx: StackContext, args: SageMakerModelRegistry | WandbArtifactsRegistry, key: EncryptionKey,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("mlopsgen:aws:ModelRegistry", name, opts)
        self.repositories: dict[str, aws.ecr.Repository] = {}
        for repo in REPOSITORIES:
            repository = aws.ecr.Repository(
                f"{name}-{repo}-repo",
                name=f"{ctx.prefix}/{repo}",
                image_tag_mutability="IMMUTABLE",  # a tag names one image forever; new images get new tags
                image_scanning_configuration={"scan_on_push": True},
                encryption_configurations=[{"encryption_type": "KMS", "kms_key": key.arn}],
                force_delete=not ctx.protect_data,
                opts=self.child(),
            )
            aws.ecr.LifecyclePolicy(
                f"{name}-{repo}-lifecycle",
                repository=repository.name,
                policy=json.dumps({"rules": [{
                    "rulePriority": 1,
                    "description": f"keep the last {KEEP_IMAGES} images",
                    "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": KEEP_IMAGES},
                    "action": {"type": "expire"},
                }]}),
                opts=self.child(),
            )
            self.repositories[repo] = repository
        self.runtime_image = RuntimeImage(self.repositories["runtime"], self)
        # Lambda pulls a function's image with the repository's policy, not the deployer's permissions.
        aws.ecr.RepositoryPolicy(
            f"{name}-runtime-lambda-pull",
            repository=self.repositories["runtime"].name,
            policy=pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": [{
                "Sid": "StackFunctionsPull",
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                "Condition": {"StringLike": {"aws:sourceArn": pulumi.Output.concat(
                    "arn:aws:lambda:", ctx.region, ":", ctx.account_id, ":function:", ctx.prefix, "-*"
                )}},
            }]}),
            opts=self.child(),
        )
        self.register_outputs({"repositories": {k: v.repository_url for k, v in self.repositories.items()}})

    def model_versions(self, ctx: StackContext, model: ModelScope, parent: pulumi.Resource) -> ModelVersions:
        """Where `model`'s versions live: its SageMaker model package group."""
        return ModelGroup(ctx, model, parent)

    def image(self, repo: str, tag: str) -> pulumi.Output[str]:
        return pulumi.Output.concat(self.repositories[repo].repository_url, ":", tag)

    def grant_pull(self, role: Grantable) -> aws.iam.RolePolicy:
        return role.allow("ecr-pull", [
            {
                "Effect": "Allow",
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                "Resource": [r.arn for r in self.repositories.values()],
            },
            # GetAuthorizationToken has no resource-level permission in IAM.
            {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        ])



class ModelVersions(Protocol):
    """A model's versions in the registry, as its jobs reach them: `settings` is the registry part of a job's
    environment (infra.runtime.adapters.registry), `tracking_key` whether the job needs the W&B key and settings,
    `grant_read` gives a job's role what reading versions takes in AWS."""

    name: str
    output_key: str
    settings: dict[str, Any]
    tracking_key: bool

    def grant_read(self, role: Grantable) -> aws.iam.RolePolicy | None: ...


class ModelGroup:
    """A model's package group: its versions, with approval status (part of the model's component)."""

    output_key = "modelPackageGroup"
    tracking_key = False

    def __init__(self, ctx: StackContext, model: ModelScope, parent: pulumi.Resource):
        self.ctx = ctx
        self.name = model.base
        self.settings: dict[str, Any] = {"MODEL_REGISTRY": "sagemaker-model-registry",
                                         "MODEL_PACKAGE_GROUP": self.name}
        self.group = aws.sagemaker.ModelPackageGroup(
            f"{model.name}-model-package-group",
            model_package_group_name=self.name,
            model_package_group_description=f"{model.name} versions ({ctx.spec.profile_name}, {ctx.env})",
            tags={"capability": "registry"},
            # Removing the model from the profile keeps its versions (the audit trail of what was approved).
            opts=pulumi.ResourceOptions(parent=parent, retain_on_delete=ctx.protect_data),
        )
        self.arn = self.group.arn

    def package_arns(self) -> pulumi.Output[str]:
        return pulumi.Output.concat(
            "arn:aws:sagemaker:", self.ctx.region, ":", self.ctx.account_id, ":model-package/", self.name, "/*"
        )

    def grant_register(self, role: Grantable) -> aws.iam.RolePolicy:
        return role.allow("register-models", [{
            "Effect": "Allow",
            "Action": ["sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage",
                       "sagemaker:ListModelPackages", "sagemaker:DescribeModelPackageGroup"],
            "Resource": [self.arn, self.package_arns()],
        }])

    def grant_read(self, role: Grantable) -> aws.iam.RolePolicy:
        return role.allow("read-models", [{
            "Effect": "Allow",
            "Action": ["sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages",
                       "sagemaker:DescribeModelPackageGroup"],
            "Resource": [self.arn, self.package_arns()],
        }])


class WandbArtifactRegistry(ModelRegistry):
    """Registry kind `wandb-artifacts`: the same image repositories and runtime image; versions in W&B."""

    def model_versions(self, ctx: StackContext, model: ModelScope, parent: pulumi.Resource) -> ModelVersions:
        return WandbCollection(model)


class WandbCollection:
    """A model's versions as W&B artifacts of type `model` in the collection `<stack prefix>-<model>` of the
    tracking project (W&B creates it with the first version: nothing to provision). Jobs reach it with the W&B key
    and settings of the tracking secret chain (ConfigMap and Secret `wandb`); AWS grants nothing."""

    output_key = "registeredModel"
    tracking_key = True

    def __init__(self, model: ModelScope) -> None:
        self.name = model.base
        self.settings: dict[str, Any] = {"MODEL_REGISTRY": "wandb-artifacts", "REGISTERED_MODEL": self.name}

    def grant_read(self, role: Grantable) -> None:
        return None  # W&B authorises the API key, not an IAM role
