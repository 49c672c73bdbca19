"""A/B conversion guardrail: always-valid decisions (rollback, SRM halt, promote) for a champion/challenger split.

Modules: `policy` (GuardrailPolicy), `sequential` (confidence sequences on log(pB/pA)), `guardrail` (decide),
`experiment` (the S3 record shared with the deployer), `simulate` (Monte Carlo behind the benchmark). The
scheduled controller that acts on decisions is `infra.runtime.handlers.ab_controller`.
"""

from __future__ import annotations

from infra.runtime.abtest.experiment import (
    DEFAULT_RAMP,
    Experiment,
    ExperimentStatus,
    experiment_key,
    load_experiment,
    save_experiment,
)
from infra.runtime.abtest.guardrail import Action, ArmCounts, Decision, MetricResult, decide, decide_all
from infra.runtime.abtest.policy import GuardrailPolicy, RollbackRule, SrmTest, required_visitors_per_arm

__all__ = [
    "DEFAULT_RAMP",
    "Action",
    "ArmCounts",
    "Decision",
    "Experiment",
    "ExperimentStatus",
    "GuardrailPolicy",
    "MetricResult",
    "RollbackRule",
    "SrmTest",
    "decide",
    "decide_all",
    "experiment_key",
    "load_experiment",
    "required_visitors_per_arm",
    "save_experiment",
]
