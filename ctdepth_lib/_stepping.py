"""The one unroll loop every network of the book runs (internal).

A network of ``N`` blocks on the grid ``t_0, …, t_N`` is
``x_{n+1} = step(t_n, t_{n+1}, x_n)``; :func:`unroll` runs it and returns the
states.  ResNets, Runge–Kutta architectures, feedforward networks, splittings
and the phase-space maps all call it, so the loop exists once.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["Step", "unroll"]

#: ``step(t_n, t_{n+1}, x_n) -> x_{n+1}``.
Step = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]

# Whether a torch.func transform (vmap, jacrev, …) is running: its tensors cannot be copied into
# a plain buffer.  A private torch function; without it, assume one is (and stack).
_transforms_active: Callable[[], bool] = getattr(torch._C, "_are_functorch_transforms_active", lambda: True)


def unroll(step: Step, x0: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
    """``x_{n+1} = step(t_n, t_{n+1}, x_n)`` for ``n = 0, …, N − 1``.

    Where autograd records the steps (or a ``torch.func`` transform runs) the states are
    stacked, so the result is differentiable through every step; otherwise each state is
    copied into one preallocated ``(N + 1, *x0.shape)`` buffer as it is made, as torchdiffeq
    does, instead of holding ``N + 1`` tensors and stacking them.  The arithmetic is the same
    either way; only where the states are kept differs.

    Args:
        step: one block, ``step(t_n, t_{n+1}, x_n)``, returning a tensor of ``x_n``'s shape.
        x0: the input ``x_0`` (any shape; arguments are checked by the public caller).
        ts: 1-D grid ``(N + 1,)``.

    Returns:
        ``(N + 1, *x0.shape)``: ``x_0, …, x_N``.
    """
    times = ts.unbind(0)
    if len(times) < 2:
        return torch.stack([x0])
    x = step(times[0], times[1], x0)
    states = [x0, x]
    buffer = None
    if not (x.requires_grad or x.shape != x0.shape or x.dtype != x0.dtype or _transforms_active()):
        buffer = torch.empty((len(times), *x0.shape), dtype=x0.dtype, device=x0.device)
        buffer[0], buffer[1] = x0, x
        states.clear()  # the buffer keeps the states; let each one go once the next is made
    for n in range(2, len(times)):
        x = step(times[n - 1], times[n], x)
        if buffer is None:
            states.append(x)
        else:
            buffer[n] = x
    return torch.stack(states) if buffer is None else buffer
