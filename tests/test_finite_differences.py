"""Tests of ctdepth_lib.finite_differences (the references without autograd) against closed forms, explicit Jacobians and autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from field_cases import DT, TanhField, contracting_field, linear, matrix, rng
from scipy.linalg import expm

from ctdepth_lib import (
    adjoint_momenta,
    fd_momentum,
    fd_state_jacobian,
    hamiltonian_gradient_fd,
    hamiltonian_time_rate_fd,
    state_jacobian,
)

# --- hamiltonian -------------------------------------------------------------------------


def test_hamiltonian_gradient_fd_explicit_jacobian() -> None:
    # H = p·tanh(Wx + b): H_x = p diag(1 − tanh²) W (explicit), H_p = f.
    f = TanhField(3, seed=20)
    xs = torch.randn(4, 5, 3, generator=rng(21), dtype=DT)
    ps = torch.randn(4, 5, 3, generator=rng(22), dtype=DT)
    ts = torch.linspace(0.0, 1.0, 4, dtype=DT)
    h_x, h_p = hamiltonian_gradient_fd(f, ts, xs, ps)
    assert h_x.shape == h_p.shape == xs.shape
    for m in range(4):
        for b in range(5):
            xb, pb = xs[m, b].numpy(), ps[m, b].numpy()
            np.testing.assert_allclose(h_x[m, b].numpy(), pb @ f.np_jac(xb), rtol=1e-8, atol=1e-9)
            np.testing.assert_allclose(h_p[m, b].numpy(), f.np_f(xb), rtol=1e-9, atol=1e-10)
    single_x, _ = hamiltonian_gradient_fd(f, ts, xs[:, 0], ps[:, 0])
    np.testing.assert_allclose(single_x.numpy(), h_x[:, 0].numpy(), rtol=0, atol=1e-12)


def test_hamiltonian_time_rate_fd_closed_form() -> None:
    # f(t, x) = sin(ωt) A x: ∂H/∂t = ω cos(ωt) p·Ax.
    a, om = matrix(3, seed=23), 1.7
    xs = torch.randn(6, 2, 3, generator=rng(24), dtype=DT)
    ps = torch.randn(6, 2, 3, generator=rng(25), dtype=DT)
    ts = torch.linspace(0.0, 2.0, 6, dtype=DT)
    rate = hamiltonian_time_rate_fd(lambda t, y: torch.sin(om * t) * (y @ a.T), ts, xs, ps)
    expected = np.einsum("mbi,ij,mbj->mb", ps.numpy(), a.numpy(), xs.numpy()) * (om * np.cos(om * ts.numpy()))[:, None]
    assert rate.shape == (6, 2)
    np.testing.assert_allclose(rate.numpy(), expected, rtol=1e-8, atol=1e-10)


def test_fd_momentum_linear_closed_form() -> None:
    # f = A x, ℓ_b = |x_b(t1) − y_b|²/2: p = (x(t1) − y) e^{A(t1 − t0)}.
    d = 3
    a = matrix(d, seed=26)
    x = torch.randn(4, d, generator=rng(27), dtype=DT)
    y = torch.randn(4, d, generator=rng(28), dtype=DT)
    t0, t1 = 0.3, 1.5
    p = fd_momentum(lambda t, z: z @ a.T, t0, t1, x, lambda z: 0.5 * ((z - y) ** 2).sum(-1))
    prop = expm(a.numpy() * (t1 - t0))
    expected = (x.numpy() @ prop.T - y.numpy()) @ prop
    assert p.shape == x.shape
    np.testing.assert_allclose(p.numpy(), expected, rtol=1e-7, atol=1e-8)
    single = fd_momentum(lambda t, z: z @ a.T, t0, t1, x[1], lambda z: 0.5 * ((z - y[1]) ** 2).sum(-1))
    np.testing.assert_allclose(single.numpy(), expected[1], rtol=1e-7, atol=1e-8)


def test_fd_momentum_matches_backprop_limit_nonlinear() -> None:
    # the continuous momentum of a nonlinear time-dependent field (torchdiffeq adjoint at tight tolerance)
    f = TanhField(3, seed=29)
    x0 = torch.randn(2, 3, generator=rng(30), dtype=DT)
    ts = torch.tensor([0.0, 1.0], dtype=DT)
    _, ps = adjoint_momenta(f, x0, ts, lambda z: (z**3).sum(), rtol=1e-12, atol=1e-12)
    p = fd_momentum(f, 0.0, 1.0, x0, lambda z: (z**3).sum(-1))
    np.testing.assert_allclose(p.numpy(), ps[0].numpy(), rtol=1e-7, atol=1e-8)


def test_fd_state_jacobian_matches_closed_form_and_jacrev() -> None:
    a = matrix(3, 1, scale=1.0)
    ts = torch.linspace(0.0, 1.0, 9, dtype=DT)
    x0 = torch.randn(3, generator=rng(1), dtype=DT)
    step = torch.eye(3, dtype=DT) + (1.0 / 8) * a
    np.testing.assert_allclose(
        fd_state_jacobian(linear(a), x0, ts).numpy(), np.linalg.matrix_power(step.numpy(), 8), atol=1e-9
    )
    f = contracting_field(3, k=1.0, seed=0)
    j = state_jacobian(f, x0, ts, method="heun")
    np.testing.assert_allclose(fd_state_jacobian(f, x0, ts, method="heun").numpy(), j.detach().numpy(), atol=1e-8)


# --- bad input: one table per public face -------------------------------------------------


def field(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return torch.tanh(x)


_TS = torch.linspace(0.0, 1.0, 3, dtype=DT)
_XS = torch.zeros(3, 2, 3, dtype=DT)
_SAMPLES = {"f": field, "ts": _TS, "xs": _XS, "ps": _XS}
_SAMPLE_CASES = [
    ({"f": None}, TypeError, r"^f must be callable"),
    ({"f": lambda t, x: x[..., :1]}, ValueError, r"^f\(t, x\) must return the shape of x"),
    ({"xs": torch.zeros(3, dtype=DT), "ps": torch.zeros(3, dtype=DT)}, ValueError, r"^xs must have shape"),
    ({"ps": torch.zeros(3, 2, 2, dtype=DT)}, ValueError, r"^ps must have the shape of xs"),
    ({"ps": _XS.float()}, TypeError, r"^ps must have the dtype of xs"),
    ({"ts": _TS[:2]}, ValueError, r"^ts must hold one time per row of xs"),
    ({"ts": _TS.float()}, TypeError, r"^ts must have the dtype of xs"),
    ({"ts": _TS * float("nan")}, ValueError, r"^ts must contain only finite"),
    ({"eps": 0.0}, ValueError, r"^eps must be a finite number > 0"),
]


@pytest.mark.parametrize(("bad", "error", "match"), _SAMPLE_CASES)
def test_hamiltonian_gradient_fd_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        hamiltonian_gradient_fd(**(_SAMPLES | bad))


@pytest.mark.parametrize(("bad", "error", "match"), _SAMPLE_CASES)
def test_hamiltonian_time_rate_fd_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        hamiltonian_time_rate_fd(**(_SAMPLES | bad))


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        ({"f": 3}, TypeError, r"^f must be callable"),
        ({"f": lambda t, x: x[..., :1]}, ValueError, r"^f\(t, x\) must return the shape of x"),
        ({"t1": 0.5}, ValueError, r"^t1 must differ from t0"),
        ({"t0": "0"}, TypeError, r"^t0 must be a real number"),
        ({"t0": float("inf")}, ValueError, r"^t0 must be a finite number"),
        ({"x": torch.zeros(2, 3, dtype=torch.float32)}, TypeError, r"^x must be float64"),
        ({"x": torch.zeros(2, 3, dtype=torch.int64)}, TypeError, r"^x must have a floating-point dtype"),
        ({"sample_loss": 3}, TypeError, r"^sample_loss must be callable"),
        ({"sample_loss": lambda z: z.sum()}, ValueError, r"^sample_loss must map \(batch, d\) to \(batch,\)"),
        ({"rtol": -1.0}, ValueError, r"^rtol must be a finite number > 0"),
        ({"eps": "1e-4"}, TypeError, r"^eps must be a positive real number"),
    ],
)
def test_fd_momentum_rejects(bad: dict, error: type, match: str) -> None:
    args = {"f": field, "t0": 0.5, "t1": 1.0, "x": torch.zeros(2, 3, dtype=DT), "sample_loss": lambda z: z.sum(-1)}
    with pytest.raises(error, match=match):
        fd_momentum(**(args | bad))


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        ({"f": None}, TypeError, r"^f must be callable"),
        ({"f": lambda t, x: x[..., :1]}, ValueError, r"^f\(t, x\) must return the shape of x"),
        ({"x0": torch.zeros(2, 3, dtype=DT)}, ValueError, r"^x0 must be one input of shape \(d,\)"),
        ({"ts": _TS.float()}, TypeError, r"^ts must have the dtype of x0"),
        ({"method": "rk5"}, ValueError, r"^method must be one of"),
        ({"eps": -1.0}, ValueError, r"^eps must be a finite number > 0"),
    ],
)
def test_fd_state_jacobian_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        fd_state_jacobian(**({"f": field, "x0": torch.zeros(3, dtype=DT), "ts": _TS} | bad))
