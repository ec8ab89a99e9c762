"""Residual networks as one-step methods: the ResNet unroll and its Runge–Kutta relatives.

A residual network ``x_{n+1} = x_n + h_n f(t_n, x_n)`` is the explicit Euler
method for ``dx/dt = f(t, x)`` on the grid ``t_0 < t_1 < … < t_N`` (claim 1a).
Architectures with two or four evaluations of ``f`` per block are the midpoint,
Heun and fourth-order Runge–Kutta methods (claim 1c; Lu et al. 2018).

:func:`resnet_unroll` and :func:`rk_unroll` are the checked faces; :func:`run_blocks` is their
unchecked core, which the other modules (momenta, Jacobians, finite differences, models) call.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._stepping import unroll
from ._typing import Field
from ._validate import check_callable, check_choice, check_first_output, check_real, check_state, check_time_grid

__all__ = ["RK_METHODS", "resnet_unroll", "rk_unroll"]

#: ``Φ(f, t, h, x)``: one block of a one-step method, ``x_{n+1} = Φ(f, t_n, h_n, x_n)``.
Block = Callable[[Field, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def _euler(f: Field, t: torch.Tensor, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return x + h * f(t, x)


def _midpoint(f: Field, t: torch.Tensor, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    half = h / 2
    return x + h * f(t + half, x + half * f(t, x))


def _heun(f: Field, t: torch.Tensor, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    k1 = f(t, x)
    k2 = f(t + h, x + h * k1)
    return x + (h / 2) * (k1 + k2)


def _rk4(f: Field, t: torch.Tensor, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    half = h / 2
    k1 = f(t, x)
    k2 = f(t + half, x + half * k1)
    k3 = f(t + half, x + half * k2)
    k4 = f(t + h, x + h * k3)
    return x + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4)


_ONE_THIRD = 1 / 3
_TWO_THIRDS = 2 / 3


def _rk38(f: Field, t: torch.Tensor, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    # Kutta's 3/8 rule, written exactly as torchdiffeq's ``rk4_alt_step_func``.
    k1 = f(t, x)
    k2 = f(t + h * _ONE_THIRD, x + h * k1 * _ONE_THIRD)
    k3 = f(t + h * _TWO_THIRDS, x + h * (k2 - k1 * _ONE_THIRD))
    k4 = f(t + h, x + h * (k1 - k2 + k3))
    return x + (k1 + 3 * (k2 + k3) + k4) * h * 0.125


#: The one-step methods :func:`rk_unroll` knows, with their classical order.
RK_METHODS: dict[str, tuple[Block, int]] = {
    "euler": (_euler, 1),
    "midpoint": (_midpoint, 2),
    "heun": (_heun, 2),
    "rk4": (_rk4, 4),
    "rk38": (_rk38, 4),
}


def run_blocks(
    f: Field, x0: torch.Tensor, ts: torch.Tensor, block: Block, h: torch.Tensor | None = None
) -> torch.Tensor:
    """The unchecked core of :func:`rk_unroll`: ``x_{n+1} = Φ(f, t_n, h_n, x_n)`` with ``h_n = t_{n+1} − t_n``
    (or the constant ``h``), for internal callers that have checked their arguments."""
    if h is None:
        return unroll(lambda t0, t1, x: block(f, t0, t1 - t0, x), x0, ts)
    return unroll(lambda t0, t1, x: block(f, t0, h, x), x0, ts)


def _check_unroll(f: Field, x0: torch.Tensor, ts: torch.Tensor, h: float | None) -> tuple[Field, torch.Tensor | None]:
    """The checks of both faces; returns ``f`` with its first evaluation checked and ``h`` as a tensor (or None)."""
    check_callable("f", f)
    check_state("x0", x0)
    check_time_grid("ts", ts, like=x0)
    if h is not None:
        sign = 1.0 if float(ts[1]) > float(ts[0]) else -1.0
        if check_real("h", h) * sign <= 0:
            raise ValueError(f"h must be a finite nonzero step with the direction of ts (sign {sign:+.0f}); got {h!r}")
        h = torch.tensor(float(h), dtype=x0.dtype, device=x0.device)
    return check_first_output("f", f, x0), h  # no probe call: the first block's evaluation is checked


def rk_unroll(
    f: Field, x0: torch.Tensor, ts: torch.Tensor, method: str = "euler", *, h: float | None = None
) -> torch.Tensor:
    """Unroll a one-step Runge–Kutta method (a residual architecture) on the grid ``ts``.

    ``x_{n+1} = Φ_h(t_n, x_n)`` with ``h = t_{n+1} − t_n`` and ``Φ`` one of
    ``RK_METHODS``: ``"euler"`` (the ResNet block), ``"midpoint"``, ``"heun"``
    (order 2), ``"rk4"`` (classical fourth order) and ``"rk38"`` (Kutta's 3/8
    rule, which is what ``torchdiffeq``'s ``method="rk4"`` computes).

    With ``h`` given, every block uses that one constant step instead,
    ``x_{n+1} = Φ_h(t_n, x_n)`` with the ``t_n`` of ``ts``: the network with
    step ``h = T/N`` as it is usually written.  In floating point
    ``fl(T/N)`` and the grid differences ``fl(t_{n+1} − t_n)`` agree only when
    every ``t_n`` and ``h`` is exact in binary (a dyadic grid), so only there
    is the constant-step network bitwise the grid's one.

    Args:
        f: vector field ``f(t, x)`` returning a tensor of ``x``'s shape.
        x0: initial state, shape ``(d,)`` or ``(batch, d)``, floating point, finite.
        ts: strictly monotone 1-D grid of ``N + 1 >= 2`` times, dtype and device of ``x0``.
        method: key of ``RK_METHODS``.
        h: ``None`` (steps ``t_{n+1} − t_n``) or a finite constant step with the
            direction of ``ts``.

    Returns:
        Tensor of shape ``(len(ts), *x0.shape)``; row ``n`` is ``x_n``, row 0 is ``x0``.
        Differentiable with respect to ``x0`` and to parameters of ``f``.

    Reference: Hairer, Nørsett & Wanner, *Solving Ordinary Differential Equations I*, §II.1.
    """
    block = RK_METHODS[check_choice("method", method, sorted(RK_METHODS))][0]
    checked, step = _check_unroll(f, x0, ts, h)
    return run_blocks(checked, x0, ts, block, step)


def resnet_unroll(f: Field, x0: torch.Tensor, ts: torch.Tensor, *, h: float | None = None) -> torch.Tensor:
    """The residual network ``x_{n+1} = x_n + (t_{n+1} − t_n) f(t_n, x_n)`` on the grid ``ts``.

    This is the explicit Euler method for ``dx/dt = f(t, x)`` (claim 1a): it
    forms ``h`` as ``torchdiffeq`` does, so it equals
    ``torchdiffeq.odeint(f, x0, ts, method="euler")`` bit for bit.  With a
    constant ``h`` (e.g. ``T/N``) it is ``x_{n+1} = x_n + h f(t_n, x_n)``,
    bitwise equal to torchdiffeq only on a dyadic grid (claim 1a-grid).

    Args:
        f: vector field ``f(t, x)`` (a callable or ``nn.Module``), ``t`` a 0-d tensor.
        x0: initial state, shape ``(d,)`` or ``(batch, d)``, floating point, finite.
        ts: strictly monotone 1-D grid of ``N + 1 >= 2`` times, dtype and device of ``x0``.
        h: ``None`` (steps ``t_{n+1} − t_n``) or a finite constant step with the
            direction of ``ts``.

    Returns:
        Tensor of shape ``(len(ts), *x0.shape)`` holding ``x_0, …, x_N``.

    Reference: E, *A proposal on machine learning via dynamical systems* (2017);
    Haber & Ruthotto, *Stable architectures for deep neural networks* (2017).
    """
    checked, step = _check_unroll(f, x0, ts, h)
    return run_blocks(checked, x0, ts, _euler, step)
