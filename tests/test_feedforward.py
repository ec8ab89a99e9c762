"""Tests of ctdepth_lib.feedforward (the near-identity networks and splittings) against SciPy and closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from near_identity_cases import DT, D, coefficients, grid
from scipy.integrate import solve_ivp

import ctdepth_lib as cl


@pytest.fixture()
def coeffs():
    return coefficients()


def scipy_solution(A_np, c_np, g_np, x0: torch.Tensor, T: float = 1.0) -> np.ndarray:
    sol = solve_ivp(
        lambda t, x: A_np(t) @ x + c_np(t) + g_np(x), (0.0, T), x0.numpy(), method="DOP853", rtol=1e-13, atol=1e-13
    )
    assert sol.success
    return sol.y[:, -1]


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


def test_noether_charge_exact_for_bias_free_leaky_network(coeffs):
    A, *_ = coeffs
    xb = torch.randn(4, D, dtype=DT, generator=torch.Generator().manual_seed(5))
    ts = grid(64)
    xs, ps = cl.layer_momenta(
        cl.feedforward_layers(A, None, cl.leaky_relu_nonlinearity(1.5), ts), xb, lambda x: (x**3).sum()
    )
    assert cl.charge_drift(xs, ps) <= 1e-12
    xs, ps = cl.layer_momenta(cl.feedforward_layers(A, None, cl.TANH, ts), xb, lambda x: (x**3).sum())
    assert cl.charge_drift(xs, ps) > 1e-3


def test_layers_compose_to_unroll(coeffs):
    A, c, x0, *_ = coeffs
    ts = grid(10)
    for reverse in (False, True):
        x = x0
        for layer in cl.feedforward_layers(A, c, cl.TANH, ts, reverse=reverse):
            x = layer(x)
        assert torch.equal(x, cl.feedforward_unroll(A, c, cl.TANH, x0, ts, reverse=reverse)[-1])


def test_unroll_backward_grid_and_gradient(coeffs):
    """A decreasing grid runs the layers backwards in time, and autograd through the unroll matches a difference."""
    A, c, x0, *_ = coeffs
    ts = grid(8).flip(0)
    xs = cl.feedforward_unroll(A, c, cl.TANH, x0, ts)
    x = x0.numpy()
    for n in range(8):  # independent: the layer written out in NumPy
        t, h = float(ts[n]), float(ts[n + 1] - ts[n])
        a, cc = A(ts[n]).numpy(), c(ts[n]).numpy()
        z = x + h * (a @ x + cc)
        x = z + h * np.tanh(z)
        assert np.allclose(xs[n + 1].numpy(), x, rtol=1e-13, atol=1e-15), t
    x0g = x0.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(cl.feedforward_unroll(A, c, cl.TANH, x0g, grid(8))[-1].sum(), x0g)
    e, eps = torch.eye(D, dtype=DT), 1e-6
    fd = [
        float(
            cl.feedforward_unroll(A, c, cl.TANH, x0 + eps * e[i], grid(8))[-1].sum()
            - cl.feedforward_unroll(A, c, cl.TANH, x0 - eps * e[i], grid(8))[-1].sum()
        )
        / (2 * eps)
        for i in range(D)
    ]
    assert np.allclose(g.numpy(), fd, rtol=1e-7, atol=1e-9)


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


def test_bad_splitting_arguments(coeffs):
    A, c, x0, *_ = coeffs
    with pytest.raises(ValueError, match="scheme"):
        cl.splitting_unroll(A, c, cl.TANH, x0, grid(4), scheme="yoshida")
    with pytest.raises(TypeError, match="g must be a Nonlinearity"):
        cl.splitting_unroll(A, c, torch.tanh, x0, grid(4))
    with pytest.raises(ValueError, match="h"):
        cl.euler_step_difference(A, c, cl.TANH, torch.tensor(0.0, dtype=DT), x0, 0.0)
    with pytest.raises(TypeError, match="A must be callable"):
        cl.feedforward_layers(3.0, c, cl.TANH, grid(4))
    with pytest.raises(ValueError, match="ts"):
        cl.strong_feedforward_unroll(A, c, torch.tanh, x0, torch.tensor([0.0], dtype=DT))
