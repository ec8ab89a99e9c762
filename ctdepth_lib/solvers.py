"""A validating wrapper over ``torchdiffeq.odeint`` (and ``odeint_adjoint``).

We never re-implement an adaptive solver: torchdiffeq integrates, this module
only checks the arguments once and gives clear errors.
"""

from __future__ import annotations

from typing import Any

import torch
import torchdiffeq

from ._validate import (
    Field,
    check_callable,
    check_choice,
    check_first_output,
    check_int,
    check_positive,
    check_state,
    check_time_grid,
)

__all__ = ["SOLVER_METHODS", "odeint", "uniform_grid_options"]

#: Methods accepted by :func:`odeint` (torchdiffeq's names).
SOLVER_METHODS = (
    "dopri8",
    "dopri5",
    "bosh3",
    "fehlberg2",
    "adaptive_heun",
    "euler",
    "midpoint",
    "heun2",
    "heun3",
    "rk4",
    "explicit_adams",
    "implicit_adams",
    "fixed_adams",
    "scipy_solver",
)


def uniform_grid_options(n_steps: int) -> dict[str, Any]:
    """torchdiffeq ``options`` that make a fixed-step method take ``n_steps`` equal steps.

    The steps run from ``ts[0]`` to ``ts[-1]`` on ``torch.linspace(ts[0], ts[-1], n_steps + 1)``,
    whatever the output grid ``ts`` is (pass ``ts = [0, T]`` for the end state only).

    Args:
        n_steps: number of steps (≥ 1).
    """
    check_int("n_steps", n_steps, 1)

    def grid_constructor(func: Any, y0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return torch.linspace(float(t[0]), float(t[-1]), n_steps + 1, dtype=t.dtype, device=t.device)

    return {"grid_constructor": grid_constructor}


def odeint(
    f: Field,
    x0: torch.Tensor,
    ts: torch.Tensor,
    *,
    method: str = "dopri5",
    rtol: float = 1e-9,
    atol: float = 1e-9,
    adjoint: bool = False,
    options: dict[str, Any] | None = None,
) -> torch.Tensor:
    """Solve ``dx/dt = f(t, x)``, ``x(ts[0]) = x0`` and return ``x`` at every time in ``ts``.

    A thin, validating wrapper over ``torchdiffeq.odeint`` (or
    ``torchdiffeq.odeint_adjoint`` when ``adjoint=True``, which then requires
    ``f`` to be an ``nn.Module``).  For fixed-step methods the grid ``ts``
    itself is the step grid unless ``options`` says otherwise; note that
    ``torchdiffeq``'s ``"rk4"`` is Kutta's 3/8 rule, not classical RK4.

    Args:
        f: vector field ``f(t, x)``.
        x0: shape ``(d,)`` or ``(batch, d)``, floating point, finite.
        ts: strictly monotone 1-D output grid, dtype and device of ``x0``.
        method: one of ``SOLVER_METHODS``.
        rtol, atol: tolerances (> 0) of adaptive methods.
        adjoint: use the continuous adjoint for gradients (Chen et al. 2018).
        options: passed to torchdiffeq unchanged.

    Returns:
        Tensor of shape ``(len(ts), *x0.shape)``.
    """
    check_callable("f", f)
    check_state("x0", x0)
    check_time_grid("ts", ts, like=x0)
    check_choice("method", method, SOLVER_METHODS)
    check_positive("rtol", rtol)
    check_positive("atol", atol)
    if options is not None and not isinstance(options, dict):
        raise TypeError(f"options must be a dict or None; got {type(options).__name__}")
    if adjoint and not isinstance(f, torch.nn.Module):
        raise TypeError(f"f must be a torch.nn.Module when adjoint=True; got {type(f).__name__}")
    # no probe call: the first evaluation torchdiffeq makes is the one checked
    checked = check_first_output("f", f, x0, module=adjoint)
    if adjoint:
        return torchdiffeq.odeint_adjoint(checked, x0, ts, method=method, rtol=rtol, atol=atol, options=options)
    return torchdiffeq.odeint(checked, x0, ts, method=method, rtol=rtol, atol=atol, options=options)
