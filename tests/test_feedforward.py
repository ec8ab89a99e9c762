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


def test_max_deviation_accepts_a_fine_grid(coeffs):
    A, c, x0, *_ = coeffs
    assert torch.equal(
        cl.feedforward_unroll(A, c, cl.TANH, x0, grid(64), max_deviation=0.1),
        cl.feedforward_unroll(A, c, cl.TANH, x0, grid(64)),
    )


# --------------------------------------------------------------------------- bad input: one table per public face

_A, _C, _X0, *_ = coefficients()
_W = torch.randn(3, 3, generator=torch.Generator().manual_seed(0), dtype=DT)
_NETWORK = {"A": _A, "c": _C, "g": cl.TANH, "x0": _X0, "ts": grid(4)}
_COEFFICIENT_CASES = [
    ({"A": torch.zeros(3, 3, dtype=DT)}, TypeError, r"^A must be callable"),
    ({"c": 1.0}, TypeError, r"^c must be callable"),
    ({"g": "tanh"}, TypeError, r"^g must be callable"),
]
_NETWORK_CASES = [
    *_COEFFICIENT_CASES,
    ({"A": lambda t: torch.zeros(3, 2, dtype=DT)}, ValueError, r"^A\(t\) must return a square"),
    ({"A": lambda t: torch.zeros(2, 2, dtype=DT)}, ValueError, r"^A\(t\) must be \(3, 3\)"),
    ({"A": lambda t: np.zeros((3, 3))}, TypeError, r"^A\(t\) must be a torch.Tensor"),
    ({"A": lambda t: torch.zeros(3, 3, dtype=torch.float32)}, TypeError, r"^A\(t\) must have the dtype"),
    ({"c": lambda t: torch.zeros(3, 1, dtype=DT)}, ValueError, r"^c\(t\) must return a vector of shape \(3,\)"),
    ({"c": lambda t: [0.0, 0.0, 0.0]}, TypeError, r"^c\(t\) must be a torch.Tensor"),
    ({"c": lambda t: torch.zeros(3, dtype=torch.float32)}, TypeError, r"^c\(t\) must have the dtype"),
    ({"g": lambda z: z.sum(-1, keepdim=True)}, ValueError, r"^g must be elementwise and keep the shape"),
    ({"g": lambda z: torch.softmax(z, -1)}, ValueError, r"^g must be elementwise"),
    ({"g": lambda z: z @ _W}, ValueError, r"^g must be elementwise"),
    ({"g": lambda z: 0.0}, TypeError, r"^g\(z\) must be a torch.Tensor"),
    ({"x0": _X0.reshape(1, 1, 3)}, ValueError, r"^x0 must have shape"),
    ({"ts": torch.tensor([0.0, 0.5, 0.5], dtype=DT)}, ValueError, r"^ts must be strictly"),
    ({"ts": torch.tensor([0.0], dtype=DT)}, ValueError, r"^ts must hold at least 2"),
]


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        *_NETWORK_CASES,
        ({"ts": grid(2), "max_deviation": 0.1}, ValueError, r"^ts: the step is too large.*max_deviation"),
        ({"max_deviation": -1.0}, ValueError, r"^max_deviation must be a finite number > 0"),
        ({"reverse": 1}, TypeError, r"^reverse must be a bool"),
    ],
)
def test_feedforward_unroll_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        cl.feedforward_unroll(**(_NETWORK | bad))


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        *_NETWORK_CASES[:2],
        ({"g": torch.tanh}, TypeError, r"^g must be a Nonlinearity \(with its exact flow\)"),
        ({"scheme": "yoshida"}, ValueError, r"^scheme must be one of"),
        *_NETWORK_CASES[3:8],
        *_NETWORK_CASES[-3:],
    ],
)
def test_splitting_unroll_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        cl.splitting_unroll(**(_NETWORK | bad))


@pytest.mark.parametrize(("bad", "error", "match"), _NETWORK_CASES)
def test_strong_feedforward_unroll_rejects(bad: dict, error: type, match: str) -> None:
    args = _NETWORK | bad
    args["sigma"] = args.pop("g")
    with pytest.raises(error, match=match):
        cl.strong_feedforward_unroll(**args)


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        ({"A": 3.0}, TypeError, r"^A must be callable"),
        ({"g": torch.tanh}, TypeError, r"^g must be a Nonlinearity \(with its derivative dg\)"),
        ({"A": lambda t: torch.zeros(2, 2, dtype=DT)}, ValueError, r"^A\(t\) must be \(3, 3\)"),
        ({"h": 0.0}, ValueError, r"^h must be a finite number > 0"),
        ({"t": torch.zeros(2, dtype=DT)}, ValueError, r"^t must be a 0-d tensor"),
        ({"x": torch.zeros(3, dtype=torch.int64)}, TypeError, r"^x must have a floating-point dtype"),
    ],
)
def test_euler_step_difference_rejects(bad: dict, error: type, match: str) -> None:
    args = {"A": _A, "c": _C, "g": cl.TANH, "t": torch.tensor(0.0, dtype=DT), "x": _X0, "h": 0.1}
    with pytest.raises(error, match=match):
        cl.euler_step_difference(**(args | bad))


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        *_COEFFICIENT_CASES,
        ({"ts": torch.tensor([0.0], dtype=DT)}, ValueError, r"^ts must hold at least 2"),
        ({"reverse": None}, TypeError, r"^reverse must be a bool"),
    ],
)
def test_feedforward_layers_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        cl.feedforward_layers(**({"A": _A, "c": _C, "g": cl.TANH, "ts": grid(4)} | bad))
