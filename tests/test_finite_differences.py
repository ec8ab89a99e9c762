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


def field(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return torch.tanh(x)


def test_bad_inputs() -> None:
    x = torch.zeros(2, 3, dtype=DT)
    ts = torch.linspace(0.0, 1.0, 3, dtype=DT)
    xs = torch.zeros(3, 2, 3, dtype=DT)
    with pytest.raises(ValueError, match="xs"):
        hamiltonian_gradient_fd(field, ts, torch.zeros(3, dtype=DT), torch.zeros(3, dtype=DT))
    with pytest.raises(ValueError, match="ps"):
        hamiltonian_gradient_fd(field, ts, xs, torch.zeros(3, 2, 2, dtype=DT))
    with pytest.raises(ValueError, match="ts"):
        hamiltonian_time_rate_fd(field, ts[:2], xs, xs)
    with pytest.raises(TypeError, match="ts"):
        hamiltonian_time_rate_fd(field, ts.float(), xs, xs)
    with pytest.raises(ValueError, match="eps"):
        hamiltonian_gradient_fd(field, ts, xs, xs, eps=0.0)
    with pytest.raises(TypeError, match="f"):
        hamiltonian_time_rate_fd(None, ts, xs, xs)
    loss = lambda z: z.sum(-1)  # noqa: E731
    with pytest.raises(ValueError, match="t1"):
        fd_momentum(field, 0.5, 0.5, x, loss)
    with pytest.raises(TypeError, match="t0"):
        fd_momentum(field, "0", 1.0, x, loss)
    with pytest.raises(ValueError, match="t0"):
        fd_momentum(field, float("inf"), 1.0, x, loss)
    with pytest.raises(TypeError, match="x"):
        fd_momentum(field, 0.0, 1.0, x.float(), loss)
    with pytest.raises(TypeError, match="sample_loss"):
        fd_momentum(field, 0.0, 1.0, x, 3)
    with pytest.raises(ValueError, match="sample_loss"):
        fd_momentum(field, 0.0, 1.0, x, lambda z: z.sum())
    with pytest.raises(ValueError, match="rtol"):
        fd_momentum(field, 0.0, 1.0, x, loss, rtol=-1.0)
    x1 = torch.zeros(3, dtype=DT)
    with pytest.raises(ValueError, match="method"):
        fd_state_jacobian(field, x1, ts, method="rk5")
    with pytest.raises(ValueError, match="x0"):
        fd_state_jacobian(field, x, ts)
