"""Gradient growth: the network Jacobian ``J = ∂x_N/∂x_0``, its spectrum and the logarithmic norm.

Backprop multiplies by ``J``: ``p_0 = p_N J``, so ``σ_min(J) ≤ |p_0|/|p_N| ≤ σ_max(J)``
(claim L2).  What decides vanishing or exploding gradients is ``σ_max(J)``, not the volume
change ``log|det J| = Σ log σ_i`` (which fixes only the geometric mean of the singular
values).  Along the flow ``σ_max`` is bounded by the logarithmic norm
``μ(M) = λ_max((M + Mᵀ)/2)``: ``|p(0)| ≤ exp(∫₀ᵀ μ(f_x(t, x(t))) dt) |p(T)|``
(:func:`log_norm`, :func:`log_norm_integral`); for the network the exact bound is
``|p_0| ≤ Π_n ‖I + h J_n‖₂ |p_N|`` (:func:`step_norm_product`).

Every Jacobian here is computed with ``torch.func.jacrev`` and batched with
``torch.func.vmap`` — no loop over coordinates.  The finite-difference reference for ``J``
is :func:`ctdepth_lib.finite_differences.fd_state_jacobian`.

Reference: G. Söderlind, *The logarithmic norm. History and modern theory*, BIT 46 (2006)
631–652, and G. Dahlquist (1958) for the logarithmic norm; Pascanu, Mikolov & Bengio,
*On the difficulty of training recurrent neural networks*, ICML 2013 (gradient norms as
products of Jacobians).
"""

from __future__ import annotations

import torch
from torch.func import jacrev, vmap

from ._typing import Field
from ._validate import (
    check_callable,
    check_choice,
    check_first_output,
    check_square,
    check_state,
    check_tensor,
    check_time_grid,
    check_trajectory,
)
from .resnet import RK_METHODS, run_blocks

__all__ = [
    "gradient_gain",
    "jacobian_spectrum",
    "log_norm",
    "log_norm_integral",
    "log_norm_profile",
    "state_jacobian",
    "step_jacobians",
    "step_norm_product",
]


def jacobian_spectrum(J: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(log|det J|, singular values of J)`` — the volume change and the extreme stretch factors.

    ``log|det J| = Σ_i log σ_i``; for ``J = ∂x_N/∂x_0`` it is the log-volume change of the
    forward flow (Jacobi/Liouville: ``d log|det J|/dt = tr f_x``).

    Args:
        J: square ``(d, d)`` or ``(batch, d, d)``.

    Returns:
        ``logabsdet`` of shape ``()``/``(batch,)`` and singular values ``(…, d)`` in decreasing order.

    Raises:
        ValueError: ``J`` is singular (``log|det J| = −∞``).
    """
    check_square("J", J)
    sign, logabsdet = torch.linalg.slogdet(J)
    if not bool(torch.isfinite(logabsdet).all()) or bool((sign == 0).any()):
        raise ValueError("J must be non-singular (log|det J| is -inf); got a singular Jacobian")
    return logabsdet, torch.linalg.svdvals(J)


def gradient_gain(J: torch.Tensor, p_N: torch.Tensor) -> torch.Tensor:
    """``|p_N J| / |p_N|`` — how much backprop through ``J = ∂x_N/∂x_0`` stretches a gradient.

    By the chain rule ``p_0 = p_N J`` (row vectors), so ``σ_min(J) ≤ |p_0|/|p_N| ≤ σ_max(J)``.

    Args:
        J: ``(d, d)``.
        p_N: one final momentum ``(d,)`` or many ``(m, d)``; no row may vanish.

    Returns:
        Shape ``()`` or ``(m,)``.
    """
    check_square("J", J)
    if J.ndim != 2:
        raise ValueError(f"J must be one matrix (d, d); got shape {tuple(J.shape)}")
    check_tensor("p_N", p_N, ndim=(1, 2), expected="have shape (d,) or (m, d)")
    if p_N.shape[-1] != J.shape[0]:
        raise ValueError(f"p_N must have last dimension d = {J.shape[0]} (that of J); got shape {tuple(p_N.shape)}")
    norms = torch.linalg.vector_norm(p_N, dim=-1)
    if bool((norms == 0).any()):
        raise ValueError("p_N must have no zero rows (the gain |p_N J|/|p_N| is undefined); got a zero row")
    return torch.linalg.vector_norm(p_N @ J, dim=-1) / norms


def log_norm(M: torch.Tensor) -> torch.Tensor:
    """The logarithmic 2-norm ``μ(M) = λ_max((M + Mᵀ)/2)`` of a matrix or a batch of matrices.

    ``μ(M) = lim_{h→0⁺} (‖I + hM‖₂ − 1)/h``; it bounds the growth of linear flows,
    ``‖e^{tM}‖₂ ≤ e^{t μ(M)}`` (``t ≥ 0``), and of the solutions of ``dy/dt = A(t) y``,
    ``|y(t)| ≤ exp(∫ μ(A)) |y(0)|``.  Unlike a norm it can be negative (``μ(−I) = −1``), and it
    is at least the spectral abscissa ``max Re λ(M)``, with equality for normal ``M``.

    Args:
        M: square ``(n, n)`` or ``(…, n, n)`` (any leading batch dimensions).

    Returns:
        Shape ``()`` or ``(…)``.

    Reference: G. Söderlind, *The logarithmic norm. History and modern theory*, BIT 46 (2006)
    631–652, §2 and Table 1; G. Dahlquist, *Stability and error bounds in the numerical
    integration of ordinary differential equations*, thesis, Stockholm (1958).
    """
    check_tensor("M", M)
    if M.ndim < 2 or M.shape[-1] != M.shape[-2] or M.shape[-1] == 0:
        raise ValueError(f"M must be a square matrix (n, n) or a batch (..., n, n); got shape {tuple(M.shape)}")
    return _log_norm(M)


def _log_norm(M: torch.Tensor) -> torch.Tensor:
    return torch.linalg.eigvalsh(0.5 * (M + M.mT))[..., -1]


def _check_samples(f: Field, ts: torch.Tensor, xs: torch.Tensor) -> Field:
    """Check the samples ``(t_n, x_n)`` and return ``f`` with its first (mapped) evaluation checked."""
    check_callable("f", f)
    check_trajectory(xs, ts=ts)
    return check_first_output("f", f, xs[0] if xs.ndim == 2 else xs[0, 0])  # one mapped call sees (d,)


def _field_jacobians(f: Field, ts: torch.Tensor, xs: torch.Tensor) -> torch.Tensor:
    """``f_x(t_n, x_n)`` for every sample: ``(M, d, d)`` or ``(M, batch, d, d)`` (``f`` acts row by row)."""
    jac = jacrev(lambda t, x: f(t, x), argnums=1)
    if xs.ndim == 2:
        return vmap(jac)(ts, xs)
    return vmap(vmap(jac, in_dims=(None, 0)))(ts, xs)


def step_jacobians(f: Field, ts: torch.Tensor, xs: torch.Tensor) -> torch.Tensor:
    """The layer Jacobians ``I + h_n f_x(t_n, x_n)`` of a residual network, ``n = 0, …, N − 1``.

    Args:
        f: vector field ``f(t, x)`` accepting ``x`` of shape ``(d,)``.
        ts: the grid ``t_0, …, t_N``; xs: the states ``(N+1, d)`` or ``(N+1, batch, d)`` (``x_N`` unused).

    Returns:
        ``(N, d, d)`` or ``(N, batch, d, d)``.
    """
    return _step_jacobians(_check_samples(f, ts, xs), ts, xs)


def _step_jacobians(f: Field, ts: torch.Tensor, xs: torch.Tensor) -> torch.Tensor:
    jac = _field_jacobians(f, ts[:-1], xs[:-1])
    eye = torch.eye(xs.shape[-1], dtype=xs.dtype, device=xs.device)
    hs = (ts[1:] - ts[:-1]).reshape(-1, *([1] * (jac.ndim - 1)))
    return eye + hs * jac


def log_norm_profile(f: Field, ts: torch.Tensor, xs: torch.Tensor) -> torch.Tensor:
    """``μ(f_x(t_n, x_n))`` at the samples ``(t_n, x_n)`` of a trajectory (:func:`log_norm`).

    Args:
        f: vector field ``f(t, x)`` accepting ``x`` of shape ``(d,)``.
        ts: strictly monotone times ``(M,)``, ``M ≥ 2``, dtype/device of ``xs``.
        xs: states ``(M, d)`` or ``(M, batch, d)`` at those times (e.g. an ``odeint`` solution).

    Returns:
        ``(M,)`` or ``(M, batch)``.

    Reference: Söderlind (2006), BIT 46, §3 (the logarithmic norm along a trajectory).
    """
    return _log_norm_profile(_check_samples(f, ts, xs), ts, xs)


def _log_norm_profile(f: Field, ts: torch.Tensor, xs: torch.Tensor) -> torch.Tensor:
    return _log_norm(_field_jacobians(f, ts, xs.detach()).detach())


def log_norm_integral(f: Field, ts: torch.Tensor, xs: torch.Tensor) -> torch.Tensor:
    """``∫ μ(f_x(t, x(t))) dt`` along a sampled trajectory, by the composite trapezoidal rule.

    It bounds the backward propagation of momenta: for ``dp/dt = −p f_x`` on ``[t_0, T]``,
    ``|p(t_0)| ≤ exp(∫_{t_0}^T μ(f_x) dt) |p(T)|`` for every ``p(T)``, hence
    ``σ_max(∂x(T)/∂x(t_0)) ≤ exp(∫ μ)``.  ``μ`` is Lipschitz along a smooth trajectory but only
    piecewise smooth (eigenvalue crossings, kinks of ReLU), so the rule is second order where
    ``μ`` is smooth; sample densely.  The integral is signed like ``ts`` (``∫_{ts[0]}^{ts[-1]}``).

    Args:
        f, ts, xs: as for :func:`log_norm_profile`.

    Returns:
        Shape ``()`` or ``(batch,)``.

    Reference: Söderlind (2006), BIT 46, Theorem 3 (differential inequality); Dahlquist (1958).
    """
    mu = _log_norm_profile(_check_samples(f, ts, xs), ts, xs)
    hs = (ts[1:] - ts[:-1]).reshape(-1, *([1] * (mu.ndim - 1)))
    return (0.5 * hs * (mu[1:] + mu[:-1])).sum(0)


def step_norm_product(f: Field, ts: torch.Tensor, xs: torch.Tensor) -> torch.Tensor:
    """``Π_n ‖I + h_n f_x(t_n, x_n)‖₂`` over the layers of a residual network — the exact bound
    on its backprop gain, ``|p_0| ≤ Π_n ‖I + h_n J_n‖₂ |p_N|``.

    ``‖I + hJ‖₂ = 1 + h μ(J) + O(h²)``, so ``Π_n ‖I + h_n J_n‖₂ ≈ exp(Σ_n h_n μ(J_n))`` only up
    to ``O(h)`` over the depth: for a rotation ``J = ω [[0, −1], [1, 0]]`` (``μ = 0``) every
    factor is ``(1 + h²ω²)^{1/2}`` and the product grows like ``e^{hω²T/2}``.

    Args:
        f: vector field ``f(t, x)`` accepting ``x`` of shape ``(d,)``.
        ts: the network's grid ``t_0, …, t_N`` (``h_n = t_{n+1} − t_n``).
        xs: the ResNet states ``x_0, …, x_N``, ``(N+1, d)`` or ``(N+1, batch, d)`` (``x_N`` unused).

    Returns:
        Shape ``()`` or ``(batch,)``.

    Reference: Söderlind (2006), BIT 46, §2 (``μ`` as the derivative of ``‖I + hM‖`` at ``h = 0``).
    """
    steps = _step_jacobians(_check_samples(f, ts, xs), ts, xs.detach()).detach()
    return torch.linalg.matrix_norm(steps, ord=2).prod(0)


def state_jacobian(f: Field, x0: torch.Tensor, ts: torch.Tensor, method: str = "euler") -> torch.Tensor:
    """``J = ∂x_N/∂x_0`` of the network (``method="euler"``: the ResNet) on the grid ``ts``.

    ``x_N`` is :func:`ctdepth_lib.rk_unroll` of ``x_0``; ``J`` comes from ``torch.func.jacrev``,
    batched over ``x0`` rows with ``vmap`` (``f`` must act row by row).

    Args:
        f: vector field ``f(t, x)``, accepting ``x`` of shape ``(d,)``.
        x0: ``(d,)`` or ``(batch, d)``.
        ts: strictly monotone grid, dtype/device of ``x0``.
        method: a key of :data:`ctdepth_lib.RK_METHODS`.

    Returns:
        ``(d, d)`` or ``(batch, d, d)``.
    """
    check_callable("f", f)
    check_state("x0", x0)
    check_time_grid("ts", ts, like=x0)
    block = RK_METHODS[check_choice("method", method, sorted(RK_METHODS))][0]
    checked = check_first_output("f", f, x0 if x0.ndim == 1 else x0[0])  # one mapped call sees (d,)

    def endpoint(x: torch.Tensor) -> torch.Tensor:
        return run_blocks(checked, x, ts, block)[-1]

    jac = jacrev(endpoint)
    return jac(x0) if x0.ndim == 1 else vmap(jac)(x0)
