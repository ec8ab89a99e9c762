"""The Lagrangian behind the momentum: the action, its Euler–Lagrange residuals and the control gradient.

The talk that accompanies the paper (Ruseckas, 28 October 2019, slides 10–13) obtains the backward
pass from Lagrange multipliers.  For a network ``dx/dt = F(x, q(t))`` with parameters (a *control*)
``q(t)`` and a loss ``L(x(T))``, the functional

    S[x, p] = L(x(T)) + ∫₀ᵀ p · (F(x, q) − ẋ) dt

(``p`` is the talk's vector of multipliers ``a``) is stationary, for a fixed input ``x(0)``, exactly
when ``dx/dt = F`` (varying ``p``), ``−dp/dt = p ∂F/∂x`` with ``p(T) = ∂L/∂x(T)`` (varying ``x``:
the adjoint equation), and then ``δL/δq(t) = p(t) ∂F/∂q`` (the gradient with respect to the
control).  Both equations are the Euler–Lagrange equations

    ∂𝓛/∂x − d/dt ∂𝓛/∂ẋ = 0,        ∂𝓛/∂p − d/dt ∂𝓛/∂ṗ = 0

of the Lagrangian ``𝓛(x, p, ẋ, t) = p·ẋ − p·F(x, q(t))`` (so ``S = L(x(T)) − ∫ 𝓛 dt``); the
generalised momentum is ``∂𝓛/∂ẋ = p`` and the Legendre transform gives ``H = p·ẋ − 𝓛 = p·F``,
the Hamiltonian of :mod:`ctdepth_lib.momenta`.

This module measures those statements on *sampled* trajectories, with references that a wrong
statement would miss:

- :func:`lagrangian` — ``𝓛`` at given ``(t, x, p, ẋ)``;
- :func:`action` — ``S`` of a trajectory sampled on a uniform grid (``ẋ`` by fourth-order finite
  differences in ``t``, the integral by Simpson's rule);
- :func:`euler_lagrange_residuals` — both Euler–Lagrange residuals along a sampled ``(x, p)``: the
  partial derivatives of the scalar ``𝓛`` by automatic differentiation, the time derivatives by
  fourth-order finite differences (they vanish to the solver's tolerance along a solution, and
  are of the size of a perturbation off it);
- :func:`control_gradient` — the density ``δL/δq(t) = p ∂F/∂q`` along a sampled trajectory;
- :func:`control_gradient_fd` — its reference: the derivative of the loss in the direction of a
  perturbation ``δq(t)`` of the control, by central differences with the ODE re-solved by SciPy's
  DOP853 (it equals ``∫ δL/δq · δq dt``).

Vector fields here are ``f(t, x)`` as everywhere in the library, except the control's ``F(x, q)``.
Batches: ``x`` of shape ``(batch, d)``; the samples do not interact and the loss is their sum, so
``𝓛`` is per sample, ``S`` and ``δL/δq`` are sums over the batch.

References: Pontryagin, Boltyanskii, Gamkrelidze & Mishchenko, *The Mathematical Theory of Optimal
Processes* (1962); Li, Chen, Tai & E, *Maximum principle based algorithms for deep learning*, JMLR
18 (2018), §2; J. Ruseckas, *Differential equations and neural networks*, talk at BPTI, 28 October
2019, slides 10–13; Arnold, *Mathematical Methods of Classical Mechanics* (2nd ed.), §12 and §14
(Euler–Lagrange equations, Legendre transform).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from scipy.integrate import simpson, solve_ivp

from ._typing import Field, Loss
from ._validate import (
    check_callable,
    check_first_output,
    check_loss_value,
    check_positive,
    check_real,
    check_state,
    check_tensor,
    check_time,
    check_time_grid,
    check_trajectory,
)

__all__ = [
    "action",
    "control_gradient",
    "control_gradient_fd",
    "euler_lagrange_residuals",
    "lagrangian",
]

Control = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # F(x, q)
Schedule = Callable[[torch.Tensor], torch.Tensor]  # q(t) or δq(t), shape (k,)


# --------------------------------------------------------------------------- time derivatives on a uniform grid
_UNIFORM_RTOL = 1e-8  # steps of a uniform float64 grid (linspace) agree far better than this


def _check_uniform_grid(ts: torch.Tensor, xs: torch.Tensor) -> float:
    """``ts``: strictly increasing, uniformly spaced, at least 5 points, one per row of ``xs``; returns the step."""
    check_time_grid("ts", ts, like=xs, increasing=True)
    if ts.shape[0] != xs.shape[0]:
        raise ValueError(f"ts must hold one time per row of xs ({xs.shape[0]}); got shape {tuple(ts.shape)}")
    if ts.numel() < 5:
        raise ValueError(f"ts must hold at least 5 times (fourth-order differences in t); got {ts.numel()}")
    steps = ts[1:] - ts[:-1]
    step = float((ts[-1] - ts[0]) / (ts.numel() - 1))
    spread = float((steps - step).abs().max())
    if spread > _UNIFORM_RTOL * abs(step):
        raise ValueError(
            f"ts must be uniformly spaced (differences in t assume one step); got steps from "
            f"{float(steps.min()):.6g} to {float(steps.max()):.6g}"
        )
    return step


def _time_derivative(z: torch.Tensor, step: float) -> torch.Tensor:
    """``dz/dt`` along axis 0 of samples on a uniform grid, fourth order at every point (M ≥ 5).

    Central ``(z_{m−2} − 8z_{m−1} + 8z_{m+1} − z_{m+2}) / 12Δ`` inside; at the two first and two last
    points the one-sided fourth-order stencils ``(−25, 48, −36, 16, −3)/12Δ`` and
    ``(−3, −10, 18, −6, 1)/12Δ`` (and their mirror images).  Exact for polynomials of degree ≤ 4.
    """
    out = torch.empty_like(z)
    out[2:-2] = z[:-4] - 8 * z[1:-3] + 8 * z[3:-1] - z[4:]
    out[0] = -25 * z[0] + 48 * z[1] - 36 * z[2] + 16 * z[3] - 3 * z[4]
    out[1] = -3 * z[0] - 10 * z[1] + 18 * z[2] - 6 * z[3] + z[4]
    out[-2] = 3 * z[-1] + 10 * z[-2] - 18 * z[-3] + 6 * z[-4] - z[-5]
    out[-1] = 25 * z[-1] - 48 * z[-2] + 36 * z[-3] - 16 * z[-4] + 3 * z[-5]
    return out / (12 * step)


# --------------------------------------------------------------------------- the Lagrangian and the action
def lagrangian(f: Field, t: float | torch.Tensor, x: torch.Tensor, p: torch.Tensor, xdot: torch.Tensor) -> torch.Tensor:
    """The Lagrangian ``𝓛(x, p, ẋ, t) = p·ẋ − p·f(t, x)`` of the forward and backward passes, per batch element.

    Its Euler–Lagrange equations are the network ``ẋ = f`` (in ``p``) and the adjoint equation
    ``ṗ = −p f_x`` (in ``x``); ``∂𝓛/∂ẋ = p`` is the generalised momentum and ``p·ẋ − 𝓛 = p·f``
    the Hamiltonian.

    Args:
        f: vector field ``f(t, x)``.
        t: a time (number or 0-d tensor).
        x: state, shape ``(d,)`` or ``(batch, d)``.
        p: momentum (the talk's multiplier ``a``), shape and dtype of ``x``.
        xdot: velocity ``ẋ``, shape and dtype of ``x``.

    Returns:
        Shape ``()`` for ``x: (d,)``, ``(batch,)`` for ``x: (batch, d)``.

    Reference: J. Ruseckas, talk at BPTI, 28 October 2019, slide 12.
    """
    check_callable("f", f)
    check_state("x", x)
    check_tensor("p", p, like=x)
    check_tensor("xdot", xdot, like=x)
    tt = check_time("t", t, x)
    return _lagrangian(check_first_output("f", f, x), tt, x, p, xdot)


def _lagrangian(f: Field, t: torch.Tensor, x: torch.Tensor, p: torch.Tensor, xdot: torch.Tensor) -> torch.Tensor:
    """The unchecked core of :func:`lagrangian`."""
    return (p * xdot).sum(-1) - (p * f(t, x)).sum(-1)


def action(f: Field, ts: torch.Tensor, xs: torch.Tensor, ps: torch.Tensor, loss: Loss) -> torch.Tensor:
    """The Lagrange-multiplier functional ``S = L(x(T)) + ∫ p·(f(t, x) − ẋ) dt`` of a sampled trajectory.

    ``(x, p)`` sampled on a uniform grid ``t_0 < … < t_M``; ``ẋ`` by fourth-order finite differences
    in ``t`` (:func:`euler_lagrange_residuals` uses the same), the integral by Simpson's rule
    (``scipy.integrate.simpson``), the loss at the last sample.  ``S = L(x(T)) − ∫ 𝓛 dt``.  For a
    fixed input ``x(t_0)`` the action is stationary exactly at a solution of the forward and adjoint
    equations with ``p(T) = ∂L/∂x(T)``: for a perturbation ``(εδx, εδp)`` with ``δx(t_0) = 0``,
    ``S(ε) − S(0) = O(ε²)`` there and ``O(ε)`` elsewhere.  Errors ``O(Δt⁴)``.

    Args:
        f: vector field ``f(t, x)``.
        ts: uniform, strictly increasing grid, shape ``(M + 1,)`` with ``M + 1 ≥ 5``.
        xs: states, ``(M + 1, d)`` or ``(M + 1, batch, d)``.
        ps: momenta (multipliers), shape and dtype of ``xs``.
        loss: maps the last state (shape of ``xs[-1]``) to a scalar (a batch: the sum).

    Returns:
        A 0-d tensor (float64 for float64 input).

    Reference: J. Ruseckas, talk at BPTI, 28 October 2019, slide 10; Pontryagin et al. (1962).
    """
    check_callable("f", f)
    check_trajectory(xs, ps)
    step = _check_uniform_grid(ts, xs)
    check_callable("loss", loss, "loss(x_N)")
    return _action(check_first_output("f", f, xs[0]), ts, xs, ps, loss, step)


def _action(f: Field, ts: torch.Tensor, xs: torch.Tensor, ps: torch.Tensor, loss: Loss, step: float) -> torch.Tensor:
    """The unchecked core of :func:`action`."""
    with torch.no_grad():
        xdot = _time_derivative(xs, step)
        fs = torch.stack([f(t, x) for t, x in zip(ts, xs, strict=True)])
        integrand = (ps * (fs - xdot)).reshape(xs.shape[0], -1).sum(-1)
        value = check_loss_value(loss(xs[-1]))
    integral = simpson(integrand.cpu().numpy(), x=ts.cpu().numpy())
    return value.detach() + torch.tensor(float(integral), dtype=xs.dtype, device=xs.device)


def euler_lagrange_residuals(
    f: Field, ts: torch.Tensor, xs: torch.Tensor, ps: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Both Euler–Lagrange residuals of ``𝓛 = p·ẋ − p·f(t, x)`` along a sampled ``(x, p)``.

    ``r_x = ∂𝓛/∂x − d/dt ∂𝓛/∂ẋ`` (``= −p f_x − ṗ``: the adjoint equation) and
    ``r_p = ∂𝓛/∂p − d/dt ∂𝓛/∂ṗ`` (``= ẋ − f``: the network; ``𝓛`` has no ``ṗ``).  The partial
    derivatives are those of the scalar ``𝓛`` by reverse-mode automatic differentiation (nothing
    is written by hand), ``ẋ`` and the time derivative of ``∂𝓛/∂ẋ`` are fourth-order finite
    differences on the uniform grid.  Along a solution both vanish to the solver's tolerance plus
    ``O(Δt⁴)``; off a solution they measure how far it is.

    Args:
        f: vector field ``f(t, x)``.
        ts: uniform, strictly increasing grid, shape ``(M,)`` with ``M ≥ 5``.
        xs: states, ``(M, d)`` or ``(M, batch, d)``.
        ps: momenta, shape and dtype of ``xs``.

    Returns:
        ``(r_x, r_p)``, both of the shape of ``xs``.

    Reference: J. Ruseckas, talk at BPTI, 28 October 2019, slide 12; Arnold, *Mathematical Methods
    of Classical Mechanics*, §12.
    """
    check_callable("f", f)
    check_trajectory(xs, ps)
    step = _check_uniform_grid(ts, xs)
    return _euler_lagrange_residuals(check_first_output("f", f, xs[0]), ts, xs, ps, step)


def _euler_lagrange_residuals(
    f: Field, ts: torch.Tensor, xs: torch.Tensor, ps: torch.Tensor, step: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The unchecked core of :func:`euler_lagrange_residuals`."""
    xdot = _time_derivative(xs.detach(), step)
    with torch.enable_grad():
        x = xs.detach().clone().requires_grad_(True)
        p = ps.detach().clone().requires_grad_(True)
        v = xdot.clone().requires_grad_(True)
        total = sum(_lagrangian(f, t, x[m], p[m], v[m]).sum() for m, t in enumerate(ts))
        grads = torch.autograd.grad(total, (x, p, v), allow_unused=True)
    l_x, l_p, l_v = (torch.zeros_like(z) if g is None else g for g, z in zip(grads, (x, p, v), strict=True))
    r_x = l_x - _time_derivative(l_v, step)
    return r_x.detach(), l_p.detach()


# --------------------------------------------------------------------------- the control gradient
def control_gradient(F: Control, xs: torch.Tensor, ps: torch.Tensor, qs: torch.Tensor) -> torch.Tensor:
    """The gradient density ``δL/δq(t) = p(t) ∂F/∂q(x(t), q(t))`` along a sampled trajectory.

    For ``dx/dt = F(x, q(t))`` and the momentum ``p = ∂L/∂x``, changing the control by ``δq(t)``
    changes the loss by ``δL = ∫ δL/δq(t) · δq(t) dt``.  For a batch the control is shared, so the
    density is the sum over the batch.  Evaluated for all samples at once (``torch.func.vmap`` over
    the time points, one reverse-mode pass).

    Args:
        F: the field as a function of the state and the control, ``F(x, q)`` with ``x`` of shape
            ``(d,)`` or ``(batch, d)`` and ``q`` of shape ``(k,)``, returning ``x``'s shape.
        xs: states, ``(M, d)`` or ``(M, batch, d)``.
        ps: momenta, shape and dtype of ``xs``.
        qs: the control at the same times, ``(M, k)``, dtype of ``xs``.

    Returns:
        Shape ``(M, k)``.

    Reference: J. Ruseckas, talk at BPTI, 28 October 2019, slide 11; Li, Chen, Tai & E, JMLR 18
    (2018), eq. (5) (the Hamiltonian's gradient in the control).
    """
    check_callable("F", F, "F(x, q)")
    check_trajectory(xs, ps)
    check_tensor("qs", qs, ndim=(2,), expected="have shape (M, k)")
    if qs.shape[0] != xs.shape[0]:
        raise ValueError(f"qs must hold one control per row of xs ({xs.shape[0]}); got shape {tuple(qs.shape)}")
    if qs.dtype != xs.dtype:
        raise TypeError(f"qs must have the dtype of xs ({xs.dtype}); got {qs.dtype}")
    checked = _first_control_checked(F, xs[0])
    return _control_gradient(checked, xs, ps, qs)


def _first_control_checked(F: Control, x: torch.Tensor) -> Control:
    """``F(x, q)`` with its first evaluation checked to return a tensor of ``x``'s shape and dtype
    (no probe call: the first real evaluation is the one checked)."""
    return check_first_output("F", F, x, call="F(x, q)")


def _control_gradient(F: Control, xs: torch.Tensor, ps: torch.Tensor, qs: torch.Tensor) -> torch.Tensor:
    """The unchecked core of :func:`control_gradient`."""

    def hamiltonian_at(q: torch.Tensor, x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        return (p * F(x, q)).sum()

    with torch.enable_grad():
        q = qs.detach().clone().requires_grad_(True)
        values = torch.func.vmap(hamiltonian_at)(q, xs.detach(), ps.detach())
        (grad,) = torch.autograd.grad(values.sum(), q)
    return grad.detach()


def control_gradient_fd(
    F: Control,
    q: Schedule,
    dq: Schedule,
    x0: torch.Tensor,
    t0: float,
    t1: float,
    loss: Loss,
    *,
    eps: float = 1e-4,
    rtol: float = 1e-12,
    atol: float = 1e-12,
) -> float:
    """The derivative of the loss along a perturbation ``δq(t)`` of the control, by central differences.

    ``[L(q + εδq) − L(q − εδq)] / (2ε)``, where ``L(q) = loss(x(t1))`` and ``x`` solves
    ``dx/dt = F(x, q(t))`` from ``x(t0) = x0`` with ``scipy.integrate.solve_ivp(method="DOP853")``
    (both signs in one solve): a reference independent of torchdiffeq and of automatic
    differentiation.  It equals ``∫ δL/δq(t) · δq(t) dt`` (:func:`control_gradient`) up to
    ``O(ε²)`` (truncation) plus ``O(tol/ε)`` (the solver).  With a narrow bump
    ``δq(t) = β(t − s) e_j`` it localises the density at ``t = s``.

    Args:
        F: the field ``F(x, q)`` (see :func:`control_gradient`).
        q: the control, ``q(t)`` for a 0-d tensor ``t``, returning shape ``(k,)``.
        dq: the perturbation, ``dq(t)`` of the shape of ``q(t)``.
        x0: the input, ``(d,)`` or ``(batch, d)``, float64.
        t0, t1: the interval (``t1 > t0``).
        loss: maps ``x(t1)`` to a scalar (a batch: the sum).
        eps: the difference step (> 0).
        rtol, atol: DOP853 tolerances (> 0).

    Returns:
        The directional derivative, a float.

    Reference: J. Ruseckas, talk at BPTI, 28 October 2019, slide 11; Hairer, Nørsett & Wanner,
    *Solving Ordinary Differential Equations I*, §II.10 (DOP853).
    """
    check_callable("F", F, "F(x, q)")
    check_callable("q", q, "q(t)")
    check_callable("dq", dq, "dq(t)")
    check_state("x0", x0)
    if x0.dtype != torch.float64:
        raise TypeError(f"x0 must be float64 (the reference runs in double precision); got {x0.dtype}")
    start = check_real("t0", t0)
    end = check_real("t1", t1)
    if not end > start:
        raise ValueError(f"t1 must be greater than t0; got t0 = {t0!r}, t1 = {t1!r}")
    check_callable("loss", loss, "loss(x_N)")
    check_positive("eps", eps)
    check_positive("rtol", rtol)
    check_positive("atol", atol)
    t_start = torch.tensor(start, dtype=x0.dtype)
    q0 = check_tensor("q(t0)", q(t_start), ndim=(1,), expected="have shape (k,)")
    if q0.dtype != x0.dtype:
        raise TypeError(f"q(t0) must have the dtype of x0 ({x0.dtype}); got {q0.dtype}")
    check_tensor("dq(t0)", dq(t_start), like=q0, like_name="q(t0)")
    checked = _first_control_checked(F, x0)
    # the reference: the perturbed controls q ± εδq in one DOP853 solve of the doubled state
    shape = x0.shape

    def rhs(t: float, y: np.ndarray) -> np.ndarray:
        tt = torch.tensor(t, dtype=x0.dtype)
        z = torch.from_numpy(y).reshape(2, *shape)
        with torch.no_grad():
            qt, dqt = q(tt), dq(tt)
            out = torch.stack([checked(z[0], qt + eps * dqt), checked(z[1], qt - eps * dqt)])
        return out.numpy().ravel()

    y0 = torch.stack([x0.detach(), x0.detach()]).numpy().ravel()
    sol = solve_ivp(rhs, (start, end), y0, method="DOP853", rtol=rtol, atol=atol)
    if not sol.success:
        raise RuntimeError(f"solve_ivp(DOP853) failed: {sol.message}")
    ends = torch.from_numpy(sol.y[:, -1].copy()).reshape(2, *shape)
    with torch.no_grad():
        plus, minus = (float(check_loss_value(loss(e))) for e in ends)
    return (plus - minus) / (2 * eps)
