"""Information along the flow: density change, kNN entropy and mutual information, coarse graining.

A neural ODE ``dx/dt = F(t, x)`` moves a density ``P(x, t)`` by the continuity equation.  Along a
trajectory the log-density changes by ``d log P(x(t), t)/dt = −Tr F_x`` (the instantaneous change
of variables, Chen et al. 2018), so the differential entropy ``ℋ(t) = −∫ P log P dᴺx`` changes at
the rate ``dℋ/dt = ∫ Tr{F_x} P dᴺx`` (:func:`log_density_change`).  The flow map ``x(0) ↦ x(t)``
is a diffeomorphism, applied to every class alike, so the mutual information between the label
``Y`` and the state is constant: ``I(Y; X(t)) = I(Y; X(0))``.  A classifier still *learns* along
the flow — it makes the information *readable*: the accuracy of a linear read-out
(:func:`linear_readout_accuracy`) rises while ``I`` stays flat.  At a finite resolution ``ε``
(coarse graining) the information does change: :func:`coarse_grained_mutual_information` is
``I(Y; X + εZ)``, the information left to an observer who sees the state only to within ``ε``.

The estimators are the k-nearest-neighbour ones: Kozachenko–Leonenko for the entropy
(:func:`knn_entropy`) and Ross's for the information between a continuous state and a discrete
label (:func:`knn_mutual_information`).  They run on NumPy (``scipy.spatial.cKDTree``) and accept
NumPy arrays or torch tensors; :func:`log_density_change` is torch (``torch.func`` for the trace,
torchdiffeq for the integration).

References: Chen, Rubanova, Bettencourt & Duvenaud, *Neural Ordinary Differential Equations*
(NeurIPS 2018), Thm. 1; Grathwohl et al., *FFJORD* (ICLR 2019) and M. F. Hutchinson, Commun.
Stat. Simul. Comput. 19 (1990) 433 for the stochastic trace; L. F. Kozachenko & N. N. Leonenko,
Probl. Inf. Transm. 23 (1987) 95; Kraskov, Stögbauer & Grassberger, Phys. Rev. E 69 (2004) 066138;
B. C. Ross, PLoS ONE 9 (2014) e87357; Cover & Thomas, *Elements of Information Theory* (2nd ed.),
§2.8 (data processing) and §8.6 (entropy under a change of variables).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torchdiffeq
from scipy.spatial import cKDTree
from scipy.special import digamma, gammaln
from torch.func import jvp, vmap

from ._typing import Field
from ._validate import (
    as_numpy,
    check_callable,
    check_choice,
    check_first_output,
    check_int,
    check_positive,
    check_real,
    check_state,
    check_time_grid,
    check_type,
)
from .solvers import check_solver_args

__all__ = [
    "TRACE_METHODS",
    "XOR_CENTRES",
    "XOR_LABELS",
    "best_linear_accuracy",
    "best_linear_accuracy_bounds",
    "coarse_grained_mutual_information",
    "fold_field",
    "fold_step_mutual_information",
    "folded_fraction",
    "gaussian_mixture_bayes_accuracy",
    "gaussian_mixture_mutual_information",
    "knn_entropy",
    "knn_mutual_information",
    "linear_readout_accuracy",
    "log_density_change",
    "xor_blobs",
    "xor_mixture",
]

#: Ways :func:`log_density_change` computes ``Tr f_x``: exactly (``d`` Jacobian–vector products)
#: or by Hutchinson's estimator with Rademacher probes.
TRACE_METHODS = ("exact", "hutchinson")


# --------------------------------------------------------------------------- log-density change along the flow
def log_density_change(
    f: Field,
    x0: torch.Tensor,
    ts: torch.Tensor,
    *,
    method: str = "dopri5",
    rtol: float = 1e-9,
    atol: float = 1e-9,
    options: dict[str, Any] | None = None,
    trace: str = "exact",
    n_probes: int = 1,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """States and log-density change along ``dx/dt = f(t, x)``: the instantaneous change of variables.

    Integrates the augmented system ``dx/dt = f(t, x)``, ``dℓ/dt = −Tr f_x(t, x)``, ``ℓ(ts[0]) = 0``,
    so that ``ℓ(t) = log p_t(x(t)) − log p_0(x(0)) = −∫ Tr f_x(s, x(s)) ds`` along each trajectory
    (Chen et al. 2018, Thm. 1).  Averaged over samples ``x(0) ~ p_0`` it gives the entropy change,
    ``ℋ(t) − ℋ(0) = −E[ℓ(t)] = ∫ E[Tr f_x] ds`` (Liouville).

    ``trace="exact"``: ``Tr f_x = Σ_j e_jᵀ f_x e_j`` from ``d`` forward-mode Jacobian–vector
    products of the whole batch (``torch.func.jvp``, batched over the basis vectors with
    ``vmap``; no loop over samples).  ``trace="hutchinson"``: ``Tr f_x ≈ (1/P) Σ_p ε_pᵀ f_x ε_p``
    with ``P = n_probes`` Rademacher probes per sample (entries ±1), drawn once per solve from
    ``generator`` and kept fixed along the trajectory (so ``ℓ`` is ``−(1/P) Σ_p ε_pᵀ (∫ f_x) ε_p``,
    one smooth ODE).  It is unbiased, ``E[εᵀMε] = Tr M``, with variance per probe
    ``Var[εᵀMε] = Σ_{i<j} (M_ij + M_ji)² = 2(‖M_s‖_F² − Σ_i M_ii²)``, ``M_s = (M + Mᵀ)/2``
    (zero for a diagonal ``M``), divided by ``P`` for ``P`` probes; here ``M = ∫ f_x ds`` along
    the trajectory.

    ``f`` must act row by row (row ``i`` of ``f(t, x)`` depends on row ``i`` of ``x`` only), as
    every field of the book does; ``f`` is called on the whole batch.

    Args:
        f: vector field ``f(t, x)`` (torchdiffeq's order), ``x: (n, d)`` → ``(n, d)``.
        x0: initial states ``(n, d)``, floating point, finite.
        ts: strictly monotone 1-D output grid, dtype and device of ``x0``.
        method, rtol, atol, options: as for :func:`ctdepth_lib.odeint` (torchdiffeq's solver).
        trace: one of :data:`TRACE_METHODS`.
        n_probes: Rademacher probes per sample for ``"hutchinson"`` (≥ 1).
        generator: the ``torch.Generator`` of the probes; ``None``: a generator seeded with 0
            (deterministic; the global RNG is untouched).

    Returns:
        ``(xs, dlogp)``: ``xs`` of shape ``(len(ts), n, d)`` and ``dlogp`` of shape ``(len(ts), n)``,
        ``dlogp[k, i] = log p_{t_k}(x_i(t_k)) − log p_{t_0}(x_i(t_0))``.

    Reference: Chen, Rubanova, Bettencourt & Duvenaud, NeurIPS 2018, Thm. 1; Grathwohl et al.,
    *FFJORD*, ICLR 2019 (Hutchinson's estimator, Hutchinson 1990).
    """
    check_callable("f", f)
    check_state("x0", x0)
    if x0.ndim != 2:
        raise ValueError(f"x0 must have shape (n, d), a batch of states; got shape {tuple(x0.shape)}")
    check_time_grid("ts", ts, like=x0)
    check_solver_args(method, rtol, atol, options)
    check_choice("trace", trace, TRACE_METHODS)
    check_int("n_probes", n_probes, 1)
    if generator is not None:
        check_type("generator", generator, torch.Generator, "a torch.Generator or None")
    checked = check_first_output("f", f, x0)  # the first evaluation must return x's shape and dtype
    return _log_density_change(
        checked,
        x0,
        ts,
        method=method,
        rtol=rtol,
        atol=atol,
        options=options,
        trace=trace,
        n_probes=n_probes,
        generator=torch.Generator().manual_seed(0) if generator is None else generator,
    )


def _log_density_change(
    f: Field,
    x0: torch.Tensor,
    ts: torch.Tensor,
    *,
    method: str,
    rtol: float,
    atol: float,
    options: dict[str, Any] | None,
    trace: str,
    n_probes: int,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The unchecked core of :func:`log_density_change`."""
    n, d = x0.shape
    if trace == "exact":
        # the basis vectors e_j, each repeated over the batch: (d, n, d); Tr = Σ_j e_jᵀ f_x e_j
        probes = torch.eye(d, dtype=x0.dtype, device=x0.device)[:, None, :].expand(d, n, d)
        weight = 1.0
    else:
        signs = torch.randint(0, 2, (n_probes, n, d), generator=generator)
        probes = (2 * signs - 1).to(dtype=x0.dtype, device=x0.device)
        weight = 1.0 / n_probes

    def augmented(t: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        x = state[0]

        def along(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return jvp(lambda y: f(t, y), (x,), (v,))

        out, f_x_v = vmap(along)(probes)  # out: f(t, x) broadcast over the probes; f_x_v: (P, n, d)
        tr = weight * (f_x_v * probes).sum(dim=(0, 2))
        return out[0], -tr

    state0 = (x0, torch.zeros(n, dtype=x0.dtype, device=x0.device))
    xs, dlogp = torchdiffeq.odeint(augmented, state0, ts, method=method, rtol=rtol, atol=atol, options=options)
    return xs, dlogp


# --------------------------------------------------------------------------- input checks of the estimators
def _as_array(name: str, x: Any, what: str) -> np.ndarray:
    """``x`` as a NumPy array (a torch tensor is detached and moved to the CPU); any other type is a ``TypeError``."""
    if not isinstance(x, (torch.Tensor, np.ndarray)):
        raise TypeError(f"{name} must be a numpy.ndarray or torch.Tensor {what}; got {type(x).__name__}")
    return as_numpy(x)


def _as_samples(name: str, x: Any) -> np.ndarray:
    """``x`` (NumPy array or torch tensor) as a finite float64 array of shape ``(n, d)``."""
    arr = _as_array(name, x, "of shape (n, d)")
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"{name} must hold real numbers (float or int); got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[1] == 0:
        raise ValueError(f"{name} must have shape (n, d) with d >= 1 (reshape 1-D data to (n, 1)); got {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} must contain only finite values; got {bad} non-finite entries (NaN or inf)")
    return arr


def _check_distinct(name: str, x: np.ndarray) -> None:
    """kNN estimators assume a continuous law: no two rows of ``x`` may coincide."""
    n_distinct = len(np.unique(x, axis=0))
    if n_distinct < len(x):
        raise ValueError(
            f"{name} must have distinct rows (a continuous distribution); got {len(x) - n_distinct} repeated rows"
        )


def _as_labels(name: str, y: Any, n: int) -> np.ndarray:
    """Integer class labels ``(n,)`` with at least two classes, as an int64 array."""
    arr = _as_array(name, y, "of integer labels")
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must hold integer class labels; got dtype {arr.dtype}")
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name} must have shape (n,) = ({n},), one label per row of x; got shape {arr.shape}")
    if len(np.unique(arr)) < 2:
        raise ValueError(f"{name} must hold at least two classes; got the single class {arr[0]!r}")
    return arr.astype(np.int64)


def _check_k(k: Any, n_max: int, what: str) -> int:
    """``1 ≤ k < n_max``: the k-th neighbour must exist (``n_max`` = samples of the smallest set)."""
    check_int("k", k, 1)
    if k >= n_max:
        raise ValueError(f"k must be < the number of samples {what} ({n_max}); got k = {k}")
    return k


def _smallest_class(y: np.ndarray) -> int:
    return int(np.unique(y, return_counts=True)[1].min())


# --------------------------------------------------------------------------- entropy
def knn_entropy(x: Any, k: int = 3) -> float:
    """Kozachenko–Leonenko estimate of the differential entropy ``ℋ = −∫ p log p dᵈx`` in nats.

    ``Ĥ = ψ(n) − ψ(k) + log V_d + (d/n) Σ_i log ε_i``, with ``ε_i`` the Euclidean distance from
    ``x_i`` to its ``k``-th nearest neighbour, ``V_d = π^{d/2}/Γ(d/2 + 1)`` the volume of the unit
    ball and ``ψ`` the digamma function (Kraskov, Stögbauer & Grassberger 2004, eq. 20, written
    with radii instead of diameters).  Consistent for ``n → ∞`` at fixed ``k``; the bias at finite
    ``n`` grows with ``d`` and with the curvature of ``log p``.

    Args:
        x: samples ``(n, d)``, a NumPy array or torch tensor, finite, rows distinct.
        k: the neighbour order, ``1 ≤ k < n``.

    Returns:
        ``Ĥ`` in nats (a float).

    Reference: L. F. Kozachenko & N. N. Leonenko, Probl. Inf. Transm. 23 (1987) 95;
    A. Kraskov, H. Stögbauer & P. Grassberger, Phys. Rev. E 69 (2004) 066138, eq. (20).
    """
    xa = _as_samples("x", x)
    _check_k(k, xa.shape[0], "in x")
    _check_distinct("x", xa)
    return _knn_entropy(xa, k)


def _kth_distance(x: np.ndarray, k: int) -> np.ndarray:
    """Euclidean distance from each row of ``x`` to its ``k``-th nearest other row, shape ``(n,)``."""
    dist, _ = cKDTree(x).query(x, k=[k + 1])  # neighbour 1 is the point itself
    return dist[:, 0]


def _log_unit_ball(d: int) -> float:
    return 0.5 * d * math.log(math.pi) - float(gammaln(0.5 * d + 1))


def _knn_entropy(x: np.ndarray, k: int) -> float:
    """The unchecked core of :func:`knn_entropy`."""
    n, d = x.shape
    eps = _kth_distance(x, k)
    return float(digamma(n) - digamma(k) + _log_unit_ball(d) + d * np.mean(np.log(eps)))


# --------------------------------------------------------------------------- mutual information
def knn_mutual_information(x: Any, y: Any, k: int = 3) -> float:
    """Ross's k-nearest-neighbour estimate of ``I(Y; X)`` in nats, ``X`` continuous, ``Y`` discrete.

    For each sample ``i`` let ``ε_i`` be the Euclidean distance to its ``k``-th nearest neighbour
    among the samples of its own class (``n_{y_i}`` of them) and ``m_i`` the number of samples of
    the whole set within ``ε_i`` of ``x_i`` (the ``k`` same-class neighbours included); then

    ``Î = ψ(n) − ⟨ψ(n_{y_i})⟩ + ψ(k) − ⟨ψ(m_i)⟩``  (Ross 2014).

    The estimate is returned as it is (it can be slightly negative when ``I ≈ 0``; averages over
    seeds stay unbiased).  Conventions, matched to scikit-learn's
    :func:`~sklearn.feature_selection.mutual_info_classif` (which uses this estimator one feature
    at a time): ``m_i`` counts the points strictly closer than ``ε_i`` plus the point itself
    (radius ``nextafter(ε_i, 0)``, equal to Ross's count when no distances tie), and the
    distances are Euclidean (in 1-D the max-norm scikit-learn uses is the same).  Unlike
    scikit-learn, ``x`` is neither rescaled nor jittered and the estimate is not clipped at 0.

    Args:
        x: states ``(n, d)``, a NumPy array or torch tensor, finite, rows distinct.
        y: integer labels ``(n,)`` with at least two classes.
        k: the neighbour order, ``1 ≤ k <`` the size of the smallest class.

    Returns:
        ``Î`` in nats (a float); ``I(Y; X) ≤ H(Y) ≤ log(#classes)``.

    Reference: B. C. Ross, *Mutual Information between Discrete and Continuous Data Sets*,
    PLoS ONE 9 (2014) e87357; Kraskov, Stögbauer & Grassberger, Phys. Rev. E 69 (2004) 066138.
    """
    xa = _as_samples("x", x)
    ya = _as_labels("y", y, xa.shape[0])
    _check_k(k, _smallest_class(ya), "in the smallest class of y")
    _check_distinct("x", xa)
    return _knn_mutual_information(xa, ya, k)


def _knn_mutual_information(x: np.ndarray, y: np.ndarray, k: int) -> float:
    """The unchecked core of :func:`knn_mutual_information`."""
    n = x.shape[0]
    radius = np.empty(n)
    class_size = np.empty(n)
    for label in np.unique(y):  # a loop over the (few) classes, not over samples
        mask = y == label
        radius[mask] = _kth_distance(x[mask], k)
        class_size[mask] = np.count_nonzero(mask)
    # points strictly inside ε_i, the point itself included (scikit-learn's convention)
    m = cKDTree(x).query_ball_point(x, np.nextafter(radius, 0), return_length=True)
    return float(digamma(n) - np.mean(digamma(class_size)) + digamma(k) - np.mean(digamma(m)))


# --------------------------------------------------------------------------- coarse graining
def coarse_grained_mutual_information(
    x: Any,
    y: Any,
    eps: float,
    *,
    k: int = 3,
    whiten: bool = True,
    n_repeats: int = 1,
    seed: int = 0,
) -> float:
    """The information ``I(Y; X̃ + εZ)`` left at resolution ``ε`` (Gaussian coarse graining), in nats.

    ``X̃`` is the state, whitened by default — ``X̃ = L⁻¹(X − x̄)`` with ``L Lᵀ`` the sample
    covariance of ``x`` — so ``ε`` is measured in units of the state's own spread and the result
    does not change under invertible affine maps of ``X`` (exactly for a lower-triangular linear
    part; otherwise the whitened states differ by a rotation, which leaves the law of the
    isotropic noise and the estimator's distances unchanged).  ``Z ~ N(0, I_d)`` is independent noise: the
    state is seen through a Gaussian blur of width ``ε``.  Unlike ``I(Y; X)``, which no invertible
    map changes, ``I(Y; X̃ + εZ)`` grows when a map pulls the classes apart by more than ``ε``
    (relative to the overall spread) and falls when it pushes them together.  By data processing
    ``0 ≤ I(Y; X̃ + εZ) ≤ I(Y; X)``, it decreases with ``ε`` and tends to ``I(Y; X)`` as ``ε → 0``.
    For a mixture of Gaussians ``N(μ_c, Σ_c)`` (no whitening) it is the information of the mixture
    of ``N(μ_c, Σ_c + ε² I)``.

    Estimated by :func:`knn_mutual_information` on ``x̃_i + ε z_i`` and averaged over
    ``n_repeats`` independent noise draws (which shrinks only the part of the spread due to the
    noise).

    Args:
        x: states ``(n, d)``, a NumPy array or torch tensor, finite.
        y: integer labels ``(n,)`` with at least two classes.
        eps: the resolution ``ε`` (> 0; in units of the state's spread when ``whiten``).
        k: the neighbour order of the estimator, ``1 ≤ k <`` the size of the smallest class.
        whiten: whiten ``x`` by its sample mean and covariance first (requires ``n > d`` and a
            non-singular covariance).
        n_repeats: number of independent noise draws averaged (≥ 1).
        seed: seed of the noise (``numpy.random.default_rng``; ≥ 0).

    Returns:
        The estimate in nats (a float).

    Reference: Cover & Thomas, *Elements of Information Theory* (2nd ed.), §2.8 (data processing)
    and §9.4 (the Gaussian channel); B. C. Ross, PLoS ONE 9 (2014) e87357 (the estimator).
    """
    xa = _as_samples("x", x)
    ya = _as_labels("y", y, xa.shape[0])
    check_positive("eps", eps)
    _check_k(k, _smallest_class(ya), "in the smallest class of y")
    if not isinstance(whiten, bool):
        raise TypeError(f"whiten must be a bool; got {whiten!r}")
    check_int("n_repeats", n_repeats, 1)
    check_int("seed", seed, 0)
    if whiten:
        n, d = xa.shape
        if n <= d:
            raise ValueError(f"x must have more samples than dimensions to be whitened; got shape {xa.shape}")
        cov = np.atleast_2d(np.cov(xa, rowvar=False))
        if np.linalg.cond(cov) > 1e12:
            raise ValueError(
                "x must have a non-singular sample covariance to be whitened (pass whiten=False); "
                f"got condition number {np.linalg.cond(cov):.3g}"
            )
    return _coarse_grained_mutual_information(xa, ya, float(eps), k, whiten, n_repeats, seed)


def _whitened(x: np.ndarray) -> np.ndarray:
    """``L⁻¹(x − x̄)`` row by row, ``L`` the Cholesky factor of the sample covariance."""
    centred = x - x.mean(axis=0)
    chol = np.linalg.cholesky(np.atleast_2d(np.cov(x, rowvar=False)))
    return np.linalg.solve(chol, centred.T).T


def _coarse_grained_mutual_information(
    x: np.ndarray, y: np.ndarray, eps: float, k: int, whiten: bool, n_repeats: int, seed: int
) -> float:
    """The unchecked core of :func:`coarse_grained_mutual_information`."""
    base = _whitened(x) if whiten else x
    rng = np.random.default_rng(seed)
    values = [_knn_mutual_information(base + eps * rng.standard_normal(base.shape), y, k) for _ in range(n_repeats)]
    return float(np.mean(values))


# --------------------------------------------------------------------------- linear read-out
def linear_readout_accuracy(
    x: Any,
    y: Any,
    *,
    test_fraction: float = 0.5,
    C: float = 1e4,
    seed: int = 0,
) -> float:
    """Accuracy of a logistic-regression read-out ``ŷ = argmax_c (w_cᵀ x + b_c)`` trained on ``x``.

    The samples are split once, stratified by class, into a training part and a held-out part
    (``test_fraction`` of them; ``sklearn.model_selection.train_test_split`` with
    ``random_state=seed``).  On the training part the features are standardised and a
    multinomial logistic regression with a weak L2 penalty (``C``, large) is fitted — the
    cross-entropy read-out a network's decoder is; the fraction of held-out samples it
    classifies correctly is returned.  With ``test_fraction=0`` nothing is held out: the read-out
    is fitted and scored on all the samples, which asks "how well can a hyperplane split this very
    set" (is it linearly separable?) rather than how well the read-out generalises.  Since the
    logistic loss is a surrogate of the 0-1 loss, that in-sample accuracy is a *lower* bound of the
    best hyperplane's (:func:`best_linear_accuracy_bounds` brackets the best line's in the plane).  A linear read-out changes nothing under affine maps of
    ``x``; it needs the classes to be (nearly) linearly separable.  Logistic regression minimises
    the cross-entropy, not the error: on the symmetric XOR its optimum is near ``w = 0`` and its
    held-out accuracy scatters around chance, while the best line for the 0-1 loss (cutting off
    one of the four blobs) would reach up to 3/4.

    Args:
        x: features ``(n, d)``, a NumPy array or torch tensor, finite.
        y: integer labels ``(n,)`` with at least two classes, each with at least 2 samples.
        test_fraction: the held-out fraction, in [0, 1); 0 fits and scores on all samples.
        C: inverse L2 strength of scikit-learn's ``LogisticRegression`` (> 0).
        seed: seed of the split (≥ 0).

    Returns:
        The held-out accuracy in [0, 1] (a float).

    Reference: Hastie, Tibshirani & Friedman, *The Elements of Statistical Learning* (2nd ed.),
    §4.4 (logistic regression); G. Alain & Y. Bengio, *Understanding intermediate layers using
    linear classifier probes*, arXiv:1610.01644 (linear probes of hidden states).
    """
    xa = _as_samples("x", x)
    ya = _as_labels("y", y, xa.shape[0])
    check_real("test_fraction", test_fraction, low=0.0, high=1.0, high_open=True)
    check_positive("C", C)
    check_int("seed", seed, 0)
    n_classes = len(np.unique(ya))
    if test_fraction == 0:
        return _in_sample_readout_accuracy(xa, ya, float(C))
    if _smallest_class(ya) < 2:
        raise ValueError(f"y must have at least 2 samples in every class (to split); got {_smallest_class(ya)}")
    n_test = math.ceil(test_fraction * len(ya))
    if n_test < n_classes or len(ya) - n_test < n_classes:
        raise ValueError(
            f"test_fraction must leave at least one sample per class ({n_classes}) on each side; "
            f"got {test_fraction!r} of {len(ya)} samples"
        )
    return _linear_readout_accuracy(xa, ya, test_fraction, float(C), seed)


def _in_sample_readout_accuracy(x: np.ndarray, y: np.ndarray, C: float) -> float:
    """The unchecked core of :func:`linear_readout_accuracy` with ``test_fraction=0``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=10_000))
    model.fit(x, y)
    return float(model.score(x, y))


def _linear_readout_accuracy(x: np.ndarray, y: np.ndarray, test_fraction: float, C: float, seed: int) -> float:
    """The unchecked core of :func:`linear_readout_accuracy`."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=test_fraction, stratify=y, random_state=seed)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=1000))
    model.fit(x_tr, y_tr)
    return float(model.score(x_te, y_te))


# --------------------------------------------------------------------------- the XOR blobs
#: Centres of the four XOR blobs, ``(±1, ±1)``, and their labels: class 0 where the two signs
#: agree, class 1 where they differ (the parity of the quadrant).
XOR_CENTRES = np.array([(1.0, 1.0), (-1.0, -1.0), (1.0, -1.0), (-1.0, 1.0)])
XOR_LABELS = np.array([0, 0, 1, 1], dtype=np.int64)
XOR_CENTRES.setflags(write=False)
XOR_LABELS.setflags(write=False)


def xor_blobs(n: int, *, sigma: float = 0.5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` samples of the XOR blobs: four equally likely Gaussians ``N(c, σ²I)``, ``c ∈ {(±1, ±1)}``.

    The label is the parity of the quadrant of the centre (:data:`XOR_CENTRES`,
    :data:`XOR_LABELS`): 0 for ``(1, 1)`` and ``(−1, −1)``, 1 for ``(1, −1)`` and ``(−1, 1)``.
    No line separates the classes; the Bayes classifier is ``sign(x₁x₂)``.

    Args:
        n: number of samples (≥ 1).
        sigma: standard deviation ``σ`` of each blob (> 0).
        seed: seed of ``numpy.random.default_rng`` (≥ 0).

    Returns:
        ``(x, y)``: float64 states ``(n, 2)`` and int64 labels ``(n,)``.
    """
    check_int("n", n, 1)
    check_positive("sigma", sigma)
    check_int("seed", seed, 0)
    return _xor_blobs(n, float(sigma), seed)


def _xor_blobs(n: int, sigma: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    blob = rng.integers(0, 4, n)
    return XOR_CENTRES[blob] + sigma * rng.standard_normal((n, 2)), XOR_LABELS[blob].copy()


def xor_mixture(sigma: float = 0.5, matrix: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The XOR blobs pushed by the linear map ``x ↦ M x``, as a Gaussian mixture.

    Component ``j`` is ``N(M c_j, σ² M Mᵀ)`` with label :data:`XOR_LABELS`\\ ``[j]`` and weight
    1/4 — the law of ``M X`` for ``X`` the XOR blobs (:func:`xor_blobs`).  The result is what
    :func:`gaussian_mixture_mutual_information`, :func:`gaussian_mixture_bayes_accuracy` and
    :func:`best_linear_accuracy` take.

    Args:
        sigma: standard deviation of each blob (> 0).
        matrix: the map ``M``, a non-singular ``(2, 2)`` NumPy array or torch tensor; ``None`` is
            the identity.

    Returns:
        ``(means, covariances, labels)`` of shapes ``(4, 2)``, ``(4, 2, 2)``, ``(4,)``.
    """
    check_positive("sigma", sigma)
    if matrix is None:
        m = np.eye(2)
    else:
        m = _as_samples("matrix", matrix)
        if m.shape != (2, 2):
            raise ValueError(f"matrix must have shape (2, 2); got {m.shape}")
        if abs(np.linalg.det(m)) <= 1e-12 * max(np.abs(m).max(), 1e-300) ** 2:
            raise ValueError(f"matrix must be non-singular (an invertible map); got det = {np.linalg.det(m):.3g}")
    return _xor_mixture(float(sigma), m)


def _xor_mixture(sigma: float, m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    cov = sigma**2 * (m @ m.T)
    return XOR_CENTRES @ m.T, np.repeat(cov[None], 4, axis=0), XOR_LABELS.copy()


# --------------------------------------------------------------------------- exact references for a Gaussian mixture
def _check_mixture(
    means: Any, covariances: Any, labels: Any, weights: Any, *, dims: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Validate a Gaussian mixture ``Σ_j w_j N(μ_j, Σ_j)`` with a class label per component."""
    mu = _as_samples("means", means)
    m, d = mu.shape
    if d not in dims:
        raise ValueError(f"means must have shape (m, d) with d in {dims}; got d = {d}")
    if isinstance(covariances, torch.Tensor):
        cov = covariances.detach().cpu().numpy()
    elif isinstance(covariances, np.ndarray):
        cov = covariances
    else:
        raise TypeError(
            f"covariances must be a numpy.ndarray or torch.Tensor (m, d, d); got {type(covariances).__name__}"
        )
    if not (np.issubdtype(cov.dtype, np.floating) or np.issubdtype(cov.dtype, np.integer)) or cov.dtype == np.bool_:
        raise TypeError(f"covariances must hold real numbers; got dtype {cov.dtype}")
    cov = cov.astype(np.float64)
    if cov.shape != (m, d, d):
        raise ValueError(f"covariances must have shape (m, d, d) = ({m}, {d}, {d}); got {cov.shape}")
    if not np.all(np.isfinite(cov)):
        raise ValueError("covariances must contain only finite values")
    if not np.allclose(cov, cov.transpose(0, 2, 1), rtol=1e-12, atol=0.0):
        raise ValueError("covariances must be symmetric matrices")
    if np.any(np.linalg.eigvalsh(cov)[:, 0] <= 0):
        raise ValueError("covariances must be positive definite")
    lab = _as_labels("labels", labels, m)
    if weights is None:
        w = np.full(m, 1.0 / m)
    else:
        if not isinstance(weights, (np.ndarray, torch.Tensor)):
            raise TypeError(f"weights must be a numpy.ndarray, a torch.Tensor or None; got {type(weights).__name__}")
        w = weights.detach().cpu().numpy() if isinstance(weights, torch.Tensor) else weights
        if w.dtype == np.bool_ or not (np.issubdtype(w.dtype, np.floating) or np.issubdtype(w.dtype, np.integer)):
            raise TypeError(f"weights must hold real numbers; got dtype {w.dtype}")
        w = w.astype(np.float64)
        if w.shape != (m,):
            raise ValueError(f"weights must have shape (m,) = ({m},); got {w.shape}")
        if not np.all(np.isfinite(w)) or np.any(w <= 0) or abs(w.sum() - 1.0) > 1e-9:
            raise ValueError(f"weights must be finite, positive and sum to 1; got sum {w.sum()!r}")
    return mu, cov, lab, w


def _quadrature_grid(mu: np.ndarray, cov: np.ndarray, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Tensor Gauss–Legendre nodes ``(P, d)`` and weights ``(P,)`` on a box 10 standard deviations past every component."""
    from scipy.special import roots_legendre

    sd = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
    lo, hi = (mu - 10 * sd).min(axis=0), (mu + 10 * sd).max(axis=0)
    z, wz = roots_legendre(n_nodes)
    axes = [0.5 * (h - lo_) * z + 0.5 * (h + lo_) for lo_, h in zip(lo, hi, strict=True)]
    scales = [0.5 * (h - lo_) * wz for lo_, h in zip(lo, hi, strict=True)]
    grids = np.meshgrid(*axes, indexing="ij")
    weights = np.prod(np.meshgrid(*scales, indexing="ij"), axis=0)
    return np.stack([g.ravel() for g in grids], axis=1), weights.ravel()


def _log_joint(pts: np.ndarray, mu: np.ndarray, cov: np.ndarray, lab: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``log(Σ_{j ∈ c} w_j N(x; μ_j, Σ_j))`` for every class ``c`` and point: ``(C, P)``."""
    from scipy.special import logsumexp
    from scipy.stats import multivariate_normal

    logpdf = np.array(
        [math.log(wj) + multivariate_normal.logpdf(pts, m, s) for m, s, wj in zip(mu, cov, w, strict=True)]
    )
    logpdf = logpdf.reshape(len(mu), -1)
    return np.array([logsumexp(logpdf[lab == c], axis=0) for c in np.unique(lab)])


def gaussian_mixture_mutual_information(
    means: Any, covariances: Any, labels: Any, weights: Any = None, *, n_nodes: int = 300
) -> float:
    """Exact ``I(Y; X)`` in nats for a labelled Gaussian mixture in one or two dimensions, by quadrature.

    ``X ~ Σ_j w_j N(μ_j, Σ_j)`` and ``Y`` is the label of the component ``X`` was drawn from, so
    ``π_c p(x|c) = Σ_{j: y_j = c} w_j N(x; μ_j, Σ_j)`` and

    ``I(Y; X) = Σ_c π_c ∫ p(x|c) log(p(x|c)/p(x)) dᵈx``,

    computed by a tensor Gauss–Legendre rule with ``n_nodes`` nodes per axis on a box that
    extends 10 standard deviations beyond every component (the integrand is smooth and decays
    like a Gaussian, so the rule converges fast; 300 nodes give about 10 digits for the XOR
    blobs).  An invertible map of ``X`` leaves the value unchanged (for a linear map ``M``, push
    the mixture with :func:`xor_mixture` or by ``μ ↦ Mμ``, ``Σ ↦ MΣMᵀ``).

    Args:
        means: ``(m, d)``, ``d`` = 1 or 2.
        covariances: ``(m, d, d)``, symmetric positive definite.
        labels: integer class labels ``(m,)`` of the components, at least two classes.
        weights: component weights ``(m,)``, positive, summing to 1; ``None``: equal.
        n_nodes: Gauss–Legendre nodes per axis (≥ 8).

    Returns:
        ``I(Y; X)`` in nats (``0 ≤ I ≤ H(Y)``).

    Reference: T. M. Cover & J. A. Thomas, *Elements of Information Theory* (2nd ed.), §2.4, §8.5.
    """
    mu, cov, lab, w = _check_mixture(means, covariances, labels, weights, dims=(1, 2))
    check_int("n_nodes", n_nodes, 8)
    return _gaussian_mixture_mutual_information(mu, cov, lab, w, n_nodes)


def _gaussian_mixture_mutual_information(
    mu: np.ndarray, cov: np.ndarray, lab: np.ndarray, w: np.ndarray, n_nodes: int
) -> float:
    from scipy.special import logsumexp

    pts, wq = _quadrature_grid(mu, cov, n_nodes)
    log_joint = _log_joint(pts, mu, cov, lab, w)
    log_prior = np.log([w[lab == c].sum() for c in np.unique(lab)])[:, None]
    log_p = logsumexp(log_joint, axis=0)
    return float(np.sum(wq * np.sum(np.exp(log_joint) * (log_joint - log_prior - log_p), axis=0)))


def gaussian_mixture_bayes_accuracy(
    means: Any, covariances: Any, labels: Any, weights: Any = None, *, n_nodes: int = 300
) -> float:
    """The Bayes accuracy ``∫ max_c π_c p(x|c) dᵈx`` of a labelled Gaussian mixture (d = 1, 2), by quadrature.

    The accuracy of the best classifier of any shape (``argmax_c P(c | x)``); the same mixture
    and quadrature as :func:`gaussian_mixture_mutual_information`.  The integrand has a kink on
    the decision boundary, so the rule converges only like ``n_nodes⁻²`` (an error of about
    1e-4 at 300 nodes for the XOR blobs, whose Bayes accuracy is ``Φ(1/σ)² + Φ(−1/σ)²``).  Like
    ``I(Y; X)``, it does not change under an invertible map of ``X``.

    Args:
        means, covariances, labels, weights, n_nodes: as for
            :func:`gaussian_mixture_mutual_information`.

    Returns:
        The Bayes accuracy in ``[max_c π_c, 1]``.
    """
    mu, cov, lab, w = _check_mixture(means, covariances, labels, weights, dims=(1, 2))
    check_int("n_nodes", n_nodes, 8)
    pts, wq = _quadrature_grid(mu, cov, n_nodes)
    return float(np.sum(wq * np.exp(_log_joint(pts, mu, cov, lab, w)).max(axis=0)))


def best_linear_accuracy(
    means: Any, covariances: Any, labels: Any, weights: Any = None
) -> tuple[float, np.ndarray, float]:
    """The population accuracy of the best line for a two-class Gaussian mixture in the plane.

    A line ``{x : wᵀx = b}`` (``|w| = 1``) that predicts the larger label where ``wᵀx > b``
    classifies component ``j`` correctly with probability ``Φ(±(wᵀμ_j − b)/√(wᵀΣ_j w))``; its
    accuracy is the weighted sum over components.  The best ``(w, b)`` — for the 0-1 loss, not
    the cross-entropy a logistic regression minimises — is found on a grid of 720 directions and
    801 offsets per direction, then polished by Nelder–Mead.  For the XOR blobs no line beats
    3/4 (it can at best cut one blob off the other three).

    Args:
        means: ``(m, 2)``; covariances: ``(m, 2, 2)``, symmetric positive definite.
        labels: integer labels ``(m,)`` of the components, exactly two classes.
        weights: component weights ``(m,)``, positive, summing to 1; ``None``: equal.

    Returns:
        ``(accuracy, w, b)``: the accuracy and the line, ``w`` of shape ``(2,)``.
    """
    mu, cov, lab, w = _check_mixture(means, covariances, labels, weights, dims=(2,))
    if len(np.unique(lab)) != 2:
        raise ValueError(f"labels must hold exactly two classes; got {len(np.unique(lab))}")
    return _best_linear_accuracy(mu, cov, lab == lab.max(), w)


def _line_accuracy(theta: np.ndarray, b: np.ndarray, mu: np.ndarray, cov: np.ndarray, pos: np.ndarray, w: np.ndarray):
    """Accuracy of the rule 'positive where (cos θ, sin θ)·x > b'; ``theta``, ``b`` broadcast together."""
    from scipy.special import ndtr

    u = np.stack([np.cos(theta), np.sin(theta)], axis=-1)  # (..., 2)
    proj = u @ mu.T  # (..., m)
    sd = np.sqrt(np.einsum("...i,mij,...j->...m", u, cov, u))
    p_pos = ndtr((proj - b[..., None]) / sd)  # P(wᵀX > b | component j)
    return np.sum(w * np.where(pos, p_pos, 1.0 - p_pos), axis=-1)


def _best_linear_accuracy(
    mu: np.ndarray, cov: np.ndarray, pos: np.ndarray, w: np.ndarray
) -> tuple[float, np.ndarray, float]:
    from scipy.optimize import minimize

    thetas = np.linspace(0.0, 2 * np.pi, 721)[:-1]  # both orientations: the larger label on either side
    u = np.stack([np.cos(thetas), np.sin(thetas)], axis=1)
    proj = u @ mu.T
    sd = np.sqrt(np.einsum("ki,mij,kj->km", u, cov, u))
    lo, hi = (proj - 5 * sd).min(axis=1), (proj + 5 * sd).max(axis=1)
    offsets = lo[:, None] + (hi - lo)[:, None] * np.linspace(0.0, 1.0, 801)[None, :]
    acc = _line_accuracy(np.repeat(thetas[:, None], 801, axis=1), offsets, mu, cov, pos, w)
    k, i = np.unravel_index(np.argmax(acc), acc.shape)
    start = np.array([thetas[k], offsets[k, i]])
    polished = minimize(
        lambda v: -float(_line_accuracy(np.array(v[0]), np.array(v[1]), mu, cov, pos, w)),
        start,
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 2000},
    )
    best = polished.x if -polished.fun >= acc[k, i] else start
    theta, b = float(best[0]), float(best[1])
    accuracy = float(_line_accuracy(np.array(theta), np.array(b), mu, cov, pos, w))
    return accuracy, np.array([math.cos(theta), math.sin(theta)]), b


def best_linear_accuracy_bounds(x: Any, y: Any, *, n_directions: int = 1024) -> tuple[float, float]:
    """Bounds on the accuracy of the best line (0-1 loss) for a finite labelled set in the plane.

    The best line's accuracy on the set ``{(x_i, y_i)}`` is ``A* = max_{|u|=1, b} (1/n) #{i : the
    rule "class 1 where uᵀx_i > b" (or its mirror) is right}``.  For each of ``m = n_directions``
    directions ``u_k = (cos θ_k, sin θ_k)``, ``θ_k = 2πk/m``, the best threshold is found exactly
    (projections sorted, every cut counted): the largest of these is a **lower** bound ``A_lo``.
    Every direction lies within ``δ = π/m`` of some ``u_k``, and turning a line by at most ``δ``
    moves the projection of a point ``x`` by at most ``ρ = 2 sin(δ/2) max_i |x_i|``; so a line of
    direction near ``u_k`` classifies like ``(u_k, b)`` except inside the band ``|u_kᵀx − b| ≤ ρ``,
    and ``A* ≤ A_hi = max_k max_b (1/n)[#{y = 1, u_kᵀx ≥ b − ρ} + #{y = 0, u_kᵀx ≤ b + ρ}]`` (every
    point of the band counted as right).  Hence ``A_lo ≤ A* ≤ A_hi``, and both meet as ``m → ∞``.
    This is the sample counterpart of :func:`best_linear_accuracy` (a mixture's population value).

    Args:
        x: points ``(n, 2)`` (NumPy array or torch tensor), finite.
        y: their labels ``(n,)``: exactly two classes (the larger label is class 1).
        n_directions: ``m`` (>= 4); cost ``O(m n log n)``.

    Returns:
        ``(A_lo, A_hi)``, both in ``[1/2, 1]``.

    Reference: the exact 0-1 optimum over lines is attained by a line through two of the points
    (P. Houle, Algorithms for weak and wide separation of sets, Discrete Appl. Math. 45 (1993)); the
    band argument bounds what the directions between grid directions can add.
    """
    xa = _as_samples("x", x)
    if xa.shape[1] != 2:
        raise ValueError(f"x must have shape (n, 2) (points in the plane); got {xa.shape}")
    ya = _as_labels("y", y, xa.shape[0])
    if len(np.unique(ya)) != 2:
        raise ValueError(f"y must hold exactly two classes; got {len(np.unique(ya))}")
    check_int("n_directions", n_directions, 4)
    return _best_linear_accuracy_bounds(xa, ya == ya.max(), n_directions)


def _rowwise_searchsorted(a: np.ndarray, v: np.ndarray, side: str) -> np.ndarray:
    """``np.searchsorted(a[k], v[k], side)`` for every row ``k`` of the row-sorted ``a``, in one call."""
    if a.shape[1] == 0:
        return np.zeros(v.shape, dtype=np.int64)
    lo = min(a.min(), v.min())
    step = max(a.max(), v.max()) - lo + 1.0
    shift = step * np.arange(a.shape[0])[:, None]
    flat = np.searchsorted((a - lo + shift).ravel(), (v - lo + shift).ravel(), side=side)
    return flat.reshape(v.shape) - a.shape[1] * np.arange(a.shape[0])[:, None]


def _best_linear_accuracy_bounds(x: np.ndarray, pos: np.ndarray, m: int) -> tuple[float, float]:
    n = len(x)
    radius = float(np.sqrt((x**2).sum(1)).max())
    rho = 2.0 * math.sin(math.pi / (2 * m)) * radius
    lo = hi = 0.0
    for start in range(0, m, 64):  # chunks of directions keep the arrays small
        theta = 2.0 * math.pi * np.arange(start, min(start + 64, m)) / m
        proj = np.cos(theta)[:, None] * x[None, :, 0] + np.sin(theta)[:, None] * x[None, :, 1]
        p1 = np.sort(proj[:, pos], axis=1)  # class 1
        p0 = np.sort(proj[:, ~pos], axis=1)  # class 0
        n1 = p1.shape[1]
        # lower bound: cuts between sorted projections; right = #{0 at or below b} + #{1 above b}
        order = np.argsort(proj, axis=1, kind="stable")
        is1 = pos[order]
        zeros_below = np.cumsum(~is1, axis=1)
        ones_below = np.cumsum(is1, axis=1)
        right = np.concatenate([np.full((len(theta), 1), n1), zeros_below + (n1 - ones_below)], axis=1)
        best = np.maximum(right, n - right)  # the mirror rule on the same cut
        # ties: a cut between equal projections is not a line; keep only cuts between distinct values
        sp = np.take_along_axis(proj, order, axis=1)
        valid = np.ones_like(best, dtype=bool)
        valid[:, 1:-1] = sp[:, 1:] > sp[:, :-1]
        lo = max(lo, float(np.where(valid, best, 0).max()) / n)
        # upper bound: U(b) = #{1 : p >= b - rho} + #{0 : p <= b + rho}, largest at b = p0_j - rho or
        # b = p1_j + rho; the mirror rule (class 1 below b) is the same with the projections negated
        for ones, zeros in ((p1, p0), (-p1[:, ::-1], -p0[:, ::-1])):
            cand = np.concatenate([zeros - rho, ones + rho], axis=1)
            above = ones.shape[1] - _rowwise_searchsorted(ones, cand - rho, "left")
            below = _rowwise_searchsorted(zeros, cand + rho, "right")
            hi = max(hi, float((above + below).max()) / n)
    return lo, min(hi, 1.0)


# --------------------------------------------------------------------------- a field whose Euler steps fold
def fold_field(strength: float = 1.0, width: float = 0.5) -> Field:
    """The field ``f(t, x) = −c tanh(x/w)`` (each coordinate): its flow contracts, its large Euler steps fold.

    The flow moves every coordinate towards 0 and never across it (0 is a fixed point of each
    coordinate's equation), so the flow map is a diffeomorphism, as every flow map is.  One
    Euler step ``g(x) = x + h f(x)`` has the Jacobian ``diag(1 − (hc/w) sech²(xᵢ/w))``: for
    ``hc/w ≤ 1`` — the Lipschitz constant of ``h f`` at most 1, the condition of invertible
    residual networks (Behrmann et al. 2019) — every coordinate map is increasing and ``g`` is
    injective; for ``hc/w > 1`` each coordinate map decreases on the band
    ``|xᵢ| < w arcosh(√(hc/w))`` and folds it over its neighbours: ``det(I + h f_x) < 0`` where
    exactly one coordinate lies in its band.

    Args:
        strength: ``c`` (> 0), the speed far from 0.
        width: ``w`` (> 0), the width of the transition; ``c/w`` is the contraction rate at 0.

    Returns:
        ``f(t, x)``, acting elementwise on ``x`` of any shape.
    """
    c = check_positive("strength", strength)
    w = check_positive("width", width)

    def f(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return -c * torch.tanh(x / w)

    return f


def folded_fraction(f: Field, ts: torch.Tensor, xs: torch.Tensor) -> np.ndarray:
    """The fraction of samples at which each residual block reverses orientation: ``det(I + h_n f_x) < 0``.

    A continuous injective map of ``ℝᵈ`` keeps or reverses orientation everywhere (its local
    degree is constant), and a block ``x ↦ x + h f(t, x)`` keeps it far out, where it is close
    to the identity; so a block with ``det(I + h f_x) < 0`` anywhere is not injective: it folds
    part of the space over another part.

    Args:
        f: vector field ``f(t, x)`` accepting ``x`` of shape ``(d,)``.
        ts: the grid ``t_0, …, t_N`` (``h_n = t_{n+1} − t_n``).
        xs: the network's states ``(N + 1, batch, d)`` on that grid (``x_N`` unused).

    Returns:
        ``(N,)``: for each block ``n`` the fraction of the batch with ``det(I + h_n f_x(t_n, x_n)) < 0``.
    """
    from .jacobians import step_jacobians

    if isinstance(xs, torch.Tensor) and xs.ndim != 3:
        raise ValueError(f"xs must have shape (N + 1, batch, d); got shape {tuple(xs.shape)}")
    det = torch.linalg.det(step_jacobians(f, ts, xs).detach())
    return (det < 0).double().mean(dim=1).cpu().numpy()


def fold_step_mutual_information(
    step: float,
    *,
    sigma: float = 0.5,
    strength: float = 1.0,
    width: float = 0.5,
    n_samples: int = 200_000,
    seed: int = 0,
) -> tuple[float, float]:
    """``I(Y; g(X))`` for the XOR blobs after one Euler step ``g(x) = x − h c tanh(x/w)``, by exact-posterior Monte Carlo.

    ``g`` acts on each coordinate alone and each blob is a product of one-dimensional Gaussians,
    so the law of ``U = g(X)`` given the blob centred at ``(μ₁, μ₂)`` is
    ``q_{μ₁}(u₁) q_{μ₂}(u₂)``, with ``q_μ(u) = Σ_b φ_σ(x_b − μ)/|g'(x_b)|`` summed over the
    preimages ``x_b`` of ``u`` (one, or three inside the fold, found by bisection).  From these
    the posterior ``P(Y | U = u)`` is exact, and

    ``I(Y; U) = H(Y) − E_U[H(Y | U = u)]``

    is averaged over ``n_samples`` draws of ``U``; the standard error of the mean is returned
    with it.  For ``hc/w ≤ 1`` the step is injective and the value is ``I(Y; X)``; for
    ``hc/w > 1`` it folds points of the blobs at ``±1`` (different classes) onto each other and
    the information drops (data processing: it can only drop).

    Args:
        step: the Euler step ``h`` (> 0).
        sigma: standard deviation of each blob (> 0).
        strength, width: ``c`` and ``w`` of :func:`fold_field` (> 0).
        n_samples: Monte Carlo draws (≥ 100).
        seed: seed of the draws (≥ 0).

    Returns:
        ``(I, standard_error)`` in nats.

    Reference: Cover & Thomas, *Elements of Information Theory* (2nd ed.), §2.8 (data processing).
    """
    h = check_positive("step", step)
    s = check_positive("sigma", sigma)
    c = check_positive("strength", strength)
    w = check_positive("width", width)
    check_int("n_samples", n_samples, 100)
    check_int("seed", seed, 0)
    return _fold_step_mutual_information(h, s, c, w, n_samples, seed)


def _fold_map(x: np.ndarray, hc: float, w: float) -> np.ndarray:
    return x - hc * np.tanh(x / w)


def _fold_preimages(u: np.ndarray, hc: float, w: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """The preimages of ``u`` under ``g(x) = x − hc tanh(x/w)``: a list of ``(mask, x_b)`` per branch.

    ``|g(x) − x| < hc``, so every preimage lies in ``[u − hc, u + hc]``; on each branch ``g`` is
    monotone and bisection (80 halvings of an interval of length ≤ 2hc) finds it to rounding.
    """
    a = hc / w
    if a <= 1.0:  # one increasing branch
        branches = [(np.ones_like(u, dtype=bool), u - hc, u + hc, True)]
    else:
        xc = w * math.acosh(math.sqrt(a))  # g'(±xc) = 0; g decreases on (−xc, xc)
        u_lo, u_hi = _fold_map(np.array(xc), hc, w), _fold_map(np.array(-xc), hc, w)
        inside = (u > u_lo) & (u < u_hi)
        branches = [
            (u < u_hi, u - hc, np.minimum(u + hc, -xc), True),  # x < −xc
            (inside, np.full_like(u, -xc), np.full_like(u, xc), False),  # |x| < xc
            (u > u_lo, np.maximum(u - hc, xc), u + hc, True),  # x > xc
        ]
    out = []
    for mask, lo, hi, increasing in branches:
        target, lo, hi = u[mask], np.broadcast_to(lo, u.shape)[mask].copy(), np.broadcast_to(hi, u.shape)[mask].copy()
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            below = _fold_map(mid, hc, w) < target
            right = below if increasing else ~below
            lo, hi = np.where(right, mid, lo), np.where(right, hi, mid)
        out.append((mask, 0.5 * (lo + hi)))
    return out


def _fold_density(u: np.ndarray, mus: tuple[float, ...], sigma: float, hc: float, w: float) -> np.ndarray:
    """``q_μ(u)`` for each ``μ`` in ``mus``: the density of ``g(X)``, ``X ~ N(μ, σ²)``; shape ``(len(mus), *u.shape)``."""
    out = np.zeros((len(mus), *u.shape))
    for mask, xb in _fold_preimages(u, hc, w):
        jac = np.abs(1.0 - (hc / w) / np.cosh(xb / w) ** 2)
        for k, m in enumerate(mus):
            out[k][mask] += np.exp(-0.5 * ((xb - m) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi) * jac)
    return out


def _fold_step_mutual_information(
    h: float, sigma: float, c: float, w: float, n_samples: int, seed: int
) -> tuple[float, float]:
    x, _ = _xor_blobs(n_samples, sigma, seed)
    u = _fold_map(x, h * c, w)
    q1 = _fold_density(u[:, 0], (1.0, -1.0), sigma, h * c, w)  # q_{+1}(u₁), q_{−1}(u₁)
    q2 = _fold_density(u[:, 1], (1.0, -1.0), sigma, h * c, w)
    p0 = q1[0] * q2[0] + q1[1] * q2[1]  # signs agree: class 0 (the common factor 1/8 cancels)
    p1 = q1[0] * q2[1] + q1[1] * q2[0]
    post = p0 / (p0 + p1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -(np.where(post > 0, post * np.log(post), 0.0) + np.where(post < 1, (1 - post) * np.log1p(-post), 0.0))
    return float(math.log(2.0) - ent.mean()), float(ent.std(ddof=1) / math.sqrt(n_samples))
