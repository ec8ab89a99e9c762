"""Tests of ctdepth_lib.feedforward against independent references (SciPy, closed forms, finite differences)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

import ctdepth_lib as cl
from ctdepth_lib.invariants import charge_drift, layer_momenta

DT = torch.float64
D = 3


@pytest.fixture()
def coeffs():
    gen = torch.Generator().manual_seed(1)
    A0 = torch.randn(D, D, generator=gen, dtype=DT) / D**0.5
    A1 = torch.randn(D, D, generator=gen, dtype=DT) / D**0.5
    c0 = torch.randn(D, generator=gen, dtype=DT)
    x0 = torch.randn(D, generator=gen, dtype=DT)

    def A(t: torch.Tensor) -> torch.Tensor:
        return A0 + torch.sin(2 * t) * A1

    def c(t: torch.Tensor) -> torch.Tensor:
        return c0 * torch.cos(t)

    def A_np(t: float) -> np.ndarray:
        return A0.numpy() + math.sin(2 * t) * A1.numpy()

    def c_np(t: float) -> np.ndarray:
        return c0.numpy() * math.cos(t)

    return A, c, x0, A_np, c_np


def scipy_solution(A_np, c_np, g_np, x0: torch.Tensor, T: float = 1.0) -> np.ndarray:
    sol = solve_ivp(
        lambda t, x: A_np(t) @ x + c_np(t) + g_np(x), (0.0, T), x0.numpy(), method="DOP853", rtol=1e-13, atol=1e-13
    )
    assert sol.success
    return sol.y[:, -1]


def grid(n: int, T: float = 1.0) -> torch.Tensor:
    return torch.linspace(0.0, T, n + 1, dtype=DT)


# --------------------------------------------------------------------------- F1: the limit


@pytest.mark.parametrize("reverse", [False, True])
def test_network_converges_at_order_one_to_scipy(coeffs, reverse):
    A, c, x0, A_np, c_np = coeffs
    ref = scipy_solution(A_np, c_np, np.tanh, x0)
    errs = [
        float(np.linalg.norm(cl.feedforward_unroll(A, c, cl.TANH, x0, grid(n), reverse=reverse)[-1].numpy() - ref))
        for n in (64, 128, 256, 512)
    ]
    slope = cl.convergence_order([1 / 64, 1 / 128, 1 / 256, 1 / 512], errs)
    assert abs(slope - 1) <= 0.1
    assert errs[-1] < 1e-2


def test_leaky_network_is_torch_leaky_relu_layer(coeffs):
    """The unroll with g = α relu(−z) equals layers built from torch's own leaky_relu (F2)."""
    A, c, x0, *_ = coeffs
    alpha, ts = 1.7, grid(50)
    ours = cl.feedforward_unroll(A, c, cl.leaky_relu_nonlinearity(alpha), x0, ts)
    x = x0
    for n in range(50):
        h = float(ts[n + 1] - ts[n])
        x = torch.nn.functional.leaky_relu((torch.eye(D, dtype=DT) + h * A(ts[n])) @ x + h * c(ts[n]), 1 - h * alpha)
        assert torch.allclose(ours[n + 1], x, rtol=1e-12, atol=1e-14)


def test_strang_is_order_two_and_lie_order_one(coeffs):
    A, c, x0, A_np, c_np = coeffs
    ref = scipy_solution(A_np, c_np, np.tanh, x0)
    ns = (32, 64, 128, 256)
    for scheme, order in (("lie", 1), ("strang", 2)):
        errs = [
            float(np.linalg.norm(cl.splitting_unroll(A, c, cl.TANH, x0, grid(n), scheme=scheme)[-1].numpy() - ref))
            for n in ns
        ]
        assert abs(cl.convergence_order([1 / n for n in ns], errs) - order) <= 0.1 * order


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


def test_euler_step_difference_leading_term(coeffs):
    A, c, _, *_ = coeffs
    x = torch.randn(16, D, generator=torch.Generator().manual_seed(3), dtype=DT)
    rels = []
    for h in (1e-2, 1e-3):
        diff, lead = cl.euler_step_difference(A, c, cl.TANH, torch.tensor(0.2, dtype=DT), x, h)
        # independent: the network step written out in NumPy, minus the Euler step
        a, cc, xn = A(torch.tensor(0.2, dtype=DT)).numpy(), c(torch.tensor(0.2, dtype=DT)).numpy(), x.numpy()
        zz = xn + h * (xn @ a.T + cc)
        net = zz + h * np.tanh(zz)
        euler = xn + h * (xn @ a.T + cc + np.tanh(xn))
        assert np.allclose(diff.numpy(), net - euler, rtol=1e-8, atol=1e-15)
        rels.append(float((diff - lead).norm() / lead.norm()))
    assert rels[1] < 2e-3 and rels[1] < rels[0] / 5  # the rest is O(h) relative


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


def test_noether_charge_exact_for_bias_free_leaky_network(coeffs):
    A, *_ = coeffs
    xb = torch.randn(4, D, dtype=DT, generator=torch.Generator().manual_seed(5))
    ts = grid(64)
    xs, ps = layer_momenta(
        cl.feedforward_layers(A, None, cl.leaky_relu_nonlinearity(1.5), ts), xb, lambda x: (x**3).sum()
    )
    assert charge_drift(xs, ps) <= 1e-12
    xs, ps = layer_momenta(cl.feedforward_layers(A, None, cl.TANH, ts), xb, lambda x: (x**3).sum())
    assert charge_drift(xs, ps) > 1e-3


def test_layers_compose_to_unroll(coeffs):
    A, c, x0, *_ = coeffs
    ts = grid(10)
    for reverse in (False, True):
        x = x0
        for layer in cl.feedforward_layers(A, c, cl.TANH, ts, reverse=reverse):
            x = layer(x)
        assert torch.equal(x, cl.feedforward_unroll(A, c, cl.TANH, x0, ts, reverse=reverse)[-1])


# --------------------------------------------------------------------------- F2: closed form


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


def test_closed_form_one_orthant_is_matrix_exponential():
    A = np.array([[-0.5, 0.2], [0.1, -0.3]])
    c = np.array([1.0, 2.0])
    x0 = np.array([1.0, 1.0])  # stays in the positive orthant
    ts = np.linspace(0.0, 2.0, 5)
    xs, crossings = cl.leaky_limit_closed_form(A, c, 1.0, x0, ts)
    assert crossings == []
    for t, x in zip(ts, xs, strict=True):
        expected = scipy.linalg.expm(t * A) @ (x0 + np.linalg.solve(A, c)) - np.linalg.solve(A, c)
        assert np.allclose(x, expected, rtol=1e-12, atol=1e-13)


def test_closed_form_across_orthants_matches_scipy():
    A = np.array([[-0.3, -2.0], [2.0, -0.2]])
    c = np.array([0.3, -0.2])
    alpha, x0 = 1.5, np.array([1.0, 0.5])
    ts = np.linspace(0.0, 4.0, 81)
    xs, crossings = cl.leaky_limit_closed_form(A, c, alpha, x0, ts)
    assert len(crossings) >= 3
    sol = solve_ivp(
        lambda t, x: A @ x + c + alpha * np.maximum(-x, 0),
        (0.0, 4.0),
        x0,
        t_eval=ts,
        method="DOP853",
        rtol=1e-13,
        atol=1e-13,
    )
    assert np.abs(sol.y.T - xs).max() <= 1e-8


# --------------------------------------------------------------------------- F4


def test_strong_network_collapses_like_repeated_tanh():
    """d = 1, A = 0, c = 0: x_N = tanh^N(x0) ≈ sqrt(3 / (2N)) (closed-form asymptotics)."""
    x0 = torch.tensor([2.0], dtype=DT)
    for n in (1000, 4000):
        xN = cl.strong_feedforward_unroll(lambda t: torch.zeros(1, 1, dtype=DT), None, torch.tanh, x0, grid(n))[-1]
        assert abs(float(xN[0]) / math.sqrt(3 / (2 * n)) - 1) < 0.05


def test_strong_network_with_bias_balances_cubic():
    x0 = torch.tensor([0.5, -0.5], dtype=DT)
    c = torch.tensor([1.0, -2.0], dtype=DT)
    n = 20000
    xN = cl.strong_feedforward_unroll(lambda t: torch.zeros(2, 2, dtype=DT), lambda t: c, torch.tanh, x0, grid(n))[-1]
    predicted = torch.sign(c) * (3 * c.abs() / n) ** (1 / 3)
    assert torch.allclose(xN, predicted, rtol=0.05)


# --------------------------------------------------------------------------- trained example


def test_classifier_network_approaches_its_ode():
    model = cl.NearIdentityClassifier(2, 3, 2, seed=0)
    u = torch.randn(20, 2, dtype=DT, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ode = model.ode_logits(u)
        gaps = [float((model(u, n) - ode).abs().max()) for n in (16, 64, 256)]
    assert gaps[2] < gaps[1] < gaps[0]
    assert gaps[2] < 0.5 * gaps[1]


def test_training_reduces_loss():
    from ctdepth_lib.data import moons_dataset

    data = moons_dataset(120, seed=0)
    _, losses = cl.train_near_identity_classifier(data.x_train, data.y_train, n_layers=4, steps=30, seed=0)
    assert losses[-1] < 0.8 * losses[0]


# --------------------------------------------------------------------------- bad input


def test_bad_A(coeffs):
    _, c, x0, *_ = coeffs
    with pytest.raises(ValueError, match=r"A\(t\) must return a square"):
        cl.feedforward_unroll(lambda t: torch.zeros(3, 2, dtype=DT), c, cl.TANH, x0, grid(4))
    with pytest.raises(ValueError, match=r"A\(t\) must be \(3, 3\)"):
        cl.feedforward_unroll(lambda t: torch.zeros(2, 2, dtype=DT), c, cl.TANH, x0, grid(4))
    with pytest.raises(TypeError, match=r"A\(t\) must return a torch.Tensor"):
        cl.feedforward_unroll(lambda t: np.zeros((3, 3)), c, cl.TANH, x0, grid(4))
    with pytest.raises(TypeError, match=r"A\(t\) must have the dtype"):
        cl.feedforward_unroll(lambda t: torch.zeros(3, 3, dtype=torch.float32), c, cl.TANH, x0, grid(4))
    with pytest.raises(TypeError, match="A must be callable"):
        cl.feedforward_unroll(torch.zeros(3, 3, dtype=DT), c, cl.TANH, x0, grid(4))


def test_bad_c(coeffs):
    A, _, x0, *_ = coeffs
    with pytest.raises(ValueError, match=r"c\(t\) must return a vector of shape \(3,\)"):
        cl.feedforward_unroll(A, lambda t: torch.zeros(3, 1, dtype=DT), cl.TANH, x0, grid(4))
    with pytest.raises(TypeError, match=r"c\(t\) must return a torch.Tensor"):
        cl.feedforward_unroll(A, lambda t: [0.0, 0.0, 0.0], cl.TANH, x0, grid(4))
    with pytest.raises(TypeError, match=r"c\(t\) must have the dtype"):
        cl.feedforward_unroll(A, lambda t: torch.zeros(3, dtype=torch.float32), cl.TANH, x0, grid(4))


def test_bad_g(coeffs):
    A, c, x0, *_ = coeffs
    with pytest.raises(ValueError, match="g must be elementwise and keep the shape"):
        cl.feedforward_unroll(A, c, lambda z: z.sum(-1, keepdim=True), x0, grid(4))
    with pytest.raises(ValueError, match="g must be elementwise"):
        cl.feedforward_unroll(A, c, lambda z: torch.softmax(z, -1), x0, grid(4))
    w = torch.randn(3, 3, dtype=DT)
    with pytest.raises(ValueError, match="g must be elementwise"):
        cl.feedforward_unroll(A, c, lambda z: z @ w, x0, grid(4))
    with pytest.raises(TypeError, match=r"g\(z\) must return a torch.Tensor"):
        cl.feedforward_unroll(A, c, lambda z: 0.0, x0, grid(4))


def test_step_too_large_for_near_identity(coeffs):
    A, c, x0, *_ = coeffs
    cl.feedforward_unroll(A, c, cl.TANH, x0, grid(64), max_deviation=0.1)  # fine
    with pytest.raises(ValueError, match=r"ts: the step is too large.*max_deviation"):
        cl.feedforward_unroll(A, c, cl.TANH, x0, grid(2), max_deviation=0.1)
    with pytest.raises(ValueError, match="max_deviation"):
        cl.feedforward_unroll(A, c, cl.TANH, x0, grid(2), max_deviation=-1.0)


def test_bad_state_and_grid(coeffs):
    A, c, x0, *_ = coeffs
    with pytest.raises(ValueError, match="x0"):
        cl.feedforward_unroll(A, c, cl.TANH, x0.reshape(1, 1, 3), grid(4))
    with pytest.raises(ValueError, match="ts"):
        cl.feedforward_unroll(A, c, cl.TANH, x0, torch.tensor([0.0, 0.5, 0.5], dtype=DT))


def test_bad_log_norm_arguments(coeffs):
    A, _, x0, *_ = coeffs
    t = torch.tensor(0.0, dtype=DT)
    with pytest.raises(TypeError, match="g"):
        cl.near_identity_log_norm(A, torch.tanh, t, x0)
    with pytest.raises(ValueError, match="x"):
        cl.near_identity_log_norm(A, cl.TANH, t, x0.reshape(1, 1, D))
    with pytest.raises(ValueError, match=r"A\(t\)"):
        cl.near_identity_log_norm(lambda t: torch.eye(2, dtype=DT), cl.TANH, t, x0)
    with pytest.raises(TypeError, match="A"):
        cl.near_identity_log_norm(3.0, cl.TANH, t, x0)
    with pytest.raises(TypeError, match="smallest"):
        cl.near_identity_log_norm(A, cl.TANH, t, x0, smallest=1)


def test_bad_splitting_arguments(coeffs):
    A, c, x0, *_ = coeffs
    with pytest.raises(ValueError, match="scheme"):
        cl.splitting_unroll(A, c, cl.TANH, x0, grid(4), scheme="yoshida")
    with pytest.raises(TypeError, match="g must be a Nonlinearity"):
        cl.splitting_unroll(A, c, torch.tanh, x0, grid(4))
    with pytest.raises(TypeError, match="g must be a Nonlinearity"):
        cl.near_identity_momentum_field(A, c, torch.tanh)
    with pytest.raises(ValueError, match="alpha"):
        cl.leaky_relu_nonlinearity(float("nan"))
    with pytest.raises(ValueError, match="h"):
        cl.euler_step_difference(A, c, cl.TANH, torch.tensor(0.0, dtype=DT), x0, 0.0)


def test_bad_closed_form_arguments():
    A = np.eye(2)
    with pytest.raises(ValueError, match="A must be a square"):
        cl.leaky_limit_closed_form(np.ones((2, 3)), None, 1.0, np.ones(2), np.linspace(0, 1, 3))
    with pytest.raises(ValueError, match="c must have shape"):
        cl.leaky_limit_closed_form(A, np.ones(3), 1.0, np.ones(2), np.linspace(0, 1, 3))
    with pytest.raises(ValueError, match="x0 must have shape"):
        cl.leaky_limit_closed_form(A, None, 1.0, np.ones((2, 2)), np.linspace(0, 1, 3))
    with pytest.raises(ValueError, match="ts must be a strictly increasing"):
        cl.leaky_limit_closed_form(A, None, 1.0, np.ones(2), np.array([0.0, 0.0]))


def test_bad_classifier_arguments():
    with pytest.raises(ValueError, match="d must be >= d_in"):
        cl.NearIdentityClassifier(3, 2, 2)
    with pytest.raises(ValueError, match="n_classes"):
        cl.NearIdentityClassifier(2, 3, 0)
    u = torch.zeros(4, 2, dtype=DT)
    with pytest.raises(ValueError, match="y must be an integer tensor"):
        cl.train_near_identity_classifier(u, torch.zeros(4, dtype=DT), n_layers=2)
    with pytest.raises(ValueError, match="n_layers"):
        cl.train_near_identity_classifier(u, torch.zeros(4, dtype=torch.int64), n_layers=0)
