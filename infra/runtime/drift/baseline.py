"""The reference profile a model version is monitored against, stored as JSON next to the model.

A baseline records, per feature, everything the streaming comparison needs, so the reference data itself
is never read again: the fine grid and counts behind KS / Wasserstein, the recorded (coarse) bins and counts
behind PSI / Jensen-Shannon / chi-square, category counts, missing counts and moments. The key carries the
model version (`baseline_key`), so a new model version never silently reuses another version's reference.

Numeric fine grid: the distinct reference values when there are at most `fine_bins` + 1 of them (then the
reference CDF is exact and KS is exact, see stats.py), otherwise the reference quantiles at 1/fine_bins steps
(each open cell then holds about 1/fine_bins of the reference, which bounds the histogram error of KS).
Recorded bins: reference quantiles at 1/psi_bins steps (deciles by default, the usual PSI bins), snapped to
the fine grid so that both are counted in the same pass; numeric features with <= 20 distinct reference values
are binned by value instead, as Evidently does.

Reference data: a pyarrow table, (name, column) pairs, or in-memory numpy columns by name (arrays.py), which
are profiled without pyarrow; the same data gives the same baseline either way.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from infra.runtime.adapters.storage import object_store
from infra.runtime.drift import arrays, roles, stats
from infra.runtime.drift.config import BaselineOptions
from infra.runtime.drift.dataset import CsvDialect
from infra.runtime.drift.roles import Role

if TYPE_CHECKING:  # pyarrow (and io, which needs it) is imported where Arrow data is profiled: see arrays.py
    import pyarrow as pa

    from infra.runtime.drift.arrays import Column, Columns

# Evidently bins numeric columns by value (not by range) when the reference has at most this many values.
VALUE_BINNING_MAX_UNIQUE = 20
QUANTILE_LEVELS = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)

Kind = Literal["numeric", "categorical"]
UNTESTED = frozenset(Role) - roles.TESTED_ROLES


class NumericProfile(BaseModel):
    """Reference profile of one numeric feature. `counts` follows the cell layout of stats.py."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["numeric"] = "numeric"
    dtype: str
    n: int
    missing: int
    mean: float
    std: float
    """Population standard deviation (ddof=0), the normaliser of the Wasserstein distance, as in Evidently."""
    min: float
    max: float
    n_unique: int
    quantiles: dict[str, float]
    edges: list[float]
    """Fine grid e_0 < ... < e_m; e_0 is the reference minimum and e_m its maximum."""
    counts: list[int]
    """Reference counts per cell: 2 * len(edges) + 1 cells (open intervals and the edges themselves)."""
    offsets: list[float]
    """Per cell, the sum of (value - the cell's left edge): where the values lie inside their cells."""
    binning: Literal["ranges", "values"]
    bin_edges: list[float]
    """Recorded bins: ranges [b_i, b_i+1) (outer ones open-ended), or for `values` the values themselves."""
    bin_counts: list[int]
    """Reference counts per recorded bin (for `values`, one per value and a last one for any other value)."""


class CategoricalProfile(BaseModel):
    """Reference profile of one categorical feature (values compared as strings)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["categorical"] = "categorical"
    dtype: str
    n: int
    missing: int
    n_unique: int
    categories: dict[str, int]
    """Counts of the most frequent categories (all of them unless there are more than max_categories)."""
    other: int = 0
    """Reference rows whose category was not kept (beyond max_categories)."""

    def frequencies(self) -> dict[str, float]:
        return {k: v / self.n for k, v in self.categories.items()} if self.n else {}


FeatureProfile = Annotated[NumericProfile | CategoricalProfile, Field(discriminator="kind")]
FeatureOrReason = NumericProfile | CategoricalProfile | str


class Baseline(BaseModel):
    """Per-feature reference profiles of one model version."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    model_name: str = ""
    model_version: str = ""
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    n_rows: int
    options: BaselineOptions = Field(default_factory=BaselineOptions)
    features: dict[str, FeatureProfile]
    skipped: dict[str, str] = Field(default_factory=dict)
    """Columns not tested, with the reason (identifier, free text, datetime, no values, unsupported, excluded)."""
    roles: dict[str, Role | None] = Field(default_factory=dict)
    """Every reference column, in file order, with its role (roles.py; None when it has no values). Baselines
    written before roles existed have none: their features are numeric or categorical by `kind`."""

    def role_of(self, name: str) -> Role | None:
        if name in self.roles:
            return self.roles[name]
        profile = self.features.get(name)
        return None if profile is None else Role(profile.kind)

    def column_names(self) -> list[str]:
        """Every reference column, in file order."""
        return list(dict.fromkeys([*self.roles, *self.features, *self.skipped]))

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str | bytes) -> Baseline:
        return cls.model_validate_json(text)

    def save(self, path: Path) -> None:
        path.write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Baseline:
        return cls.from_json(path.read_bytes())


def default_workers() -> int:
    """Threads for profiling / counting features in parallel: the CPUs this process may use, at most 4."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(4, cpus))


def baseline_key(model_package_group: str, model_version: str | int, prefix: str = "baselines/") -> str:
    """S3 key of a model version's baseline: `baselines/<model_package_group>/<version>/baseline.json`."""
    return f"{prefix.rstrip('/')}/{model_package_group}/{model_version}/baseline.json"


def upload_baseline(baseline: Baseline, s3: Any, bucket: str, key: str) -> str:
    """Store the baseline JSON in the artifact bucket; returns its s3:// URI."""
    s3.put_object(Bucket=bucket, Key=key, Body=baseline.to_json().encode(), ContentType="application/json")
    return f"s3://{bucket}/{key}"


def download_baseline(store: Any, bucket: str, key: str) -> Baseline:
    """`store`: an ObjectStore (infra.runtime.adapters.storage) or a boto3 S3 client."""
    return Baseline.from_json(object_store(store).get(bucket, key))


# Profiling ------------------------------------------------------------------------------------------------


def quantiles_of_sorted(sorted_values: npt.NDArray[np.float64], levels: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Linear-interpolation quantiles (numpy's default method) of an already sorted array, without sorting."""
    s = sorted_values
    h = (s.size - 1) * np.asarray(levels, dtype=np.float64)
    lo = np.floor(h).astype(np.intp)
    hi = np.minimum(lo + 1, s.size - 1)
    q = s[lo] + (h - lo) * (s[hi] - s[lo])
    return np.clip(q, s[0], s[-1])


def cell_bounds(sorted_values: npt.NDArray[np.float64], edges: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
    """Positions in the sorted values where each cell starts, and the end: 2 * len(edges) + 2 numbers.

    One binary search per edge for "< e_j"; the second one ("<= e_j") only for the edges that occur in the
    values, since quantile edges rarely do.
    """
    bounds = np.empty(2 * edges.size + 2, dtype=np.intp)
    bounds[0] = 0
    bounds[-1] = sorted_values.size
    left = np.searchsorted(sorted_values, edges, side="left")
    bounds[1:-1:2] = left
    present = sorted_values[np.minimum(left, sorted_values.size - 1)] == edges
    right = left.copy()
    if present.any():
        right[present] = np.searchsorted(sorted_values, edges[present], side="right")
    bounds[2:-1:2] = right
    return bounds


def cell_counts(sorted_values: npt.NDArray[np.float64], edges: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """Counts per cell (see stats.py) of sorted values."""
    return np.diff(cell_bounds(sorted_values, edges)).astype(np.int64)


def cell_offsets(
    sorted_values: npt.NDArray[np.float64], edges: npt.NDArray[np.float64], bounds: npt.NDArray[np.intp]
) -> npt.NDArray[np.float64]:
    """Per cell, sum(value - anchor) (stats.cell_anchors), from prefix sums of the sorted values.

    Values are taken relative to the smallest one first, which keeps the prefix sums (and their rounding)
    small even for large-magnitude data such as timestamps.
    """
    if sorted_values.size == 0:
        return np.zeros(bounds.size - 1)
    shift = sorted_values[0]
    prefix = np.zeros(sorted_values.size + 1)
    np.cumsum(sorted_values - shift, out=prefix[1:])
    counts = np.diff(bounds)
    return np.diff(prefix[bounds]) - counts * (stats.cell_anchors(edges) - shift)


def recorded_bins(
    cells: npt.NDArray[np.int64],
    edges: npt.NDArray[np.float64],
    binning: str,
    bin_edges: npt.NDArray[np.float64],
) -> npt.NDArray[np.int64]:
    """Counts per recorded bin, summed from cell counts (bin edges are a subset of the fine edges).

    `ranges`: [b_0, b_1), ..., [b_k-1, b_k] like np.histogram, with values below b_0 / above b_k added to the
    first / last bin. `values`: one count per edge value, then all other values together.
    """
    if binning == "values":
        return np.append(cells[1::2], cells[0::2].sum())
    positions = np.searchsorted(edges, bin_edges)
    starts = np.concatenate([[0], 2 * positions[1:-1] + 1]).astype(np.intp)
    return np.add.reduceat(cells, starts)


def _snap(edges: npt.NDArray[np.float64], targets: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The fine edges nearest to `targets` (deduplicated), so recorded bins can be summed from fine cells."""
    idx = np.clip(np.searchsorted(edges, targets), 1, edges.size - 1)
    left = edges[idx - 1]
    right = edges[idx]
    nearest = np.where(targets - left <= right - targets, left, right)
    return np.unique(nearest)


def profile_numeric(
    values: npt.NDArray[np.float64],
    *,
    dtype: str,
    missing: int,
    options: BaselineOptions,
    edges: npt.NDArray[np.float64] | None = None,
    bin_edges: npt.NDArray[np.float64] | None = None,
) -> NumericProfile:
    """Profile finite values (NaN / inf already removed and counted in `missing`).

    `edges` / `bin_edges` replace the default grids (used to reproduce Evidently's bins, which also depend on
    the current data); `bin_edges` must be a subset of `edges`.
    """
    s = np.sort(values)
    if s.size == 0:
        raise ValueError("no finite values")
    distinct = np.empty(s.size, dtype=bool)
    distinct[0] = True
    np.not_equal(s[1:], s[:-1], out=distinct[1:])
    n_unique = int(np.count_nonzero(distinct))
    if edges is None:
        if n_unique <= options.fine_bins + 1:
            edges = s[distinct]
        else:
            edges = np.unique(quantiles_of_sorted(s, np.linspace(0.0, 1.0, options.fine_bins + 1)))
    bounds = cell_bounds(s, edges)
    cells = np.diff(bounds).astype(np.int64)
    if n_unique <= VALUE_BINNING_MAX_UNIQUE and bin_edges is None:
        binning: Literal["ranges", "values"] = "values"
        bins = edges
    else:
        binning = "ranges"
        if bin_edges is None:
            bins = _snap(edges, quantiles_of_sorted(s, np.linspace(0.0, 1.0, options.psi_bins + 1)))
        else:
            bins = np.asarray(bin_edges, dtype=np.float64)
        if bins.size < 2:  # a single value: one bin
            bins = np.array([edges[0], edges[-1]])
    if not np.all(np.isin(bins, edges)):
        raise ValueError("recorded bin edges must be fine edges")
    if binning == "values" and cells[0::2].any():
        raise ValueError("value binning needs every distinct reference value to be a fine edge")
    q = quantiles_of_sorted(s, QUANTILE_LEVELS)
    return NumericProfile(
        dtype=dtype,
        n=int(s.size),
        missing=missing,
        mean=float(np.mean(s)),
        std=float(np.std(s)),
        min=float(s[0]),
        max=float(s[-1]),
        n_unique=n_unique,
        quantiles={f"{lvl:g}": float(v) for lvl, v in zip(QUANTILE_LEVELS, q, strict=True)},
        edges=edges.tolist(),
        counts=cells.tolist(),
        offsets=cell_offsets(s, edges, bounds).tolist(),
        binning=binning,
        bin_edges=bins.tolist(),
        bin_counts=recorded_bins(cells, edges, binning, bins).tolist(),
    )


def profile_categorical(
    column: pa.Array | pa.ChunkedArray, *, dtype: str, options: BaselineOptions, boolean: bool = False
) -> CategoricalProfile:
    """Category counts of a column as text (io.category_strings; `boolean` for a boolean column); nulls are
    missing."""
    from infra.runtime.drift import io

    counts = io.value_counts(io.category_strings(column, boolean=boolean))
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    kept = dict(ordered[: options.max_categories])
    n = sum(counts.values())
    return CategoricalProfile(
        dtype=dtype,
        n=n,
        missing=column.null_count,
        n_unique=len(counts),
        categories=kept,
        other=n - sum(kept.values()),
    )


Profiled = tuple[Role | None, FeatureOrReason]
"""A column's role (None when it has no values) and its profile, or the reason it is not tested."""


def _profile_column(
    name: str, column: pa.ChunkedArray, *, typed: bool, options: BaselineOptions, declared: Role | None
) -> Profiled:
    """The role of an Arrow column (roles.py) and its profile, or the reason it is not tested."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from infra.runtime.drift import io

    if len(column) == column.null_count:
        return declared, "no values in the reference"
    if declared in UNTESTED:
        return declared, f"declared {declared} in the drift config: not tested"
    t = column.type
    value_type = t.value_type if pa.types.is_dictionary(t) else t
    dtype = str(t)
    role = declared or roles.type_role(t)
    if role is Role.DATETIME:
        return role, roles.untested_reason(role)
    if role is Role.BOOLEAN:
        try:
            return role, profile_categorical(column, dtype=dtype, options=options, boolean=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return role, f"declared boolean in the drift config, but {t} values are not booleans"
    numbers: pa.ChunkedArray | None = None
    if io.is_number(value_type):
        numbers = column
    elif io.is_string(value_type) and (not typed or role is Role.NUMERIC):
        numbers = io.try_parse_numbers(column)  # CSV carries numbers as text
        if numbers is not None:
            dtype = "double"
    if numbers is not None:
        if role is Role.CATEGORICAL:
            return role, profile_categorical(numbers, dtype=dtype, options=options)
        return _profile_numbers(io.to_float64(numbers), dtype=dtype, options=options, declared=role)
    if role is Role.NUMERIC:
        return role, f"declared numeric in the drift config, but {t} values are not numbers"
    if not io.is_string(value_type):
        return None, f"unsupported type {t}"
    strings = column if io.is_string(t) else pc.cast(column, pa.string())
    inferred, n, n_unique = roles.text_role(strings)
    role = role or inferred
    if role in UNTESTED:
        return role, roles.untested_reason(role, n, n_unique)
    return role, profile_categorical(strings, dtype=dtype, options=options, boolean=role is Role.BOOLEAN)


def _is_identifier(finite: npt.NDArray[np.float64]) -> bool:
    """Rule 4 of roles.py: integer values, all distinct, at least IDENTIFIER_MIN_VALUES of them."""
    if finite.size < roles.IDENTIFIER_MIN_VALUES or not np.array_equal(np.floor(finite), finite):
        return False
    return bool(np.unique(finite).size == finite.size)


def _profile_numbers(
    values: npt.NDArray[np.float64], *, dtype: str, options: BaselineOptions, declared: Role | None = None
) -> Profiled:
    """A numeric profile of float64 values; NaN (and null) and infinite values are counted as missing."""
    is_finite = np.isfinite(values)
    finite = values if is_finite.all() else values[is_finite]
    if finite.size == 0:
        return declared or Role.NUMERIC, "no finite values in the reference"
    if declared is None and _is_identifier(finite):
        return Role.IDENTIFIER, roles.untested_reason(Role.IDENTIFIER, finite.size, finite.size)
    profile = profile_numeric(finite, dtype=dtype, missing=int(values.size - finite.size), options=options)
    return Role.NUMERIC, profile


def _profile_array(name: str, values: npt.NDArray[Any], *, typed: bool, options: BaselineOptions,
                   declared: Role | None) -> Profiled:
    """A profile of a numpy column: numbers directly (float64 without a copy), other dtypes through Arrow."""
    dtype = arrays.numeric_type_name(values.dtype)
    if dtype is not None and declared in (None, Role.NUMERIC):
        return _profile_numbers(values.astype(np.float64, copy=False), dtype=dtype, options=options,
                                declared=declared)
    import pyarrow as pa

    try:
        column = pa.chunked_array([arrays.to_arrow(values)])
    except arrays.arrow_errors():
        return None, f"unsupported type {values.dtype}"
    return _profile_column(name, column, typed=typed, options=options, declared=declared)


def compute_baseline(
    columns: pa.Table | Columns | Iterable[tuple[str, Column]],
    *,
    model_name: str = "",
    model_version: str = "",
    options: BaselineOptions | None = None,
    typed: bool = True,
    workers: int | None = None,
    declared: Mapping[str, Role] | None = None,
) -> Baseline:
    """Profile reference data: an Arrow table, in-memory columns by name (numpy arrays, see arrays.py), or
    (name, column) pairs so a caller can load one column at a time.

    Each column gets a role by the rules of roles.py, or the one `declared` for it (DriftConfig.roles());
    `BaselineOptions.categorical` declares categorical. `typed=False` is for text sources (CSV) whose Arrow
    columns are all strings: numbers, booleans and dates are recognised by parsing. `workers` threads profile
    the columns of an in-memory table or mapping (default: the CPUs, at most 4). Columns that are not tested
    (identifiers, free text, datetimes, no values, unsupported types) are listed in `skipped` with the reason.
    Numeric numpy columns are profiled without pyarrow and without a copy of float64 data.
    """
    opts = options or BaselineOptions()
    wanted = dict(declared or {})
    for name in opts.categorical:
        wanted.setdefault(name, Role.CATEGORICAL)

    def profile(item: tuple[str, Any]) -> tuple[str, int, Profiled]:
        name, col = item
        column = arrays.as_column(name, col)
        if name in opts.exclude:
            return name, len(column), (wanted.get(name), "excluded")
        if isinstance(column, np.ndarray):
            return name, column.size, _profile_array(name, column, typed=typed, options=opts,
                                                     declared=wanted.get(name))
        import pyarrow as pa

        chunked = column if isinstance(column, pa.ChunkedArray) else pa.chunked_array([column])
        return name, len(chunked), _profile_column(name, chunked, typed=typed, options=opts,
                                                   declared=wanted.get(name))

    results: Iterable[tuple[str, int, Profiled]]
    in_memory: list[tuple[str, Any]] | None = None
    if arrays.is_arrow_table(columns):
        in_memory = list(zip(columns.column_names, columns.columns, strict=True))  # type: ignore[union-attr]
    elif isinstance(columns, Mapping):
        in_memory = list(arrays.as_columns(columns)[0].items())
    if in_memory is not None:
        # Columns already in memory: profile them on several threads (sorting releases the GIL).
        pairs = in_memory
        threads = min(default_workers() if workers is None else max(1, workers), len(pairs))
        if threads > 1:
            with ThreadPoolExecutor(threads) as pool:
                results = list(pool.map(profile, pairs))
        else:
            results = map(profile, pairs)
    else:  # one column at a time, so that only one is in memory
        results = map(profile, columns)
    features: dict[str, NumericProfile | CategoricalProfile] = {}
    skipped: dict[str, str] = {}
    column_roles: dict[str, Role | None] = {}
    n_rows = 0
    for name, length, (role, result) in results:
        n_rows = max(n_rows, length)
        column_roles.setdefault(name, role)
        if isinstance(result, str):
            skipped.setdefault(name, result)
        elif name not in features:  # a duplicated column name: the first one is the reference
            features[name] = result
    return Baseline(
        model_name=model_name,
        model_version=str(model_version),
        n_rows=n_rows,
        options=opts,
        features=features,
        skipped=skipped,
        roles=column_roles,
    )


def baseline_from_file(
    path: Path,
    *,
    model_name: str = "",
    model_version: str = "",
    options: BaselineOptions | None = None,
    dialect: CsvDialect | None = None,
    declared: Mapping[str, Role] | None = None,
) -> Baseline:
    """Profile a CSV or Parquet file read by io.TabularFile (CSV with the dataset's `dialect`); Parquet is read
    one column at a time to bound memory. Raises io.UnreadableFile for a file that cannot be read."""
    from infra.runtime.drift import io

    source = io.open_file(path, dialect)
    common = {"model_name": model_name, "model_version": model_version, "options": options, "declared": declared}
    if source.typed:
        return compute_baseline(io.parquet_columns(path), **common)  # type: ignore[arg-type]
    return compute_baseline(source.read_table(), typed=False, **common)  # type: ignore[arg-type]
