"""The speed of the unroll: ``resnet_unroll`` against torchdiffeq's Euler (``python -m ctdepth_lib bench``)."""

from __future__ import annotations

import timeit

import torch
import torchdiffeq

from ..resnet import resnet_unroll

__all__ = ["bench_unroll"]


def bench_unroll(d: int = 64, batch: int = 256, n_steps: int = 1000, repeats: int = 5) -> dict[str, float]:
    """Best-of-``repeats`` seconds of ``resnet_unroll`` and torchdiffeq's Euler on one grid.

    Field ``f(t, x) = tanh(x Wᵀ + t)``, float64, ``x0`` of shape ``(batch, d)``,
    grid of ``n_steps + 1`` points on ``[0, 1]``.
    """
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(d, d, generator=gen, dtype=torch.float64) / d**0.5
    x0 = torch.randn(batch, d, generator=gen, dtype=torch.float64)
    ts = torch.linspace(0, 1, n_steps + 1, dtype=torch.float64)

    def f(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x @ w.T + t)

    with torch.no_grad():
        ours = min(timeit.repeat(lambda: resnet_unroll(f, x0, ts), number=1, repeat=repeats))
        theirs = min(timeit.repeat(lambda: torchdiffeq.odeint(f, x0, ts, method="euler"), number=1, repeat=repeats))
    return {"resnet_unroll_s": ours, "torchdiffeq_euler_s": theirs, "ratio": ours / theirs}
