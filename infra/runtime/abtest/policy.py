"""The guardrail policy: which lift counts as harm, at which error rate, after how much data.

Defaults encode "roll back if conversion drops by more than 5%" with the harm-first rule (see `RollbackRule`).
The policy travels as JSON (env `GUARDRAIL_POLICY` of the controller, and the decision records), so it is a
strict Pydantic model: unknown keys are an error rather than silently ignored.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class RollbackRule(StrEnum):
    """When the always-valid upper bound U of the relative lift r triggers a rollback.

    HARM_FIRST (default): U < 0 (the challenger is worse, with error <= alpha at any look) and the point
    estimate r_hat <= -max_relative_drop (the drop is about as large as the guardrail). It reacts within days
    to a real 5-10% drop while an always-valid test keeps false rollbacks rare. A true drop smaller than the
    margin is only rolled back if its estimate happens to land beyond the margin *and* harm is significant,
    which the benchmark shows stays rare.
    STRICT: U < -max_relative_drop, i.e. the drop is *proven* to exceed the margin. Almost never rolls back a
    harmless change, but needs several times more data, so a real 8% drop keeps running for weeks.
    """

    HARM_FIRST = "harm-first"
    STRICT = "strict"


class SrmTest(StrEnum):
    """How the sample-ratio-mismatch check turns the observed split into a p-value.

    SEQUENTIAL (default): the anytime-valid Dirichlet-multinomial Bayes factor test (Lindon & Malek, "Anytime-
    Valid Inference for Multinomial Count Data", 2022), p = min(1, 1 / BF). Its false-halt rate stays below
    `srm_p_value` however often the controller looks. CHI_SQUARE: the classic goodness-of-fit test; checked
    every hour for 30 days at p < 0.001 it halts about 2.7% of healthy experiments (measured by simulation),
    and here a halt is a rollback.
    """

    SEQUENTIAL = "sequential"
    CHI_SQUARE = "chi-square"


class GuardrailPolicy(BaseModel):
    """Parameters of `decide`; JSON-serialisable, immutable.

    Error control: `alpha` is the family-wise one-sided error over all guardrail metrics and all looks (the
    bounds are always valid, so looking more often costs nothing). Each metric gets alpha / len(metrics)
    (Bonferroni), which bounds (a) the chance that any metric triggers a false rollback when none is worse and
    (b) the chance of promoting while some metric is worse than the margin, without assuming anything about
    how the metrics correlate. Default alpha = 0.025 one-sided, the usual level for a non-inferiority claim
    (which promotion is); in the benchmark (5% baseline, 20k visitors per arm per day) alpha = 0.05 would
    roll back a harmless-by-policy 2% drop in 9-10% of runs, at the edge of the 10% budget, while 0.025
    keeps it near 7-8% and still rolls back an 8% drop by day 3 (median).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    alpha: Annotated[float, Field(gt=0.0, lt=0.5)] = 0.025
    metrics: Annotated[list[str], Field(min_length=1)] = Field(
        default_factory=lambda: ["Conversions"],
        description="Success-count metrics (higher is better), each a proportion of Visitors.",
    )
    rollback_rule: RollbackRule = RollbackRule.HARM_FIRST
    max_relative_drop: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.05
    noninferiority_margin: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.05
    mixture_tau: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        default=0.05,
        description="Spread of the normal mixture over log(pB/pA); matched to the 5% margin (log 0.95 ~ -0.05).",
    )
    min_visitors_per_arm: Annotated[int, Field(ge=1)] = 10_000
    min_champion_conversions: Annotated[int, Field(ge=1)] = Field(
        default=50,
        description="Champion conversions needed before judging the lift (the challenger's are not required, "
        "so a challenger that stopped converting is still rolled back).",
    )
    planned_visitors_per_arm: Annotated[int, Field(ge=1)] = Field(
        default=100_000,
        description="Sample per arm before promotion is considered; size it with required_visitors_per_arm "
        "(about 92k for a 5% baseline and a 5% margin).",
    )
    srm_p_value: Annotated[float, Field(gt=0.0, lt=0.5)] = 0.001
    srm_test: SrmTest = SrmTest.SEQUENTIAL
    srm_prior_concentration: Annotated[float, Field(gt=0.0)] = Field(
        default=1_000.0,
        description="Total Beta prior weight around the configured split for the sequential SRM test: large "
        "enough to catch a 1% relative imbalance at ~100k visitors, small enough to catch gross ones early.",
    )
    srm_min_visitors: Annotated[int, Field(ge=1)] = 1_000
    ramp_min_hours_per_stage: Annotated[float, Field(ge=0.0)] = Field(
        default=24.0,
        description="A ramp stage advances only after this long (a full daily cycle) with the minimum sample "
        "reached and no harm detected.",
    )
    ramp_settle_minutes: Annotated[float, Field(ge=0.0)] = Field(
        default=30.0,
        description="The next stage's counting window opens this long after its weights are set, so requests "
        "still routed with the old split (while the endpoint updates) cannot look like a sample-ratio mismatch.",
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        if len(set(self.metrics)) != len(self.metrics):
            raise ValueError("metrics must be unique")
        if "Visitors" in self.metrics:
            raise ValueError("'Visitors' is the denominator of every metric, not a guardrail metric")
        if self.planned_visitors_per_arm < self.min_visitors_per_arm:
            raise ValueError("planned_visitors_per_arm must be at least min_visitors_per_arm")
        return self

    @property
    def variance_floor_ratio(self) -> float:
        """Floor of pB / pA used in the variance (see `sequential.log_lift_estimate`): twice the larger
        margin below parity, so it stays under every null the rules test (0.90 by default)."""
        return max(0.0, 1.0 - 2.0 * max(self.max_relative_drop, self.noninferiority_margin))

    @property
    def alpha_per_metric(self) -> float:
        """Bonferroni share of alpha for each guardrail metric."""
        return self.alpha / len(self.metrics)


def required_visitors_per_arm(baseline: float, relative_drop: float, *, alpha: float = 0.05, power: float = 0.8) -> int:
    """Fixed-horizon sample per arm for a one-sided two-proportion test (a planning aid for
    `planned_visitors_per_arm`): baseline 5%, 5% relative drop -> about 92k per arm."""
    if not 0.0 < baseline < 1.0 or not 0.0 < relative_drop < 1.0:
        raise ValueError("baseline and relative_drop must be in (0, 1)")
    p1 = baseline
    p2 = baseline * (1.0 - relative_drop)
    from scipy import stats  # on first use: see sequential.mixture_boundary

    z = stats.norm.ppf(1.0 - alpha) + stats.norm.ppf(power)
    n = z * z * (p1 * (1.0 - p1) + p2 * (1.0 - p2)) / (p1 - p2) ** 2
    return math.ceil(n)
