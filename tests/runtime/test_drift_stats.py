"""Drift statistics from counts against scipy / hand computation, on small data."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats as sps
from scipy.spatial import distance

from infra.runtime.drift import (
    BaselineOptions,
    DriftConfig,
    compare,
    compare_in_memory,
    compute_baseline,
    evidently_baseline,
)
from infra.runtime.drift import stats as ds
from infra.runtime.drift.baseline import cell_counts
from infra.runtime.drift.config import Correction


def _report(ref: np.ndarray, cur: np.ndarray, method: str = "ks", fine_bins: int = 2000, exact: bool = False):
    reference, current = pa.table({"x": ref}), pa.table({"x": cur})
    options = BaselineOptions(fine_bins=fine_bins)
    if exact:
        baseline = evidently_baseline(reference, current, options=options)
    else:
        baseline = compute_baseline(reference, options=options)
    report = compare(baseline, current.to_batches(max_chunksize=97), DriftConfig(method=method))
    return report.features[0]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ks_is_exact_when_the_reference_fits_the_grid(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ref = rng.normal(0, 1, 400)
    cur = np.concatenate([rng.normal(0.2, 1.1, 250), ref[:30]])  # ties with reference values too
    result = _report(ref, cur)
    expected = sps.ks_2samp(ref, cur)
    assert result.error_bounds["ks_statistic"] == 0.0
    assert result.stats["ks_statistic"] == pytest.approx(expected.statistic, abs=1e-12)
    assert result.stats["ks_p_value"] == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-15)


def test_ks_on_quantile_bins_is_within_its_reported_bound() -> None:
    rng = np.random.default_rng(3)
    ref, cur = rng.lognormal(0, 1, 20_000), rng.lognormal(0.05, 1, 15_000)
    result = _report(ref, cur, fine_bins=100)
    expected = sps.ks_2samp(ref, cur).statistic
    bound = result.error_bounds["ks_statistic"]
    assert 0 < bound <= 0.02  # about one reference cell (1/100) plus the current sample's mass in it
    assert result.stats["ks_statistic"] <= expected + 1e-12  # the value at cell ends is a lower bound
    assert expected <= result.stats["ks_statistic"] + bound + 1e-12


def test_ks_pvalue_matches_scipy_in_the_asymptotic_regime() -> None:
    rng = np.random.default_rng(4)
    ref, cur = rng.normal(0, 1, 12_000), rng.normal(0.02, 1, 11_000)
    expected = sps.ks_2samp(ref, cur)
    assert ds.ks_pvalue(float(expected.statistic), 12_000, 11_000) == pytest.approx(expected.pvalue, rel=1e-9)


@pytest.mark.parametrize("fine_bins", [50, 2000])
def test_wasserstein_within_bound_of_scipy(fine_bins: int) -> None:
    rng = np.random.default_rng(5)
    ref = rng.gamma(2.0, 2.0, 5000)
    cur = np.concatenate([rng.gamma(2.0, 2.3, 4000), [-3.0, 80.0]])  # beyond both ends of the reference
    result = _report(ref, cur, method="wasserstein", fine_bins=fine_bins)
    expected = sps.wasserstein_distance(ref, cur) / np.std(ref)
    bound = result.error_bounds["wasserstein"]
    error = abs(result.stats["wasserstein"] - expected)
    assert error <= bound + 1e-12
    # Per-cell value sums make it exact wherever the CDFs cannot cross, so even 50 bins are close.
    assert error < 1e-3
    if fine_bins == 2000:
        assert bound < 1e-3


def test_ks_and_wasserstein_exact_on_the_grid_of_both_samples() -> None:
    rng = np.random.default_rng(6)
    ref, cur = np.round(rng.normal(0, 1, 3000), 2), rng.normal(0.3, 1, 2000)
    for method in ("ks", "wasserstein"):
        result = _report(ref, cur, method=method, exact=True)
        assert result.error_bounds == {"ks_statistic": 0.0, "wasserstein": 0.0}
        assert result.stats["ks_statistic"] == pytest.approx(sps.ks_2samp(ref, cur).statistic, abs=1e-12)
        w = sps.wasserstein_distance(ref, cur) / np.std(ref)
        assert result.stats["wasserstein"] == pytest.approx(w, rel=1e-12)


def test_psi_by_hand_and_evidently_zero_fill() -> None:
    ref, cur = np.array([10, 20, 70]), np.array([20, 20, 60])
    r, c = ref / 100, cur / 100
    assert ds.psi(ref, cur) == pytest.approx(float(np.sum((r - c) * np.log(r / c))), rel=1e-15)
    # An empty bin gets 1e-4 (or min(non-zero) / 1e6 when that is <= 1e-4), without renormalising.
    filled = ds.percents_with_evidently_fill([0, 50, 50])
    np.testing.assert_array_equal(filled, [1e-4, 0.5, 0.5])
    tiny = ds.percents_with_evidently_fill([0, 1, 99_999])
    np.testing.assert_allclose(tiny, [1e-5 / 1e6, 1e-5, 0.99999])
    assert ds.psi([0, 50, 50], [10, 45, 45]) == pytest.approx(
        (1e-4 - 0.1) * np.log(1e-4 / 0.1) + 2 * (0.5 - 0.45) * np.log(0.5 / 0.45)
    )


def test_jensenshannon_matches_scipy() -> None:
    rng = np.random.default_rng(7)
    for _ in range(5):
        a, b = rng.integers(0, 50, 12), rng.integers(0, 50, 12)
        a[3] = 0  # empty bins are fine
        assert ds.jensenshannon(a, b) == pytest.approx(distance.jensenshannon(a / a.sum(), b / b.sum()), abs=1e-15)
    assert ds.jensenshannon([5, 5], [5, 5]) == 0.0


def test_chisquare_matches_chi2_contingency() -> None:
    rng = np.random.default_rng(8)
    for k in (2, 3, 7):
        ref, cur = rng.integers(1, 300, k), rng.integers(1, 300, k)
        expected = sps.chi2_contingency(np.vstack([ref, cur]), correction=False).pvalue
        assert ds.chisquare_pvalue(ref, cur) == pytest.approx(expected, rel=1e-10)
    # Categories absent from both rows are dropped rather than dividing by zero.
    with_empty = ds.chisquare_pvalue([10, 0, 30], [12, 0, 25])
    assert with_empty == pytest.approx(sps.chi2_contingency([[10, 30], [12, 25]], correction=False).pvalue)
    assert ds.chisquare_pvalue([10, 0], [12, 0]) == 1.0


def test_z_test_squared_is_the_2x2_chi_square() -> None:
    ref, cur = [120, 380], [160, 340]
    assert ds.z_test_pvalue(ref, cur) == pytest.approx(ds.chisquare_pvalue(ref, cur), rel=1e-10)
    assert ds.z_test_pvalue([50, 0], [40, 0]) == 1.0


def test_corrections() -> None:
    p = np.array([0.001, 0.01, 0.03, 0.04, 0.2])
    np.testing.assert_array_equal(ds.adjust_pvalues(p, Correction.NONE), p)
    np.testing.assert_allclose(ds.adjust_pvalues(p, Correction.BONFERRONI), np.minimum(p * 5, 1))
    rng = np.random.default_rng(9)
    for _ in range(5):
        q = rng.uniform(0, 0.2, 17)
        np.testing.assert_allclose(
            ds.adjust_pvalues(q, Correction.BENJAMINI_HOCHBERG), sps.false_discovery_control(q, method="bh")
        )


@pytest.mark.parametrize(
    "data",
    [
        np.random.default_rng(10).normal(size=1234),
        np.random.default_rng(11).integers(0, 7, 900),
        np.full(50, 3.0),
    ],
)
def test_sturges_edges_are_numpys(data: np.ndarray) -> None:
    expected = np.histogram_bin_edges(data, bins="sturges")
    integer = np.issubdtype(data.dtype, np.integer)
    got = ds.sturges_edges(data.min(), data.max(), data.size, integer=integer)
    np.testing.assert_array_equal(got, expected)


def test_cells_count_values_at_and_between_edges() -> None:
    edges = np.array([1.0, 2.0, 4.0])
    values = np.sort(np.array([0.5, 1.0, 1.0, 1.5, 2.0, 3.0, 4.0, 9.0]))
    # (-inf,1) {1} (1,2) {2} (2,4) {4} (4,inf)
    np.testing.assert_array_equal(cell_counts(values, edges), [1, 2, 1, 1, 1, 1, 1])


def _evidently_percents(counts: np.ndarray, n: int, fill: bool) -> np.ndarray:
    """evidently.legacy.calculations.stattests.utils.get_binned_data, transcribed."""
    p = counts / n
    if fill:
        low = p[p != 0].min()
        p = np.where(p == 0, low / 10**6 if low <= 0.0001 else 0.0001, p)
    return p


def test_evidently_binning_reproduces_its_psi_and_js() -> None:
    rng = np.random.default_rng(12)
    ref = {"x": rng.normal(0, 1, 5000), "k": rng.integers(0, 6, 5000).astype(float)}
    cur = {"x": rng.normal(0.3, 1.2, 3000), "k": rng.integers(1, 8, 3000).astype(float)}
    psi = compare_in_memory(pa.table(ref), pa.table(cur), DriftConfig(method="psi"), binning="evidently")
    js = compare_in_memory(pa.table(ref), pa.table(cur), DriftConfig(method="jensenshannon"), binning="evidently")
    # x: > 20 distinct values, Sturges edges over reference + current, np.histogram counts.
    edges = np.histogram_bin_edges(np.concatenate([ref["x"], cur["x"]]), bins="sturges")
    rc, cc = np.histogram(ref["x"], edges)[0], np.histogram(cur["x"], edges)[0]
    # k: few distinct values, counted by value over the values of both samples.
    keys = np.union1d(ref["k"], cur["k"])
    rk = np.array([(ref["k"] == v).sum() for v in keys])
    ck = np.array([(cur["k"] == v).sum() for v in keys])
    for name, r, c, n_r, n_c in (("x", rc, cc, 5000, 3000), ("k", rk, ck, 5000, 3000)):
        pr, pc_ = _evidently_percents(r, n_r, True), _evidently_percents(c, n_c, True)
        expected_psi = float(np.sum((pr - pc_) * np.log(pr / pc_)))
        expected_js = distance.jensenshannon(r / n_r, c / n_c)
        got_psi = next(f for f in psi.features if f.feature == name).value
        got_js = next(f for f in js.features if f.feature == name).value
        assert got_psi == pytest.approx(expected_psi, abs=1e-12), name
        assert got_js == pytest.approx(expected_js, abs=1e-12), name
