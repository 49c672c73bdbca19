"""docker-build: container images built from a local context and pushed to a registry.

Building needs a Docker daemon with buildx, which the sandbox does not use, and a manifest pushed to moto's
ECR without its layers would be a made-up image. So the image is recorded, not emulated, and so is what runs
it: Lambda functions that use it find no image in ECR.
"""

from __future__ import annotations

from typing import Any

from infra.offline.emulators.base import EmulatorContext, NotEmulated, emulates

IMAGE_INPUTS = ("addHosts", "buildArgs", "buildOnPreview", "builder", "cacheFrom", "cacheTo", "context", "dockerfile",
                "exec", "exports", "ignoreSecretsInDiffCalculation", "labels", "load", "network", "noCache",
                "platforms", "pull", "push", "registries", "secrets", "ssh", "target")


@emulates(*IMAGE_INPUTS)
def image(ctx: EmulatorContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    target = ", ".join(inputs.get("tags") or []) or "no tag"
    raise NotEmulated(f"container images are not built offline (needs Docker with buildx); {target} is not pushed")
