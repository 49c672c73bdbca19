"""The always-valid bounds: the closed form, the boundary solver, and time-uniform error control."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, optimize, special, stats

from infra.runtime.abtest import sequential


def _mixture_by_quadrature(s: float, v: float, tau: float) -> float:
    """Half-normal mixture of exp(lambda S - lambda^2 v / 2), integrated numerically."""

    def integrand(lam: float) -> float:
        prior = 2.0 * stats.norm.pdf(lam, scale=tau)
        return math.exp(lam * s - lam * lam * v / 2.0) * prior

    value, _ = integrate.quad(integrand, 0.0, np.inf, limit=200)
    return float(value)


@pytest.mark.parametrize("variance", [1e-2, 1.9e-3, 2e-4, 3e-5])
@pytest.mark.parametrize("alpha", [0.05, 0.0125])
def test_boundary_is_where_the_mixture_martingale_reaches_one_over_alpha(variance: float, alpha: float) -> None:
    tau = 0.05
    half_width = float(sequential.mixture_boundary(variance, tau, alpha))
    v = 1.0 / variance
    s_star = half_width * v  # S = v * (theta - theta_hat) at the upper bound
    assert _mixture_by_quadrature(s_star, v, tau) == pytest.approx(1.0 / alpha, rel=1e-6)
    # Just inside the bound the martingale is below the threshold: the bound is the first crossing.
    assert _mixture_by_quadrature(0.98 * s_star, v, tau) < 1.0 / alpha


def test_vectorised_solver_matches_a_scalar_root_finder() -> None:
    variances = np.array([5e-2, 1e-3, 1e-4, 1e-6])
    tau, alpha = 0.03, 0.025
    got = sequential.mixture_boundary(variances, tau, alpha)
    for variance, width in zip(variances, got, strict=True):
        rhs = math.log(1 / alpha) - math.log(2) + 0.5 * math.log1p(tau * tau / variance)
        c = optimize.brentq(lambda x, r=rhs: 0.5 * x * x + stats.norm.logcdf(x) - r, 0.0, 50.0)
        assert width == pytest.approx(c * math.sqrt(variance) * math.sqrt(1 + variance / tau**2), rel=1e-9)


def test_bounds_are_wider_than_fixed_horizon_and_shrink_with_data() -> None:
    variances = np.array([1e-2, 1e-3, 1e-4, 1e-5])
    widths = sequential.mixture_boundary(variances, 0.05, 0.025)
    assert np.all(np.diff(widths) < 0)
    fixed = stats.norm.ppf(0.975) * np.sqrt(variances)
    assert np.all(widths > fixed)  # the price of being valid at every look


def test_log_lift_estimate_matches_delta_method_and_handles_zero_conversions() -> None:
    theta, var = sequential.log_lift_estimate(10_000, 500, 10_000, 450)
    assert float(theta) == pytest.approx(math.log(0.045 / 0.05))
    assert float(var) == pytest.approx(0.95 / 500 + 0.955 / 450)
    theta0, var0 = sequential.log_lift_estimate(10_000, 500, 10_000, 0)
    assert np.isfinite(theta0) and np.isfinite(var0) and float(theta0) < -5


@pytest.mark.parametrize(
    "args",
    [(0, 0, 10, 1), (10, 11, 10, 1), (10, 1, 10, -1)],
)
def test_log_lift_estimate_rejects_impossible_counts(args: tuple[int, int, int, int]) -> None:
    with pytest.raises(ValueError):
        sequential.log_lift_estimate(*args)


def test_parameters_are_checked() -> None:
    with pytest.raises(ValueError):
        sequential.mixture_boundary(1e-3, 0.05, 0.6)
    with pytest.raises(ValueError):
        sequential.mixture_boundary(1e-3, 0.0, 0.05)
    with pytest.raises(ValueError):
        sequential.log_ratio(-1.0)
    with pytest.raises(ValueError):
        sequential.log_lift_estimate(10, 1, 10, 1, variance_floor_ratio=1.0)


def test_variance_floor_only_binds_when_the_treatment_rate_collapses() -> None:
    plain = sequential.log_lift_estimate(10_000, 500, 10_000, 470)
    floored = sequential.log_lift_estimate(10_000, 500, 10_000, 470, variance_floor_ratio=0.9)
    assert floored == plain  # 0.94 of the control rate: above the floor
    _, var_plain = sequential.log_lift_estimate(10_000, 500, 10_000, 3)
    _, var_floor = sequential.log_lift_estimate(10_000, 500, 10_000, 3, variance_floor_ratio=0.9)
    assert float(var_floor) == pytest.approx(0.95 / 500 + (1 - 0.045) / (10_000 * 0.045))
    assert float(var_floor) < float(var_plain) / 50


@pytest.mark.parametrize("true_lift", [0.0, -0.08])
def test_upper_bound_holds_at_every_look_while_repeated_z_tests_do_not(true_lift: float) -> None:
    """Time-uniform coverage: P(upper bound < true theta at any of 30 daily looks) <= alpha."""
    rng = np.random.default_rng(7)
    runs, days, n_day, p_a, alpha = 2_000, 30, 20_000, 0.05, 0.025
    p_b = p_a * (1 + true_lift)
    x_a = np.cumsum(rng.binomial(n_day, p_a, size=(runs, days)), axis=1)
    x_b = np.cumsum(rng.binomial(n_day, p_b, size=(runs, days)), axis=1)
    n = np.broadcast_to(n_day * np.arange(1, days + 1), x_a.shape)
    theta_hat, var = sequential.log_lift_estimate(n, x_a, n, x_b)
    _, upper = sequential.always_valid_bounds(theta_hat, var, 0.05, alpha)
    true_theta = math.log1p(true_lift)
    always_valid_misses = np.mean((upper < true_theta).any(axis=1))
    naive_misses = np.mean((theta_hat + stats.norm.ppf(1 - alpha) * np.sqrt(var) < true_theta).any(axis=1))
    assert always_valid_misses <= alpha
    assert naive_misses > 3 * alpha  # the repeated fixed-horizon bound is far off its nominal level


@pytest.mark.parametrize(("n", "share"), [(50, 0.5), (400, 0.1), (1_000, 0.01)])
def test_srm_bayes_factor_has_mean_one_under_the_configured_split(n: int, share: float) -> None:
    """Exact check of the martingale property behind the anytime-valid SRM p-value: E[BF] = 1 at every n."""
    k = np.arange(n + 1)
    a, b = 1_000.0 * share, 1_000.0 * (1 - share)
    log_bf = special.betaln(a + k, b + n - k) - special.betaln(a, b) - k * np.log(share) - (n - k) * np.log1p(-share)
    log_mean = special.logsumexp(stats.binom.logpmf(k, n, share) + log_bf)
    assert float(log_mean) == pytest.approx(0.0, abs=1e-9)
    # p = min(1, 1/BF)
    p = sequential.srm_p_value(n - k, k, share, 1_000.0)
    assert np.allclose(p, np.minimum(1.0, np.exp(-log_bf)))


def test_repeated_srm_checks_stay_valid_only_with_the_sequential_test() -> None:
    """Hourly checks for 30 days of a healthy 90/10 split: false halts at p < 0.001."""
    rng = np.random.default_rng(3)
    runs, looks, per_hour = 1_000, 720, 2_000
    treatment = np.cumsum(rng.binomial(per_hour, 0.1, size=(runs, looks)), axis=1)
    total = per_hour * np.arange(1, looks + 1)
    control = total - treatment
    sequential_halts = np.mean((sequential.srm_p_value(control, treatment, 0.1, 1_000.0) < 0.001).any(axis=1))
    chi2 = (treatment - 0.1 * total) ** 2 / (0.1 * total) + (control - 0.9 * total) ** 2 / (0.9 * total)
    chi_square_halts = np.mean((stats.chi2.sf(chi2, df=1) < 0.001).any(axis=1))
    assert sequential_halts <= 0.002
    assert chi_square_halts > 0.01
