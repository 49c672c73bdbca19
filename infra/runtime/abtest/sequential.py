"""Always-valid (anytime) inference on the relative conversion lift of a challenger over a champion.

Why: the guardrail is evaluated again and again (every hour, every day) while traffic accumulates. A
fixed-horizon test checked at every look inflates false alarms far above its nominal level (about 20% after
30 daily looks at a nominal 5%). A confidence *sequence* holds simultaneously at every sample size, so the
controller can decide at any look without that inflation (Johari, Pekelis & Walsh, "Always Valid Inference",
2017/2022; Howard, Ramdas, McAuliffe & Sekhon, "Time-uniform, nonparametric, nonasymptotic confidence
sequences", 2021).

Model: theta = log(pB / pA), the log of one plus the relative lift r = (pB - pA) / pA. Its estimate
theta_hat = log(pB_hat / pA_hat) is asymptotically normal with variance (delta method)
V = (1 - pA) / (nA pA) + (1 - pB) / (nB pB). Writing v = 1 / V ("intrinsic time") and S = v (theta_hat -
theta), S behaves like a Brownian motion in v, and for any mixing distribution F over lambda the process
``integral exp(lambda S - lambda^2 v / 2) dF(lambda)`` is a (asymptotic) nonnegative martingale with mean 1;
Ville's inequality then bounds the chance that it ever exceeds 1 / alpha by alpha.

One-sided normal mixture: F = half-normal on lambda >= 0 with scale tau (tau is the prior spread of the log
lift; lambda is on the theta scale, so tau ~ the effect size one cares about). The integral has the closed
form ``M = 2 / sqrt(1 + k) * exp(c^2 / 2) * Phi(c)`` with k = tau^2 v and c = S / sqrt(v + 1 / tau^2). M is
increasing in c, so the boundary is c*(k) solving
``c^2/2 + log Phi(c) = log(1/alpha) - log 2 + log(1 + k) / 2``, and the one-sided bounds are
``theta_hat -/+ c* sqrt(V) sqrt(1 + V / tau^2)``. Each one-sided bound has error at most alpha over the whole
(unbounded) sequence of looks. The guarantee is asymptotic in the same sense as the z-test (normal
approximation with plug-in variance), which is why decisions wait for a minimum sample.

Every function here is vectorised over numpy arrays so the simulation (thousands of runs x looks) uses exactly
the code the controller uses.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike


def log_lift_estimate(
    control_visitors: ArrayLike,
    control_conversions: ArrayLike,
    treatment_visitors: ArrayLike,
    treatment_conversions: ArrayLike,
    *,
    variance_floor_ratio: float = 0.0,
) -> tuple[FloatArray, FloatArray]:
    """Estimate theta = log(pB/pA) and its delta-method variance.

    An arm with zero conversions or all conversions gets the Haldane-Anscombe correction (+0.5 conversions,
    +1 visitor) so the log stays finite.

    `variance_floor_ratio`: the treatment rate used *in the variance* is at least this ratio times the control
    rate. Why: the log-scale variance of an arm grows like 1 / conversions, so a broken challenger with almost
    no conversions would get an enormous variance and an always-valid bound too wide to ever roll it back.
    With the floor below every null the decisions test (theta >= 0, theta >= log(1 - margin) and
    theta <= log(1 - margin)), it does not bind under those nulls as the sample grows, so their error control
    is kept, while a collapsed challenger is caught at once.
    """
    if not 0.0 <= variance_floor_ratio < 1.0:
        raise ValueError("variance_floor_ratio must be in [0, 1)")
    n_a = np.asarray(control_visitors, dtype=np.float64)
    x_a = np.asarray(control_conversions, dtype=np.float64)
    n_b = np.asarray(treatment_visitors, dtype=np.float64)
    x_b = np.asarray(treatment_conversions, dtype=np.float64)
    if np.any(n_a <= 0) or np.any(n_b <= 0):
        raise ValueError("each arm needs at least one visitor to estimate the lift")
    if np.any(x_a < 0) or np.any(x_b < 0) or np.any(x_a > n_a) or np.any(x_b > n_b):
        raise ValueError("conversions must lie between 0 and the number of visitors")

    def corrected(x: FloatArray, n: FloatArray) -> tuple[FloatArray, FloatArray]:
        degenerate = (x == 0) | (x == n)
        return np.where(degenerate, x + 0.5, x), np.where(degenerate, n + 1.0, n)

    x_a, n_a = corrected(x_a, n_a)
    x_b, n_b = corrected(x_b, n_b)
    p_a = x_a / n_a
    p_b = x_b / n_b
    theta_hat = np.log(p_b) - np.log(p_a)
    p_b_var = np.maximum(p_b, variance_floor_ratio * p_a)
    variance = (1.0 - p_a) / (n_a * p_a) + (1.0 - p_b_var) / (n_b * p_b_var)
    return theta_hat, variance


def mixture_boundary(variance: ArrayLike, tau: float, alpha: float) -> FloatArray:
    """Half-width (theta scale) of the one-sided always-valid bound at level alpha.

    Solves ``c^2/2 + log Phi(c) = log(1/alpha) - log 2 + log(1 + tau^2 / V) / 2`` for c with scipy's
    vectorised Newton method; the left side is convex and increasing, and the start sqrt(2 * rhs) lies left
    of the root, so Newton converges without safeguards.
    """
    if not 0.0 < alpha < 0.5:
        raise ValueError("alpha must be in (0, 0.5) for a one-sided bound")
    if tau <= 0.0:
        raise ValueError("tau must be positive")
    v = np.asarray(variance, dtype=np.float64)
    if np.any(v <= 0.0):
        raise ValueError("variance must be positive")
    k = tau * tau / v
    rhs = np.log(1.0 / alpha) - np.log(2.0) + 0.5 * np.log1p(k)
    flat_rhs = np.atleast_1d(rhs).ravel()
    # scipy on first use, as in infra.runtime.drift.stats: a profile (through GuardrailPolicy) and every cold
    # start import this package, and scipy costs about half a second.
    from scipy import optimize, special

    def f(c: FloatArray) -> FloatArray:
        return np.asarray(0.5 * c * c + special.log_ndtr(c) - flat_rhs, dtype=np.float64)

    def fprime(c: FloatArray) -> FloatArray:
        # d/dc log Phi(c) = phi(c) / Phi(c), computed in log space for stability.
        log_phi = -0.5 * c * c - 0.5 * np.log(2.0 * np.pi)
        return np.asarray(c + np.exp(log_phi - special.log_ndtr(c)), dtype=np.float64)

    c = optimize.newton(f, np.sqrt(2.0 * flat_rhs), fprime=fprime, tol=1e-12, maxiter=100)
    c = np.asarray(c, dtype=np.float64).reshape(np.shape(rhs))
    return np.asarray(c * np.sqrt(v) * np.sqrt(1.0 + v / (tau * tau)), dtype=np.float64)


def always_valid_bounds(
    theta_hat: ArrayLike, variance: ArrayLike, tau: float, alpha: float
) -> tuple[FloatArray, FloatArray]:
    """One-sided always-valid lower and upper bounds for theta, each with error at most alpha at all looks."""
    half_width = mixture_boundary(variance, tau, alpha)
    centre = np.asarray(theta_hat, dtype=np.float64)
    return centre - half_width, centre + half_width


def relative_lift(theta: ArrayLike) -> FloatArray:
    """Map log(pB/pA) to the relative lift r = pB/pA - 1 (monotone, so bounds map to bounds)."""
    return np.asarray(np.expm1(np.asarray(theta, dtype=np.float64)), dtype=np.float64)


def log_ratio(relative: float) -> float:
    """Map a relative lift r to log(1 + r), the scale the bounds live on."""
    if relative <= -1.0:
        raise ValueError("a relative lift must be greater than -1")
    return float(np.log1p(relative))


def srm_p_value(
    control_visitors: ArrayLike, treatment_visitors: ArrayLike, treatment_share: float, concentration: float
) -> FloatArray:
    """Anytime-valid p-value that the visitors are split `treatment_share` : 1 - `treatment_share`.

    With a Beta(concentration * share, concentration * (1 - share)) prior on the challenger's true share, the
    Bayes factor BF = B(a + nB, b + nA) / B(a, b) / (share^nB (1 - share)^nA) is a nonnegative martingale with
    mean 1 under the configured split, so p = min(1, 1 / BF) is below alpha at some look with probability at
    most alpha (Ville's inequality; Lindon & Malek 2022).
    """
    if not 0.0 < treatment_share < 1.0 or concentration <= 0.0:
        raise ValueError("treatment_share must be in (0, 1) and concentration positive")
    n_a = np.asarray(control_visitors, dtype=np.float64)
    n_b = np.asarray(treatment_visitors, dtype=np.float64)
    a = concentration * treatment_share
    b = concentration * (1.0 - treatment_share)
    from scipy import special  # on first use: see mixture_boundary

    log_bf = (
        special.betaln(a + n_b, b + n_a)
        - special.betaln(a, b)
        - n_b * np.log(treatment_share)
        - n_a * np.log1p(-treatment_share)
    )
    return np.asarray(np.exp(-np.maximum(log_bf, 0.0)), dtype=np.float64)
