"""The Pulumi program: a resolved stack spec becomes components, in capability order."""

from __future__ import annotations

import sys

import pulumi
import pulumi_aws as aws

from infra.components.base import StackContext, tagging_transformation
from infra.components.catalog import ORDER, Platform, kind_of, lookup
from infra.errors import UserError
from infra.profiles.loader import StackSpec, load_stack


def build(spec: StackSpec) -> Platform:
    """Declare every resource of the stack. Runs inside a Pulumi program (real engine or mock runtime)."""
    pulumi.runtime.register_stack_transformation(tagging_transformation(spec))
    ctx = StackContext(spec=spec, account_id=aws.get_caller_identity_output().account_id, region=spec.body.region)
    platform = Platform()
    for capability in ORDER:
        config = getattr(spec.body, capability)
        lookup(capability, kind_of(config, "aws"))(ctx, config, platform)
    pulumi.export("profile", spec.profile_name)
    pulumi.export("environment", spec.environment)
    pulumi.export("endpointName", platform["serving"].endpoint.name)
    pulumi.export("trackingUrl", platform["tracking"].url)
    pulumi.export("dataBucket", platform["artifact_store"].data.id)
    pulumi.export("artifactBucket", platform["artifact_store"].artifacts.id)
    pulumi.export("alertTopicArn", platform["monitoring"].topic.arn)
    pulumi.export("retrainingPipeline", platform["training"].pipeline_name)
    return platform


def main() -> None:
    """A Pulumi program's entry point: build the selected stack (`pulumi up -s <stack>`) from the project's
    stack file Pulumi.<stack>.yaml. The project is found from the working directory upward to Pulumi.yaml."""
    try:
        spec = load_stack(pulumi.get_stack())
    except UserError as exc:  # a readable message, not a traceback, in `pulumi up` output
        pulumi.log.error(str(exc))
        sys.exit(2)
    build(spec)
