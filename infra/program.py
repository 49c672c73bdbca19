"""The Pulumi program: a resolved stack spec becomes components, in capability order."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.components.base import StackContext, tagging_transformation
from infra.components.catalog import ORDER, Platform, kind_of, lookup
from infra.profiles.loader import StackSpec


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
