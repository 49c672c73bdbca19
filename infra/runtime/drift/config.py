"""What the drift monitor tests and when it calls a batch drifted.

Defaults follow Evidently 0.7 so that a report reads the same as one from Evidently on the same data
(see `default_method`): the test per column is chosen from the reference, with Evidently's thresholds, and the
dataset drifts when at least half of the tested features drift. Everything can be overridden per feature,
including the column's role (roles.py). Where Evidently's default is unsound, `default_method` says how and
what is done instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from infra.runtime import yamldoc
from infra.runtime.drift.roles import Role
from infra.runtime.errors import Problem, UserError
from infra.runtime.yamldoc import KeyPath


class Method(StrEnum):
    """Per-feature drift tests. p-value tests drift on small p; distances drift on large values."""

    PSI = "psi"
    KS = "ks"
    WASSERSTEIN = "wasserstein"
    JENSENSHANNON = "jensenshannon"
    CHISQUARE = "chisquare"
    Z = "z"


P_VALUE_METHODS = frozenset({Method.KS, Method.CHISQUARE, Method.Z})
NUMERIC_ONLY_METHODS = frozenset({Method.KS, Method.WASSERSTEIN})

DEFAULT_THRESHOLDS: Mapping[Method, float] = {
    Method.PSI: 0.1,
    Method.KS: 0.05,
    Method.WASSERSTEIN: 0.1,
    Method.JENSENSHANNON: 0.1,
    Method.CHISQUARE: 0.05,
    Method.Z: 0.05,
}

# Evidently's rule: the reference size at or below which p-value tests are used.
SMALL_REFERENCE_ROWS = 1000
# Numeric features with at most this many distinct reference values are tested like categories.
LOW_CARDINALITY = 5


class Correction(StrEnum):
    """Multiple-testing correction applied to the p-value tests across features."""

    NONE = "none"
    BONFERRONI = "bonferroni"
    BENJAMINI_HOCHBERG = "benjamini-hochberg"


class Rule(StrEnum):
    """When an action (alert, retraining) fires."""

    DATASET_DRIFT = "dataset_drift"
    ANY_FEATURE_DRIFT = "any_feature_drift"
    NEVER = "never"


class FeatureOverride(BaseModel):
    """Per-feature choice of role, test and threshold; unset fields keep the defaults."""

    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    """The column's role instead of the inferred one (roles.py). Applied when the baseline is profiled; a role
    that is not tested (identifier, text, datetime) also takes effect at once on an existing baseline."""
    method: Method | None = None
    threshold: Annotated[float, Field(gt=0)] | None = None


class BaselineOptions(BaseModel):
    """How a baseline is profiled from reference data (used where a baseline is computed)."""

    model_config = ConfigDict(extra="forbid")

    fine_bins: Annotated[int, Field(ge=10, le=100_000)] = 2000
    """Resolution of the histogram behind KS and Wasserstein: reference quantiles at 1/fine_bins steps."""
    psi_bins: Annotated[int, Field(ge=2, le=1000)] = 10
    """Recorded bins for PSI / Jensen-Shannon / chi-square on numeric features (deciles by default)."""
    max_categories: Annotated[int, Field(ge=1)] = 1000
    """Most frequent categories kept per categorical feature; the rest are counted as one `other` bucket."""
    categorical: list[str] = Field(default_factory=list)
    """Numeric columns to profile as categories (codes, ids of a small set)."""
    exclude: list[str] = Field(default_factory=list)
    """Columns never profiled (row ids, timestamps, the label)."""


class DriftConfig(BaseModel):
    """Drift rules. Given to the Lambda as the DRIFT_CONFIG env var (JSON) or to the CLI as --config."""

    model_config = ConfigDict(extra="forbid")

    method: Method | None = None
    """One test for every feature; None chooses per feature like Evidently (see `default_method`)."""
    threshold: Annotated[float, Field(gt=0)] | None = None
    """One threshold for every feature; None uses the method's default (DEFAULT_THRESHOLDS)."""
    features: dict[str, FeatureOverride] = Field(default_factory=dict)
    correction: Correction = Correction.NONE
    """Evidently applies none; Bonferroni matches alibi-detect; BH controls the false discovery rate."""
    drift_share: Annotated[float, Field(gt=0, le=1)] = 0.5
    """The dataset drifts when drifted / tested features >= drift_share."""
    missing_rate_tolerance: Annotated[float, Field(ge=0, le=1)] = 0.05
    """A data-quality finding is raised when the missing rate grows by more than this over the reference."""
    alert_on: Rule = Rule.ANY_FEATURE_DRIFT
    retrain_on: Rule = Rule.DATASET_DRIFT
    ignore: list[str] = Field(default_factory=list)
    """Features left out of the comparison (still listed in the baseline)."""
    baseline: BaselineOptions = Field(default_factory=BaselineOptions)

    def roles(self) -> dict[str, Role]:
        """The roles declared per feature (what `compute_baseline(declared=...)` takes)."""
        return {name: f.role for name, f in self.features.items() if f.role is not None}

    def method_for(self, feature: str) -> Method | None:
        override = self.features.get(feature)
        if override is not None and override.method is not None:
            return override.method
        return self.method

    def threshold_for(self, feature: str, method: Method) -> float:
        override = self.features.get(feature)
        if override is not None and override.threshold is not None:
            return override.threshold
        if self.threshold is not None:
            return self.threshold
        return DEFAULT_THRESHOLDS[method]


def default_method(kind: Literal["numeric", "categorical"], n_reference: int, n_unique: int) -> Method:
    """Evidently 0.7's choice, made from the reference alone, with one deviation.

    Reference <= 1000 rows: numbers with > 5 distinct values -> KS, else chi-square; larger references:
    numbers with > 5 distinct values -> Wasserstein (normalised by the reference std), else Jensen-Shannon.

    Deviations from Evidently, because its default is unsound there:
    - Evidently counts distinct values over reference + current: the test would then change with the current
      data's storage (float32 copies of 4 float64 values are 4 more "values"). Deciding from the reference keeps
      the test fixed with the versioned baseline; values the reference never had are a data-quality finding.
    - Evidently uses a Z-test of the first category's share for <= 2 distinct values: it cannot see a change of
      the category set (`{a, b}` -> `{a, c}` leaves the share of `a` as it was). The chi-square test of
      homogeneity over every category of either sample is used instead: with the same two categories its
      p-value equals the pooled two-sided Z-test's (chi-square with 1 degree of freedom is z squared), and it
      sees categories that appear or vanish. `method: z` stays available per feature.
    """
    numeric = kind == "numeric" and n_unique > LOW_CARDINALITY
    if n_reference <= SMALL_REFERENCE_ROWS:
        return Method.KS if numeric else Method.CHISQUARE
    return Method.WASSERSTEIN if numeric else Method.JENSENSHANNON


def is_drift(method: Method, value: float, threshold: float) -> bool:
    """Evidently's comparison: KS p <= t, chi-square / Z p < t, distances >= t."""
    if method is Method.KS:
        return value <= threshold
    if method in P_VALUE_METHODS:
        return value < threshold
    return value >= threshold


def parse_config(
    data: Mapping[str, Any] | None, *, source: str, lines: Mapping[KeyPath, int] | None = None
) -> DriftConfig:
    """Validate a config mapping; every problem names the source, the field and (given `lines`, the line of
    each key, as `yamldoc.compose` returns) the line."""
    try:
        return DriftConfig.model_validate(data or {})
    except ValidationError as exc:
        raise UserError(
            [
                Problem(
                    file=source,
                    line=yamldoc.line_of(dict(lines or {}), tuple(err["loc"])),
                    field=".".join(str(p) for p in err["loc"]) or "(root)",
                    message=err["msg"],
                )
                for err in exc.errors()
            ]
        ) from None


def parse_config_text(text: str, *, source: str) -> DriftConfig:
    """JSON or YAML text (JSON is YAML, but JSON errors are reported by the JSON parser first)."""
    stripped = text.strip()
    if not stripped:
        return DriftConfig()
    if stripped.startswith("{"):
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError.single(source, f"not valid JSON: {exc.msg}", line=exc.lineno) from None
    data, lines, _ = yamldoc.compose(text, source)
    if not isinstance(data, dict):
        raise UserError.single(source, "must be a mapping of settings", field="(root)", line=1)
    return parse_config(data, source=source, lines=lines)


def load_config(path: Path) -> DriftConfig:
    """Read a config file (JSON or YAML)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError.single(str(path), f"cannot read config: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UserError.single(str(path), "config is not UTF-8 text") from None
    return parse_config_text(text, source=str(path))
