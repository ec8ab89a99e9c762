"""A validating wrapper over ``torchdiffeq.odeint`` (and ``odeint_adjoint``).

We never re-implement an adaptive solver: torchdiffeq integrates, this module
only checks the arguments once and gives clear errors.
"""

from __future__ import annotations

from typing import Any

import torch
import torchdiffeq

from ._validate import Field, check_callable, check_field_output, check_positive, check_state, check_time_grid

__all__ = ["SOLVER_METHODS", "odeint"]

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
    if not isinstance(method, str) or method not in SOLVER_METHODS:
        raise ValueError(f"method must be one of {list(SOLVER_METHODS)}; got {method!r}")
    check_positive("rtol", rtol)
    check_positive("atol", atol)
    if options is not None and not isinstance(options, dict):
        raise TypeError(f"options must be a dict or None; got {type(options).__name__}")
    check_field_output("f", f(ts[0], x0), x0)
    if adjoint:
        if not isinstance(f, torch.nn.Module):
            raise TypeError(f"f must be a torch.nn.Module when adjoint=True; got {type(f).__name__}")
        return torchdiffeq.odeint_adjoint(f, x0, ts, method=method, rtol=rtol, atol=atol, options=options)
    return torchdiffeq.odeint(f, x0, ts, method=method, rtol=rtol, atol=atol, options=options)
