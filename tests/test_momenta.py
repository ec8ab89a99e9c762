"""Tests of ctdepth_lib.momenta against closed forms, finite differences and scipy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from field_cases import DT, TanhField, count_time_grid_checks, matrix, rng
from hypothesis import given, settings, strategies as st
from scipy.integrate import solve_ivp
from scipy.linalg import expm

from ctdepth_lib import (
    adjoint_momenta,
    backprop_momenta,
    hamiltonian,
    hamiltonian_flow,
    layer_momenta,
    modified_hamiltonian,
    resnet_unroll,
    tangent_unroll,
)
from ctdepth_lib.momenta import joint_field, joint_field_functional


def half_square(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * (x**2).sum()


# --- hamiltonian -------------------------------------------------------------------------


def test_hamiltonian_linear_closed_form_and_shapes() -> None:
    a = matrix(3)
    x = torch.randn(5, 3, generator=rng(1), dtype=DT)
    p = torch.randn(5, 3, generator=rng(2), dtype=DT)
    h = hamiltonian(lambda t, y: y @ a.T, 0.0, x, p)
    expected = np.einsum("bi,ij,bj->b", p.numpy(), a.numpy(), x.numpy())
    assert h.shape == (5,)
    np.testing.assert_allclose(h.numpy(), expected, rtol=1e-14)
    single = hamiltonian(lambda t, y: y @ a.T, torch.tensor(0.5, dtype=DT), x[0], p[0])
    assert single.shape == ()
    np.testing.assert_allclose(float(single), expected[0], rtol=1e-14)


# --- backprop_momenta --------------------------------------------------------------------


def test_backprop_momenta_linear_closed_form() -> None:
    # f = A x: x_N = (I + hA)^N x_0 and p_n = p_N (I + hA)^(N-n), p_N = x_N for L = |x|²/2.
    d, n_steps = 3, 10
    a = matrix(d).numpy()
    x0 = torch.randn(d, generator=rng(3), dtype=DT)
    ts = torch.linspace(0.0, 1.0, n_steps + 1, dtype=DT)
    xs, ps = backprop_momenta(lambda t, y: y @ torch.from_numpy(a).T, x0, ts, half_square)
    step = np.eye(d) + a / n_steps
    x_n = np.linalg.matrix_power(step, n_steps) @ x0.numpy()
    for n in range(n_steps + 1):
        expected = x_n @ np.linalg.matrix_power(step, n_steps - n)
        np.testing.assert_allclose(ps[n].numpy(), expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(xs[-1].numpy(), x_n, rtol=1e-12)
    assert xs.shape == ps.shape == (n_steps + 1, d)


def test_backprop_momenta_finite_differences_nonlinear_time_dependent() -> None:
    f = TanhField(3)

    def g(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return f(t, x) * torch.cos(t)

    x0 = torch.randn(3, generator=rng(4), dtype=DT)
    ts = torch.linspace(0.0, 1.5, 13, dtype=DT)

    def loss(x: torch.Tensor) -> torch.Tensor:
        return torch.sin(x).sum() + x[0] * x[1]

    _, ps = backprop_momenta(g, x0, ts, loss)
    eps = 1e-6
    for n in (0, 5, 12):
        fd = np.zeros(3)
        for i in range(3):
            vals = []
            for sign in (1, -1):
                with torch.no_grad():
                    xs = resnet_unroll(g, x0, ts).clone()
                    x = xs[n].clone()
                    x[i] += sign * eps
                    if n < 12:
                        x = resnet_unroll(g, x, ts[n:])[-1]
                    vals.append(float(loss(x)))
            fd[i] = (vals[0] - vals[1]) / (2 * eps)
        np.testing.assert_allclose(ps[n].numpy(), fd, rtol=1e-7, atol=1e-9)


def test_backprop_momenta_batch_is_sum_of_samples() -> None:
    f = TanhField(2)
    x0 = torch.randn(4, 2, generator=rng(5), dtype=DT)
    ts = torch.linspace(0.0, 1.0, 9, dtype=DT)
    _, ps = backprop_momenta(f, x0, ts, half_square)
    for b in range(4):
        _, pb = backprop_momenta(f, x0[b], ts, half_square)
        np.testing.assert_allclose(ps[:, b].numpy(), pb.numpy(), rtol=1e-14, atol=1e-15)


def test_backprop_momenta_constant_loss_gives_zero() -> None:
    x0 = torch.ones(2, dtype=DT)
    ts = torch.linspace(0.0, 1.0, 4, dtype=DT)
    _, ps = backprop_momenta(lambda t, y: -y, x0, ts, lambda x: torch.tensor(1.0, dtype=DT))
    assert float(ps.abs().max()) == 0.0


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n_steps=st.integers(1, 12),
    d=st.integers(1, 4),
    t_end=st.floats(0.1, 3.0),
)
def test_backprop_is_symplectic_euler_for_all_inputs(seed: int, n_steps: int, d: int, t_end: float) -> None:
    # Law (claim 2a): p_n = p_{n+1} (I + h J_n) with J_n the explicit Jacobian of tanh(W x + b) at x_n.
    f = TanhField(d, seed=seed)
    x0 = torch.randn(d, generator=rng(seed + 1), dtype=DT)
    ts = torch.linspace(0.0, t_end, n_steps + 1, dtype=DT)
    xs, ps = backprop_momenta(f, x0, ts, half_square)
    h = (ts[1:] - ts[:-1]).numpy()
    np.testing.assert_allclose(ps[-1].numpy(), xs[-1].numpy(), rtol=1e-15, atol=0)
    for n in range(n_steps):
        expected = ps[n + 1].numpy() @ (np.eye(d) + h[n] * f.np_jac(xs[n].numpy()))
        np.testing.assert_allclose(ps[n].numpy(), expected, rtol=1e-12, atol=1e-13)


# --- adjoint_momenta and hamiltonian_flow ------------------------------------------------


def test_adjoint_momenta_linear_closed_form() -> None:
    # f = A x: x(t) = e^{At} x0, p(t) = p(T) e^{A(T−t)} with p(T) = x(T).
    d = 3
    a = matrix(d, seed=6)
    x0 = torch.randn(2, d, generator=rng(7), dtype=DT)
    ts = torch.linspace(0.0, 1.2, 7, dtype=DT)
    xs, ps = adjoint_momenta(lambda t, y: y @ a.T, x0, ts, half_square)
    an = a.numpy()
    x_t = x0.numpy() @ expm(an * 1.2).T
    for n, t in enumerate(ts.tolist()):
        np.testing.assert_allclose(xs[n].numpy(), x0.numpy() @ expm(an * t).T, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(ps[n].numpy(), x_t @ expm(an * (1.2 - t)), rtol=1e-8, atol=1e-10)


def test_adjoint_momenta_against_scipy() -> None:
    f = TanhField(3, seed=8)
    x0 = torch.randn(3, generator=rng(9), dtype=DT)
    ts = torch.linspace(0.0, 2.0, 9, dtype=DT)

    def loss(x: torch.Tensor) -> torch.Tensor:
        return (x**3).sum()

    xs, ps = adjoint_momenta(f, x0, ts, loss)
    fwd = solve_ivp(lambda t, y: f.np_f(y), (0.0, 2.0), x0.numpy(), method="DOP853", rtol=1e-13, atol=1e-13)
    x_t = fwd.y[:, -1]

    def joint(t: float, z: np.ndarray) -> np.ndarray:
        x, p = z[:3], z[3:]
        return np.concatenate([f.np_f(x), -p @ f.np_jac(x)])

    back = solve_ivp(
        joint,
        (2.0, 0.0),
        np.concatenate([x_t, 3 * x_t**2]),
        method="DOP853",
        rtol=1e-13,
        atol=1e-13,
        t_eval=ts.numpy()[::-1],
    )
    np.testing.assert_allclose(xs.numpy(), back.y[:3, ::-1].T, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(ps.numpy(), back.y[3:, ::-1].T, rtol=1e-8, atol=1e-9)


def test_hamiltonian_flow_linear_closed_form_forward() -> None:
    a = matrix(2, seed=10)
    x0 = torch.randn(2, generator=rng(11), dtype=DT)
    p0 = torch.randn(2, generator=rng(12), dtype=DT)
    ts = torch.linspace(0.0, 1.0, 5, dtype=DT)
    xs, ps = hamiltonian_flow(lambda t, y: y @ a.T, x0, p0, ts, rtol=1e-12, atol=1e-12)
    an = a.numpy()
    for n, t in enumerate(ts.tolist()):
        np.testing.assert_allclose(xs[n].numpy(), expm(an * t) @ x0.numpy(), rtol=1e-9, atol=1e-11)
        np.testing.assert_allclose(ps[n].numpy(), p0.numpy() @ expm(-an * t), rtol=1e-9, atol=1e-11)


# --- modified_hamiltonian ----------------------------------------------------------------


def test_modified_hamiltonian_explicit_jacobian() -> None:
    f = TanhField(3, seed=13)
    x = torch.randn(6, 3, generator=rng(14), dtype=DT)
    p = torch.randn(6, 3, generator=rng(15), dtype=DT)
    h = 0.1
    got = modified_hamiltonian(f, 0.0, x, p, h)
    expected = [
        pb @ f.np_f(xb) - 0.5 * h * pb @ f.np_jac(xb) @ f.np_f(xb) for xb, pb in zip(x.numpy(), p.numpy(), strict=True)
    ]
    np.testing.assert_allclose(got.detach().numpy(), expected, rtol=1e-13)


# --- finite-difference references ---------------------------------------------------------


def test_tangent_unroll_against_finite_differences_and_pairing() -> None:
    f = TanhField(3, seed=31)
    x0 = torch.randn(4, 3, generator=rng(32), dtype=DT)
    v0 = torch.randn(4, 3, generator=rng(33), dtype=DT)
    ts = torch.linspace(0.0, 1.0, 17, dtype=DT)
    xs, vs = tangent_unroll(f, x0, v0, ts)
    np.testing.assert_array_equal(xs.numpy(), resnet_unroll(f, x0, ts).detach().numpy())
    eps = 1e-6
    fd = (resnet_unroll(f, x0 + eps * v0, ts) - resnet_unroll(f, x0 - eps * v0, ts)).detach() / (2 * eps)
    np.testing.assert_allclose(vs.numpy(), fd.numpy(), rtol=1e-7, atol=1e-8)
    # affine field: v_n = (I + hA)^n v0 in closed form
    a = matrix(3, seed=34)
    _, va = tangent_unroll(lambda t, y: y @ a.T + 1.0, x0, v0, ts)
    step = np.eye(3) + (1 / 16) * a.numpy()
    np.testing.assert_allclose(va[-1].numpy(), v0.numpy() @ np.linalg.matrix_power(step, 16).T, rtol=1e-13)
    # a field that does not depend on x carries v unchanged
    _, vc = tangent_unroll(lambda t, y: torch.ones_like(y), x0, v0, ts)
    np.testing.assert_array_equal(vc[-1].numpy(), v0.numpy())


def test_adjoint_momenta_checks_its_time_grid_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The public face checks ``ts``; its forward and backward solves (the cores) trust it."""
    calls = count_time_grid_checks(monkeypatch)
    adjoint_momenta(TanhField(2), torch.zeros(3, 2, dtype=DT), torch.linspace(0.0, 1.0, 5, dtype=DT), half_square)
    assert calls == ["ts"]


# --- bad input: one table per public face -------------------------------------------------

_X = torch.zeros(3, 2, dtype=DT)
_TS = torch.linspace(0.0, 1.0, 3, dtype=DT)
_F_CASES = [
    ({"f": None}, TypeError, r"^f must be callable"),
    ({"f": lambda t, x: x[..., :1]}, ValueError, r"^f\(t, x\) must return the shape of x"),
    ({"f": lambda t, x: x.float()}, TypeError, r"^f\(t, x\) must return the dtype of x"),
]
_X0_TS_CASES = [
    *_F_CASES,
    ({"x0": torch.zeros(3, 2, dtype=torch.int64)}, TypeError, r"^x0 must have a floating-point dtype"),
    ({"x0": torch.zeros(1, 3, 2, dtype=DT)}, ValueError, r"^x0 must have shape"),
    ({"ts": _TS.float()}, TypeError, r"^ts must have the dtype of x0"),
    ({"ts": _TS[[0, 2, 1]]}, ValueError, r"^ts must be strictly"),
]
_LOSS_CASES = [
    ({"loss": "mse"}, TypeError, r"^loss must be callable"),
    ({"loss": lambda x: x}, ValueError, r"^loss\(x_N\) must return a scalar"),
    ({"loss": lambda x: 1.0}, TypeError, r"^loss\(x_N\) must return a torch.Tensor"),
    ({"loss": lambda x: torch.tensor(1)}, TypeError, r"^loss\(x_N\) must return a floating-point scalar"),
]
_TOLERANCES = [
    ({"rtol": 0.0}, ValueError, r"^rtol must be a finite number > 0"),
    ({"atol": -1e-3}, ValueError, r"^atol must be a finite number > 0"),
    ({"rtol": "1e-9"}, TypeError, r"^rtol must be a positive real number"),
]
_HAMILTONIAN_CASES = [
    *_F_CASES,
    ({"x": torch.zeros(3, 2, dtype=torch.int64)}, TypeError, r"^x must have a floating-point dtype"),
    ({"p": torch.zeros(3, 3, dtype=DT)}, ValueError, r"^p must have the shape of x"),
    ({"p": torch.zeros(3, 2, dtype=torch.float32)}, TypeError, r"^p must have the dtype of x"),
    ({"t": torch.zeros(2, dtype=DT)}, ValueError, r"^t must be a 0-d tensor"),
    ({"t": "0"}, TypeError, r"^t must be a real number"),
    ({"t": float("inf")}, ValueError, r"^t must be a finite number"),
]


def field(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return -x


@pytest.mark.parametrize(("bad", "error", "match"), _HAMILTONIAN_CASES)
def test_hamiltonian_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        hamiltonian(**({"f": field, "t": 0.0, "x": _X, "p": _X} | bad))


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        *_HAMILTONIAN_CASES,
        ({"h": 0.0}, ValueError, r"^h must be a finite number > 0"),
        ({"h": None}, TypeError, r"^h must be a positive real number"),
    ],
)
def test_modified_hamiltonian_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        modified_hamiltonian(**({"f": field, "t": 0.0, "x": _X, "p": _X, "h": 0.1} | bad))


@pytest.mark.parametrize(("bad", "error", "match"), [*_X0_TS_CASES, *_LOSS_CASES])
def test_backprop_momenta_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        backprop_momenta(**({"f": field, "x0": _X, "ts": _TS, "loss": half_square} | bad))


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        *_X0_TS_CASES,
        *_LOSS_CASES,
        *_TOLERANCES,
        ({"ts": _TS.flip(0)}, ValueError, r"^ts must be strictly increasing \(t_0 < … < t_N\)"),
    ],
)
def test_adjoint_momenta_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        adjoint_momenta(**({"f": field, "x0": _X, "ts": _TS, "loss": half_square} | bad))


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        *_X0_TS_CASES,
        *_TOLERANCES,
        ({"p0": torch.zeros(3, 3, dtype=DT)}, ValueError, r"^p0 must have the shape of x0"),
        ({"p0": None}, TypeError, r"^p0 must be a torch.Tensor"),
        ({"method": "rk45"}, ValueError, r"^method must be one of"),
        ({"options": (1,)}, TypeError, r"^options must be a dict or None"),
    ],
)
def test_hamiltonian_flow_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        hamiltonian_flow(**({"f": field, "x0": _X, "p0": _X, "ts": _TS} | bad))


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        *_X0_TS_CASES,
        ({"v0": torch.zeros(2, dtype=DT)}, ValueError, r"^v0 must have the shape of x0"),
        ({"v0": _X.float()}, TypeError, r"^v0 must have the dtype of x0"),
    ],
)
def test_tangent_unroll_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        tangent_unroll(**({"f": field, "x0": _X, "v0": _X, "ts": _TS} | bad))


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        ({"steps": []}, ValueError, r"^steps must be a non-empty sequence"),
        ({"steps": lambda x: x}, TypeError, r"^steps must be a sequence"),
        ({"steps": [lambda x: x, 3]}, TypeError, r"^steps\[1\] must be callable"),
        ({"steps": [lambda x: x[:1]]}, ValueError, r"^steps\[0\] must return a tensor of its input's shape"),
        ({"x0": [0.0, 0.0]}, TypeError, r"^x0 must be a torch.Tensor"),
        *_LOSS_CASES,
    ],
)
def test_layer_momenta_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        layer_momenta(**({"steps": [lambda x: 2 * x], "x0": _X[0], "loss": half_square} | bad))


@pytest.mark.parametrize("face", [joint_field, joint_field_functional])
@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        ({"f": None}, TypeError, r"^f must be callable"),
        ({"d": 0}, ValueError, r"^d must be an integer >= 1"),
        ({"d": 2.0}, TypeError, r"^d must be an integer"),
    ],
)
def test_joint_fields_reject(face, bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        face(**({"f": field, "d": 2} | bad))
