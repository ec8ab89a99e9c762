"""odeint wrapper: solutions against closed forms and scipy; argument validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp
from scipy.linalg import expm

import ctdepth_lib as cl
from ctdepth_lib.solvers import uniform_grid_options


def test_linear_system_matches_matrix_exponential() -> None:
    a = torch.tensor([[-0.5, 2.0], [-2.0, -0.1]])
    x0 = torch.tensor([1.0, 0.5])
    ts = torch.linspace(0, 3, 7)
    xs = cl.odeint(lambda t, x: x @ a.T, x0, ts, rtol=1e-11, atol=1e-11)
    for t, x in zip(ts, xs):
        np.testing.assert_allclose(x.numpy(), expm(a.numpy() * float(t)) @ x0.numpy(), rtol=1e-8, atol=1e-9)


def test_time_dependent_field_matches_scipy() -> None:
    f = cl.TimeMLP(3, 10, seed=4)
    x0 = torch.randn(2, 3, generator=torch.Generator().manual_seed(1))

    def rhs(t: float, y: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return f(torch.tensor(t), torch.from_numpy(y).reshape(2, 3)).reshape(-1).numpy()

    ref = solve_ivp(rhs, (0, 1.5), x0.reshape(-1).numpy(), method="DOP853", rtol=1e-13, atol=1e-13).y[:, -1]
    with torch.no_grad():
        xs = cl.odeint(f, x0, torch.tensor([0.0, 1.5]), rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(xs[-1].reshape(-1).numpy(), ref, rtol=1e-8, atol=1e-9)


def test_adjoint_gradient_matches_direct() -> None:
    f = cl.TimeMLP(2, 6, seed=2)
    ts = torch.tensor([0.0, 1.0])
    x0 = torch.tensor([[0.2, -0.4]], requires_grad=True)
    g_direct = torch.autograd.grad(cl.odeint(f, x0, ts, rtol=1e-10, atol=1e-10)[-1].sum(), x0)[0]
    g_adj = torch.autograd.grad(cl.odeint(f, x0, ts, rtol=1e-10, atol=1e-10, adjoint=True)[-1].sum(), x0)[0]
    torch.testing.assert_close(g_adj, g_direct, rtol=1e-7, atol=1e-9)


def test_odeint_makes_no_probe_evaluation_and_checks_the_first() -> None:
    calls = []

    def f(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        calls.append(1)
        return -x

    x0 = torch.ones(3, dtype=torch.float64)
    cl.odeint(f, x0, torch.tensor([0.0, 1.0], dtype=torch.float64), method="euler", options={"step_size": 0.25})
    assert len(calls) == 4


def test_uniform_grid_options_and_adjoint_parameters() -> None:
    lin = torch.nn.Linear(2, 2, dtype=torch.float64)

    class Field(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin, self.calls = lin, 0

        def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
            self.calls += 1
            return self.lin(x)

    x0 = torch.ones(2, dtype=torch.float64)
    ts = torch.tensor([0.0, 1.0], dtype=torch.float64)
    field = Field()
    with torch.no_grad():
        out = cl.odeint(field, x0, ts, method="euler", options=uniform_grid_options(8))
    assert field.calls == 8  # eight equal Euler steps, no probe evaluation
    step = torch.eye(2, dtype=torch.float64) + lin.weight.detach() / 8
    expected = x0
    for _ in range(8):
        expected = step @ expected + lin.bias.detach() / 8
    torch.testing.assert_close(out[-1], expected, rtol=1e-14, atol=1e-14)
    # adjoint=True: the wrapped field still exposes the module's parameters to odeint_adjoint
    end = cl.odeint(Field(), x0, ts, method="euler", adjoint=True, options=uniform_grid_options(8))[-1]
    grads = torch.autograd.grad(end.sum(), list(lin.parameters()))
    assert all(bool(torch.isfinite(g).all()) and bool((g != 0).any()) for g in grads)


# --- bad input: one table per public face -------------------------------------------------

DT = torch.float64
_ODEINT = {"f": lambda t, x: -x, "x0": torch.ones(2, dtype=DT), "ts": torch.linspace(0, 1, 3, dtype=DT)}


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        ({"f": None}, TypeError, r"^f must be callable"),
        ({"f": lambda t, x: x[:1]}, ValueError, r"^f\(t, x\) must return the shape of x"),
        ({"x0": [1.0, 2.0]}, TypeError, r"^x0 must be a torch.Tensor"),
        ({"x0": torch.tensor([float("inf"), 1.0], dtype=DT)}, ValueError, r"^x0 must contain only finite"),
        ({"ts": torch.tensor([0.0, 1.0, 1.0], dtype=DT)}, ValueError, r"^ts must be strictly"),
        ({"ts": torch.tensor([0.0, 1.0], dtype=torch.float32)}, TypeError, r"^ts must have the dtype of x0"),
        ({"method": "rk45"}, ValueError, r"^method must be one of"),
        ({"method": None}, TypeError, r"^method must be one of"),
        ({"rtol": 0.0}, ValueError, r"^rtol must be a finite number > 0"),
        ({"atol": -1e-3}, ValueError, r"^atol must be a finite number > 0"),
        ({"rtol": "1e-3"}, TypeError, r"^rtol must be a positive real number"),
        ({"options": [1]}, TypeError, r"^options must be a dict or None"),
        ({"adjoint": 1}, TypeError, r"^adjoint must be a bool"),
        ({"adjoint": True}, TypeError, r"^f must be a torch.nn.Module when adjoint=True"),
    ],
)
def test_odeint_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        cl.odeint(**(_ODEINT | bad))


@pytest.mark.parametrize(
    ("n_steps", "error", "match"),
    [(0, ValueError, r"^n_steps must be an integer >= 1; got 0$"), (2.0, TypeError, r"^n_steps must be an integer")],
)
def test_uniform_grid_options_rejects(n_steps: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        uniform_grid_options(n_steps)  # type: ignore[arg-type]
