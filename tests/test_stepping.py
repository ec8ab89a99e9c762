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


def test_states_kept_in_a_buffer_are_the_stacked_states() -> None:
    """Without autograd the states are copied into one buffer as they are made; the values are the same."""
    ts = torch.linspace(0.0, 1.0, 9, dtype=DT)
    w = torch.randn(3, 3, generator=torch.Generator().manual_seed(0), dtype=DT)

    def step(t0: torch.Tensor, t1: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return x + (t1 - t0) * torch.tanh(x @ w.T + t0)

    x0 = torch.randn(5, 3, generator=torch.Generator().manual_seed(1), dtype=DT)
    with torch.no_grad():
        kept = unroll(step, x0, ts)
    stacked = unroll(step, x0.clone().requires_grad_(True), ts)  # autograd records: stacked
    assert stacked.requires_grad and not kept.requires_grad
    assert torch.equal(kept, stacked.detach())
    x = x0
    for n in range(8):  # independent loop
        x = x + (ts[n + 1] - ts[n]) * torch.tanh(x @ w.T + ts[n])
        assert torch.equal(kept[n + 1], x)


def test_unroll_under_vmap_and_on_a_one_point_grid() -> None:
    ts = torch.linspace(0.0, 1.0, 4, dtype=DT)
    x0 = torch.randn(6, 2, generator=torch.Generator().manual_seed(2), dtype=DT)
    with torch.no_grad():
        mapped = torch.func.vmap(lambda x: unroll(lambda t0, t1, y: y * (1 + t1 - t0), x, ts), out_dims=1)(x0)
        assert torch.equal(mapped, unroll(lambda t0, t1, y: y * (1 + t1 - t0), x0, ts))
        assert torch.equal(unroll(lambda t0, t1, y: 2 * y, x0, ts[:1]), x0[None])
