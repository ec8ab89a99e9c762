"""Parameter gradients: per layer by backprop, as the Hamiltonian density ``∂H/∂θ``, and through a solver.

With ``H = p · f(t, x; θ)`` the gradient of ``L = ℓ(x_N)`` with respect to the
weights ``θ_n`` of block ``n`` of a residual network is exactly

    dL/dθ_n = h_n p_{n+1} ∂f/∂θ(t_n, x_n; θ_n) = h_n ∂H/∂θ(t_n, x_n, p_{n+1})     (claim 2d),

and for tied weights (one ``θ`` in every block) the sum over ``n`` is a left
Riemann sum of the continuous gradient ``dL/dθ = ∫ ∂H/∂θ dt`` (Chen et al. 2018,
eq. 5; Li, Chen, Tai & E 2018).  This module computes the three sides:
:func:`layer_gradients` (autograd through an untied network),
:func:`parameter_density` (``∂H/∂θ`` along a trajectory, vectorised with
``torch.func``) and :func:`solver_gradients` (autograd through ``odeint`` or
``odeint_adjoint``).  Batches use the sum convention of :mod:`ctdepth_lib.momenta`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ._typing import Loss
from ._validate import (
    check_callable,
    check_field_output,
    check_first_output,
    check_loss_value,
    check_state,
    check_time_grid,
    check_trajectory,
    check_type,
)
from .solvers import check_solver_args, solve

__all__ = ["layer_gradients", "parameter_density", "solver_gradients"]


def _check_module(f: nn.Module) -> dict[str, torch.Tensor]:
    """``f`` must be an ``nn.Module`` with parameters (its θ); returns them, detached, by name."""
    check_type("f", f, nn.Module, "a torch.nn.Module (its parameters are θ)")
    params = {k: v.detach() for k, v in f.named_parameters()}
    if not params:
        raise ValueError("f must have at least one parameter (its θ); got a module without parameters")
    return params


def parameter_density(f: nn.Module, ts: torch.Tensor, xs: torch.Tensor, ps: torch.Tensor) -> dict[str, torch.Tensor]:
    """``∂H/∂θ(t_n, x_n, p_n) = p_n ∂f/∂θ(t_n, x_n)`` at every point of a trajectory.

    ``H = p · f(t, x; θ)`` (summed over the batch) is evaluated for all ``n`` at once with
    ``torch.func.vmap`` over per-point copies of ``θ``, then differentiated in one reverse-mode
    pass: no Python loop over time points or batch elements.

    Args:
        f: the field as an ``nn.Module``; ``θ`` are its named parameters.
        ts: times, shape ``(M,)``.
        xs: states, shape ``(M, d)`` or ``(M, batch, d)``.
        ps: momenta, shape and dtype of ``xs``.

    Returns:
        ``{name: tensor of shape (M, *param.shape)}``.

    Reference: Chen et al., *Neural ordinary differential equations*, NeurIPS 2018, eq. (5).
    """
    params = _check_module(f)
    check_trajectory(xs, ps, ts)
    m = ts.shape[0]

    def hamiltonian_at(theta: dict[str, torch.Tensor], t: torch.Tensor, x: torch.Tensor, p: torch.Tensor):
        return (p * torch.func.functional_call(f, theta, (t, x))).sum()

    # One copy of θ per time point, H evaluated for all of them at once by vmap, and one
    # reverse-mode pass: row n of each gradient is ∂H/∂θ at (t_n, x_n, p_n).  (Plain autograd
    # through vmap avoids the seconds-long first-call set-up of torch.func.grad.)
    with torch.enable_grad():
        copies = {k: v.unsqueeze(0).expand(m, *v.shape).clone().requires_grad_(True) for k, v in params.items()}
        values = torch.func.vmap(hamiltonian_at)(copies, ts, xs.detach(), ps.detach())
        names = list(copies)
        grads = torch.autograd.grad(values.sum(), [copies[k] for k in names], allow_unused=True)
    return {k: torch.zeros_like(copies[k]) if g is None else g.detach() for k, g in zip(names, grads, strict=True)}


def layer_gradients(f: nn.Module, x0: torch.Tensor, ts: torch.Tensor, loss: Loss) -> dict[str, torch.Tensor]:
    """``dL/dθ_n`` for every block of the *untied* residual network, by reverse-mode autograd.

    Block ``n`` gets its own copy ``θ_n`` of ``f``'s parameters (all equal to
    ``f``'s current values): ``x_{n+1} = x_n + h_n f(t_n, x_n; θ_n)``, ``L = loss(x_N)``.
    The sum over ``n`` is the gradient of the tied network.

    Args:
        f: the field as an ``nn.Module``.
        x0: ``(d,)`` or ``(batch, d)``.
        ts: strictly monotone grid ``t_0, …, t_N``.
        loss: maps ``x_N`` to a scalar (sum over a batch).

    Returns:
        ``{name: tensor of shape (N, *param.shape)}``, row ``n`` is ``dL/dθ_n``.

    Reference: Li, Chen, Tai & E, *Maximum principle based algorithms for deep learning*, JMLR 18 (2018).
    """
    params = _check_module(f)
    check_state("x0", x0)
    check_time_grid("ts", ts, like=x0)
    check_callable("loss", loss, "loss(x_N)")
    n_steps = ts.numel() - 1
    with torch.enable_grad():
        copies = {k: v.unsqueeze(0).expand(n_steps, *v.shape).clone().requires_grad_(True) for k, v in params.items()}
        x = x0.detach()
        for n in range(n_steps):
            theta = {k: v[n] for k, v in copies.items()}
            fx = torch.func.functional_call(f, theta, (ts[n], x))
            if n == 0:  # no probe call: the first block's evaluation is checked
                check_field_output("f", fx, x0)
            x = x + (ts[n + 1] - ts[n]) * fx
        value = check_loss_value(loss(x))
        names = list(copies)
        grads = torch.autograd.grad(value, [copies[k] for k in names], allow_unused=True)
    return {k: torch.zeros_like(copies[k]) if g is None else g.detach() for k, g in zip(names, grads, strict=True)}


def solver_gradients(
    f: nn.Module,
    x0: torch.Tensor,
    ts: torch.Tensor,
    loss: Loss,
    *,
    method: str = "dopri5",
    rtol: float = 1e-10,
    atol: float = 1e-10,
    adjoint: bool = False,
    options: dict[str, Any] | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Gradients of ``L = loss(x(ts[-1]))`` with respect to ``x0`` and ``f``'s parameters through a solver.

    ``adjoint=False`` differentiates the solver's arithmetic (discretise-then-optimise);
    ``adjoint=True`` uses ``torchdiffeq.odeint_adjoint``, which solves the adjoint ODE
    backward with the same method (optimise-then-discretise, Chen et al. 2018).
    For fixed-step methods the grid ``ts`` is the step grid of both passes.

    Args:
        f: the field as an ``nn.Module``.
        x0: ``(d,)`` or ``(batch, d)``.
        ts: strictly monotone grid.
        loss: maps ``x(T)`` to a scalar (sum over a batch).
        method, rtol, atol, options: passed to :func:`ctdepth_lib.odeint`.
        adjoint: use ``odeint_adjoint``.

    Returns:
        ``(dL/dx0, {name: dL/dθ})``.

    Reference: Gholami, Keutzer & Biros, *ANODE* (2019); torchdiffeq issues #88, #100.
    """
    _check_module(f)
    check_state("x0", x0)
    check_time_grid("ts", ts, like=x0)
    check_callable("loss", loss, "loss(x_N)")
    check_solver_args(method, rtol, atol, options)
    check_type("adjoint", adjoint, bool, "a bool")
    names = [k for k, _ in f.named_parameters()]
    params = [v for _, v in f.named_parameters()]
    checked = check_first_output("f", f, x0, module=adjoint)  # no probe call: the solver's first is checked
    with torch.enable_grad():
        start = x0.detach().requires_grad_(True)
        xs = solve(checked, start, ts, method=method, rtol=rtol, atol=atol, adjoint=adjoint, options=options)
        value = check_loss_value(loss(xs[-1]))
        grads = torch.autograd.grad(value, [start, *params], allow_unused=True)
    filled = [torch.zeros_like(v) if g is None else g.detach() for v, g in zip([start, *params], grads, strict=True)]
    return filled[0], dict(zip(names, filled[1:], strict=True))
