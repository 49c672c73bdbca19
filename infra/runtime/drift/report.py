"""The drift report: per-feature results, the dataset verdict and data-quality findings (JSON in S3).

Every column of the reference and of the current data has a FeatureResult: tested (`drift` / `no drift`) or
`not evaluated`, with the reasons. The dataset is `not evaluated` when no feature could be tested (no rows,
no readable file, no column in common...): never "no drift" for want of data.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from infra.runtime.drift.config import Correction, Method
from infra.runtime.drift.roles import Role

# Name of the statistic each method decides on; also the CloudWatch metric name.
STATISTIC_OF: dict[Method, str] = {
    Method.PSI: "psi",
    Method.KS: "ks_p_value",
    Method.WASSERSTEIN: "wasserstein",
    Method.JENSENSHANNON: "jensenshannon",
    Method.CHISQUARE: "chisquare_p_value",
    Method.Z: "z_p_value",
}


class Status(StrEnum):
    """The verdict on a feature or on the dataset."""

    DRIFT = "drift"
    NO_DRIFT = "no drift"
    NOT_EVALUATED = "not evaluated"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class FindingKind(StrEnum):
    """Data-quality problems found while comparing; none of them stops the comparison."""

    EMPTY_BATCH = "empty_batch"
    UNREADABLE_SOURCE = "unreadable_source"
    MISSING_COLUMN = "missing_column"
    EXTRA_COLUMN = "extra_column"
    DUPLICATE_COLUMN = "duplicate_column"
    MISSING_VALUES = "missing_values"
    ALL_MISSING = "all_missing"
    NON_FINITE = "non_finite"
    UNPARSEABLE = "unparseable"
    TYPE_CHANGED = "type_changed"
    NEW_CATEGORIES = "new_categories"
    INVALID_CONFIG = "invalid_config"
    MALFORMED_ROWS = "malformed_rows"
    NOT_TESTED = "not_tested"


class Finding(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: FindingKind
    severity: Severity
    feature: str | None = None
    message: str
    count: int | None = None
    share: float | None = None
    """count as a share of the feature's current values (new categories) or reference values (not tested)."""


class FeatureResult(BaseModel):
    """One feature's test. `value` is the statistic the method decides on (a p-value for p-value tests)."""

    model_config = ConfigDict(extra="forbid")

    feature: str
    kind: Literal["numeric", "categorical"] | None = None
    """How the reference was profiled (None for a column that is not tested)."""
    role: Role | None = None
    """The column's role (roles.py); None for a column without values in the reference or not in it."""
    status: Status = Status.NOT_EVALUATED
    reasons: list[str] = Field(default_factory=list)
    """Why the feature was not evaluated (empty when it was tested)."""
    tested: bool = False
    method: Method | None = None
    statistic: str | None = None
    value: float | None = None
    adjusted_p_value: float | None = None
    threshold: float | None = None
    drift: bool = False
    n_reference: int = 0
    n_current: int = 0
    missing_current: int = 0
    stats: dict[str, float] = Field(default_factory=dict)
    """Statistics of the feature: psi and jensenshannon always, ks_statistic and wasserstein for numeric
    features, and the p-value of the feature's test when it is one (ks_p_value, chisquare_p_value, z_p_value):
    p-values need scipy's distributions, loaded only when a feature uses them."""
    error_bounds: dict[str, float] = Field(default_factory=dict)
    """Upper bounds of the histogram error of ks_statistic and wasserstein (0 where exact)."""
    current: dict[str, float | int | str] = Field(default_factory=dict)
    """Summary of the current values (mean/std/min/max, or the most frequent categories)."""


class DriftReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    model_name: str
    model_version: str
    generated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    sources: list[str] = Field(default_factory=list)
    rows: int
    n_features: int
    n_tested: int
    n_drifted: int
    drift_share: float
    drift_share_threshold: float
    dataset_drift: bool
    status: Status = Status.NOT_EVALUATED
    reasons: list[str] = Field(default_factory=list)
    """Why the dataset was not evaluated (empty when at least one feature was tested)."""
    correction: Correction
    features: list[FeatureResult]
    findings: list[Finding] = Field(default_factory=list)
    actions: dict[str, str] = Field(default_factory=dict)
    """What the scheduled job did about it (alert message id, retraining run, or why it failed)."""

    @property
    def drifted_features(self) -> list[str]:
        return [f.feature for f in self.features if f.drift]

    @property
    def any_drift(self) -> bool:
        return self.n_drifted > 0

    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.ERROR]
