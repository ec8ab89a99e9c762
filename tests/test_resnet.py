"""resnet_unroll / rk_unroll against torchdiffeq, closed forms and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torchdiffeq
from hypothesis import given, settings, strategies as st
from scipy.integrate import solve_ivp

import ctdepth_lib as cl


def linear_field(a: torch.Tensor):
    return lambda t, x: x @ a.T


def test_resnet_is_euler_closed_form() -> None:
    # dx/dt = λx: Euler gives x_N = (1 + λh)^N x_0 exactly (up to rounding).
    lam, n = -0.7, 40
    ts = torch.linspace(0.0, 2.0, n + 1)
    xs = cl.resnet_unroll(lambda t, x: lam * x, torch.tensor([1.5]), ts)
    expected = 1.5 * np.cumprod(np.r_[1.0, np.full(n, 1 + lam * 2.0 / n)])
    np.testing.assert_allclose(xs[:, 0].numpy(), expected, rtol=1e-13)


@pytest.mark.parametrize(
    ("method", "amplification"),
    [
        ("heun", lambda z: 1 + z + z**2 / 2),
        ("midpoint", lambda z: 1 + z + z**2 / 2),
        ("rk4", lambda z: 1 + z + z**2 / 2 + z**3 / 6 + z**4 / 24),
        ("rk38", lambda z: 1 + z + z**2 / 2 + z**3 / 6 + z**4 / 24),
    ],
)
def test_rk_steps_closed_form(method: str, amplification) -> None:
    # dx/dt = λx: a Runge–Kutta method of order p multiplies x by the degree-p Taylor polynomial
    # of exp(λh) per step (Hairer, Nørsett & Wanner I, §IV.2), so x_N = R(λh)^N x_0.
    lam, n, t_end = -1.3, 25, 2.0
    h = t_end / n
    xs = cl.rk_unroll(lambda t, x: lam * x, torch.tensor([0.8, -2.0]), torch.linspace(0.0, t_end, n + 1), method)
    expected = np.outer(amplification(lam * h) ** np.arange(n + 1), [0.8, -2.0])
    np.testing.assert_allclose(xs.numpy(), expected, rtol=1e-13)


def test_constant_step_ignores_grid_spacing() -> None:
    # With h given, every block uses it: x_N = (1 + λh)^N x_0 on any grid, and for
    # dx/dt = t the sum x_N = x_0 + h Σ t_n uses the grid's own t_n.
    ts = torch.tensor([0.0, 0.1, 0.35, 0.4, 0.9, 1.0])
    xs = cl.resnet_unroll(lambda t, x: -0.5 * x, torch.tensor([2.0]), ts, h=0.2)
    np.testing.assert_allclose(xs[:, 0].numpy(), 2.0 * 0.9 ** np.arange(6), rtol=1e-14)
    xs = cl.resnet_unroll(lambda t, x: t * torch.ones_like(x), torch.tensor([1.0]), ts, h=0.2)
    np.testing.assert_allclose(xs[-1, 0].numpy(), 1.0 + 0.2 * (0.0 + 0.1 + 0.35 + 0.4 + 0.9), rtol=1e-14)


def test_constant_step_vs_torchdiffeq_dyadic_and_not() -> None:
    # fl(T/N) equals every fl(t_{n+1} − t_n) on a dyadic grid (bitwise equal to torchdiffeq);
    # on T = 1, N = 49 it does not, and the two networks differ at rounding level only.
    f = cl.TimeMLP(2, 8, seed=5, scale=1.5)
    x0 = torch.randn(6, 2, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        ts = torch.arange(65, dtype=torch.float64) / 64
        assert torch.equal(cl.resnet_unroll(f, x0, ts, h=1 / 64), torchdiffeq.odeint(f, x0, ts, method="euler"))
        ts = torch.arange(50, dtype=torch.float64) / 49
        assert bool(((ts[1:] - ts[:-1]) != 1 / 49).any())
        diff = float(
            (cl.resnet_unroll(f, x0, ts, h=1 / 49) - torchdiffeq.odeint(f, x0, ts, method="euler")).abs().max()
        )
        assert 0 < diff <= 1e-14


def test_shape_and_first_row() -> None:
    f = cl.TimeMLP(3, 8, seed=1)
    x0 = torch.randn(5, 3)
    ts = torch.linspace(0, 1, 11)
    xs = cl.resnet_unroll(f, x0, ts)
    assert xs.shape == (11, 5, 3)
    assert torch.equal(xs[0], x0)


@settings(max_examples=20, deadline=None)
@given(
    n=st.sampled_from([1, 2, 4, 8, 16, 64]), seed=st.integers(0, 10_000), method=st.sampled_from(["euler", "midpoint"])
)
def test_bitwise_equal_to_torchdiffeq_on_dyadic_grid(n: int, seed: int, method: str) -> None:
    f = cl.TimeMLP(2, 6, seed=seed)
    x0 = torch.randn(3, 2, generator=torch.Generator().manual_seed(seed))
    ts = torch.linspace(0.0, 1.0, n + 1)
    with torch.no_grad():
        assert torch.equal(cl.rk_unroll(f, x0, ts, method), torchdiffeq.odeint(f, x0, ts, method=method))


def test_rk38_is_torchdiffeq_rk4_and_classical_is_not() -> None:
    f = cl.TimeMLP(2, 6, seed=3, scale=2.0)
    x0 = torch.randn(4, 2, generator=torch.Generator().manual_seed(0))
    ts = torch.linspace(0.0, 1.0, 9)
    with torch.no_grad():
        ref = torchdiffeq.odeint(f, x0, ts, method="rk4")
        assert torch.equal(cl.rk_unroll(f, x0, ts, "rk38"), ref)
        assert float((cl.rk_unroll(f, x0, ts, "rk4") - ref).abs().max()) > 1e-12


@pytest.mark.parametrize(("method", "order"), [("euler", 1), ("midpoint", 2), ("heun", 2), ("rk4", 4), ("rk38", 4)])
def test_orders_against_scipy(method: str, order: int) -> None:
    f = cl.TimeMLP(2, 8, seed=0)
    x0 = torch.tensor([[0.3, -0.2]])

    def rhs(t: float, y: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return f(torch.tensor(t), torch.from_numpy(y)[None])[0].numpy()

    ref = solve_ivp(rhs, (0, 1), x0[0].numpy(), method="DOP853", rtol=1e-13, atol=1e-13).y[:, -1]
    ns = [8, 16, 32, 64] if order == 4 else [32, 64, 128, 256]
    errs = []
    for n in ns:
        with torch.no_grad():
            xs = cl.rk_unroll(f, x0, torch.linspace(0, 1, n + 1), method)
        errs.append(float(np.abs(xs[-1, 0].numpy() - ref).max()))
    assert cl.convergence_order([1 / n for n in ns], errs) == pytest.approx(order, abs=0.15)


def test_decreasing_grid_runs_backwards() -> None:
    xs = cl.resnet_unroll(lambda t, x: -x, torch.tensor([1.0]), torch.linspace(1.0, 0.0, 1001))
    assert float(xs[-1, 0]) == pytest.approx(math.e, rel=2e-3)


def test_gradients_flow_to_x0() -> None:
    x0 = torch.tensor([1.0, 2.0], requires_grad=True)
    a = torch.tensor([[0.0, 1.0], [-1.0, 0.0]])
    xs = cl.resnet_unroll(linear_field(a), x0, torch.linspace(0, 1, 5))
    xs[-1].sum().backward()
    m = torch.linalg.matrix_power(torch.eye(2) + 0.25 * a, 4)
    torch.testing.assert_close(x0.grad, m.sum(0), rtol=1e-14, atol=1e-14)


# --- bad input: one table per public face -------------------------------------------------

DT = torch.float64
_UNROLL = {"f": lambda t, x: -x, "x0": torch.tensor([1.0, 2.0], dtype=DT), "ts": torch.linspace(0, 1, 3, dtype=DT)}
_UNROLL_CASES = [
    ({"ts": torch.zeros(2, 2, dtype=DT)}, ValueError, r"^ts must be 1-D"),
    ({"ts": torch.tensor([0.0], dtype=DT)}, ValueError, r"^ts must hold at least 2"),
    ({"ts": torch.tensor([0.0, 1.0, 0.5], dtype=DT)}, ValueError, r"^ts must be strictly"),
    ({"ts": torch.tensor([0.0, 0.0], dtype=DT)}, ValueError, r"^ts must be strictly"),
    ({"ts": torch.tensor([0.0, 1.0], dtype=torch.float32)}, TypeError, r"^ts must have the dtype of x0"),
    ({"ts": torch.tensor([0, 1])}, TypeError, r"^ts must have a floating"),
    ({"x0": torch.tensor([float("nan"), 1.0], dtype=DT)}, ValueError, r"^x0 must contain only finite"),
    ({"x0": torch.tensor([1, 2])}, TypeError, r"^x0 must have a floating"),
    ({"x0": torch.zeros(2, 2, 2, dtype=DT)}, ValueError, r"^x0 must have shape"),
    ({"x0": [1.0, 2.0]}, TypeError, r"^x0 must be a torch.Tensor"),
    ({"f": 3}, TypeError, r"^f must be callable"),
    ({"f": lambda t, x: x[..., :1]}, ValueError, r"^f\(t, x\) must return the shape of x"),
    ({"f": lambda t, x: 1.0}, TypeError, r"^f\(t, x\) must return a torch.Tensor"),
    ({"h": "0.1"}, TypeError, r"^h must be a real number"),
    ({"h": True}, TypeError, r"^h must be a real number"),
    ({"h": float("nan")}, ValueError, r"^h must be a finite number"),
    ({"h": 0.0}, ValueError, r"^h must be a finite nonzero step with the direction of ts"),
    ({"h": -0.5}, ValueError, r"^h must be a finite nonzero step with the direction of ts"),
    ({"h": 0.5, "ts": torch.linspace(1, 0, 3, dtype=DT)}, ValueError, r"^h must be a finite nonzero step"),
]


@pytest.mark.parametrize(("bad", "error", "match"), _UNROLL_CASES)
def test_resnet_unroll_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        cl.resnet_unroll(**(_UNROLL | bad))


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        *_UNROLL_CASES,
        ({"method": "rk5"}, ValueError, r"^method must be one of"),
        ({"method": 4}, TypeError, r"^method must be one of"),
    ],
)
def test_rk_unroll_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        cl.rk_unroll(**(_UNROLL | {"method": "midpoint"} | bad))


@pytest.mark.parametrize(("method", "per_block"), [("euler", 1), ("midpoint", 2), ("rk4", 4)])
def test_unroll_makes_no_probe_evaluation(method: str, per_block: int) -> None:
    calls = []

    def f(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        calls.append(1)
        return -x

    cl.rk_unroll(f, torch.ones(2, dtype=torch.float64), torch.linspace(0.0, 1.0, 6, dtype=torch.float64), method)
    assert len(calls) == 5 * per_block  # exactly the blocks' own evaluations
