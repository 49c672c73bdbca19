"""Drift statistics computed from counts, so that one streaming pass is enough.

Numeric features are counted on a *cell* layout over sorted edges e_0 < ... < e_m (the baseline's fine grid):

    cell 0      = (-inf, e_0)            cell 2j+1 = {e_j}  (values equal to an edge)
    cell 2j     = (e_{j-1}, e_j), j>=1   cell 2m+2 = (e_m, +inf)

Counting values *at* edges separately keeps the reference CDF exact at every edge, so:

* KS is exact whenever one of the two samples has no mass strictly inside a cell. That holds when the fine edges
  are the distinct reference values (the reference has at most `fine_bins` + 1 distinct values, which includes
  every reference of <= 1000 rows, where KS is the default test) and when edges are the distinct values of both
  samples (`exact` edges, the equivalence benchmark). Otherwise the value at cell ends is a lower bound and
  `ks_statistic`'s second result bounds the error from above (at most the larger of the two samples' mass in
  one cell, i.e. about 1/fine_bins for quantile edges).
* Wasserstein-1 integrates |F_ref - F_cur| with both CDFs linear inside each open cell; the two outer cells
  are exact because the sums of current values beyond the reference range are tracked. The error bound per
  cell is computed from the range the two CDFs can take inside it (<= width * (p_ref + p_cur)).

Binned statistics (PSI, Jensen-Shannon, chi-square) take count vectors and reproduce Evidently 0.7 exactly
(PSI: percents = count / n, empty bins filled as Evidently does; JS: scipy's jensenshannon, natural log).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from scipy import stats
from scipy.spatial import distance

from infra.runtime.drift.config import Correction

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_exact_ks: Callable[..., tuple[bool, float, float]] | None
try:  # scipy's own exact two-sample KS distribution (what ks_2samp uses for n <= 10,000)
    from scipy.stats._stats_py import _attempt_exact_2kssamp as _exact_ks
except ImportError:  # pragma: no cover - a scipy without it falls back to the asymptotic distribution
    _exact_ks = None

KS_EXACT_MAX_N = 10_000  # scipy.stats.ks_2samp(method="auto") is exact up to this sample size


def percents_with_evidently_fill(counts: npt.ArrayLike) -> FloatArray:
    """count / n, then Evidently's fill for empty bins: 1e-4, or min(non-zero) / 1e6 when that is <= 1e-4.

    Not renormalised afterwards, exactly like evidently.legacy.calculations.stattests.utils.get_binned_data.
    """
    c = np.asarray(counts, dtype=np.float64)
    p = c / c.sum()
    nonzero = p[p != 0]
    if nonzero.size and nonzero.size < p.size:
        low = float(nonzero.min())
        p[p == 0] = low / 10**6 if low <= 0.0001 else 0.0001
    return p


def psi(reference_counts: npt.ArrayLike, current_counts: npt.ArrayLike) -> float:
    """Population stability index: sum((r - c) * ln(r / c)) over bins of the two percent vectors."""
    r = percents_with_evidently_fill(reference_counts)
    c = percents_with_evidently_fill(current_counts)
    return float(np.sum((r - c) * np.log(r / c)))


def jensenshannon(reference_counts: npt.ArrayLike, current_counts: npt.ArrayLike) -> float:
    """Jensen-Shannon distance (square root of the divergence, natural log), in [0, sqrt(ln 2)]."""
    r = np.asarray(reference_counts, dtype=np.float64)
    c = np.asarray(current_counts, dtype=np.float64)
    return float(distance.jensenshannon(r / r.sum(), c / c.sum()))


def chisquare_pvalue(reference_counts: npt.ArrayLike, current_counts: npt.ArrayLike) -> float:
    """Chi-square test of homogeneity on the 2 x k table (reference row, current row), no continuity correction.

    The reference is a sample too, so this treats both rows alike (scipy.stats.chi2_contingency). Evidently's
    `chisquare` is instead a goodness-of-fit of the current counts against reference frequencies; the two agree
    closely when the reference is much larger than the current batch.
    """
    table = np.vstack([np.asarray(reference_counts, np.float64), np.asarray(current_counts, np.float64)])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or np.any(table.sum(axis=1) == 0):
        return 1.0
    return float(stats.chi2_contingency(table, correction=False).pvalue)


def z_test_pvalue(reference_counts: npt.ArrayLike, current_counts: npt.ArrayLike) -> float:
    """Two-proportion pooled z-test of the share of the first category, two-sided (Evidently's `z`)."""
    r = np.asarray(reference_counts, dtype=np.float64)
    c = np.asarray(current_counts, dtype=np.float64)
    n1, n2 = r.sum(), c.sum()
    present = (r + c) > 0
    if present.sum() < 2:
        return 1.0
    first = int(np.argmax(present))
    p1, p2 = r[first] / n1, c[first] / n2
    pooled = (r[first] + c[first]) / (n1 + n2)
    z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    return float(2 * stats.norm.sf(abs(z)))


def ks_statistic(reference_cells: npt.ArrayLike, current_cells: npt.ArrayLike) -> tuple[float, float]:
    """Two-sample KS statistic D from cell counts, and an upper bound of its error (0 where exact)."""
    r = np.asarray(reference_cells, dtype=np.float64)
    c = np.asarray(current_cells, dtype=np.float64)
    fr = np.cumsum(r) / r.sum()
    fc = np.cumsum(c) / c.sum()
    d = float(np.max(np.abs(fr - fc)))
    # Inside an open cell where both samples have mass, the CDFs are only known to lie between their values at
    # the cell's ends, so |F_r - F_c| is at most the larger cross difference.
    k = np.arange(2, r.size - 1, 2)
    both = (r[k] > 0) & (c[k] > 0)
    if not np.any(both):
        return d, 0.0
    kb = k[both]
    upper = np.maximum(fr[kb] - fc[kb - 1], fc[kb] - fr[kb - 1])
    return d, float(max(0.0, float(upper.max()) - d))


def ks_pvalue(d: float, n1: int, n2: int) -> float:
    """p-value of the two-sided two-sample KS test, the way scipy.stats.ks_2samp(method="auto") computes it."""
    if d <= 0:
        return 1.0
    if max(n1, n2) <= KS_EXACT_MAX_N and _exact_ks is not None:
        with np.errstate(all="ignore"):
            ok, _, prob = _exact_ks(n1, n2, math.gcd(n1, n2), d, "two-sided")
        if ok:
            return float(np.clip(prob, 0.0, 1.0))
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = m * n / (m + n)
    return float(np.clip(stats.kstwo.sf(d, np.round(en)), 0.0, 1.0))


def _abs_linear_integral(d0: FloatArray, d1: FloatArray) -> FloatArray:
    """Integral over [0, 1] of |d0 + t (d1 - d0)|, elementwise."""
    a0, a1 = np.abs(d0), np.abs(d1)
    same_sign = d0 * d1 >= 0
    total = a0 + a1
    with np.errstate(divide="ignore", invalid="ignore"):
        crossing = np.where(total > 0, (d0 * d0 + d1 * d1) / (2 * total), 0.0)
    return np.where(same_sign, total / 2, crossing)


def wasserstein(
    edges: npt.ArrayLike,
    reference_cells: npt.ArrayLike,
    current_cells: npt.ArrayLike,
    current_below_sum: float,
    current_above_sum: float,
) -> tuple[float, float]:
    """Wasserstein-1 distance between the two samples and an upper bound of its error.

    `current_below_sum` = sum(e_0 - v) over current values v < e_0, `current_above_sum` = sum(v - e_m) over
    v > e_m. The reference has no mass outside [e_0, e_m] (e_0 and e_m are its min and max).
    """
    e = np.asarray(edges, dtype=np.float64)
    r = np.asarray(reference_cells, dtype=np.float64)
    c = np.asarray(current_cells, dtype=np.float64)
    n_c = c.sum()
    fr = np.cumsum(r) / r.sum()
    fc = np.cumsum(c) / n_c
    tails = (current_below_sum + current_above_sum) / n_c
    if e.size < 2:
        return float(tails), 0.0
    width = np.diff(e)
    k = np.arange(2, r.size - 1, 2)  # open cells between consecutive edges
    d0 = fr[k - 1] - fc[k - 1]
    d1 = fr[k] - fc[k]
    estimate = width * _abs_linear_integral(d0, d1)
    # Range of F_r - F_c inside the cell, from the CDFs' values at its ends.
    lo = fr[k - 1] - fc[k]
    hi = fr[k] - fc[k - 1]
    least = width * np.where((lo <= 0) & (hi >= 0), 0.0, np.minimum(np.abs(lo), np.abs(hi)))
    most = width * np.maximum(np.abs(lo), np.abs(hi))
    bound = np.maximum(estimate - least, most - estimate)
    return float(tails + estimate.sum()), float(bound.sum())


def sturges_edges(low: float, high: float, n: int, *, integer: bool = False) -> FloatArray:
    """np.histogram_bin_edges(data, bins="sturges") from the data's min, max and size only.

    Same arithmetic in the same order as numpy, so the edges are bit-identical; `integer` mirrors numpy's rule
    for integer data (bin width at least 1).
    """
    first, last = float(low), float(high)
    ptp = last - first
    if first == last:
        first, last = first - 0.5, last + 0.5
    width = ptp / (np.log2(n) + 1.0)
    if width:
        if integer and width < 1:
            width = 1.0
        bins = int(np.ceil((last - first) / width))
    else:
        bins = 1
    return np.linspace(first, last, bins + 1, endpoint=True)


def adjust_pvalues(p_values: npt.ArrayLike, correction: Correction) -> FloatArray:
    """Adjusted p-values for testing several features at once (compare them with the unadjusted threshold)."""
    p = np.asarray(p_values, dtype=np.float64)
    if p.size == 0 or correction is Correction.NONE:
        return p.copy()
    if correction is Correction.BONFERRONI:
        return np.minimum(p * p.size, 1.0)
    return np.asarray(stats.false_discovery_control(p, method="bh"), dtype=np.float64)
