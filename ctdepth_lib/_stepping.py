"""The one unroll loop every network of the book runs (internal).

A network of ``N`` blocks on the grid ``t_0, …, t_N`` is
``x_{n+1} = step(t_n, t_{n+1}, x_n)``; :func:`unroll` runs it and stacks the
states.  ResNets, Runge–Kutta architectures, feedforward networks, splittings
and the phase-space maps all call it, so the loop exists once.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["Step", "unroll"]

#: ``step(t_n, t_{n+1}, x_n) -> x_{n+1}``.
Step = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def unroll(step: Step, x0: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
    """``x_{n+1} = step(t_n, t_{n+1}, x_n)`` for ``n = 0, …, N − 1``.

    Args:
        step: one block, ``step(t_n, t_{n+1}, x_n)``, returning a tensor of ``x_n``'s shape.
        x0: the input ``x_0`` (any shape; arguments are checked by the public caller).
        ts: 1-D grid ``(N + 1,)``.

    Returns:
        ``(N + 1, *x0.shape)``: ``x_0, …, x_N``, differentiable through every step.
    """
    xs = [x0]
    x = x0
    for n in range(ts.numel() - 1):
        x = step(ts[n], ts[n + 1], x)
        xs.append(x)
    return torch.stack(xs)
