"""Tests of ctdepth_lib.lagrangian against closed forms (polynomials, a linear field with matrix
exponentials), the Hamiltonian's finite differences, the continuous adjoint and finite differences
of the loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from field_cases import DT, TanhField, matrix, rng
from scipy.integrate import quad_vec
from scipy.linalg import expm

from ctdepth_lib import (
    action,
    adjoint_momenta,
    control_gradient,
    control_gradient_fd,
    euler_lagrange_residuals,
    hamiltonian_gradient_fd,
    lagrangian,
)


def linear_pair(a: torch.Tensor, x0: torch.Tensor, p_end: torch.Tensor, ts: torch.Tensor):
    """The exact solution of ẋ = Ax, ṗ = −pA with p(T) = p_end: x = e^{At}x0, p = p_end e^{A(T − t)}."""
    an, big_t = a.numpy(), float(ts[-1])
    xs = np.stack([x0.numpy() @ expm(an * float(t)).T for t in ts])
    ps = np.stack([p_end.numpy() @ expm(an * (big_t - float(t))) for t in ts])
    return torch.from_numpy(xs), torch.from_numpy(ps)


# --- the Lagrangian ------------------------------------------------------------------------------------


def test_lagrangian_is_p_xdot_minus_p_f() -> None:
    f = TanhField(3, seed=1)
    x, p, v = (torch.randn(5, 3, generator=rng(k), dtype=DT) for k in (2, 3, 4))
    value = lagrangian(f, 0.3, x, p, v)
    expected = np.einsum("bi,bi->b", p.numpy(), v.numpy()) - np.einsum(
        "bi,bi->b", p.numpy(), np.stack([f.np_f(xb) for xb in x.numpy()])
    )
    assert value.shape == (5,)
    np.testing.assert_allclose(value.detach().numpy(), expected, rtol=1e-13, atol=1e-13)
    assert lagrangian(f, torch.tensor(0.3), x[0], p[0], v[0]).shape == ()


# --- Euler–Lagrange residuals ---------------------------------------------------------------------------


def test_euler_lagrange_residuals_polynomials_exact() -> None:
    # f = t (a field of t only): r_p = ẋ − t, r_x = −ṗ (f_x = 0); fourth-order differences are exact
    # for polynomials of degree ≤ 4, so with x = t⁴, p = t³ − t: r_p = 4t³ − t, r_x = −(3t² − 1).
    ts = torch.linspace(0.0, 2.0, 11, dtype=DT)
    xs = (ts**4)[:, None]
    ps = (ts**3 - ts)[:, None]
    r_x, r_p = euler_lagrange_residuals(lambda t, x: t * torch.ones_like(x), ts, xs, ps)
    assert r_x.shape == r_p.shape == xs.shape
    np.testing.assert_allclose(r_p[:, 0].numpy(), (4 * ts**3 - ts).numpy(), rtol=0, atol=1e-11)
    np.testing.assert_allclose(r_x[:, 0].numpy(), -(3 * ts**2 - 1).numpy(), rtol=0, atol=1e-11)


def test_euler_lagrange_residuals_vanish_on_the_linear_solution_and_measure_a_perturbation() -> None:
    d = 3
    a = matrix(d, seed=5)
    x0 = torch.randn(2, d, generator=rng(6), dtype=DT)
    p_end = torch.randn(2, d, generator=rng(7), dtype=DT)
    ts = torch.linspace(0.0, 1.0, 201, dtype=DT)
    xs, ps = linear_pair(a, x0, p_end, ts)
    f = lambda t, x: x @ a.T  # noqa: E731
    r_x, r_p = euler_lagrange_residuals(f, ts, xs, ps)
    assert float(r_x.abs().max()) < 1e-8 and float(r_p.abs().max()) < 1e-8  # O(Δt⁴)
    # p + εb with b = g(t) v: r_x = −ε(ḃ + bA), exactly linear in ε
    v = torch.randn(2, d, generator=rng(8), dtype=DT)
    g = torch.exp(-0.5 * ((ts - 0.5) / 0.1) ** 2)
    dg = -(ts - 0.5) / 0.01 * g
    b = g[:, None, None] * v
    expected = -(dg[:, None, None] * v + b @ a)
    for eps in (1e-4, 1e-2):
        r_x_e, r_p_e = euler_lagrange_residuals(f, ts, xs, ps + eps * b)
        np.testing.assert_allclose((r_x_e / eps).numpy(), expected.numpy(), rtol=0, atol=2e-4)
        np.testing.assert_allclose(r_p_e.numpy(), r_p.numpy(), rtol=0, atol=1e-13)  # x is untouched


def test_euler_lagrange_residuals_equal_hamilton_residuals() -> None:
    # r_x = −H_x − ṗ and r_p = ẋ − H_p, with H_x, H_p by finite differences of H = p·f (no autograd):
    # the parts that depend on f are −H_x and −H_p
    f = TanhField(3, seed=9)
    ts = torch.linspace(0.0, 1.0, 33, dtype=DT)
    xs = torch.randn(33, 2, 3, generator=rng(10), dtype=DT)
    ps = torch.randn(33, 2, 3, generator=rng(11), dtype=DT)
    r_x, r_p = euler_lagrange_residuals(f, ts, xs, ps)
    h_x, h_p = hamiltonian_gradient_fd(f, ts, xs, ps)
    r_x_free, r_p_free = euler_lagrange_residuals(lambda t, x: 0.0 * x, ts, xs, ps)  # f = 0: −ṗ and ẋ
    np.testing.assert_allclose((r_x - r_x_free).numpy(), -h_x.numpy(), rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose((r_p - r_p_free).numpy(), -h_p.numpy(), rtol=1e-9, atol=1e-10)


# --- the action -------------------------------------------------------------------------------------------


def test_action_of_polynomials_closed_form() -> None:
    # f = 0, x = t², p = t, L = x(T)²: S = T⁴ − ∫ 2t² dt = T⁴ − 2T³/3 (Simpson is exact for cubics)
    big_t = 1.5
    ts = torch.linspace(0.0, big_t, 9, dtype=DT)
    value = action(lambda t, x: 0.0 * x, ts, (ts**2)[:, None], ts[:, None], lambda x: (x**2).sum())
    assert value.shape == () and value.dtype == DT
    assert abs(float(value) - (big_t**4 - 2 * big_t**3 / 3)) < 1e-12


def test_action_is_stationary_only_at_the_solution() -> None:
    # linear field, L = |x(T)|²/2, p(T) = x(T): S(ε) − S(0) is exactly quadratic in ε on the
    # solution (ratio 4 when ε doubles) and linear off it (ratio 2)
    d = 2
    a = matrix(d, seed=12)
    x0 = torch.randn(3, d, generator=rng(13), dtype=DT)
    ts = torch.linspace(0.0, 1.0, 129, dtype=DT)
    x_end = x0.numpy() @ expm(a.numpy()).T
    xs, ps = linear_pair(a, x0, torch.from_numpy(x_end), ts)
    f = lambda t, x: x @ a.T  # noqa: E731
    loss = lambda x: 0.5 * (x**2).sum()  # noqa: E731
    assert abs(float(action(f, ts, xs, ps, loss)) - float(loss(xs[-1]))) < 1e-10  # on the constraint
    phi = torch.sin(0.5 * torch.pi * ts)[:, None, None]  # δx(0) = 0, δx(T) ≠ 0
    dx = phi * torch.randn(3, d, generator=rng(14), dtype=DT)
    dp = torch.exp(-0.5 * ((ts - 0.4) / 0.1) ** 2)[:, None, None] * torch.randn(3, d, generator=rng(15), dtype=DT)

    def change(base_p: torch.Tensor, eps: float) -> float:
        return float(action(f, ts, xs + eps * dx, base_p + eps * dp, loss) - action(f, ts, xs, base_p, loss))

    on = [change(ps, e) for e in (1e-3, 2e-3)]
    off = [change(ps + 0.5 * dp.flip(0), e) for e in (1e-4, 2e-4)]
    assert abs(on[1] / on[0] - 4.0) < 1e-3
    assert abs(off[1] / off[0] - 2.0) < 1e-2


# --- the control gradient -----------------------------------------------------------------------------------


def tanh_control(d: int, k: int, seed: int):
    """F(x, q) = W₂ tanh(W₁x + q) with its explicit gradient in q: p W₂ diag(1 − tanh²)."""
    g = rng(seed)
    w1 = torch.randn(k, d, generator=g, dtype=DT) / d**0.5
    w2 = torch.randn(d, k, generator=g, dtype=DT) / k**0.5

    def F(x: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x @ w1.T + q) @ w2.T

    def explicit(x: np.ndarray, p: np.ndarray, q: np.ndarray) -> np.ndarray:
        s = np.tanh(x @ w1.numpy().T + q)  # (batch, k)
        return ((p @ w2.numpy()) * (1 - s**2)).sum(0)

    return F, explicit


def test_control_gradient_explicit() -> None:
    F, explicit = tanh_control(3, 5, seed=16)
    xs = torch.randn(7, 4, 3, generator=rng(17), dtype=DT)
    ps = torch.randn(7, 4, 3, generator=rng(18), dtype=DT)
    qs = torch.randn(7, 5, generator=rng(19), dtype=DT)
    g = control_gradient(F, xs, ps, qs)
    assert g.shape == (7, 5)
    for m in range(7):
        np.testing.assert_allclose(g[m].numpy(), explicit(xs[m].numpy(), ps[m].numpy(), qs[m].numpy()), rtol=1e-12)
    single = control_gradient(F, xs[:, 0], ps[:, 0], qs)  # one sample, x of shape (d,)
    np.testing.assert_allclose(
        single[2].numpy(), explicit(xs[2, :1].numpy(), ps[2, :1].numpy(), qs[2].numpy()), rtol=1e-12
    )


def test_control_gradient_fd_linear_closed_form() -> None:
    # F = Ax + q(t), L = c·x(T) (summed over the batch): dL/dε = ∫ c e^{A(T − t)} δq(t) dt times the batch size
    d = 3
    a = matrix(d, seed=20)
    c = torch.randn(d, generator=rng(21), dtype=DT)
    x0 = torch.randn(2, d, generator=rng(22), dtype=DT)
    u = torch.randn(d, generator=rng(23), dtype=DT)
    q = lambda t: torch.sin(3 * t) * u  # noqa: E731
    e = torch.tensor([1.0, -2.0, 0.5], dtype=DT)
    dq = lambda t: torch.exp(-0.5 * ((t - 0.6) / 0.15) ** 2) * e  # noqa: E731
    value = control_gradient_fd(lambda x, qq: x @ a.T + qq, q, dq, x0, 0.0, 1.2, lambda x: (x @ c).sum())
    kernel = lambda t: c.numpy() @ expm(a.numpy() * (1.2 - t)) @ dq(torch.tensor(t)).numpy()  # noqa: E731
    expected = 2 * quad_vec(kernel, 0.0, 1.2, epsabs=1e-13, epsrel=1e-13)[0]
    assert isinstance(value, float)
    assert abs(value - float(expected)) < 1e-8 * abs(float(expected))


def test_control_gradient_fd_equals_the_integral_of_the_density() -> None:
    # nonlinear field: FD of the loss against ∫ p ∂F/∂q · δq dt along the continuous adjoint
    from scipy.integrate import simpson

    d, k = 3, 5
    F, _ = tanh_control(d, k, seed=24)
    b = 0.3 * torch.randn(k, generator=rng(25), dtype=DT)
    q = lambda t: b + t * torch.ones(k, dtype=DT)  # noqa: E731
    x0 = torch.randn(4, d, generator=rng(26), dtype=DT)
    y = torch.randn(4, d, generator=rng(27), dtype=DT)
    loss = lambda x: 0.5 * ((x - y) ** 2).sum()  # noqa: E731
    ts = torch.linspace(0.0, 1.0, 257, dtype=DT)
    xs, ps = adjoint_momenta(lambda t, x: F(x, q(t)), x0, ts, loss, rtol=1e-12, atol=1e-12)
    g = control_gradient(F, xs, ps, torch.stack([q(t) for t in ts]))
    for s, j in ((0.3, 1), (0.7, 4)):
        e = torch.zeros(k, dtype=DT)
        e[j] = 1.0
        dq = lambda t, s=s, e=e: torch.exp(-0.5 * ((t - s) / 0.1) ** 2) * e  # noqa: E731
        fd = control_gradient_fd(F, q, dq, x0, 0.0, 1.0, loss)
        beta = torch.stack([dq(t)[j] for t in ts])
        integral = simpson((g[:, j] * beta).numpy(), x=ts.numpy())
        assert abs(fd - integral) < 1e-6 * max(abs(fd), 1e-3)


# --- bad input: one table per public face --------------------------------------------------------------------


def field(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return torch.tanh(x)


def control(x: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    return torch.tanh(x + q.sum())


_X = torch.zeros(2, 3, dtype=DT)
_TS = torch.linspace(0.0, 1.0, 6, dtype=DT)
_XS = torch.zeros(6, 2, 3, dtype=DT)
_QS = torch.zeros(6, 4, dtype=DT)

_LAGRANGIAN = {"f": field, "t": 0.0, "x": _X, "p": _X, "xdot": _X}
_LAGRANGIAN_CASES = [
    ({"f": None}, TypeError, r"^f must be callable"),
    ({"f": lambda t, x: x[..., :1]}, ValueError, r"^f\(t, x\) must return the shape of x"),
    ({"x": torch.zeros(2, 2, 3, dtype=DT)}, ValueError, r"^x must have shape"),
    ({"p": _X.float()}, TypeError, r"^p must have the dtype of x"),
    ({"xdot": torch.zeros(2, 2, dtype=DT)}, ValueError, r"^xdot must have the shape of x"),
    ({"t": "0"}, TypeError, r"^t must be a real number"),
    ({"t": torch.zeros(2)}, ValueError, r"^t must be a 0-d tensor"),
]


@pytest.mark.parametrize(("bad", "error", "match"), _LAGRANGIAN_CASES)
def test_lagrangian_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        lagrangian(**(_LAGRANGIAN | bad))


_TRAJECTORY_CASES = [
    ({"f": None}, TypeError, r"^f must be callable"),
    ({"f": lambda t, x: x[..., :1]}, ValueError, r"^f\(t, x\) must return the shape of x"),
    ({"xs": torch.zeros(6, dtype=DT), "ps": torch.zeros(6, dtype=DT)}, ValueError, r"^xs must have shape"),
    ({"ps": torch.zeros(6, 2, 2, dtype=DT)}, ValueError, r"^ps must have the shape of xs"),
    ({"ps": _XS.float()}, TypeError, r"^ps must have the dtype of xs"),
    ({"ts": _TS[:5]}, ValueError, r"^ts must hold one time per row of xs"),
    ({"ts": _TS.float()}, TypeError, r"^ts must have the dtype of x0"),
    ({"ts": _TS.flip(0)}, ValueError, r"^ts must be strictly increasing"),
    ({"ts": _TS**2}, ValueError, r"^ts must be uniformly spaced"),
    ({"ts": _TS[:4], "xs": _XS[:4], "ps": _XS[:4]}, ValueError, r"^ts must hold at least 5 times"),
]


@pytest.mark.parametrize(("bad", "error", "match"), _TRAJECTORY_CASES)
def test_euler_lagrange_residuals_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        euler_lagrange_residuals(**({"f": field, "ts": _TS, "xs": _XS, "ps": _XS} | bad))


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        *_TRAJECTORY_CASES,
        ({"loss": None}, TypeError, r"^loss must be callable as loss\(x_N\)"),
        ({"loss": lambda x: x}, ValueError, r"^loss\(x_N\) must return a scalar"),
    ],
)
def test_action_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        action(**({"f": field, "ts": _TS, "xs": _XS, "ps": _XS, "loss": lambda x: x.sum()} | bad))


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        ({"F": None}, TypeError, r"^F must be callable as F\(x, q\)"),
        ({"F": lambda x, q: x[..., :1]}, ValueError, r"^F\(x, q\) must return the shape of x"),
        ({"F": lambda x, q: x.float()}, TypeError, r"^F\(x, q\) must return the dtype of x"),
        ({"xs": torch.zeros(6, dtype=DT)}, ValueError, r"^xs must have shape"),
        ({"ps": _XS[:, :1]}, ValueError, r"^ps must have the shape of xs"),
        ({"qs": torch.zeros(6, dtype=DT)}, ValueError, r"^qs must have shape \(M, k\)"),
        ({"qs": _QS[:5]}, ValueError, r"^qs must hold one control per row of xs"),
        ({"qs": _QS.float()}, TypeError, r"^qs must have the dtype of xs"),
        ({"qs": _QS * float("nan")}, ValueError, r"^qs must contain only finite"),
    ],
)
def test_control_gradient_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        control_gradient(**({"F": control, "xs": _XS, "ps": _XS, "qs": _QS} | bad))


def _q(t: torch.Tensor) -> torch.Tensor:
    return torch.zeros(4, dtype=DT)


_FD = {"F": control, "q": _q, "dq": _q, "x0": _X, "t0": 0.0, "t1": 1.0, "loss": lambda x: x.sum()}


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        ({"F": None}, TypeError, r"^F must be callable as F\(x, q\)"),
        ({"F": lambda x, q: x[..., :1]}, ValueError, r"^F\(x, q\) must return the shape of x"),
        ({"q": None}, TypeError, r"^q must be callable as q\(t\)"),
        ({"dq": 1.0}, TypeError, r"^dq must be callable as dq\(t\)"),
        ({"q": lambda t: torch.zeros(2, 2, dtype=DT)}, ValueError, r"^q\(t0\) must have shape \(k,\)"),
        ({"q": lambda t: torch.zeros(4, dtype=torch.float32)}, TypeError, r"^q\(t0\) must have the dtype of x0"),
        ({"dq": lambda t: torch.zeros(3, dtype=DT)}, ValueError, r"^dq\(t0\) must have the shape of q\(t0\)"),
        ({"x0": _X.float()}, TypeError, r"^x0 must be float64"),
        ({"x0": torch.zeros(2, 2, 3, dtype=DT)}, ValueError, r"^x0 must have shape"),
        ({"t1": 0.0}, ValueError, r"^t1 must be greater than t0"),
        ({"t0": "0"}, TypeError, r"^t0 must be a real number"),
        ({"loss": None}, TypeError, r"^loss must be callable as loss\(x_N\)"),
        ({"loss": lambda x: x}, ValueError, r"^loss\(x_N\) must return a scalar"),
        ({"eps": 0.0}, ValueError, r"^eps must be a finite number > 0"),
        ({"rtol": -1.0}, ValueError, r"^rtol must be a finite number > 0"),
        ({"atol": "1"}, TypeError, r"^atol must be a positive real number"),
    ],
)
def test_control_gradient_fd_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        control_gradient_fd(**(_FD | bad))
