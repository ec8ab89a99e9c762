"""Tests of ctdepth_lib.information against closed forms, quadrature (scipy), scipy's ODE solver and scikit-learn.

Tolerances of the k-nearest-neighbour estimators are the measured bias plus about four standard
deviations of the estimate at the sample size used (measured over 30 seeds, recorded next to each
tolerance); the seeds are fixed.
"""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
import pytest
import torch
from scipy import integrate
from scipy.linalg import expm
from scipy.special import logsumexp, roots_legendre
from scipy.stats import multivariate_normal, norm
from sklearn.feature_selection import mutual_info_classif

from ctdepth_lib.information import (
    XOR_CENTRES,
    XOR_LABELS,
    best_linear_accuracy,
    best_linear_accuracy_bounds,
    coarse_grained_mutual_information,
    fold_field,
    fold_step_mutual_information,
    folded_fraction,
    gaussian_mixture_bayes_accuracy,
    gaussian_mixture_mutual_information,
    knn_entropy,
    knn_mutual_information,
    linear_readout_accuracy,
    log_density_change,
    xor_blobs,
    xor_mixture,
)

DT = torch.float64


# --- references ----------------------------------------------------------------------------------------


def gaussian_entropy(cov: np.ndarray) -> float:
    """ℋ of N(μ, Σ): ½ log((2πe)^d det Σ)."""
    d = cov.shape[0]
    return 0.5 * (d * math.log(2 * math.pi * math.e) + np.linalg.slogdet(cov)[1])


def mixture_mi_1d(means: list[float], sigma: float, weights: list[float]) -> float:
    """I(Y; X) for X | Y=c ~ N(m_c, σ²) in 1-D, by adaptive quadrature (scipy.integrate.quad)."""

    def integrand(x: float) -> float:
        logp_c = np.array([norm.logpdf(x, m, sigma) for m in means])
        logp = logsumexp(logp_c, b=np.array(weights))
        return float(np.sum(np.array(weights) * np.exp(logp_c) * (logp_c - logp)))

    lo, hi = min(means) - 12 * sigma, max(means) + 12 * sigma
    return integrate.quad(integrand, lo, hi, epsabs=1e-12, epsrel=1e-10, limit=200)[0]


def mixture_mi_2d(classes: list[tuple[float, list[tuple[np.ndarray, np.ndarray]]]], half_width: float) -> float:
    """I(Y; X) for classes ``(π_c, [(μ, Σ), …])`` (equal-weight Gaussian blobs within a class) in 2-D.

    Tensor-product Gauss–Legendre quadrature (scipy.special.roots_legendre) on [−L, L]², 300 nodes per
    axis, in log space; the integrand is smooth and decays like a Gaussian, so the rule converges fast.
    """
    z, w = roots_legendre(300)
    z, w = z * half_width, w * half_width
    g1, g2 = np.meshgrid(z, z, indexing="ij")
    pts, wts = np.stack([g1.ravel(), g2.ravel()], axis=1), np.outer(w, w).ravel()
    logpc = np.array(
        [
            logsumexp([multivariate_normal.logpdf(pts, m, s) for m, s in blobs], axis=0) - math.log(len(blobs))
            for _, blobs in classes
        ]
    )
    logpi = np.log([pi for pi, _ in classes])[:, None]
    logp = logsumexp(logpi + logpc, axis=0)
    return float(np.sum(wts * np.sum(np.exp(logpi + logpc) * (logpc - logp), axis=0)))


def xor_sample(n: int, seed: int, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Four Gaussian blobs N(±1, ±1; σ²I) of equal weight, label = quadrant parity."""
    rng = np.random.default_rng(seed)
    blob = rng.integers(0, 4, n)
    return XOR_CENTRES[blob] + sigma * rng.standard_normal((n, 2)), (blob >= 2).astype(np.int64)


def xor_mi(var: float) -> float:
    """I(Y; X) of the XOR blobs with per-blob covariance var·I, by quadrature."""
    cov = var * np.eye(2)
    classes = [(0.5, [(XOR_CENTRES[i], cov) for i in idx]) for idx in ((0, 1), (2, 3))]
    return mixture_mi_2d(classes, 1 + 10 * math.sqrt(var))


# --- knn_entropy -----------------------------------------------------------------------------------------


def _spd(d: int, seed: int) -> np.ndarray:
    b = np.random.default_rng(seed).standard_normal((d, d))
    return b @ b.T / d + 0.5 * np.eye(d)


# (d, covariance, tolerance): n = 4000, k = 3; bias ± sd over 30 seeds: d=1 −0.002 ± 0.013,
# d=2 −0.010 ± 0.015, d=5 −0.058 ± 0.028 (the estimator's known negative bias grows with d)
@pytest.mark.parametrize(
    ("d", "cov", "tol"),
    [(1, np.array([[4.0]]), 0.06), (2, np.array([[1.0, 0.5], [0.5, 2.0]]), 0.07), (5, _spd(5, 123), 0.17)],
)
def test_knn_entropy_gaussian_closed_form(d: int, cov: np.ndarray, tol: float) -> None:
    x = np.random.default_rng(d).multivariate_normal(np.full(d, 0.3), cov, 4000)
    assert knn_entropy(x) == pytest.approx(gaussian_entropy(cov), abs=tol)


# uniform on [0, a]^d: ℋ = d log a. n = 4000; bias ± sd over 30 seeds: d=1 −0.001 ± 0.012,
# d=2 +0.019 ± 0.013, d=3 +0.078 ± 0.012 (the boundary bias of kNN estimators, O(n^{-1/d}))
@pytest.mark.parametrize(("d", "a", "tol"), [(1, 0.5, 0.05), (2, 3.0, 0.075), (3, 2.0, 0.13)])
def test_knn_entropy_uniform_cube(d: int, a: float, tol: float) -> None:
    x = a * np.random.default_rng(10 + d).random((4000, d))
    assert knn_entropy(x) == pytest.approx(d * math.log(a), abs=tol)


def test_knn_entropy_torch_input_and_scaling_law() -> None:
    # ℋ(cX + b) = ℋ(X) + d log c holds exactly for the estimator too: all distances scale by c.
    x = np.random.default_rng(0).standard_normal((500, 3))
    h = knn_entropy(torch.tensor(x), k=4)
    assert knn_entropy(2.5 * x + 1.0, k=4) == pytest.approx(h + 3 * math.log(2.5), abs=1e-12)


# --- knn_mutual_information --------------------------------------------------------------------------------


def test_knn_mi_two_gaussians_1d_quadrature() -> None:
    # X | Y ~ N(±0.75, 1), n = 2000: bias ± sd over 30 seeds +0.000 ± 0.018
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 2000)
    x = (rng.standard_normal(2000) + 1.5 * (y - 0.5))[:, None]
    assert knn_mutual_information(x, y) == pytest.approx(mixture_mi_1d([-0.75, 0.75], 1.0, [0.5, 0.5]), abs=0.07)


def test_knn_mi_three_classes_1d_quadrature() -> None:
    # weights 0.2/0.3/0.5, n = 3000, k = 5: I = 0.6094; bias ± sd over 30 seeds +0.003 ± 0.013
    rng = np.random.default_rng(8)
    weights = [0.2, 0.3, 0.5]
    y = rng.choice(3, size=3000, p=weights)
    means = np.array([-2.0, 0.0, 1.5])
    x = (means[y] + 0.8 * rng.standard_normal(3000))[:, None]
    assert knn_mutual_information(x, y, k=5) == pytest.approx(mixture_mi_1d(list(means), 0.8, weights), abs=0.06)


def test_knn_mi_xor_2d_quadrature() -> None:
    # XOR blobs, σ = 0.5, n = 2000: I = 0.5789; bias ± sd over 50 seeds +0.006 ± 0.009
    x, y = xor_sample(2000, 3, 0.5)
    assert knn_mutual_information(x, y) == pytest.approx(xor_mi(0.25), abs=0.045)


def test_knn_mi_independent_labels_near_zero() -> None:
    # n = 2000, d = 2: mean ± sd over 30 seeds +0.002 ± 0.010
    rng = np.random.default_rng(4)
    assert abs(knn_mutual_information(rng.standard_normal((2000, 2)), rng.integers(0, 2, 2000))) < 0.045


@pytest.mark.parametrize(("seed", "k"), [(0, 3), (1, 3), (2, 5), (3, 1)])
def test_knn_mi_matches_sklearn_in_1d(seed: int, k: int) -> None:
    # scikit-learn's mutual_info_classif applies Ross's estimator to each feature.  Conventions
    # matched: m_i counts the points strictly inside ε_i plus the point itself (its radius is
    # nextafter(ε_i, 0)), and in 1-D its max-norm is our Euclidean distance.  Its rescaling of x
    # changes no neighbour; its 1e-10 jitter almost never does; its clipping at 0 is avoided by
    # informative data.  So the two agree to rounding.
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, 800)
    x = (rng.standard_normal(800) + 1.2 * y)[:, None]
    ref = mutual_info_classif(x, y, n_neighbors=k, random_state=seed)[0]
    assert ref > 0.05
    assert knn_mutual_information(x, y, k=k) == pytest.approx(ref, abs=1e-10)


def test_knn_mi_accepts_torch_and_ignores_label_names() -> None:
    x, y = xor_sample(600, 5, 0.5)
    ref = knn_mutual_information(x, y)
    assert knn_mutual_information(torch.tensor(x), torch.tensor(7 - 3 * y)) == pytest.approx(ref, abs=1e-13)


# --- coarse_grained_mutual_information ------------------------------------------------------------------------


def test_coarse_grained_mi_gaussian_mixture_quadrature() -> None:
    # Without whitening, X + εZ of the XOR blobs is the XOR mixture with per-blob variance σ² + ε².
    # σ = ε = 0.5, n = 2000, 4 noise draws: bias ± sd over 30 seeds +0.006 ± 0.008.
    x, y = xor_sample(2000, 11, 0.5)
    est = coarse_grained_mutual_information(x, y, 0.5, whiten=False, n_repeats=4, seed=1)
    assert est == pytest.approx(xor_mi(0.25 + 0.25), abs=0.04)


def test_coarse_grained_mi_decreases_with_eps_and_vanishes() -> None:
    x, y = xor_sample(2000, 12, 0.5)
    values = [coarse_grained_mutual_information(x, y, e, n_repeats=2) for e in (0.05, 0.3, 1.0, 10.0)]
    assert values[0] > values[1] > values[2] > values[3]
    assert values[0] == pytest.approx(knn_mutual_information(x, y), abs=0.03)  # ε → 0: I(Y; X)
    assert abs(values[3]) < 0.03  # ε → ∞: nothing left


def test_coarse_grained_mi_is_affine_invariant_when_whitened() -> None:
    # For x' = A x + b with A lower triangular (positive diagonal) the Cholesky whitening of x'
    # equals that of x, so with the same noise the estimate is the same to rounding.
    x, y = xor_sample(1000, 13, 0.5)
    a = np.array([[2.0, 0.0], [-1.5, 0.4]])
    base = coarse_grained_mutual_information(x, y, 0.4, seed=3)
    assert coarse_grained_mutual_information(x @ a.T + 5.0, y, 0.4, seed=3) == pytest.approx(base, abs=1e-9)


# --- linear_readout_accuracy ---------------------------------------------------------------------------------------


def test_linear_readout_two_gaussians_bayes_accuracy() -> None:
    # Equal covariances: the best classifier is linear, accuracy Φ(Δ/2σ); held-out n = 2000: bias ± sd over
    # 30 seeds +0.000 ± 0.008.
    rng = np.random.default_rng(21)
    y = rng.integers(0, 2, 4000)
    x = rng.standard_normal((4000, 2))
    x[:, 0] += 2.0 * (y - 0.5)
    assert linear_readout_accuracy(x, y) == pytest.approx(norm.cdf(1.0), abs=0.035)


def test_linear_readout_xor_vs_separated() -> None:
    x, y = xor_sample(2000, 22, 0.3)
    assert linear_readout_accuracy(x, y) < 0.75  # no line does better than 3/4 on XOR
    product = np.stack([x[:, 0] * x[:, 1], x[:, 0]], axis=1)  # the XOR feature x₁x₂ makes it linear
    assert linear_readout_accuracy(product, y) > 0.98


def _best_threshold_accuracy(x: np.ndarray, y: np.ndarray) -> float:
    """Exact best accuracy of a 1-D threshold classifier (either orientation), by scanning every cut."""
    order = np.argsort(x)
    ys = y[order]
    ones_left = np.concatenate([[0], np.cumsum(ys)])
    n = ys.size
    zeros_left = np.arange(n + 1) - ones_left
    ones_right = ones_left[-1] - ones_left
    zeros_right = (n - ones_left[-1]) - zeros_left
    acc = np.maximum(zeros_left + ones_right, ones_left + zeros_right) / n
    return float(acc.max())


def test_linear_readout_in_sample_against_exact_threshold_and_separable_sets() -> None:
    """test_fraction=0: fitted and scored on the same set — 1 on a separable set, at most the exact best cut."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = (x @ np.array([1.0, -2.0, 0.5]) > 0.3).astype(int)
    keep = np.abs(x @ np.array([1.0, -2.0, 0.5]) - 0.3) > 0.05
    assert linear_readout_accuracy(x[keep], y[keep], test_fraction=0.0) == 1.0
    x1 = np.concatenate([rng.normal(0, 1, 300), rng.normal(1.5, 1, 300)])[:, None]
    y1 = np.repeat([0, 1], 300)
    exact = _best_threshold_accuracy(x1[:, 0], y1)
    got = linear_readout_accuracy(torch.as_tensor(x1), torch.as_tensor(y1), test_fraction=0.0)
    assert exact - 0.02 <= got <= exact + 1e-12


# --- best_linear_accuracy_bounds ------------------------------------------------------------------------------------


def _fine_best_line(x: np.ndarray, y: np.ndarray, m: int) -> float:
    """Brute force: the exact best cut of the projections on each of m directions (a lower bound of the optimum)."""
    best = 0.0
    for th in np.linspace(0.0, np.pi, m, endpoint=False):
        best = max(best, _best_threshold_accuracy(x @ np.array([np.cos(th), np.sin(th)]), y))
    return best


def test_best_linear_accuracy_bounds_bracket_a_brute_force_optimum() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(80, 2))
    y = (np.hypot(*x.T) < 1.0).astype(int)  # a disc: no line is exact
    ref = _fine_best_line(x, y, 20_000)
    lo, hi = best_linear_accuracy_bounds(x, y, n_directions=256)
    assert lo <= ref + 1e-12 and hi >= ref
    lo2, hi2 = best_linear_accuracy_bounds(x, y, n_directions=4096)
    assert lo2 == pytest.approx(ref, abs=1e-12) and hi2 - lo2 <= 0.05 and hi2 <= hi
    # separable with a margin: both bounds are 1; the mirror rule counts (labels swapped)
    xs = rng.normal(size=(300, 2))
    ys = (xs @ np.array([1.0, -2.0]) > 0.3).astype(int)
    keep = np.abs(xs @ np.array([1.0, -2.0]) - 0.3) > 0.2
    assert best_linear_accuracy_bounds(xs[keep], ys[keep]) == (1.0, 1.0)
    assert best_linear_accuracy_bounds(xs[keep], 1 - ys[keep]) == (1.0, 1.0)


def test_best_linear_accuracy_bounds_xor_sample() -> None:
    x, y = xor_sample(2000, 23, 0.3)
    lo, hi = best_linear_accuracy_bounds(torch.as_tensor(x), torch.as_tensor(y))
    assert 0.70 <= lo <= hi <= 0.80  # a line cuts one blob off the other three: about 3/4


_BX = np.random.default_rng(0).standard_normal((20, 2))
_BY = np.arange(20) % 2


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"x": _BX.tolist()}, TypeError, r"^x must be a numpy\.ndarray or torch\.Tensor"),
        ({"x": np.where(_BX > 1, np.nan, _BX)}, ValueError, r"^x must contain only finite"),
        ({"x": np.c_[_BX, _BX]}, ValueError, r"^x must have shape \(n, 2\)"),
        ({"y": _BY[:-1]}, ValueError, r"^y must have shape \(n,\)"),
        ({"y": _BY.astype(float)}, TypeError, r"^y must hold integer class labels"),
        ({"y": np.arange(20) % 3}, ValueError, r"^y must hold exactly two classes"),
        ({"n_directions": 2}, ValueError, r"^n_directions must be an integer >= 4"),
        ({"n_directions": 8.0}, TypeError, r"^n_directions must be an integer >= 4"),
    ],
)
def test_best_linear_accuracy_bounds_rejects_bad_input(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        best_linear_accuracy_bounds(**({"x": _BX, "y": _BY} | kwargs))


# --- log_density_change --------------------------------------------------------------------------------------------


def _random_matrix(d: int, seed: int, scale: float = 0.8) -> torch.Tensor:
    return scale * torch.randn(d, d, generator=torch.Generator().manual_seed(seed), dtype=DT) / d**0.5


def test_log_density_change_linear_field_closed_form() -> None:
    # f = A x: x(t) = e^{tA} x0 and log p_t(x(t)) − log p_0(x0) = −t tr A exactly.
    a = _random_matrix(3, 0)
    x0 = torch.randn(50, 3, generator=torch.Generator().manual_seed(1), dtype=DT)
    ts = torch.linspace(0.0, 1.5, 7, dtype=DT)
    xs, dlogp = log_density_change(lambda t, x: x @ a.T, x0, ts)
    assert xs.shape == (7, 50, 3) and dlogp.shape == (7, 50)
    expected = -ts.numpy()[:, None] * float(torch.trace(a)) * np.ones((1, 50))
    np.testing.assert_allclose(dlogp.numpy(), expected, atol=1e-8)
    np.testing.assert_allclose(xs[-1].numpy(), x0.numpy() @ expm(1.5 * a.numpy()).T, rtol=1e-7, atol=1e-8)


def test_log_density_change_time_dependent_linear_field() -> None:
    # f = (A₀ + t A₁) x: −∫₀ᵗ tr A(s) ds = −(t tr A₀ + t²/2 tr A₁), whatever A₀, A₁ do not commute.
    a0, a1 = _random_matrix(4, 2), _random_matrix(4, 3)
    x0 = torch.randn(20, 4, generator=torch.Generator().manual_seed(4), dtype=DT)
    ts = torch.linspace(0.0, 2.0, 5, dtype=DT)
    _, dlogp = log_density_change(lambda t, x: x @ (a0 + t * a1).T, x0, ts)
    t = ts.numpy()[:, None]
    expected = -(t * float(torch.trace(a0)) + 0.5 * t**2 * float(torch.trace(a1))) * np.ones((1, 20))
    np.testing.assert_allclose(dlogp.numpy(), expected, atol=1e-8)


def test_log_density_change_nonlinear_matches_flow_jacobian_from_scipy() -> None:
    # Liouville: −dlogp = log|det ∂x(T)/∂x(0)|; the reference Jacobian is central differences of
    # scipy's solve_ivp (DOP853) on a NumPy copy of the field.
    gen = torch.Generator().manual_seed(5)
    w1, u, b1 = (
        torch.randn(8, 2, generator=gen, dtype=DT),
        torch.randn(8, generator=gen, dtype=DT),
        torch.randn(8, generator=gen, dtype=DT),
    )
    w2 = torch.randn(2, 8, generator=gen, dtype=DT) / 8**0.5

    def f(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x @ w1.T + t * u + b1) @ w2.T

    w1n, un, b1n, w2n = (v.numpy() for v in (w1, u, b1, w2))

    def flow(x0: np.ndarray) -> np.ndarray:
        sol = integrate.solve_ivp(
            lambda t, x: w2n @ np.tanh(w1n @ x + t * un + b1n), (0.0, 1.0), x0, method="DOP853", rtol=1e-12, atol=1e-12
        )
        return sol.y[:, -1]

    x0 = torch.randn(3, 2, generator=gen, dtype=DT)
    xs, dlogp = log_density_change(f, x0, torch.tensor([0.0, 1.0], dtype=DT), rtol=1e-11, atol=1e-11)
    h = 1e-5
    for i in range(3):
        z = x0[i].numpy()
        jac = np.stack([(flow(z + h * e) - flow(z - h * e)) / (2 * h) for e in np.eye(2)], axis=1)
        assert float(-dlogp[-1, i]) == pytest.approx(np.log(abs(np.linalg.det(jac))), abs=1e-7)
        np.testing.assert_allclose(xs[-1, i].numpy(), flow(z), atol=1e-9)


def test_hutchinson_trace_mean_and_variance() -> None:
    # Constant A, fixed Rademacher probes: dlogp(t) = −(t/P) Σ_p ε_pᵀ A ε_p per sample, mean −t tr A and
    # variance t² · 2(‖A_s‖_F² − Σ A_ii²) / P with A_s = (A + Aᵀ)/2 (the documented formula).
    d, n, n_probes, t_end = 5, 4000, 2, 0.7
    a = _random_matrix(d, 6, scale=1.5)
    x0 = torch.randn(n, d, generator=torch.Generator().manual_seed(7), dtype=DT)
    ts = torch.tensor([0.0, t_end], dtype=DT)
    _, dlogp = log_density_change(
        lambda t, x: x @ a.T,
        x0,
        ts,
        trace="hutchinson",
        n_probes=n_probes,
        generator=torch.Generator().manual_seed(8),
    )
    an = a.numpy()
    sym = 0.5 * (an + an.T)
    var = t_end**2 * 2 * (np.sum(sym**2) - np.sum(np.diag(an) ** 2)) / n_probes
    est = dlogp[-1].numpy()
    assert abs(est.mean() + t_end * np.trace(an)) < 4 * math.sqrt(var / n)
    assert est.var(ddof=1) == pytest.approx(var, rel=0.15)


def test_hutchinson_exact_for_diagonal_and_reproducible() -> None:
    # Rademacher probes: εᵀ D ε = tr D for a diagonal D, so the estimate has no variance.
    diag = torch.diag(torch.tensor([0.3, -1.0, 0.5], dtype=DT))
    x0 = torch.randn(30, 3, generator=torch.Generator().manual_seed(9), dtype=DT)
    ts = torch.tensor([0.0, 1.0], dtype=DT)
    _, dlogp = log_density_change(lambda t, x: x @ diag.T, x0, ts, trace="hutchinson")
    np.testing.assert_allclose(dlogp[-1].numpy(), 0.2, atol=1e-8)
    a = _random_matrix(3, 10)

    def run(seed: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(seed)
        return log_density_change(lambda t, x: x @ a.T, x0, ts, trace="hutchinson", generator=gen)[1]

    assert torch.equal(run(1), run(1)) and not torch.equal(run(1), run(2))


def test_log_density_change_is_differentiable_in_the_field_parameters() -> None:
    # backprop through the solver (as a continuous normalising flow trains) vs central differences
    from ctdepth_lib import TimeMLP

    f = TimeMLP(2, 6, seed=3)
    x0 = torch.randn(6, 2, generator=torch.Generator().manual_seed(11), dtype=DT)
    ts = torch.tensor([0.0, 1.0], dtype=DT)

    def loss() -> torch.Tensor:
        return log_density_change(f, x0, ts, rtol=1e-11, atol=1e-11)[1][-1].sum()

    grad = torch.autograd.grad(loss(), f.w1)[0]
    h = 1e-6
    with torch.no_grad():
        f.w1[1, 0] += h
        up = float(loss())
        f.w1[1, 0] -= 2 * h
        down = float(loss())
        f.w1[1, 0] += h
    assert float(grad[1, 0]) == pytest.approx((up - down) / (2 * h), abs=1e-7)


# --- the XOR blobs and exact references for Gaussian mixtures ----------------------------------------------------


def test_xor_blobs_are_the_four_blobs_with_parity_labels() -> None:
    x, y = xor_blobs(4000, sigma=0.5, seed=1)
    assert x.shape == (4000, 2) and x.dtype == np.float64 and y.dtype == np.int64
    np.testing.assert_array_equal((x, y)[0], xor_sample(4000, 1, 0.5)[0])  # the construction the tests use
    tiny, labels = xor_blobs(500, sigma=1e-6, seed=2)
    np.testing.assert_array_equal(labels, (tiny[:, 0] * tiny[:, 1] < 0).astype(np.int64))  # quadrant parity
    # moments of the mixture: mean 0, covariance (1 + σ²) I; 4000 samples, 5 standard errors
    np.testing.assert_allclose(x.mean(axis=0), 0.0, atol=5 * math.sqrt(1.25 / 4000))
    np.testing.assert_allclose(np.cov(x, rowvar=False), 1.25 * np.eye(2), atol=0.12)
    assert np.array_equal(xor_blobs(10, seed=3)[0], xor_blobs(10, seed=3)[0])


def test_xor_mixture_pushes_means_and_covariances() -> None:
    m = np.array([[2.0, 0.5], [-0.3, 1.0]])
    means, covs, labels = xor_mixture(0.4, m)
    np.testing.assert_allclose(means, XOR_CENTRES @ m.T, rtol=1e-15)
    np.testing.assert_allclose(covs, np.repeat((0.16 * m @ m.T)[None], 4, axis=0), rtol=1e-15)
    np.testing.assert_array_equal(labels, XOR_LABELS)
    means0, covs0, _ = xor_mixture(0.4)
    np.testing.assert_array_equal(means0, XOR_CENTRES)
    np.testing.assert_allclose(covs0, np.repeat(0.16 * np.eye(2)[None], 4, axis=0))


def test_mixture_mi_in_2d_reduces_to_the_1d_quadrature() -> None:
    # Two classes N((±0.75, 0), I): the second coordinate carries nothing, so the 2-D tensor rule must
    # give the 1-D adaptive quadrature (scipy.integrate.quad) of N(±0.75, 1).
    means = np.array([[0.75, 0.0], [-0.75, 0.0]])
    covs = np.repeat(np.eye(2)[None], 2, axis=0)
    ref = mixture_mi_1d([0.75, -0.75], 1.0, [0.5, 0.5])
    assert gaussian_mixture_mutual_information(means, covs, np.array([0, 1])) == pytest.approx(ref, abs=1e-9)
    one_d = gaussian_mixture_mutual_information(means[:, :1], covs[:, :1, :1], np.array([0, 1]))
    assert one_d == pytest.approx(ref, abs=1e-9)


def test_mixture_mi_three_weighted_classes_1d() -> None:
    means = np.array([[-2.0], [0.0], [1.5]])
    covs = np.full((3, 1, 1), 0.64)
    weights = np.array([0.2, 0.3, 0.5])
    est = gaussian_mixture_mutual_information(means, covs, np.array([0, 1, 2]), torch.tensor(weights))
    assert est == pytest.approx(mixture_mi_1d([-2.0, 0.0, 1.5], 0.8, list(weights)), abs=1e-9)


def test_mixture_mi_of_the_xor_blobs_monte_carlo_and_invariance() -> None:
    # Independent reference: I = E[log p(X|Y)/p(X)] by Monte Carlo over 400 000 draws (5 standard errors).
    x, y = xor_blobs(400_000, sigma=0.5, seed=5)
    dens = np.array([multivariate_normal.pdf(x, c, 0.25 * np.eye(2)) for c in XOR_CENTRES])
    p_class = np.array([0.5 * (dens[0] + dens[1]), 0.5 * (dens[2] + dens[3])])
    log_ratio = np.log(p_class[y, np.arange(len(y))] / (0.5 * p_class.sum(axis=0)))
    exact = gaussian_mixture_mutual_information(*xor_mixture(0.5))
    assert exact == pytest.approx(log_ratio.mean(), abs=5 * log_ratio.std() / math.sqrt(len(y)))
    assert exact == pytest.approx(xor_mi(0.25), abs=1e-9)  # the tests' own Gauss–Legendre helper
    # an invertible linear map changes nothing (a theorem; the rule resolves the sheared blobs)
    shear = expm(1.5 * np.array([[0.6, 0.9], [-0.2, -0.3]]))
    assert gaussian_mixture_mutual_information(*xor_mixture(0.5, shear)) == pytest.approx(exact, abs=1e-9)
    assert gaussian_mixture_mutual_information(*xor_mixture(0.5), n_nodes=600) == pytest.approx(exact, abs=1e-10)


def test_bayes_accuracy_closed_forms() -> None:
    # XOR: the Bayes rule sign(x₁x₂) is right when both coordinates keep their blob's sign or both flip.
    xor_exact = norm.cdf(2.0) ** 2 + norm.cdf(-2.0) ** 2
    assert gaussian_mixture_bayes_accuracy(*xor_mixture(0.5)) == pytest.approx(xor_exact, abs=3e-4)
    shear = np.array([[1.0, 0.8], [0.0, 0.6]])
    assert gaussian_mixture_bayes_accuracy(*xor_mixture(0.5, shear)) == pytest.approx(xor_exact, abs=1e-3)
    # two equal Gaussians N(±1, 0.8²): Φ(1/0.8); the kink on the boundary makes the error O(n_nodes⁻²)
    two = (np.array([[1.0], [-1.0]]), np.full((2, 1, 1), 0.64), np.array([1, 0]))
    assert gaussian_mixture_bayes_accuracy(*two) == pytest.approx(norm.cdf(1.0 / 0.8), abs=3e-4)
    assert gaussian_mixture_bayes_accuracy(*two, n_nodes=3000) == pytest.approx(norm.cdf(1.0 / 0.8), abs=1e-5)


def test_best_linear_accuracy_two_blobs_is_bayes() -> None:
    # equal isotropic covariances: the best classifier is the bisecting line, accuracy Φ(Δ/2σ)
    means = np.array([[0.5, 1.0], [-0.5, -1.0]])
    covs = np.repeat(0.36 * np.eye(2)[None], 2, axis=0)
    acc, w, b = best_linear_accuracy(means, covs, np.array([1, 0]))
    delta = float(np.linalg.norm(means[0] - means[1]))
    assert acc == pytest.approx(norm.cdf(delta / 1.2), abs=1e-9)
    np.testing.assert_allclose(w, (means[0] - means[1]) / delta, atol=1e-5)  # larger label on the positive side
    assert b == pytest.approx(0.0, abs=1e-5)


def test_best_linear_accuracy_xor() -> None:
    # By symmetry the best line cuts one blob off along a diagonal; its accuracy as a function of the
    # offset b (projections √2 for the cut blob, 0 for the two of the other class, −√2) is maximised here
    # by scipy's scalar minimiser: an independent reference.
    from scipy.optimize import minimize_scalar

    sigma, r2 = 0.5, math.sqrt(2.0)

    def diagonal(b: float) -> float:
        return 0.25 * norm.cdf((r2 - b) / sigma) + 0.25 * norm.cdf((-r2 - b) / sigma) + 0.5 * norm.cdf(b / sigma)

    ref = -minimize_scalar(lambda b: -diagonal(b), bounds=(-1.0, 2.0), method="bounded", options={"xatol": 1e-12}).fun
    acc, w, b = best_linear_accuracy(*xor_mixture(sigma))
    assert acc == pytest.approx(ref, abs=1e-9)
    assert acc < 0.75
    assert best_linear_accuracy(*xor_mixture(0.05))[0] == pytest.approx(0.75, abs=1e-6)  # cut one blob cleanly
    # the returned rule on a sample: its empirical accuracy matches (5 standard errors)
    x, y = xor_blobs(400_000, sigma=sigma, seed=9)
    emp = np.mean((x @ w > b).astype(np.int64) == y)
    assert emp == pytest.approx(acc, abs=5 * math.sqrt(acc * (1 - acc) / len(y)))


# --- a field whose Euler steps fold ----------------------------------------------------------------------------


def test_fold_field_and_its_folded_fraction() -> None:
    f = fold_field(1.0, 0.5)
    x = torch.tensor(xor_blobs(3000, sigma=0.5, seed=4)[0])
    assert torch.equal(f(torch.tensor(0.0), x), -torch.tanh(2.0 * x))
    for n_steps, h in ((1, 1.0), (4, 0.25)):
        ts = torch.linspace(0.0, 1.0, n_steps + 1)
        xs = torch.stack([x] * (n_steps + 1))  # the states at which the blocks are evaluated
        frac = folded_fraction(f, ts, xs)
        det = np.prod(1.0 - 2.0 * h / np.cosh(2.0 * x.numpy()) ** 2, axis=1)  # diag Jacobian in closed form
        np.testing.assert_array_equal(frac, np.full(n_steps, np.mean(det < 0)))
    assert np.mean(det < 0) == 0.0  # h c / w = 1/2 ≤ 1: no fold
    # h = 1: det < 0 iff exactly one coordinate lies in |x| < w arcosh(√2); population rate 2p(1 − p)
    xc = 0.5 * math.acosh(math.sqrt(2.0))
    p = 0.5 * (norm.cdf((xc - 1) / 0.5) - norm.cdf((-xc - 1) / 0.5)) * 2
    frac1 = folded_fraction(f, torch.tensor([0.0, 1.0]), torch.stack([x, x]))[0]
    assert frac1 == pytest.approx(2 * p * (1 - p), abs=5 * math.sqrt(0.25 / 3000))


def test_fold_preimages_and_density() -> None:
    from ctdepth_lib.information import _fold_density, _fold_map, _fold_preimages

    hc, w = 1.0, 0.5
    x = np.random.default_rng(6).normal(0.3, 1.0, 5000)
    u = _fold_map(x, hc, w)
    branches = _fold_preimages(u, hc, w)
    found = np.zeros(len(u), dtype=bool)
    for mask, xb in branches:
        np.testing.assert_allclose(_fold_map(xb, hc, w), u[mask], atol=1e-12)  # preimages
        found[mask] |= np.abs(xb - x[mask]) < 1e-9
    assert found.all()  # each sample's own x is among its preimages
    assert 0.1 < np.mean(branches[1][0]) < 0.9  # a real share of the points lies in the fold
    # the density of g(X), X ~ N(1, 0.5²): integrates to 1 (adaptive quadrature, split at the fold values
    # where it has integrable 1/√ singularities) and matches a histogram of 10⁶ pushed samples
    xc = w * math.acosh(math.sqrt(hc / w))
    u_lo, u_hi = float(_fold_map(np.array(xc), hc, w)), float(_fold_map(np.array(-xc), hc, w))

    def q(v: float) -> float:
        return float(_fold_density(np.array([v]), (1.0,), 0.5, hc, w)[0, 0])

    total = sum(
        integrate.quad(q, a, b, limit=400, epsabs=1e-10)[0] for a, b in ((-6.0, u_lo), (u_lo, u_hi), (u_hi, 6.0))
    )
    assert total == pytest.approx(1.0, abs=1e-6)
    n = 400_000
    samples = _fold_map(np.random.default_rng(7).normal(1.0, 0.5, n), hc, w)
    edges = np.linspace(-0.2, 0.8, 21)  # bins of 0.05 across the fold value u_hi
    hist = np.histogram(samples, bins=edges)[0] / (n * 0.05)
    exact = [integrate.quad(q, a, b, points=[u_hi] if a < u_hi < b else None)[0] / 0.05 for a, b in pairwise(edges)]
    assert np.all(np.abs(hist - np.array(exact)) <= 5 * np.sqrt(np.array(exact) / (n * 0.05)))


def test_fold_step_mutual_information() -> None:
    exact = gaussian_mixture_mutual_information(*xor_mixture(0.5))
    small, se_small = fold_step_mutual_information(0.25, n_samples=100_000, seed=1)
    edge, _ = fold_step_mutual_information(0.5, n_samples=100_000, seed=1)
    assert small == pytest.approx(exact, abs=5 * se_small)  # an injective step keeps I(Y; X)
    assert edge == pytest.approx(small, abs=1e-9)  # same draws, same posterior: hc/w = 1 is still injective
    folded, se = fold_step_mutual_information(1.0, n_samples=100_000, seed=1)
    assert 0.0 < folded < exact - 0.3  # data processing, and the fold loses most of it
    assert se < 1e-3
    again, _ = fold_step_mutual_information(1.0, n_samples=100_000, seed=2)
    assert again == pytest.approx(folded, abs=5 * math.sqrt(2) * se)


# --- bad inputs: one table per public function ------------------------------------------------------------------------

_X0 = torch.zeros(4, 2, dtype=DT)
_TS = torch.tensor([0.0, 1.0], dtype=DT)


def _field(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return -x


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"f": 3}, TypeError, r"f must be callable"),
        ({"f": lambda t, x: x[:, :1]}, ValueError, r"f\(t, x\) must return the shape of x"),
        ({"x0": [[0.0, 0.0]]}, TypeError, r"x0 must be a torch\.Tensor"),
        ({"x0": torch.zeros(2, dtype=DT)}, ValueError, r"x0 must have shape \(n, d\)"),
        ({"x0": torch.zeros(4, 2, dtype=torch.int64)}, TypeError, r"x0 must have a floating-point dtype"),
        ({"x0": torch.full((4, 2), float("nan"), dtype=DT)}, ValueError, r"x0 must contain only finite"),
        ({"ts": torch.zeros(2, 2, dtype=DT)}, ValueError, r"ts must be 1-D"),
        ({"ts": torch.tensor([0.0, 1.0], dtype=torch.float32)}, TypeError, r"ts must have the dtype of x0"),
        ({"ts": torch.tensor([0.0, 1.0, 0.5], dtype=DT)}, ValueError, r"ts must be strictly"),
        ({"method": "rk45"}, ValueError, r"method must be one of"),
        ({"rtol": 0.0}, ValueError, r"rtol must be a finite number > 0"),
        ({"atol": "small"}, TypeError, r"atol must be a positive real number"),
        ({"options": [1]}, TypeError, r"options must be a dict or None"),
        ({"trace": "approximate"}, ValueError, r"trace must be one of"),
        ({"n_probes": 0}, ValueError, r"n_probes must be an integer >= 1"),
        ({"n_probes": 1.5}, TypeError, r"n_probes must be an integer"),
        ({"generator": 0}, TypeError, r"generator must be a torch\.Generator or None"),
    ],
)
def test_log_density_change_rejects_bad_input(kwargs: dict, error: type, match: str) -> None:
    args = {"f": _field, "x0": _X0, "ts": _TS} | kwargs
    with pytest.raises(error, match=match):
        log_density_change(args.pop("f"), args.pop("x0"), args.pop("ts"), **args)


_XS = np.random.default_rng(0).standard_normal((20, 2))
_YS = np.arange(20) % 2


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"x": [[0.0, 1.0], [1.0, 0.0]]}, TypeError, r"x must be a numpy\.ndarray or torch\.Tensor"),
        ({"x": _XS.astype(complex)}, TypeError, r"x must hold real numbers"),
        ({"x": _XS > 0}, TypeError, r"x must hold real numbers"),
        ({"x": _XS[:, 0]}, ValueError, r"x must have shape \(n, d\)"),
        ({"x": np.zeros((20, 0))}, ValueError, r"x must have shape \(n, d\)"),
        ({"x": np.where(_XS > 1, np.inf, _XS)}, ValueError, r"x must contain only finite"),
        ({"x": np.vstack([_XS, _XS[:1]])}, ValueError, r"x must have distinct rows"),
        ({"k": 20}, ValueError, r"k must be < the number of samples in x \(20\)"),
        ({"k": 0}, ValueError, r"k must be an integer >= 1"),
        ({"k": 2.0}, TypeError, r"k must be an integer"),
        ({"k": True}, TypeError, r"k must be an integer"),
    ],
)
def test_knn_entropy_rejects_bad_input(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        knn_entropy(**({"x": _XS} | kwargs))


_MI_CASES = [
    ({"x": _XS.tolist()}, TypeError, r"x must be a numpy\.ndarray or torch\.Tensor"),
    ({"x": _XS[:, 0]}, ValueError, r"x must have shape \(n, d\)"),
    ({"x": np.where(_XS > 1, np.nan, _XS)}, ValueError, r"x must contain only finite"),
    ({"y": list(_YS)}, TypeError, r"y must be a numpy\.ndarray or torch\.Tensor"),
    ({"y": _YS.astype(float)}, TypeError, r"y must hold integer class labels"),
    ({"y": _YS[:-1]}, ValueError, r"y must have shape \(n,\) = \(20,\)"),
    ({"y": np.zeros(20, dtype=int)}, ValueError, r"y must hold at least two classes"),
    (
        {"y": np.r_[np.zeros(17, int), np.ones(3, int)]},
        ValueError,
        r"k must be < the number of samples in the smallest class of y \(3\)",
    ),
    ({"k": 0}, ValueError, r"k must be an integer >= 1"),
    ({"k": "3"}, TypeError, r"k must be an integer"),
]


@pytest.mark.parametrize(("kwargs", "error", "match"), _MI_CASES)
def test_knn_mutual_information_rejects_bad_input(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        knn_mutual_information(**({"x": _XS, "y": _YS} | kwargs))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        *_MI_CASES,
        ({"eps": 0.0}, ValueError, r"eps must be a finite number > 0"),
        ({"eps": "fine"}, TypeError, r"eps must be a positive real number"),
        ({"whiten": 1}, TypeError, r"whiten must be a bool"),
        ({"n_repeats": 0}, ValueError, r"n_repeats must be an integer >= 1"),
        ({"seed": -1}, ValueError, r"seed must be an integer >= 0"),
        (
            {"x": np.random.default_rng(1).standard_normal((6, 8)), "y": np.arange(6) % 2, "k": 1},
            ValueError,
            r"x must have more samples than dimensions",
        ),
        ({"x": np.c_[_XS[:, :1], 2 * _XS[:, :1]]}, ValueError, r"x must have a non-singular sample covariance"),
    ],
)
def test_coarse_grained_mutual_information_rejects_bad_input(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        coarse_grained_mutual_information(**({"x": _XS, "y": _YS, "eps": 0.5} | kwargs))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"x": _XS.tolist()}, TypeError, r"x must be a numpy\.ndarray or torch\.Tensor"),
        ({"x": np.where(_XS > 1, np.nan, _XS)}, ValueError, r"x must contain only finite"),
        ({"y": _YS[:-1]}, ValueError, r"y must have shape \(n,\)"),
        ({"y": np.zeros(20, dtype=int)}, ValueError, r"y must hold at least two classes"),
        (
            {"y": np.r_[np.zeros(19, int), np.ones(1, int)]},
            ValueError,
            r"y must have at least 2 samples in every class",
        ),
        ({"test_fraction": -0.1}, ValueError, r"test_fraction must be a finite number in \[0, 1\)"),
        ({"test_fraction": 1.0}, ValueError, r"test_fraction must be a finite number in \[0, 1\)"),
        ({"test_fraction": 0.01}, ValueError, r"test_fraction must leave at least one sample per class"),
        ({"test_fraction": None}, TypeError, r"test_fraction must be a real number"),
        ({"C": -1.0}, ValueError, r"C must be a finite number > 0"),
        ({"seed": 0.5}, TypeError, r"seed must be an integer"),
    ],
)
def test_linear_readout_accuracy_rejects_bad_input(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        linear_readout_accuracy(**({"x": _XS, "y": _YS} | kwargs))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n": 0}, ValueError, r"n must be an integer >= 1"),
        ({"n": 10.0}, TypeError, r"n must be an integer"),
        ({"sigma": 0.0}, ValueError, r"sigma must be a finite number > 0"),
        ({"sigma": "wide"}, TypeError, r"sigma must be a positive real number"),
        ({"seed": -2}, ValueError, r"seed must be an integer >= 0"),
    ],
)
def test_xor_blobs_rejects_bad_input(kwargs: dict, error: type, match: str) -> None:
    args = {"n": 10} | kwargs
    with pytest.raises(error, match=match):
        xor_blobs(args.pop("n"), **args)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"sigma": -1.0}, ValueError, r"sigma must be a finite number > 0"),
        ({"matrix": [[1.0, 0.0], [0.0, 1.0]]}, TypeError, r"matrix must be a numpy\.ndarray or torch\.Tensor"),
        ({"matrix": np.eye(3)}, ValueError, r"matrix must have shape \(2, 2\)"),
        ({"matrix": np.array([[1.0, 2.0], [2.0, 4.0]])}, ValueError, r"matrix must be non-singular"),
        ({"matrix": np.array([[1.0, np.nan], [0.0, 1.0]])}, ValueError, r"matrix must contain only finite"),
    ],
)
def test_xor_mixture_rejects_bad_input(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        xor_mixture(**({"sigma": 0.5} | kwargs))


_MEANS, _COVS, _LABELS = xor_mixture(0.5)
_MIXTURE_CASES = [
    ({"means": _MEANS.tolist()}, TypeError, r"means must be a numpy\.ndarray or torch\.Tensor"),
    (
        {"means": np.zeros((4, 3)), "covariances": np.repeat(np.eye(3)[None], 4, 0)},
        ValueError,
        r"means must have shape \(m, d\) with d in",
    ),
    ({"covariances": _COVS.tolist()}, TypeError, r"covariances must be a numpy\.ndarray or torch\.Tensor"),
    ({"covariances": _COVS[:3]}, ValueError, r"covariances must have shape \(m, d, d\) = \(4, 2, 2\)"),
    ({"covariances": _COVS.astype(complex)}, TypeError, r"covariances must hold real numbers"),
    ({"covariances": _COVS + np.array([[0.0, 0.1], [0.0, 0.0]])}, ValueError, r"covariances must be symmetric"),
    ({"covariances": -_COVS}, ValueError, r"covariances must be positive definite"),
    ({"covariances": np.full_like(_COVS, np.inf)}, ValueError, r"covariances must contain only finite"),
    ({"labels": _LABELS.astype(float)}, TypeError, r"labels must hold integer class labels"),
    ({"labels": np.zeros(4, dtype=int)}, ValueError, r"labels must hold at least two classes"),
    ({"labels": _LABELS[:3]}, ValueError, r"labels must have shape \(n,\) = \(4,\)"),
    ({"weights": [0.25] * 4}, TypeError, r"weights must be a numpy\.ndarray, a torch\.Tensor or None"),
    ({"weights": np.full(3, 1 / 3)}, ValueError, r"weights must have shape \(m,\) = \(4,\)"),
    ({"weights": np.full(4, 0.3)}, ValueError, r"weights must be finite, positive and sum to 1"),
    ({"weights": np.array([1.0, 0.0, 0.0, 0.0])}, ValueError, r"weights must be finite, positive"),
]


@pytest.mark.parametrize("face", [gaussian_mixture_mutual_information, gaussian_mixture_bayes_accuracy])
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        *_MIXTURE_CASES,
        ({"n_nodes": 4}, ValueError, r"n_nodes must be an integer >= 8"),
        ({"n_nodes": 300.0}, TypeError, r"n_nodes must be an integer"),
    ],
)
def test_mixture_quadratures_reject_bad_input(face, kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        face(**({"means": _MEANS, "covariances": _COVS, "labels": _LABELS} | kwargs))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        *_MIXTURE_CASES,
        (
            {"means": _MEANS[:, :1], "covariances": _COVS[:, :1, :1]},
            ValueError,
            r"means must have shape \(m, d\) with d in \(2,\)",
        ),
        ({"labels": np.array([0, 1, 2, 2])}, ValueError, r"labels must hold exactly two classes"),
    ],
)
def test_best_linear_accuracy_rejects_bad_input(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        best_linear_accuracy(**({"means": _MEANS, "covariances": _COVS, "labels": _LABELS} | kwargs))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"strength": 0.0}, ValueError, r"strength must be a finite number > 0"),
        ({"width": "narrow"}, TypeError, r"width must be a positive real number"),
        ({"width": float("inf")}, ValueError, r"width must be a finite number > 0"),
    ],
)
def test_fold_field_rejects_bad_input(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        fold_field(**kwargs)


_FX = torch.zeros(2, 5, 2, dtype=DT)
_FTS = torch.tensor([0.0, 1.0], dtype=DT)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"f": None}, TypeError, r"f must be callable"),
        ({"xs": _FX[:, 0]}, ValueError, r"xs must have shape \(N \+ 1, batch, d\)"),
        ({"xs": _FX.numpy()}, TypeError, r"xs must be a torch\.Tensor"),
        ({"ts": torch.tensor([0.0, 1.0, 2.0], dtype=DT)}, ValueError, r"ts"),
        ({"f": lambda t, x: x[..., :1]}, ValueError, r"f\(t, x\) must return the shape of x"),
    ],
)
def test_folded_fraction_rejects_bad_input(kwargs: dict, error: type, match: str) -> None:
    args = {"f": fold_field(), "ts": _FTS, "xs": _FX} | kwargs
    with pytest.raises(error, match=match):
        folded_fraction(args["f"], args["ts"], args["xs"])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"step": 0.0}, ValueError, r"step must be a finite number > 0"),
        ({"step": None}, TypeError, r"step must be a positive real number"),
        ({"sigma": -0.5}, ValueError, r"sigma must be a finite number > 0"),
        ({"strength": float("nan")}, ValueError, r"strength must be a finite number > 0"),
        ({"width": 0}, ValueError, r"width must be a finite number > 0"),
        ({"n_samples": 10}, ValueError, r"n_samples must be an integer >= 100"),
        ({"n_samples": 1e5}, TypeError, r"n_samples must be an integer"),
        ({"seed": -1}, ValueError, r"seed must be an integer >= 0"),
    ],
)
def test_fold_step_mutual_information_rejects_bad_input(kwargs: dict, error: type, match: str) -> None:
    args = {"step": 1.0, "n_samples": 200} | kwargs
    with pytest.raises(error, match=match):
        fold_step_mutual_information(args.pop("step"), **args)
