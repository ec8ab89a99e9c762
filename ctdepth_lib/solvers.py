"""A validating wrapper over ``torchdiffeq.odeint`` (and ``odeint_adjoint``).

We never re-implement an adaptive solver: torchdiffeq integrates, this module
only checks the arguments once and gives clear errors.  :func:`odeint` is the
checked face; :func:`solve` is its unchecked core, which the other modules call
after their own faces have checked the solver arguments (:func:`check_solver_args`).
"""

from __future__ import annotations

from typing import Any

import torch
import torchdiffeq

from ._typing import Field
from ._validate import (
    check_callable,
    check_choice,
    check_first_output,
    check_int,
    check_positive,
    check_state,
    check_time_grid,
    check_type,
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


def check_solver_args(method: str, rtol: float, atol: float, options: dict[str, Any] | None) -> None:
    """The checks of torchdiffeq's keyword arguments, shared by every face that passes them on."""
    check_choice("method", method, SOLVER_METHODS)
    check_positive("rtol", rtol)
    check_positive("atol", atol)
    if options is not None:
        check_type("options", options, dict, "a dict or None")


def solve(
    f: Field,
    x0: torch.Tensor,
    ts: torch.Tensor,
    *,
    method: str,
    rtol: float,
    atol: float,
    adjoint: bool = False,
    options: dict[str, Any] | None = None,
) -> torch.Tensor:
    """The unchecked core of :func:`odeint`: ``torchdiffeq.odeint`` (``odeint_adjoint`` with ``adjoint``).

    For internal callers: the arguments are checked (:func:`check_solver_args`) and a user's
    field is wrapped with :func:`~ctdepth_lib._validate.check_first_output` by the public face.
    """
    integrate = torchdiffeq.odeint_adjoint if adjoint else torchdiffeq.odeint
    return integrate(f, x0, ts, method=method, rtol=rtol, atol=atol, options=options)


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
    check_solver_args(method, rtol, atol, options)
    if check_type("adjoint", adjoint, bool, "a bool"):
        check_type("f", f, torch.nn.Module, "a torch.nn.Module when adjoint=True")
    checked = check_first_output("f", f, x0, module=adjoint)  # no probe call: torchdiffeq's first is checked
    return solve(checked, x0, ts, method=method, rtol=rtol, atol=atol, adjoint=adjoint, options=options)
