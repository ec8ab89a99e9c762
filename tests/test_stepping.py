"""Tests of ctdepth_lib._stepping.unroll, the one loop every network runs."""

from __future__ import annotations

import torch

from ctdepth_lib._stepping import unroll

DT = torch.float64


def test_unroll_stacks_every_state_and_passes_both_grid_times() -> None:
    ts = torch.tensor([0.0, 0.5, 1.5, 3.0], dtype=DT)
    seen = []

    def step(t0: torch.Tensor, t1: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        seen.append((float(t0), float(t1)))
        return x + (t1 - t0)

    xs = unroll(step, torch.zeros(2, dtype=DT), ts)
    assert xs.shape == (4, 2)
    assert seen == [(0.0, 0.5), (0.5, 1.5), (1.5, 3.0)]
    assert torch.equal(xs[:, 0], ts)  # x_n = t_n - t_0 exactly on this dyadic grid


def test_unroll_is_differentiable() -> None:
    x0 = torch.tensor([1.0, 2.0], dtype=DT, requires_grad=True)
    ts = torch.linspace(0.0, 1.0, 5, dtype=DT)
    xs = unroll(lambda t0, t1, x: 2 * x, x0, ts)
    (g,) = torch.autograd.grad(xs[-1].sum(), x0)
    assert torch.equal(g, torch.full((2,), 16.0, dtype=DT))
