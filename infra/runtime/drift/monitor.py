"""Compare current data with a baseline in one streaming pass, in memory bounded by the baseline's size.

Per batch and numeric feature each value is put in its cell of the baseline's grid with a lookup table (uniform
buckets -> first edge, then a few vectorised steps), counted with bincount, and its offset in the cell summed
(see stats.wasserstein); grids squeezed by far outliers fall back to sorting blocks of SORT_BLOCK values and
binary searches. Missing counts and moments are kept too. Categorical features add Arrow value counts.
Memory is O(features x fine_bins + distinct categories), whatever the number of rows. `report()` turns the
counts into statistics (stats.py), applies the multiple-testing correction and the dataset rule, and lists
every data-quality problem as a finding.

Batches are Arrow record batches (files, tables) or in-memory numpy columns by name (arrays.py): numeric
numpy columns are counted without pyarrow, which is imported only when Arrow data or files are used.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

from infra.runtime.drift import arrays, stats
from infra.runtime.drift.arrays import BATCH_ROWS, array_batches
from infra.runtime.drift.baseline import UNTESTED as UNTESTED_ROLES
from infra.runtime.drift.baseline import (
    VALUE_BINNING_MAX_UNIQUE,
    Baseline,
    CategoricalProfile,
    NumericProfile,
    cell_bounds,
    cell_offsets,
    compute_baseline,
    default_workers,
    profile_numeric,
    recorded_bins,
)
from infra.runtime.drift.config import (
    NUMERIC_ONLY_METHODS,
    P_VALUE_METHODS,
    BaselineOptions,
    DriftConfig,
    Method,
    default_method,
    is_drift,
)
from infra.runtime.drift.dataset import CsvDialect
from infra.runtime.drift.report import (
    STATISTIC_OF,
    DriftReport,
    FeatureResult,
    Finding,
    FindingKind,
    Severity,
    Status,
)
from infra.runtime.drift.roles import Role

if TYPE_CHECKING:
    import pyarrow as pa

    from infra.runtime.drift.arrays import Column, Columns

    Batch: TypeAlias = pa.RecordBatch | pa.Table | Columns
    """An Arrow record batch or table, or in-memory columns by name (numpy arrays)."""

SORT_BLOCK = 8192  # values sorted at once: small enough to stay in cache, large enough to amortise calls
LOOKUP_BUCKETS_PER_EDGE = 4
LOOKUP_MAX_EDGES = 16
PARALLEL_MIN_VALUES = 200_000  # smaller batches are counted on the calling thread
MAX_NEW_CATEGORIES = 1000  # distinct unseen categories tracked one by one; more are counted together
OTHER = "\x00other"  # bucket of reference categories beyond max_categories (sorts before any text)
NEW_OTHER = "\x00new"  # unseen categories beyond MAX_NEW_CATEGORIES


def _lookup_table(edges: npt.NDArray[np.float64]) -> tuple[float, float, npt.NDArray[np.intp]] | None:
    """Uniform buckets over [e_0, e_m], each mapped to the first edge at or above its start.

    None when some bucket holds more than LOOKUP_MAX_EDGES edges (a grid squeezed by far outliers): such
    features are counted by sorting blocks instead.
    """
    if edges.size < 2:
        return None
    low, high = float(edges[0]), float(edges[-1])
    buckets = LOOKUP_BUCKETS_PER_EDGE * edges.size
    scale = buckets / (high - low)
    if not np.isfinite(scale) or scale <= 0:
        return None
    table = np.searchsorted(edges, low + np.arange(buckets) / scale, side="left")
    if int(np.diff(np.append(table, edges.size)).max()) > LOOKUP_MAX_EDGES:
        return None
    return low, scale, table


_NARROW_FLOATS: dict[str, type[np.floating[Any]]] = {"float": np.float32, "halffloat": np.float16}


def _coarser(a: type[np.floating[Any]] | None, b: type[np.floating[Any]] | None) -> type[np.floating[Any]] | None:
    """The less precise of two float types (None: float64 or integers, exact for the comparison)."""
    if a is None or b is None:
        return a or b
    return a if np.dtype(a).itemsize <= np.dtype(b).itemsize else b


def _family(dtype: str) -> str:
    """Coarse type family of an Arrow type name, to tell a real type change from int64 vs double."""
    if dtype.startswith(("int", "uint", "float", "double", "halffloat", "decimal")):
        return "number"
    if dtype.startswith(("string", "large_string", "string_view", "dictionary")):
        return "text"
    return dtype


class _Feature:
    """Counts of one feature over the stream."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.seen_rows = 0  # rows of batches that had this column
        self.absent_rows = 0  # rows of batches without it
        self.missing = 0
        self.types: set[str] = set()

    def note_type(self, dtype: object, baseline_dtype: str, typed: bool) -> None:
        """Record a type (an Arrow type or its name) of another family than the reference's."""
        if typed and _family(str(dtype)) != _family(baseline_dtype):
            self.types.add(str(dtype))

    def as_arrow(self, column: npt.NDArray[Any], baseline_dtype: str) -> pa.Array | None:
        """A numpy column that is not numbers, as Arrow; None (a type change is noted) if Arrow cannot hold it."""
        try:
            return arrays.to_arrow(column)
        except arrays.arrow_errors():
            self.note_type(column.dtype, baseline_dtype, True)
            return None


class _NumericFeature(_Feature):
    def __init__(self, name: str, profile: NumericProfile) -> None:
        super().__init__(name)
        self.profile = profile
        self.edges = np.asarray(profile.edges, dtype=np.float64)
        self.edges_ext = np.append(self.edges, np.inf)
        self.cells = np.zeros(2 * self.edges.size + 1, dtype=np.int64)
        self.n = 0
        self.non_finite = 0
        self.unparseable = 0
        self.shift = profile.mean  # moments are accumulated around the reference mean (less cancellation)
        self.s1 = 0.0
        self.s2 = 0.0
        self.low = math.inf
        self.high = -math.inf
        self.anchors = stats.cell_anchors(self.edges)
        self.offsets = np.zeros(self.cells.size)  # per cell: sum(value - anchor), see stats.wasserstein
        self.lookup = _lookup_table(self.edges)
        # Value-binned features (few distinct reference values) also count each value against the reference
        # values at the precision of the less precise of the two types, so float32 copies of float64 values
        # are the same values (last slot: any other value). KS and Wasserstein still use the exact values.
        self.precision = _NARROW_FLOATS.get(profile.dtype)
        self.value_counts = np.zeros(self.edges.size + 1, dtype=np.int64) if profile.binning == "values" else None

    def add(self, column: Column, typed: bool) -> None:
        if isinstance(column, np.ndarray):
            name = arrays.numeric_type_name(column.dtype)
            if name is not None:  # numbers: counted as they are (float64 is not copied)
                self.note_type(name, self.profile.dtype, typed)
                self.add_values(column.astype(np.float64, copy=False), _NARROW_FLOATS.get(name))
                return
            converted = self.as_arrow(column, self.profile.dtype)
            if converted is None:
                self.unparseable += column.size
                self.add_values(np.full(column.size, np.nan))
                return
            column = converted
        import pyarrow as pa

        from infra.runtime.drift import io

        t = column.type
        if pa.types.is_dictionary(t):
            column = column.dictionary_decode()
            t = column.type
        precision = None
        if io.is_number(t) or pa.types.is_boolean(t):
            if pa.types.is_boolean(t):
                self.note_type(t, self.profile.dtype, typed)
            values = io.to_float64(column)
            precision = _NARROW_FLOATS.get(str(t))
        elif io.is_string(t):
            self.note_type(t, self.profile.dtype, typed)
            values, bad = io.parse_numbers(column)
            self.unparseable += bad
        else:
            if not pa.types.is_null(t):
                self.note_type(t, self.profile.dtype, True)
                self.unparseable += len(column) - column.null_count
            values = np.full(len(column), np.nan)
        self.add_values(values, precision)

    def add_values(self, values: npt.NDArray[np.float64], precision: type[np.floating[Any]] | None = None) -> None:
        """Count float64 values; `precision` is the float type they were stored in when narrower (float32)."""
        finite = np.isfinite(values)
        if not finite.all():
            nan = int(np.isnan(values).sum())
            self.missing += nan
            self.non_finite += int(values.size - finite.sum()) - nan
            values = values[finite]
        if values.size == 0:
            return
        if self.value_counts is not None:
            self._count_values(values, _coarser(self.precision, precision))
        if self.lookup is not None:
            self._count_by_lookup(values, *self.lookup)
        else:
            for start in range(0, values.size, SORT_BLOCK):
                self._count_sorted(np.sort(values[start : start + SORT_BLOCK]))
        d = values - self.shift
        self.s1 += float(d.sum())
        self.s2 += float(np.sum(d * d))  # not d @ d: BLAS threads spin on a busy machine
        self.low = min(self.low, float(values.min()))
        self.high = max(self.high, float(values.max()))
        self.n += int(values.size)

    def _count_values(self, x: npt.NDArray[np.float64], precision: type[np.floating[Any]] | None) -> None:
        edges = self.edges
        if precision is not None:
            edges, x = edges.astype(precision), x.astype(precision)
        idx = np.minimum(np.searchsorted(edges, x), edges.size - 1)
        slot = np.where(edges[idx] == x, idx, edges.size)
        assert self.value_counts is not None
        self.value_counts += np.bincount(slot, minlength=edges.size + 1)

    def _count_by_lookup(
        self, x: npt.NDArray[np.float64], low: float, scale: float, table: npt.NDArray[np.intp]
    ) -> None:
        """Cell of each value in O(1): a uniform bucket gives the first edge at or above the bucket's start,
        then a few vectorised steps (at most LOOKUP_MAX_EDGES) move to the first edge >= the value."""
        e, ext = self.edges, self.edges_ext
        bucket = ((x - low) * scale).astype(np.intp)
        np.clip(bucket, 0, table.size - 1, out=bucket)
        idx = table[bucket]
        behind = np.flatnonzero(ext[idx] < x)  # an edge below the value: step up
        while behind.size:
            idx[behind] += 1
            behind = behind[ext[idx[behind]] < x[behind]]
        ahead = np.flatnonzero((idx > 0) & (e[np.maximum(idx - 1, 0)] >= x))  # rounding at a bucket start
        while ahead.size:
            idx[ahead] -= 1
            ahead = ahead[(idx[ahead] > 0) & (e[np.maximum(idx[ahead] - 1, 0)] >= x[ahead])]
        cell = 2 * idx + (ext[idx] == x)
        self.cells += np.bincount(cell, minlength=self.cells.size)
        self.offsets += np.bincount(cell, weights=x - self.anchors[cell], minlength=self.cells.size)

    def _count_sorted(self, s: npt.NDArray[np.float64]) -> None:
        e = self.edges
        if e.size * 4 <= s.size:
            # Few edges: search the edges in the sorted block; the values of a cell are a contiguous run of
            # the block, so their sum is a difference of prefix sums.
            bounds = cell_bounds(s, e)
            self.cells += np.diff(bounds)
            self.offsets += cell_offsets(s, e, bounds)
        else:
            # A grid larger than the block: search each value in the edges instead.
            idx = np.searchsorted(e, s, side="left")
            cell = 2 * idx + (self.edges_ext[idx] == s)
            self.cells += np.bincount(cell, minlength=self.cells.size)
            self.offsets += np.bincount(cell, weights=s - self.anchors[cell], minlength=self.cells.size)

    def summary(self) -> dict[str, float | int | str]:
        if self.n == 0:
            return {}
        m1 = self.s1 / self.n
        var = max(self.s2 / self.n - m1 * m1, 0.0)
        return {"mean": self.shift + m1, "std": math.sqrt(var), "min": self.low, "max": self.high}


class _CategoricalFeature(_Feature):
    def __init__(self, name: str, profile: CategoricalProfile, *, boolean: bool = False) -> None:
        super().__init__(name)
        self.profile = profile
        self.boolean = boolean  # values compared as true / false whatever their spelling (io.category_strings)
        self.counts: dict[str, int] = {}
        self.n = 0

    def add(self, column: Column, typed: bool) -> None:
        if isinstance(column, np.ndarray):
            converted = self.as_arrow(column, self.profile.dtype)
            if converted is None:
                self.missing += column.size
                return
            column = converted
        import pyarrow as pa

        from infra.runtime.drift import io

        t = column.type
        if not io.is_string(t) or self.boolean:
            if not io.is_string(t):
                self.note_type(t, self.profile.dtype, typed)
            if pa.types.is_null(t):
                self.missing += len(column)
                return
            try:
                column = io.category_strings(column, boolean=self.boolean)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                self.note_type(t, self.profile.dtype, True)
                self.missing += len(column)
                return
        self.missing += column.null_count
        for key, count in io.value_counts(column).items():
            self.counts[key] = self.counts.get(key, 0) + count
            self.n += count
        self._bound_new()

    def _bound_new(self) -> None:
        """Keep at most MAX_NEW_CATEGORIES unseen categories by name; fold the rarest into NEW_OTHER."""
        known = self.profile.categories
        new = [(c, k) for k, c in self.counts.items() if k not in known and k != NEW_OTHER]
        if len(new) <= MAX_NEW_CATEGORIES:
            return
        new.sort(reverse=True)
        for count, key in new[MAX_NEW_CATEGORIES:]:
            del self.counts[key]
            self.counts[NEW_OTHER] = self.counts.get(NEW_OTHER, 0) + count

    def summary(self) -> dict[str, float | int | str]:
        """Shares of the five most frequent current categories (the bucket of unnamed new ones is a finding)."""
        named = [(k, v) for k, v in self.counts.items() if k != NEW_OTHER]
        top = sorted(named, key=lambda kv: (-kv[1], kv[0]))[:5]
        return {f"share[{k}]": v / self.n for k, v in top if self.n}


def _binned_stats(reference: npt.NDArray[np.int64], current: npt.NDArray[np.int64], method: Method) -> dict[str, float]:
    """PSI and Jensen-Shannon always; a p-value test (chi-square, Z) only when it is the feature's test."""
    out = {"psi": stats.psi(reference, current), "jensenshannon": stats.jensenshannon(reference, current)}
    if method is Method.CHISQUARE:
        out["chisquare_p_value"] = stats.chisquare_pvalue(reference, current)
    elif method is Method.Z:
        out["z_p_value"] = stats.z_test_pvalue(reference, current)
    return out


class DriftMonitor:
    """Streams batches against a baseline, then reports.

    monitor = DriftMonitor(baseline, config)
    for batch in batches: monitor.update(batch)       # or monitor.add_file(path)
    report = monitor.report()
    """

    def __init__(
        self,
        baseline: Baseline,
        config: DriftConfig | None = None,
        *,
        workers: int | None = None,
        dialect: CsvDialect | None = None,
    ) -> None:
        """`dialect`: how CSV files given to `add_file` are written (the dataset schema's `csv`)."""
        self.baseline = baseline
        self.config = config or DriftConfig()
        self.dialect = dialect or CsvDialect()
        self.workers = default_workers() if workers is None else max(1, workers)
        self.rows = 0
        self.sources: list[str] = []
        self.findings: list[Finding] = []
        self.current_columns: dict[str, None] = {}
        self.extra_columns: dict[str, None] = {}
        self.duplicates: dict[str, None] = {}
        self.declared: dict[str, str] = {}  # features not tested because the config declares an untested role
        self.features: dict[str, _NumericFeature | _CategoricalFeature] = {}
        declared_roles = self.config.roles()
        for name, profile in baseline.features.items():
            if name in self.config.ignore:
                continue
            role, declared = baseline.role_of(name), declared_roles.get(name)
            if declared in UNTESTED_ROLES:
                self.declared[name] = f"declared {declared} in the drift config: not tested"
                continue
            if declared is not None and declared is not role:
                self.findings.append(
                    Finding(
                        kind=FindingKind.INVALID_CONFIG,
                        severity=Severity.WARNING,
                        feature=name,
                        message=f"role {declared} is declared but the baseline profiled the column as {role}: "
                        "the declared role takes effect with the next baseline",
                    )
                )
            if isinstance(profile, NumericProfile):
                self.features[name] = _NumericFeature(name, profile)
            else:
                self.features[name] = _CategoricalFeature(name, profile, boolean=role is Role.BOOLEAN)
        for name in self.config.features:
            if name not in baseline.features:
                self.findings.append(
                    Finding(
                        kind=FindingKind.INVALID_CONFIG,
                        severity=Severity.WARNING,
                        feature=name,
                        message="the config names a feature that is not in the baseline",
                    )
                )

    def update(self, batch: Batch, *, typed: bool = True) -> None:
        """Add one batch: an Arrow record batch or table, or in-memory columns by name (numpy arrays of one
        length; slice large ones with `array_batches`). `typed=False` for text sources (CSV), whose columns
        are parsed, not type-checked."""
        names: list[str]
        columns: list[Any]
        if isinstance(batch, Mapping):
            checked, rows = arrays.as_columns(batch)
            names, columns = list(checked), list(checked.values())
        else:
            names, rows, columns = list(batch.schema.names), batch.num_rows, batch.columns
        position = self.note_columns(names)
        work: list[tuple[_NumericFeature | _CategoricalFeature, Column]] = []
        for name, feature in self.features.items():
            if name not in position:
                feature.absent_rows += rows
                feature.missing += rows
                continue
            feature.seen_rows += rows
            column = columns[position[name]]
            chunks = column.chunks if arrays.is_chunked(column) else [column]
            work.extend((feature, chunk) for chunk in chunks)
        self.rows += rows
        if self.workers > 1 and rows * len(work) >= PARALLEL_MIN_VALUES:
            # Features are independent and numpy / Arrow release the GIL while sorting and counting; each
            # feature appears once per batch, so no two threads touch the same counts.
            with ThreadPoolExecutor(self.workers) as pool:
                for _ in pool.map(lambda item: item[0].add(item[1], typed), work):
                    pass
        else:
            for feature, chunk in work:
                feature.add(chunk, typed)

    def note_columns(self, names: list[str]) -> dict[str, int]:
        """Record the current data's column names (extra and duplicated ones are findings); returns the
        position of each name's first occurrence."""
        position: dict[str, int] = {}
        for i, name in enumerate(names):
            if name in position:
                self.duplicates[name] = None
                continue
            position[name] = i
            self.current_columns[name] = None
            known = name in self.baseline.features or name in self.baseline.skipped or name in self.baseline.roles
            if not known and name not in self.config.ignore:
                self.extra_columns[name] = None
        return position

    def add_batches(self, batches: Iterable[Batch], *, typed: bool = True) -> None:
        for batch in batches:
            self.update(batch, typed=typed)

    def add_columns(self, columns: Columns, *, batch_rows: int = BATCH_ROWS) -> None:
        """Add in-memory columns by name (numpy arrays), in slices of `batch_rows` rows (views, no copies)."""
        self.add_batches(array_batches(columns, batch_rows))

    def add_file(self, path: Path, *, label: str | None = None, batch_rows: int = BATCH_ROWS) -> None:
        """Stream a data file (io.TabularFile, CSV in the monitor's dialect). A file that cannot be read, or
        stops part-way, and records with the wrong number of fields become findings, never exceptions."""
        from infra.runtime.drift import io

        name = label or str(path)
        self.sources.append(name)
        before = self.rows
        source: io.TabularFile | None = None
        try:
            source = io.open_file(path, self.dialect, batch_rows=batch_rows)
            if not source.names:
                self.add_finding(FindingKind.UNREADABLE_SOURCE, Severity.ERROR, f"{name}: empty file (no header row)")
                return
            self.note_columns(source.names)
            for batch in source.batches():
                self.update(batch, typed=source.typed)
        except io.UnreadableFile as exc:
            read = self.rows - before
            kept = f"; the {read} rows read before the error are kept" if read else ""
            self.add_finding(FindingKind.UNREADABLE_SOURCE, Severity.ERROR, f"{name}: {exc.reason}{kept}")
        finally:
            if source is not None and source.malformed_rows:
                self.findings.append(
                    Finding(
                        kind=FindingKind.MALFORMED_ROWS,
                        severity=Severity.ERROR,
                        message=f"{name}: {source.malformed_rows} records left out: "
                        + "; ".join(source.malformed_examples),
                        count=source.malformed_rows,
                    )
                )

    def add_finding(self, kind: FindingKind, severity: Severity, message: str, feature: str | None = None) -> None:
        self.findings.append(Finding(kind=kind, severity=severity, feature=feature, message=message))

    # Reporting ----------------------------------------------------------------------------------------------

    def _method(self, name: str, profile: NumericProfile | CategoricalProfile, findings: list[Finding]) -> Method:
        chosen = self.config.method_for(name)
        fallback = default_method(profile.kind, profile.n, profile.n_unique)
        if chosen is None:
            return fallback
        if profile.kind == "categorical" and chosen in NUMERIC_ONLY_METHODS:
            findings.append(
                Finding(
                    kind=FindingKind.INVALID_CONFIG,
                    severity=Severity.WARNING,
                    feature=name,
                    message=f"method {chosen.value} needs a numeric feature; using {fallback.value}",
                )
            )
            return fallback
        return chosen

    def _quality(self, feature: _NumericFeature | _CategoricalFeature) -> list[Finding]:
        out: list[Finding] = []
        name, profile = feature.name, feature.profile

        def add(
            kind: FindingKind, severity: Severity, message: str, count: int | None = None, share: float | None = None
        ) -> None:
            out.append(Finding(kind=kind, severity=severity, feature=name, message=message, count=count, share=share))

        if feature.types:
            add(
                FindingKind.TYPE_CHANGED,
                Severity.WARNING,
                f"type {', '.join(sorted(feature.types))} where the reference had {profile.dtype}",
            )
        total = feature.seen_rows + feature.absent_rows
        missing = feature.missing + (feature.non_finite if isinstance(feature, _NumericFeature) else 0)
        if total and feature.seen_rows:
            rate = missing / total
            ref_rate = profile.missing / max(profile.n + profile.missing, 1)
            if missing and (rate > ref_rate + self.config.missing_rate_tolerance or profile.missing == 0):
                where = f" (absent from batches with {feature.absent_rows} rows)" if feature.absent_rows else ""
                add(
                    FindingKind.MISSING_VALUES,
                    Severity.WARNING,
                    f"missing rate {rate:.2%} vs {ref_rate:.2%} in the reference{where}",
                    missing,
                )
        if isinstance(feature, _NumericFeature):
            if feature.non_finite:
                add(FindingKind.NON_FINITE, Severity.WARNING, "infinite values (left out)", feature.non_finite)
            if feature.unparseable:
                add(
                    FindingKind.UNPARSEABLE,
                    Severity.ERROR,
                    "values that are not numbers",
                    feature.unparseable,
                )
            p = feature.profile
            if feature.value_counts is not None and feature.n:
                unseen = int(feature.value_counts[-1])
                if unseen:
                    add(
                        FindingKind.NEW_CATEGORIES,
                        Severity.WARNING,
                        f"{unseen / feature.n:.2%} of values are not among the {p.n_unique} reference values",
                        unseen,
                        unseen / feature.n,
                    )
        elif feature.profile.other == 0:
            new = {k: c for k, c in feature.counts.items() if k not in feature.profile.categories}
            if new:
                rows = sum(new.values())
                examples = ", ".join(repr(k) for k, _ in sorted(new.items(), key=lambda kv: -kv[1])[:5])
                add(
                    FindingKind.NEW_CATEGORIES,
                    Severity.WARNING,
                    f"{len(new)} categories not in the reference ({rows / max(feature.n, 1):.2%} of rows): "
                    f"{examples}".replace(repr(NEW_OTHER), "(more)"),
                    rows,
                    rows / max(feature.n, 1),
                )
        return out

    def _numeric_stats(self, f: _NumericFeature, method: Method) -> tuple[dict[str, float], dict[str, float]]:
        p = f.profile
        ref_cells = np.asarray(p.counts, dtype=np.int64)
        bins = np.asarray(p.bin_edges, dtype=np.float64)
        ref_bins = np.asarray(p.bin_counts, dtype=np.int64)
        counted = f.value_counts
        cur_bins = counted if counted is not None else recorded_bins(f.cells, f.edges, p.binning, bins)
        if p.binning == "values":  # like value counts: only values present in either sample
            keep = (ref_bins + cur_bins) > 0
            ref_bins, cur_bins = ref_bins[keep], cur_bins[keep]
        out = _binned_stats(ref_bins, cur_bins, method)
        d, d_err = stats.ks_statistic(ref_cells, f.cells)
        out["ks_statistic"] = d
        if method is Method.KS:  # the KS distribution costs ~50 ms per feature at 100k rows: only if used
            out["ks_p_value"] = stats.ks_pvalue(d, p.n, f.n)
        w, w_err = stats.wasserstein(f.edges, ref_cells, p.offsets, f.cells, f.offsets)
        norm = max(p.std, 0.001)
        out["wasserstein"] = w / norm
        return out, {"ks_statistic": d_err, "wasserstein": w_err / norm}

    def _categorical_stats(self, f: _CategoricalFeature, method: Method) -> dict[str, float]:
        p = f.profile
        ref: dict[str, int] = dict(p.categories)
        cur: dict[str, int] = {}
        if p.other:
            ref[OTHER] = p.other
        for key, count in f.counts.items():
            target = key if (key in p.categories or not p.other) else OTHER
            cur[target] = cur.get(target, 0) + count
        keys = sorted(set(ref) | set(cur))
        r = np.array([ref.get(k, 0) for k in keys], dtype=np.int64)
        c = np.array([cur.get(k, 0) for k in keys], dtype=np.int64)
        return _binned_stats(r, c, method)

    def report(self) -> DriftReport:
        """Statistics, corrections, the dataset rule and findings for everything streamed so far. Every column
        of the reference and of the current data gets a result: tested, or not evaluated with the reasons."""
        findings = list(self.findings)
        if self.rows == 0 and not any(f.kind is FindingKind.EMPTY_BATCH for f in findings):
            findings.append(
                Finding(kind=FindingKind.EMPTY_BATCH, severity=Severity.ERROR, message="no rows to compare")
            )
        for name in self.extra_columns:
            findings.append(
                Finding(
                    kind=FindingKind.EXTRA_COLUMN,
                    severity=Severity.INFO,
                    feature=name,
                    message="column not in the baseline (ignored)",
                )
            )
        for name in self.duplicates:
            findings.append(
                Finding(
                    kind=FindingKind.DUPLICATE_COLUMN,
                    severity=Severity.WARNING,
                    feature=name,
                    message="column appears more than once; the first one is used",
                )
            )
        results: list[FeatureResult] = []
        for name in [*self.baseline.column_names(), *self.extra_columns]:
            result = FeatureResult(feature=name, role=self.baseline.role_of(name))
            results.append(result)
            f = self.features.get(name)
            if f is None:
                result.reasons.append(self._untested_reason(name))
                if name in self.baseline.skipped or name in self.declared:
                    findings.append(
                        Finding(
                            kind=FindingKind.NOT_TESTED,
                            severity=Severity.INFO,
                            feature=name,
                            message=result.reasons[0],
                        )
                    )
                continue
            p = f.profile
            result.kind, result.n_reference = p.kind, p.n
            result.n_current, result.missing_current = f.n, f.missing
            if self.rows == 0:
                result.reasons.append("no rows in the current data")
                continue
            if f.seen_rows == 0:
                result.reasons.append("column missing from the current data")
                findings.append(
                    Finding(
                        kind=FindingKind.MISSING_COLUMN,
                        severity=Severity.ERROR,
                        feature=name,
                        message="column missing from the current data",
                    )
                )
                continue
            findings.extend(self._quality(f))
            if f.n == 0:
                result.reasons.append("no usable values in the current data")
                findings.append(
                    Finding(
                        kind=FindingKind.ALL_MISSING,
                        severity=Severity.ERROR,
                        feature=name,
                        message="no usable values in the current data",
                    )
                )
                continue
            method = self._method(name, p, findings)
            if isinstance(f, _NumericFeature):
                values, bounds = self._numeric_stats(f, method)
                result.error_bounds = bounds
            else:
                values = self._categorical_stats(f, method)
            result.stats = values
            result.tested = True
            result.method = method
            result.statistic = STATISTIC_OF[method]
            result.value = values[result.statistic]
            result.threshold = self.config.threshold_for(name, method)
            result.current = f.summary()
        self._decide(results)
        tested = [r for r in results if r.tested]
        drifted = sum(r.drift for r in tested)
        share = drifted / len(tested) if tested else 0.0
        dataset_drift = bool(tested) and share >= self.config.drift_share
        reasons: list[str] = []
        if not tested:
            reasons.append("no rows in the current data" if self.rows == 0 else "no feature could be tested")
        return DriftReport(
            model_name=self.baseline.model_name,
            model_version=self.baseline.model_version,
            sources=list(self.sources),
            rows=self.rows,
            n_features=len(results),
            n_tested=len(tested),
            n_drifted=drifted,
            drift_share=share,
            drift_share_threshold=self.config.drift_share,
            dataset_drift=dataset_drift,
            status=Status.NOT_EVALUATED if not tested else Status.DRIFT if dataset_drift else Status.NO_DRIFT,
            reasons=reasons,
            correction=self.config.correction,
            features=results,
            findings=findings,
        )

    def _untested_reason(self, name: str) -> str:
        """Why a column without a streaming feature is not tested."""
        if name in self.config.ignore:
            return "ignored by the drift config"
        if name in self.declared:
            return self.declared[name]
        if name in self.baseline.skipped:
            return self.baseline.skipped[name]
        return "not in the reference data (no baseline for it)"

    def _decide(self, results: list[FeatureResult]) -> None:
        """Per-feature verdicts; p-value tests are adjusted together across features."""
        p_tests = [r for r in results if r.tested and r.method in P_VALUE_METHODS]
        adjusted = stats.adjust_pvalues([r.value or 0.0 for r in p_tests], self.config.correction)
        for r, adj in zip(p_tests, adjusted, strict=True):
            r.adjusted_p_value = float(adj)
        for r in results:
            if r.tested and r.method is not None and r.value is not None and r.threshold is not None:
                value = r.adjusted_p_value if r.adjusted_p_value is not None else r.value
                r.drift = is_drift(r.method, value, r.threshold)
                r.status = Status.DRIFT if r.drift else Status.NO_DRIFT


# Entry points -----------------------------------------------------------------------------------------------


def compare(
    baseline: Baseline,
    batches: Iterable[Batch],
    config: DriftConfig | None = None,
    *,
    typed: bool = True,
    workers: int | None = None,
) -> DriftReport:
    """One streaming pass of batches (Arrow record batches, or numpy columns by name: `array_batches`)."""
    monitor = DriftMonitor(baseline, config, workers=workers)
    monitor.add_batches(batches, typed=typed)
    return monitor.report()


def compare_files(
    baseline: Baseline, paths: Iterable[Path], config: DriftConfig | None = None, *, dialect: CsvDialect | None = None
) -> DriftReport:
    """One streaming pass over CSV / Parquet files (io.TabularFile, CSV in `dialect`) against a baseline."""
    monitor = DriftMonitor(baseline, config, dialect=dialect)
    for path in paths:
        monitor.add_file(path)
    return monitor.report()


def _numbers(column: Any) -> tuple[npt.NDArray[np.float64], bool] | None:
    """A numeric column's finite values as float64 and whether its type is an integer type; None if the column
    is not numeric (an Arrow column's kind, or a numpy dtype that is not integer or floating-point)."""
    if isinstance(column, np.ndarray):
        if arrays.numeric_type_name(column.dtype) is None:
            return None
        values, integer = column.astype(np.float64, copy=False), column.dtype.kind in "iu"
    else:
        import pyarrow as pa

        from infra.runtime.drift import io

        if not io.is_number(column.type):
            return None
        values, integer = io.to_float64(column), bool(pa.types.is_integer(column.type))
    return values[np.isfinite(values)], integer


def _named_columns(data: pa.Table | Columns) -> dict[str, Any]:
    if arrays.is_arrow_table(data):
        return dict(zip(data.column_names, data.columns, strict=True))  # type: ignore[union-attr]
    return dict(arrays.as_columns(data)[0])  # type: ignore[arg-type]


def evidently_baseline(
    reference: pa.Table | Columns,
    current: pa.Table | Columns,
    *,
    options: BaselineOptions | None = None,
    exact: bool = True,
    declared: Mapping[str, Role] | None = None,
) -> Baseline:
    """A baseline binned the way Evidently 0.7 bins this reference/current pair (both must fit in memory:
    Arrow tables or numpy columns by name).

    Numeric features with > 20 distinct reference values get Sturges edges over reference + current combined
    as recorded bins (np.histogram_bin_edges(..., "sturges")); others are binned by value over both samples.
    With `exact` the fine grid is every distinct value of both samples, so KS and Wasserstein are exact too.
    """
    opts = options or BaselineOptions()
    base = compute_baseline(reference, options=opts, declared=declared)
    ref_columns, cur_columns = _named_columns(reference), _named_columns(current)
    for name, profile in list(base.features.items()):
        if not isinstance(profile, NumericProfile) or name not in cur_columns:
            continue
        cur = _numbers(cur_columns[name])
        ref = _numbers(ref_columns[name])
        if cur is None or ref is None:
            continue
        (r, ref_integer), (c, cur_integer) = ref, cur
        both = np.concatenate([r, c])
        values = np.unique(both)
        bins: npt.NDArray[np.float64] | None = None
        if profile.n_unique > VALUE_BINNING_MAX_UNIQUE and both.size:
            bins = stats.sturges_edges(both.min(), both.max(), both.size, integer=ref_integer and cur_integer)
        extra = values if bins is None else bins
        edges = np.union1d(values if exact else np.asarray(profile.edges, dtype=np.float64), extra)
        base.features[name] = profile_numeric(
            r, dtype=profile.dtype, missing=profile.missing, options=opts, edges=edges, bin_edges=bins
        )
    return base


def compare_in_memory(
    reference: pa.Table | Columns,
    current: pa.Table | Columns,
    config: DriftConfig | None = None,
    *,
    binning: Literal["recorded", "evidently"] = "recorded",
    model_name: str = "",
    model_version: str = "",
    batch_rows: int = BATCH_ROWS,
    workers: int | None = None,
) -> DriftReport:
    """Profile `reference`, then stream `current` in batches of `batch_rows`. `evidently` reproduces
    Evidently's bins. Both are Arrow tables or in-memory numpy columns by name (compared without pyarrow when
    numeric): the same data gives the same report either way."""
    cfg = config or DriftConfig()
    if binning == "evidently":
        baseline = evidently_baseline(reference, current, options=cfg.baseline, declared=cfg.roles())
    else:
        baseline = compute_baseline(reference, options=cfg.baseline, workers=workers, declared=cfg.roles())
    baseline.model_name, baseline.model_version = model_name, model_version
    if arrays.is_arrow_table(current):
        batches: Iterable[Batch] = current.to_batches(max_chunksize=batch_rows)  # type: ignore[union-attr]
    else:
        batches = array_batches(current, batch_rows)  # type: ignore[arg-type]
    return compare(baseline, batches, cfg, workers=workers)
