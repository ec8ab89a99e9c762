"""Tests of ctdepth_lib.jacobians (network Jacobians, spectra, logarithmic norms) against closed forms, finite differences, numpy and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from field_cases import DT, contracting_field, fd_jacobian, linear, matrix, rng
from hypothesis import given, settings, strategies as st
from scipy.linalg import expm

from ctdepth_lib import (
    gradient_gain,
    jacobian_spectrum,
    log_norm,
    log_norm_integral,
    log_norm_profile,
    resnet_unroll,
    rk_unroll,
    state_jacobian,
    step_norm_product,
)
from ctdepth_lib.jacobians import step_jacobians

# --- symplectic form, defects, spectrum --------------------------------------------------


def test_jacobian_spectrum_matches_numpy() -> None:
    j = matrix(5, 3, scale=2.0)
    logdet, sv = jacobian_spectrum(j)
    _sign, ref = np.linalg.slogdet(j.numpy())
    assert float(logdet) == pytest.approx(ref, rel=1e-12)
    np.testing.assert_allclose(sv.numpy(), np.linalg.svd(j.numpy(), compute_uv=False), rtol=1e-12)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), d=st.integers(1, 5))
def test_gradient_gain_lies_between_singular_values(seed: int, d: int) -> None:
    j = matrix(d, seed, scale=3.0)
    p = torch.randn(20, d, generator=rng(seed + 1), dtype=DT)
    gain = gradient_gain(j, p)
    sv = np.linalg.svd(j.numpy(), compute_uv=False)
    ref = np.linalg.norm(p.numpy() @ j.numpy(), axis=1) / np.linalg.norm(p.numpy(), axis=1)
    np.testing.assert_allclose(gain.numpy(), ref, rtol=1e-12)
    assert np.all(gain.numpy() >= sv[-1] * (1 - 1e-12))
    assert np.all(gain.numpy() <= sv[0] * (1 + 1e-12))


@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_state_jacobian_linear_closed_form(method: str) -> None:
    a = matrix(3, 1)
    n, h = 16, 1 / 16
    ts = torch.linspace(0, 1, n + 1, dtype=DT)
    ha = (h * a).numpy()
    step = np.eye(3) + ha
    if method == "rk4":
        step = np.eye(3) + ha + ha @ ha / 2 + ha @ ha @ ha / 6 + ha @ ha @ ha @ ha / 24
    j = state_jacobian(linear(a), torch.randn(3, generator=rng(2), dtype=DT), ts, method=method)
    np.testing.assert_allclose(j.detach().numpy(), np.linalg.matrix_power(step, n), rtol=1e-12, atol=1e-14)


def test_state_jacobian_matches_finite_differences_batched() -> None:
    f = contracting_field(3, seed=4)
    ts = torch.linspace(0, 1, 11, dtype=DT)
    x0 = torch.randn(2, 3, generator=rng(5), dtype=DT)
    j = state_jacobian(f, x0, ts).detach()
    assert j.shape == (2, 3, 3)
    for b in range(2):
        ref = fd_jacobian(lambda x: rk_unroll(f, x, ts)[-1].detach(), x0[b])
        np.testing.assert_allclose(j[b].numpy(), ref.numpy(), rtol=1e-7, atol=1e-9)


def test_log_norm_closed_forms() -> None:
    # mu(diag) = largest entry; mu(skew) = 0; mu([[a, b], [0, a]]) = a + |b|/2; mu(-I) = -1 (Söderlind 2006, §2).
    assert float(log_norm(torch.diag(torch.tensor([-5.0, 1.0], dtype=DT)))) == pytest.approx(1.0, abs=1e-15)
    assert abs(float(log_norm(torch.tensor([[0.0, -3.0], [3.0, 0.0]], dtype=DT)))) <= 1e-15
    a, b = -0.7, 2.4
    assert float(log_norm(torch.tensor([[a, b], [0.0, a]], dtype=DT))) == pytest.approx(a + abs(b) / 2, rel=1e-14)
    assert float(log_norm(-torch.eye(3, dtype=DT))) == pytest.approx(-1.0, rel=1e-15)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), d=st.integers(1, 5))
def test_log_norm_bounds_matrix_exponential_and_matches_numpy(seed: int, d: int) -> None:
    m = matrix(d, seed, scale=2.0)
    mu = float(log_norm(m))
    ref = np.linalg.eigvalsh(0.5 * (m.numpy() + m.numpy().T))[-1]
    assert mu == pytest.approx(ref, abs=1e-13)
    # ||exp(tM)||_2 <= exp(t mu) and mu >= the spectral abscissa (scipy's expm, numpy's eig)
    for t in (0.1, 1.0, 3.0):
        assert np.linalg.norm(expm(t * m.numpy()), 2) <= math.exp(t * mu) * (1 + 1e-12)
    assert mu >= np.linalg.eigvals(m.numpy()).real.max() - 1e-12
    # derivative of the norm at the identity: (||I + hM|| - 1)/h -> mu
    h = 1e-6
    slope = (np.linalg.norm(np.eye(d) + h * m.numpy(), 2) - 1) / h
    assert slope == pytest.approx(mu, abs=1e-5)


def test_log_norm_batch_shape() -> None:
    m = torch.randn(3, 2, 4, 4, generator=rng(1), dtype=DT)
    assert log_norm(m).shape == (3, 2)


def test_log_norm_integral_closed_forms() -> None:
    # f = -x^3 (d = 1): x(t) = x0 / sqrt(1 + 2 x0^2 t), int -3 x^2 dt = -(3/2) log(1 + 2 x0^2 T).
    x0, t_end = 1.3, 2.0
    ts = torch.linspace(0.0, t_end, 4001, dtype=DT)
    xs = (x0 / torch.sqrt(1 + 2 * x0**2 * ts))[:, None]
    got = float(log_norm_integral(lambda t, x: -(x**3), ts, xs))
    assert got == pytest.approx(-1.5 * math.log(1 + 2 * x0**2 * t_end), rel=1e-6)
    # linear f = A x: the integral is mu(A) T, for a batch too.
    a = matrix(3, 5, scale=1.5)
    ts = torch.linspace(0.0, 1.5, 5, dtype=DT)
    xs = torch.randn(5, 2, 3, generator=rng(2), dtype=DT)
    ref = 1.5 * np.linalg.eigvalsh(0.5 * (a.numpy() + a.numpy().T))[-1]
    np.testing.assert_allclose(log_norm_integral(linear(a), ts, xs).numpy(), [ref, ref], rtol=1e-13)
    # time dependent f = a(t) x with a(t) = cos t: int = sin T
    ts = torch.linspace(0.0, 1.0, 2001, dtype=DT)
    got = float(log_norm_integral(lambda t, x: torch.cos(t) * x, ts, torch.ones(2001, 1, dtype=DT)))
    assert got == pytest.approx(math.sin(1.0), rel=1e-7)


def test_log_norm_profile_shape_and_values() -> None:
    a = torch.diag(torch.tensor([-2.0, 0.5], dtype=DT))
    ts = torch.linspace(0.0, 1.0, 7, dtype=DT)
    prof = log_norm_profile(linear(a), ts, torch.randn(7, 3, 2, generator=rng(0), dtype=DT))
    assert prof.shape == (7, 3)
    np.testing.assert_allclose(prof.numpy(), 0.5, rtol=1e-15)


def test_continuous_adjoint_obeys_the_log_norm_bound() -> None:
    # |p(0)| <= exp(int mu) |p(T)| along a nonlinear trajectory; x and p from scipy's DOP853 (independent).
    from scipy.integrate import solve_ivp

    f = contracting_field(3, k=0.5, seed=4)
    x0 = torch.randn(3, generator=rng(4), dtype=DT)
    ts = torch.linspace(0.0, 1.5, 1501, dtype=DT)

    def rhs(t, x):
        return f(torch.tensor(t, dtype=DT), torch.tensor(x, dtype=DT)).detach().numpy()

    sol = solve_ivp(rhs, (0.0, 1.5), x0.numpy(), method="DOP853", rtol=1e-12, atol=1e-12, t_eval=ts.numpy())
    xs = torch.tensor(sol.y.T, dtype=DT)
    bound = math.exp(float(log_norm_integral(f, ts, xs)))
    m = state_jacobian(f, x0, torch.linspace(0.0, 1.5, 301, dtype=DT), method="rk4")
    assert float(torch.linalg.svdvals(m)[0]) <= bound * (1 + 1e-6)


def test_step_norm_product_closed_forms_and_bound() -> None:
    # rotation: every factor is sqrt(1 + h^2 w^2); diagonal: prod of max |1 + h a_i|.
    w, n = 3.0, 16
    ts = torch.linspace(0.0, 2.0, n + 1, dtype=DT)
    rot = torch.tensor([[0.0, -w], [w, 0.0]], dtype=DT)
    xs = resnet_unroll(linear(rot), torch.tensor([1.0, 0.5], dtype=DT), ts)
    h = 2.0 / n
    assert float(step_norm_product(linear(rot), ts, xs)) == pytest.approx((1 + h * h * w * w) ** (n / 2), rel=1e-13)
    diag = torch.diag(torch.tensor([-5.0, 1.0], dtype=DT))
    xs = resnet_unroll(linear(diag), torch.randn(4, 2, generator=rng(0), dtype=DT), ts)
    np.testing.assert_allclose(step_norm_product(linear(diag), ts, xs).numpy(), (1 + h) ** n, rtol=1e-13)
    # nonlinear: sigma_max of the network Jacobian never exceeds the product
    f = contracting_field(3, k=0.0, seed=2)
    x0 = torch.randn(3, generator=rng(3), dtype=DT)
    ts = torch.linspace(0.0, 2.0, 33, dtype=DT)
    j = state_jacobian(f, x0, ts)
    assert float(torch.linalg.svdvals(j)[0]) <= float(step_norm_product(f, ts, resnet_unroll(f, x0, ts))) * (1 + 1e-13)


def test_step_jacobians_linear_closed_form_and_batch() -> None:
    a = matrix(3, 2, scale=1.0)
    ts = torch.tensor([0.0, 0.25, 0.75, 1.0], dtype=DT)
    xs = torch.randn(4, 5, 3, generator=rng(2), dtype=DT)
    steps = step_jacobians(linear(a), ts, xs)
    assert steps.shape == (3, 5, 3, 3)
    for n, h in enumerate((0.25, 0.5, 0.25)):
        torch.testing.assert_close(steps[n, 1], torch.eye(3, dtype=DT) + h * a, rtol=0, atol=1e-15)
    assert step_jacobians(linear(a), ts, xs[:, 0]).shape == (3, 3, 3)


# --- bad input: one table per public face -------------------------------------------------

_TS = torch.linspace(0.0, 1.0, 4, dtype=DT)
_F = linear(torch.eye(2, dtype=DT))
_SQUARE_CASES = [
    (torch.zeros(2, 3, dtype=DT), ValueError, r"^J must be a square"),
    (torch.zeros(2, 2, dtype=torch.int64), TypeError, r"^J must have a floating-point dtype"),
    ([[1.0]], TypeError, r"^J must be a torch.Tensor"),
]
_SAMPLE_CASES = [
    ({"f": None}, TypeError, r"^f must be callable"),
    ({"f": lambda t, x: x[..., :1]}, ValueError, r"^f\(t, x\) must return the shape of x"),
    ({"xs": torch.zeros(4, dtype=DT)}, ValueError, r"^xs must have shape"),
    ({"xs": torch.zeros(3, 2, dtype=DT)}, ValueError, r"^ts must hold one time per row of xs"),
    ({"ts": torch.zeros(4, dtype=DT)}, ValueError, r"^ts must be strictly"),
    ({"ts": _TS.float()}, TypeError, r"^ts must have the dtype of x0"),
]


@pytest.mark.parametrize(
    ("J", "error", "match"), [*_SQUARE_CASES, (torch.zeros(2, 2, dtype=DT), ValueError, r"^J must be non-singular")]
)
def test_jacobian_spectrum_rejects(J: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        jacobian_spectrum(J)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        *(({"J": j}, e, m) for j, e, m in _SQUARE_CASES),
        ({"J": torch.eye(2, dtype=DT).expand(3, 2, 2)}, ValueError, r"^J must be one matrix"),
        ({"p_N": torch.ones(3, dtype=DT)}, ValueError, r"^p_N must have last dimension d = 2"),
        ({"p_N": torch.zeros(2, 2, dtype=DT)}, ValueError, r"^p_N must have no zero rows"),
        ({"p_N": torch.ones(1, 1, 2, dtype=DT)}, ValueError, r"^p_N must have shape"),
    ],
)
def test_gradient_gain_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        gradient_gain(**({"J": torch.eye(2, dtype=DT), "p_N": torch.ones(2, dtype=DT)} | bad))


@pytest.mark.parametrize(
    ("M", "error", "match"),
    [
        (torch.zeros(2, 3, dtype=DT), ValueError, r"^M must be a square"),
        (torch.zeros(3, dtype=DT), ValueError, r"^M must be a square"),
        (torch.zeros(2, 2, dtype=torch.int64), TypeError, r"^M must have a floating-point dtype"),
        (torch.full((2, 2), float("inf"), dtype=DT), ValueError, r"^M must contain only finite"),
    ],
)
def test_log_norm_rejects(M: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        log_norm(M)  # type: ignore[arg-type]


@pytest.mark.parametrize("face", [log_norm_profile, log_norm_integral, step_norm_product, step_jacobians])
@pytest.mark.parametrize(("bad", "error", "match"), _SAMPLE_CASES)
def test_trajectory_faces_reject(face, bad: dict, error: type, match: str) -> None:
    """The four faces on the samples ``(t_n, x_n)`` of a trajectory share one table."""
    with pytest.raises(error, match=match):
        face(**({"f": _F, "ts": _TS, "xs": torch.zeros(4, 2, dtype=DT)} | bad))


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        ({"f": None}, TypeError, r"^f must be callable"),
        ({"f": lambda t, x: x[..., :1]}, ValueError, r"^f\(t, x\) must return the shape of x"),
        ({"x0": torch.zeros(1, 2, 2, dtype=DT)}, ValueError, r"^x0 must have shape"),
        ({"ts": _TS.float()}, TypeError, r"^ts must have the dtype of x0"),
        ({"method": "rk5"}, ValueError, r"^method must be one of"),
    ],
)
def test_state_jacobian_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        state_jacobian(**({"f": _F, "x0": torch.zeros(2, dtype=DT), "ts": _TS} | bad))
