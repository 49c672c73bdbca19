"""Weights & Biases experiment tracking: the SaaS (or dedicated cloud) API key's path to the pods.

The chain, with the key never in plain text outside the two secret stores:
Pulumi secret config `mlopsgen:wandbApiKey` -> AWS Secrets Manager secret (stack KMS key) -> External
Secrets Operator -> Kubernetes secret `wandb` (key WANDB_API_KEY) in each namespace whose pods log runs, next
to a ConfigMap `wandb` with WANDB_BASE_URL, WANDB_ENTITY and WANDB_PROJECT. Set the key with
`pulumi config set --secret wandbApiKey <key>`.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from infra.components.aws.kubeflow import ClusterAddons
from infra.components.aws.security import EncryptionKey
from infra.components.base import Capability, StackContext
from infra.policy.aws.identity import ROTATED_BY
from infra.profiles.model import WandbSaas

API_KEY_CONFIG = "wandbApiKey"
NAMESPACES = ("kubeflow", "mlops-jobs")  # pipeline runs log training; the jobs register and promote models


class WandbTracking(Capability):
    capability = "tracking"

    def __init__(self, name: str, ctx: StackContext, args: WandbSaas, *, key: EncryptionKey, addons: ClusterAddons,
                 namespaces: list[pulumi.Resource], opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlopsgen:aws:WandbTracking", name, opts)
        api_key = pulumi.Config().require_secret(API_KEY_CONFIG)
        self.secret = aws.secretsmanager.Secret(
            f"{name}-api-key", name=ctx.name("wandb-api-key", 512), kms_key_id=key.arn,
            description="Weights & Biases API key (from the Pulumi secret config wandbApiKey)",
            recovery_window_in_days=30 if ctx.protect_data else 0,
            # W&B issues the key, so Secrets Manager cannot rotate it: rotate it in W&B, then set the config again.
            tags={ROTATED_BY: "issuer"}, opts=self.child(),
        )
        version = aws.secretsmanager.SecretVersion(
            f"{name}-api-key-value", secret_id=self.secret.id, secret_string=api_key, opts=self.child())
        self.url = args.base_url
        for namespace in NAMESPACES:
            addons.sync_secret(f"{name}-{namespace}-secret", namespace, "wandb", self.secret.arn,
                               {"WANDB_API_KEY": None}, [version, *namespaces])
            k8s.core.v1.ConfigMap(
                f"{name}-{namespace}-settings",
                metadata={"name": "wandb", "namespace": namespace},
                data={"WANDB_BASE_URL": args.base_url, "WANDB_ENTITY": args.entity,
                      "WANDB_PROJECT": args.project or ctx.prefix},
                opts=addons.kube.opts(depends_on=namespaces, parent=self),
            )
        self.register_outputs({"secretArn": self.secret.arn, "url": self.url})
