"""The mlopsgen policy pack, for `pulumi preview --policy-pack infra/policy` and `pulumi up --policy-pack ...`.

Every control is mandatory by default (staging and prod); dev stacks pass `--policy-pack-config
infra/policy/dev.json`, which makes them advisory. `mlopsgen audit` runs the same policies offline.
"""

from pulumi_policy import EnforcementLevel, PolicyPack

from infra.policy.registry import policies

PolicyPack(
    name="mlopsgen",
    policies=policies(),
    enforcement_level=EnforcementLevel.MANDATORY,
    description="mlopsgen controls: AWS Foundational Security Best Practices, CIS AWS Foundations Benchmark, "
    "and the project's own rules for its MLOps stacks",
)
