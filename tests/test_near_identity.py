"""Tests of ctdepth_lib.near_identity: the nonlinearities, the limit field, its momentum equation, divergence and log norm."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from near_identity_cases import DT, D, coefficients, grid
from scipy.integrate import solve_ivp

import ctdepth_lib as cl


@pytest.fixture()
def coeffs():
    return coefficients()


# --------------------------------------------------------------------------- the nonlinearities


def test_exact_subflows_against_closed_forms():
    z = torch.linspace(-3, 3, 41, dtype=DT)
    # tanh: solve dz/ds = tanh z with SciPy
    sol = solve_ivp(lambda s, y: np.tanh(y), (0.0, 0.7), z.numpy(), rtol=1e-13, atol=1e-13, method="DOP853")
    assert np.allclose(cl.TANH.flow(z, 0.7).numpy(), sol.y[:, -1], rtol=1e-10, atol=1e-12)
    # leaky: negative part decays like e^{−α s}
    leaky = cl.leaky_relu_nonlinearity(2.0)
    expected = np.where(z.numpy() < 0, z.numpy() * math.exp(-1.4), z.numpy())
    assert np.allclose(leaky.flow(z, 0.7).numpy(), expected, rtol=1e-14)
    assert torch.allclose(leaky.dg(z), torch.where(z < 0, -2.0, 0.0).to(DT))


def test_cubic_nonlinearity_against_closed_forms():
    """g = −γz³, g′ = −3γz² (against autograd), and the flow z/√(1 + 2γ s z²) (against SciPy)."""
    gamma = 0.7
    cubic = cl.cubic_nonlinearity(gamma)
    z = torch.linspace(-2.5, 2.5, 41, dtype=DT, requires_grad=True)
    assert torch.allclose(cubic(z), -gamma * z**3, rtol=0, atol=0)
    (grad,) = torch.autograd.grad(cubic(z).sum(), z)
    assert torch.allclose(cubic.dg(z.detach()), grad, rtol=1e-15, atol=1e-15)
    assert torch.allclose(cubic.dg(z.detach()), -3 * gamma * z.detach() ** 2, rtol=1e-15, atol=0)
    zd = z.detach()
    sol = solve_ivp(lambda s, y: -gamma * y**3, (0.0, 0.9), zd.numpy(), rtol=1e-13, atol=1e-13, method="DOP853")
    assert np.allclose(cubic.flow(zd, 0.9).numpy(), sol.y[:, -1], rtol=1e-10, atol=1e-12)
    # a flow: φ_0 = id and φ_s ∘ φ_r = φ_{s+r}, also with a tensor time
    assert torch.equal(cubic.flow(zd, 0.0), zd)
    assert torch.allclose(cubic.flow(cubic.flow(zd, 0.3), torch.tensor(0.5, dtype=DT)), cubic.flow(zd, 0.8), rtol=1e-14)
    assert cubic.name == "cubic(γ=0.7)" and not cubic.homogeneous
    zero = cl.cubic_nonlinearity(0)  # γ = 0: no nonlinearity, the flow is the identity
    assert torch.equal(zero(zd), torch.zeros_like(zd)) and torch.equal(zero.flow(zd, 5.0), zd)


def test_cubic_network_is_the_talks_network_and_converges_at_order_one(coeffs):
    """x_{l+1} = h(W_l x_l + B_l), h(x) = x − γΔt x³, W_l = I + Δt w_l, B_l = Δt b_l (talk, slide 19),
    written out in NumPy, equals feedforward_unroll; it converges at order 1 to the talk's forward
    equation dx_i/dt = Σ_j w_ij x_j + b_i − γx_i³ (SciPy), and Strang with the exact flow at order 2."""
    A, c, x0, A_np, c_np = coeffs
    gamma = 1 / 3
    cubic = cl.cubic_nonlinearity(gamma)
    ref = solve_ivp(
        lambda t, y: A_np(t) @ y + c_np(t) - gamma * y**3,
        (0.0, 1.0),
        x0.numpy(),
        rtol=1e-13,
        atol=1e-13,
        method="DOP853",
    ).y[:, -1]
    x = x0.numpy()
    dt = 1.0 / 64
    for n in range(64):
        u = (np.eye(D) + dt * A_np(n * dt)) @ x + dt * c_np(n * dt)
        x = u - gamma * dt * u**3
    with torch.no_grad():
        net = cl.feedforward_unroll(A, c, cubic, x0, grid(64))[-1].numpy()
        assert np.allclose(net, x, rtol=1e-13, atol=1e-14)
        ns = [64, 128, 256, 512]
        hs = np.array([1.0 / n for n in ns])
        err = [np.linalg.norm(cl.feedforward_unroll(A, c, cubic, x0, grid(n))[-1].numpy() - ref) for n in ns]
        strang = [
            np.linalg.norm(cl.splitting_unroll(A, c, cubic, x0, grid(n), scheme="strang")[-1].numpy() - ref) for n in ns
        ]
    assert abs(cl.convergence_order(hs, err) - 1) < 0.05
    assert abs(cl.convergence_order(hs, strang) - 2) < 0.1


@pytest.mark.parametrize(
    ("gamma", "error", "match"),
    [
        (-0.5, ValueError, r"^gamma must be a finite number >= 0"),
        (float("inf"), ValueError, r"^gamma must be a finite number >= 0"),
        (float("nan"), ValueError, r"^gamma must be a finite number >= 0"),
        ("1.0", TypeError, r"^gamma must be a real number >= 0"),
        (True, TypeError, r"^gamma must be a real number >= 0"),
    ],
)
def test_cubic_nonlinearity_rejects(gamma: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        cl.cubic_nonlinearity(gamma)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(
    z=st.floats(-1e6, 1e6, allow_nan=False),
    h=st.floats(1e-6, 0.5),
    slope_gap=st.floats(0.0, 0.99),
)
def test_leaky_relu_is_euler_step_exactly(z, h, slope_gap):
    """leaky_relu(z; 1 − hα) = z + hα relu(−z) for all z, h, α (F2)."""
    alpha = slope_gap / h
    zt = torch.tensor(z, dtype=DT)
    lhs = float(torch.nn.functional.leaky_relu(zt, 1 - h * alpha))
    rhs = float(zt + h * cl.leaky_relu_nonlinearity(alpha)(zt))
    assert abs(lhs - rhs) <= 1e-12 * max(abs(z), 1e-300)


# --------------------------------------------------------------------------- the field, momentum, divergence


def test_field_matches_formula(coeffs):
    A, c, _, A_np, c_np = coeffs
    f = cl.near_identity_field(A, c, cl.TANH)
    xb = torch.randn(5, D, dtype=DT, generator=torch.Generator().manual_seed(2))
    out = f(torch.tensor(0.4, dtype=DT), xb).detach().numpy()
    expected = xb.numpy() @ A_np(0.4).T + c_np(0.4) + np.tanh(xb.numpy())
    assert np.allclose(out, expected, rtol=1e-13)
    assert isinstance(f, torch.nn.Module)


def _fd_jacobian(f, t, x, eps=1e-6):
    cols = []
    for i in range(x.numel()):
        e = torch.zeros_like(x)
        e[i] = eps
        cols.append((f(t, x + e) - f(t, x - e)) / (2 * eps))
    return torch.stack(cols, dim=1)


def test_momentum_field_and_divergence_against_finite_differences(coeffs):
    A, c, x0, *_ = coeffs
    g = cl.leaky_relu_nonlinearity(1.3)
    f = cl.near_identity_field(A, c, cl.TANH)
    t = torch.tensor(0.6, dtype=DT)
    p = torch.tensor([0.3, -1.2, 0.7], dtype=DT)
    jac = _fd_jacobian(f, t, x0)
    y = cl.near_identity_momentum_field(A, c, cl.TANH)(t, torch.cat([x0, p]))
    assert torch.allclose(y[D:], -(p @ jac), rtol=1e-7, atol=1e-9)
    assert torch.allclose(cl.near_identity_divergence(A, cl.TANH, t, x0), torch.trace(jac), rtol=1e-7)
    fl = cl.near_identity_field(A, c, g)
    xl = torch.tensor([0.5, -0.4, 1.1], dtype=DT)  # away from the kink
    assert torch.allclose(cl.near_identity_divergence(A, g, t, xl), torch.trace(_fd_jacobian(fl, t, xl)), rtol=1e-7)


def test_log_norm_against_finite_differences_and_numpy(coeffs):
    A, c, x0, *_ = coeffs
    t = torch.tensor(0.4, dtype=DT)
    xb = torch.stack([x0, torch.tensor([0.5, -0.4, 1.1], dtype=DT)])
    for g in (cl.TANH, cl.leaky_relu_nonlinearity(1.3)):
        f = cl.near_identity_field(A, c, g)
        mu = cl.near_identity_log_norm(A, g, t, xb)
        lam = cl.near_identity_log_norm(A, g, t, xb, smallest=True)
        assert mu.shape == lam.shape == (2,)
        for k in range(2):
            jac = _fd_jacobian(f, t, xb[k]).numpy()
            eig = np.linalg.eigvalsh(0.5 * (jac + jac.T))
            assert abs(float(mu[k]) - eig[-1]) <= 1e-7 * max(1.0, abs(eig[-1]))
            assert abs(float(lam[k]) - eig[0]) <= 1e-7 * max(1.0, abs(eig[0]))


def test_log_norm_bounds_the_largest_singular_value(coeffs):
    """σ_max(∂x(T)/∂x_0) ≤ exp(∫ μ(f_x) dt) (variational equation and quadrature by SciPy);
    the trace alone does not bound it: A = diag(−5, 1, −1) has tr f_x < 0 yet σ_max > e."""
    A, _, x0, A_np, c_np = coeffs

    def run(A_fn, A_np_fn):
        def rhs(t, y):
            x, J = y[:D], y[D : D + D * D].reshape(D, D)
            jac = A_np_fn(t) + np.diag(1 - np.tanh(x) ** 2)
            mu = np.linalg.eigvalsh(0.5 * (jac + jac.T))[-1]
            return np.concatenate([A_np_fn(t) @ x + c_np(t) + np.tanh(x), (jac @ J).ravel(), [mu, np.trace(jac)]])

        y0 = np.concatenate([x0.numpy(), np.eye(D).ravel(), [0.0, 0.0]])
        sol = solve_ivp(rhs, (0.0, 1.0), y0, method="DOP853", rtol=1e-11, atol=1e-11)
        J = sol.y[D : D + D * D, -1].reshape(D, D)
        mu_int = quad_mu(A_fn, sol)
        return np.linalg.svd(J, compute_uv=False)[0], sol.y[-2, -1], mu_int, sol.y[-1, -1]

    def quad_mu(A_fn, sol):  # the torch function, integrated on SciPy's accepted steps (trapezoid)
        mus = [
            float(cl.near_identity_log_norm(A_fn, cl.TANH, torch.tensor(t, dtype=DT), torch.from_numpy(y[:D].copy())))
            for t, y in zip(sol.t, sol.y.T, strict=True)
        ]
        return float(np.trapezoid(mus, sol.t))

    smax, mu_int, mu_torch, _ = run(A, A_np)
    assert smax <= math.exp(mu_int) * (1 + 1e-9)
    assert abs(mu_torch - mu_int) < 1e-2 * max(1.0, abs(mu_int))
    diag = torch.diag(torch.tensor([-5.0, 1.0, -1.0], dtype=DT))
    smax, mu_int, _, trace_int = run(lambda t: diag, lambda t: diag.numpy())
    assert trace_int < 0 and smax > math.e and smax <= math.exp(mu_int) * (1 + 1e-9)


def test_adjoint_of_field_matches_closed_form_momentum(coeffs):
    A, c, x0, *_ = coeffs
    ts = grid(8)
    f = cl.near_identity_field(A, c, cl.TANH)
    xs, ps = cl.adjoint_momenta(f, x0, ts, lambda x: (x**2).sum(), rtol=1e-11, atol=1e-11)
    xT = xs[-1]
    ys = cl.odeint(
        cl.near_identity_momentum_field(A, c, cl.TANH), torch.cat([xT, 2 * xT]), ts.flip(0), rtol=1e-11, atol=1e-11
    ).flip(0)
    assert torch.allclose(ys[:, D:], ps, rtol=1e-7, atol=1e-8)


# --------------------------------------------------------------------------- bad input: one table per public face

_T = torch.tensor(0.0, dtype=DT)
_X = torch.zeros(2, D, dtype=DT)
_A = lambda t: torch.eye(D, dtype=DT)  # noqa: E731
_COEFFICIENT_CASES = [
    ({"A": 3.0}, TypeError, r"^A must be callable"),
    ({"c": 1.0}, TypeError, r"^c must be callable"),
    ({"g": None}, TypeError, r"^g must be callable"),
]
_POINT_CASES = [
    ({"A": 3.0}, TypeError, r"^A must be callable"),
    ({"g": torch.tanh}, TypeError, r"^g must be a Nonlinearity \(with its derivative dg\)"),
    ({"x": _X.reshape(1, 2, D)}, ValueError, r"^x must have shape"),
    ({"x": [0.0] * D}, TypeError, r"^x must be a torch.Tensor"),
    ({"t": torch.zeros(2, dtype=DT)}, ValueError, r"^t must be a 0-d tensor"),
    ({"t": "0"}, TypeError, r"^t must be a real number"),
]


@pytest.mark.parametrize(
    ("alpha", "error", "match"),
    [
        (float("nan"), ValueError, r"^alpha must be a finite number"),
        ("1.0", TypeError, r"^alpha must be a real number"),
    ],
)
def test_leaky_relu_nonlinearity_rejects(alpha: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        cl.leaky_relu_nonlinearity(alpha)  # type: ignore[arg-type]


@pytest.mark.parametrize("face", [cl.near_identity_field, cl.NearIdentityField])
@pytest.mark.parametrize(("bad", "error", "match"), _COEFFICIENT_CASES)
def test_near_identity_field_rejects(face, bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        face(**({"A": _A, "c": None, "g": cl.TANH} | bad))


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [*_COEFFICIENT_CASES[:2], ({"g": torch.tanh}, TypeError, r"^g must be a Nonlinearity \(with its derivative dg\)")],
)
def test_near_identity_momentum_field_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        cl.near_identity_momentum_field(**({"A": _A, "c": None, "g": cl.TANH} | bad))


@pytest.mark.parametrize(("bad", "error", "match"), _POINT_CASES)
def test_near_identity_divergence_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        cl.near_identity_divergence(**({"A": _A, "g": cl.TANH, "t": _T, "x": _X} | bad))


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        *_POINT_CASES,
        ({"A": lambda t: torch.eye(2, dtype=DT)}, ValueError, r"^A\(t\) must return a \(3, 3\) matrix"),
        ({"A": lambda t: np.eye(D)}, TypeError, r"^A\(t\) must be a torch.Tensor"),
        ({"smallest": 1}, TypeError, r"^smallest must be a bool"),
    ],
)
def test_near_identity_log_norm_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        cl.near_identity_log_norm(**({"A": _A, "g": cl.TANH, "t": _T, "x": _X} | bad))
