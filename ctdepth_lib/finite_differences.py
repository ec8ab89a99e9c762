"""Finite-difference references: momenta, Hamiltonian derivatives and network Jacobians without autograd.

Every quantity the book computes by automatic differentiation is checked against
one of these (never code against itself):

- :func:`fd_momentum` — ``p = ∂L/∂x(t0)`` by central differences of the loss, the ODE
  re-solved with SciPy's DOP853 (independent of torchdiffeq and autograd);
- :func:`hamiltonian_gradient_fd`, :func:`hamiltonian_time_rate_fd` — ``∂H/∂x``, ``∂H/∂p`` and
  ``∂H/∂t`` of ``H = p · f(t, x)`` by central differences;
- :func:`fd_state_jacobian` — ``J = ∂x_N/∂x_0`` of the network by central differences.

Central differences have truncation error ``O(ε²)`` and rounding error ``O(u/ε)``.

Reference: Nocedal & Wright, *Numerical Optimization* (2nd ed., 2006), §8.1.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from scipy.integrate import solve_ivp

from ._typing import Field
from ._validate import (
    check_callable,
    check_choice,
    check_first_output,
    check_positive,
    check_real,
    check_state,
    check_tensor,
    check_time_grid,
    check_trajectory,
)
from .resnet import RK_METHODS, run_blocks

__all__ = ["fd_momentum", "fd_state_jacobian", "hamiltonian_gradient_fd", "hamiltonian_time_rate_fd"]


def hamiltonian_gradient_fd(
    f: Field, ts: torch.Tensor, xs: torch.Tensor, ps: torch.Tensor, *, eps: float = 1e-5
) -> tuple[torch.Tensor, torch.Tensor]:
    """``∂H/∂x`` and ``∂H/∂p`` of ``H = p · f(t, x)`` by central finite differences (no autograd).

    ``∂H/∂x_i ≈ [H(t, x + ε e_i, p) − H(t, x − ε e_i, p)] / (2ε)`` and likewise in ``p``
    (where ``H`` is linear, so the difference is exact up to rounding); truncation error
    ``O(ε²)``, rounding ``O(u/ε)``.  An independent reference for the vector–Jacobian
    product ``p f_x`` that the adjoint solvers use.  All ``2d`` perturbations of all points
    of a time ``t_m`` are evaluated in one call of ``f``.

    Args:
        f: vector field ``f(t, x)`` accepting ``(batch, d)``.
        ts: times, shape ``(M,)``.
        xs, ps: states and momenta, shape ``(M, d)`` or ``(M, batch, d)``.
        eps: the difference step (> 0).

    Returns:
        ``(H_x, H_p)``, both of the shape of ``xs``.

    Reference: Nocedal & Wright, *Numerical Optimization*, 2nd ed., §8.1 (central differences).
    """
    check_callable("f", f)
    check_trajectory(xs, ps, ts, grid=False)
    check_positive("eps", eps)
    d = xs.shape[-1]
    shape = xs.shape[1:]
    f = check_first_output("f", f, xs.new_empty(2 * xs[0].numel(), d))  # its first call sees (2d·B, d)
    steps = eps * torch.eye(d, dtype=xs.dtype, device=xs.device)  # (d, d): row i is ε e_i
    h_x, h_p = [], []
    with torch.no_grad():
        for t, x, p in zip(ts, xs.detach(), ps.detach(), strict=True):
            xb, pb = x.reshape(-1, d), p.reshape(-1, d)  # (B, d)
            shifted = torch.cat([xb[None] + steps[:, None], xb[None] - steps[:, None]])  # (2d, B, d)
            fs = f(t, shifted.reshape(-1, d)).reshape(2 * d, -1, d)
            ham = (pb[None] * fs).sum(-1)  # (2d, B)
            h_x.append(((ham[:d] - ham[d:]) / (2 * eps)).T.reshape(shape))
            f0 = f(t, xb)
            ham_p = ((pb[None] + steps[:, None]) * f0[None]).sum(-1) - ((pb[None] - steps[:, None]) * f0[None]).sum(-1)
            h_p.append((ham_p / (2 * eps)).T.reshape(shape))
    return torch.stack(h_x), torch.stack(h_p)


def hamiltonian_time_rate_fd(
    f: Field, ts: torch.Tensor, xs: torch.Tensor, ps: torch.Tensor, *, eps: float = 1e-5
) -> torch.Tensor:
    """The explicit time derivative ``∂H/∂t = p · ∂_t f(t, x)`` by central differences in ``t``.

    ``∂H/∂t ≈ p · [f(t + ε, x) − f(t − ε, x)] / (2ε)`` with ``x``, ``p`` held fixed.  Along
    a solution of Hamilton's equations ``dH/dt = ∂H/∂t``, so
    ``H(t) − H(t_0) = ∫_{t_0}^t p · ∂_s f ds`` (claim H1-control).

    Args:
        f: vector field ``f(t, x)``.
        ts: times, shape ``(M,)``.
        xs, ps: shape ``(M, d)`` or ``(M, batch, d)``.
        eps: the difference step in time (> 0).

    Returns:
        Shape ``(M,)`` or ``(M, batch)``.

    Reference: Arnold, *Mathematical Methods of Classical Mechanics*, 2nd ed., §45 (dH/dt = ∂H/∂t).
    """
    check_callable("f", f)
    check_trajectory(xs, ps, ts, grid=False)
    check_positive("eps", eps)
    f = check_first_output("f", f, xs[0])
    rates = []
    with torch.no_grad():
        for t, x, p in zip(ts, xs.detach(), ps.detach(), strict=True):
            df = (f(t + eps, x) - f(t - eps, x)) / (2 * eps)
            rates.append((p * df).sum(-1))
    return torch.stack(rates)


def fd_momentum(
    f: Field,
    t0: float,
    t1: float,
    x: torch.Tensor,
    sample_loss: Callable[[torch.Tensor], torch.Tensor],
    *,
    eps: float = 1e-4,
    rtol: float = 1e-13,
    atol: float = 1e-13,
) -> torch.Tensor:
    """``∂L/∂x(t0)`` by central finite differences of the loss, re-solving the ODE with SciPy's DOP853.

    ``p_i ≈ [L(x + ε e_i) − L(x − ε e_i)] / (2ε)``, where ``L(ξ) = ℓ(x(t1))`` and ``x(t)``
    solves ``dx/dt = f(t, x)`` from ``x(t0) = ξ`` with ``scipy.integrate.solve_ivp(method="DOP853")``:
    a reference for the momentum independent of torchdiffeq and of autograd.  For a batch
    ``x: (B, d)`` the samples do not interact, so all ``2d`` perturbations of all samples are
    one solve of a ``2d·B·d``-dimensional system and ``p[b] = ∂ℓ_b/∂x[b]``.  Error
    ``O(ε²)`` (truncation) plus ``O(tol/ε)`` (the solver).

    Args:
        f: vector field ``f(t, x)`` accepting ``(batch, d)``.
        t0, t1: start and end of the re-solve (``t1 != t0``).
        x: the state at ``t0``, ``(d,)`` or ``(batch, d)``, float64.
        sample_loss: maps ``(batch, d)`` to the per-sample losses ``(batch,)``.
        eps: the difference step (> 0).
        rtol, atol: DOP853 tolerances (> 0).

    Returns:
        The momentum, shape of ``x``.

    Reference: Hairer, Nørsett & Wanner, *Solving Ordinary Differential Equations I*, §II.10 (DOP853).
    """
    check_callable("f", f)
    check_state("x", x)
    if x.dtype != torch.float64:
        raise TypeError(f"x must be float64 (the reference runs in double precision); got {x.dtype}")
    check_callable("sample_loss", sample_loss, "sample_loss(x)")
    check_real("t0", t0)
    check_real("t1", t1)
    if t0 == t1:
        raise ValueError(f"t1 must differ from t0; got t0 = t1 = {t0!r}")
    check_positive("eps", eps)
    check_positive("rtol", rtol)
    check_positive("atol", atol)
    d = x.shape[-1]
    xb = x.detach().reshape(-1, d)
    steps = eps * torch.eye(d, dtype=x.dtype)
    starts = torch.cat([xb[None] + steps[:, None], xb[None] - steps[:, None]]).reshape(-1, d)  # (2d·B, d)
    f = check_first_output("f", f, starts)  # the right-hand side's first evaluation is checked

    def rhs(t: float, y: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = f(torch.tensor(t, dtype=x.dtype), torch.from_numpy(y).reshape(-1, d))
        return out.numpy().ravel()

    sol = solve_ivp(rhs, (float(t0), float(t1)), starts.numpy().ravel(), method="DOP853", rtol=rtol, atol=atol)
    if not sol.success:
        raise RuntimeError(f"solve_ivp(DOP853) failed: {sol.message}")
    ends = torch.from_numpy(sol.y[:, -1].copy()).reshape(2 * d, -1, d)
    with torch.no_grad():
        values = torch.stack([sample_loss(e) for e in ends])  # (2d, B)
    if values.shape != (2 * d, xb.shape[0]):
        raise ValueError(f"sample_loss must map (batch, d) to (batch,); got shape {tuple(values.shape[1:])}")
    grad = ((values[:d] - values[d:]) / (2 * eps)).T  # (B, d)
    return grad.reshape(x.shape)


def fd_state_jacobian(
    f: Field, x0: torch.Tensor, ts: torch.Tensor, method: str = "euler", *, eps: float = 1e-5
) -> torch.Tensor:
    """``J = ∂x_N/∂x_0`` of the network by central finite differences — a reference independent of autograd.

    ``J[:, i] ≈ (x_N(x_0 + ε e_i) − x_N(x_0 − ε e_i)) / (2ε)``, all ``2d`` perturbed inputs unrolled
    as one batch by :func:`ctdepth_lib.rk_unroll` (``f`` must act row by row).  Error ``O(ε²)``
    (truncation, where the map is smooth) plus ``O(u/ε)`` (rounding, ``u`` the unit roundoff);
    a kink of ReLU within ``ε`` of the trajectory spoils it.

    Args:
        f: vector field ``f(t, x)`` accepting ``(batch, d)``.
        x0: one input ``(d,)``.
        ts: strictly monotone grid, dtype/device of ``x0``.
        method: a key of :data:`ctdepth_lib.RK_METHODS`.
        eps: the difference step (> 0).

    Returns:
        ``(d, d)``, entry ``[j, i] = ∂x_{N,j}/∂x_{0,i}``.

    Reference: Nocedal & Wright, *Numerical Optimization* (2nd ed., 2006), §8.1.
    """
    check_callable("f", f)
    check_tensor("x0", x0, ndim=(1,), expected="be one input of shape (d,)")
    check_time_grid("ts", ts, like=x0)
    check_positive("eps", eps)
    block = RK_METHODS[check_choice("method", method, sorted(RK_METHODS))][0]
    d = x0.shape[0]
    shift = eps * torch.eye(d, dtype=x0.dtype, device=x0.device)
    with torch.no_grad():
        starts = torch.cat([x0 + shift, x0 - shift]).detach()
        out = run_blocks(check_first_output("f", f, starts), starts, ts, block)[-1]
    return ((out[:d] - out[d:]) / (2 * eps)).mT
