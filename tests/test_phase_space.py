"""Tests of ctdepth_lib.phase_space against closed forms, finite differences, numpy and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from field_cases import DT, contracting_field, fd_jacobian, linear, matrix, rng
from hypothesis import given, settings, strategies as st
from scipy.linalg import expm

from ctdepth_lib import (
    backprop_momenta,
    curve_area,
    hamiltonian_flow,
    network_phase_jacobian,
    network_phase_map,
    polygon_area,
    state_jacobian,
    symplectic_defect,
    symplectic_form,
    variational_jacobian,
    volume_defect,
)

# --- symplectic form, defects, spectrum --------------------------------------------------


def test_symplectic_form_closed_form() -> None:
    om = symplectic_form(2)
    expected = torch.tensor([[0, 0, 1, 0], [0, 0, 0, 1], [-1, 0, 0, 0], [0, -1, 0, 0]], dtype=DT)
    assert torch.equal(om, expected)
    assert torch.equal(om @ om, -torch.eye(4, dtype=DT))


def test_symplectic_defect_closed_forms() -> None:
    # d = 1: symplectic <=> det = 1.  A rotation is, a stretch diag(2, 1) is not: |det − 1| = 1.
    th = 0.3
    rot = torch.tensor([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]], dtype=DT)
    assert float(symplectic_defect(rot)) < 1e-15
    assert float(symplectic_defect(torch.diag(torch.tensor([2.0, 1.0], dtype=DT)))) == pytest.approx(1.0)
    assert float(volume_defect(torch.diag(torch.tensor([2.0, 3.0], dtype=DT)))) == pytest.approx(5.0)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), d=st.integers(1, 4))
def test_block_maps_are_symplectic_for_all_invertible_a(seed: int, d: int) -> None:
    # [[A, 0], [A^{-T} S, A^{-T}]] with S symmetric is symplectic for every invertible A (HLW §VI.2).
    a = torch.eye(d, dtype=DT) + matrix(d, seed, scale=0.5)
    s = matrix(d, seed + 1)
    s = s + s.T
    ainvt = torch.linalg.inv(a).T
    m = torch.cat([torch.cat([a, torch.zeros(d, d, dtype=DT)], 1), torch.cat([ainvt @ s, ainvt], 1)], 0)
    scale = float(torch.linalg.matrix_norm(m, ord=2)) ** 2
    assert float(symplectic_defect(m)) <= 1e-13 * scale
    assert float(volume_defect(m)) <= 1e-12 * scale**2


def test_batched_defects_shapes() -> None:
    m = torch.eye(4, dtype=DT).expand(3, 4, 4)
    assert symplectic_defect(m).shape == (3,)
    assert volume_defect(m).shape == (3,)


@pytest.mark.parametrize("n", [3, 4, 7, 100])
def test_polygon_area_regular_polygon(n: int) -> None:
    th = torch.arange(n, dtype=DT) * (2 * math.pi / n)
    pts = torch.stack([2 + 1.5 * torch.cos(th), -1 + 1.5 * torch.sin(th)], dim=1)
    assert float(polygon_area(pts)) == pytest.approx(0.5 * n * 1.5**2 * math.sin(2 * math.pi / n), rel=1e-13)
    # Orientation does not matter.
    assert float(polygon_area(pts.flip(0))) == pytest.approx(float(polygon_area(pts)), rel=1e-14)


def test_curve_area_is_exact_for_trigonometric_curves() -> None:
    """x = 2 + 1.5 cos θ + 0.3 cos 3θ, p = −1 + 0.7 sin θ encloses π·1.5·0.7 (A = ∮ x dp)."""
    for n in (16, 64, 65):
        th = torch.arange(n, dtype=DT) * (2 * math.pi / n)
        pts = torch.stack([2 + 1.5 * torch.cos(th) + 0.3 * torch.cos(3 * th), -1 + 0.7 * torch.sin(th)], dim=1)
        assert float(curve_area(pts)) == pytest.approx(math.pi * 1.5 * 0.7, rel=1e-13)
        assert float(curve_area(pts.flip(0))) == pytest.approx(math.pi * 1.5 * 0.7, rel=1e-13)
        # the chords through the same points are only O(1/n^2) accurate
        assert abs(float(polygon_area(pts)) / (math.pi * 1.5 * 0.7) - 1) > 1e-4


def test_curve_area_converges_spectrally_on_a_smooth_curve() -> None:
    """A smooth non-polynomial curve, x = e^{cos θ}, p = sin θ: A = ∫ e^{cos θ} cos θ dθ = 2π I₁(1)."""
    from scipy.special import i1

    th = torch.arange(32, dtype=DT) * (2 * math.pi / 32)
    pts = torch.stack([torch.exp(torch.cos(th)), torch.sin(th)], dim=1)
    assert float(curve_area(pts)) == pytest.approx(2 * math.pi * i1(1.0), rel=1e-13)


# --- Jacobians of networks and flows -----------------------------------------------------


def test_network_phase_map_inverts_backprop() -> None:
    # Backprop gives p_n from the loss; the forward phase map from (x_0, p_0) must return every p_n.
    f = contracting_field(3, seed=6)
    ts = torch.linspace(0, 1, 9, dtype=DT)
    x0 = torch.randn(3, generator=rng(7), dtype=DT)
    xs, ps = backprop_momenta(f, x0, ts, lambda x: (x**3).sum())
    zs = network_phase_map(f, torch.cat([x0, ps[0]]), ts).detach()
    np.testing.assert_allclose(zs[:, :3].numpy(), xs.numpy(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(zs[:, 3:].numpy(), ps.numpy(), rtol=1e-10, atol=1e-13)


def test_network_phase_map_linear_closed_form_and_batch() -> None:
    a = matrix(2, 8)
    n = 8
    ts = torch.linspace(0, 1, n + 1, dtype=DT)
    z0 = torch.randn(4, 4, generator=rng(9), dtype=DT)
    zs = network_phase_map(linear(a), z0, ts).detach()
    assert zs.shape == (n + 1, 4, 4)
    step = np.eye(2) + a.numpy() / n
    xn = z0[:, :2].numpy() @ np.linalg.matrix_power(step, n).T
    pn = z0[:, 2:].numpy() @ np.linalg.matrix_power(np.linalg.inv(step), n)
    np.testing.assert_allclose(zs[-1, :, :2].numpy(), xn, rtol=1e-13)
    np.testing.assert_allclose(zs[-1, :, 2:].numpy(), pn, rtol=1e-12)


def test_network_phase_jacobian_matches_finite_differences() -> None:
    f = contracting_field(2, seed=10)
    ts = torch.linspace(0, 1, 9, dtype=DT)
    z0 = torch.randn(4, generator=rng(11), dtype=DT)
    m = network_phase_jacobian(f, z0, ts).detach()
    ref = fd_jacobian(lambda z: network_phase_map(f, z, ts)[-1].detach(), z0)
    np.testing.assert_allclose(m.numpy(), ref.numpy(), rtol=1e-6, atol=1e-8)
    # The upper-right block vanishes (x_N does not depend on p_0) and the upper-left is J.
    assert float(m[:2, 2:].abs().max()) == 0.0
    np.testing.assert_allclose(m[:2, :2].numpy(), state_jacobian(f, z0[:2], ts).detach().numpy(), rtol=1e-14)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 1000), k=st.floats(-2.0, 2.0), n=st.integers(1, 12))
def test_discrete_phase_map_is_symplectic_for_all_fields(seed: int, k: float, n: int) -> None:
    # Claim L1 (discrete): det M = 1 and MᵀΩM = Ω exactly, for any field and grid with I + h f_x invertible.
    f = contracting_field(2, k=k, seed=seed)
    ts = torch.linspace(0, 1, n + 1, dtype=DT)
    z0 = torch.randn(2, 4, generator=rng(seed), dtype=DT)
    m = network_phase_jacobian(f, z0, ts).detach()
    scale = float(torch.linalg.matrix_norm(m, ord=2).max()) ** 2
    assert float(symplectic_defect(m).max()) <= 1e-13 * scale
    assert float(volume_defect(m).max()) <= 1e-12 * scale**2


def test_variational_jacobian_linear_closed_form() -> None:
    # f = A x: x(t) = e^{At} x_0, p(t) = p_0 e^{-At}, so M = diag(e^{AT}, e^{-AᵀT}) (scipy's expm).
    a = matrix(2, 12)
    ts = torch.tensor([0.0, 0.5, 1.5], dtype=DT)
    ms = variational_jacobian(linear(a), torch.randn(4, generator=rng(13), dtype=DT), ts)
    assert ms.shape == (3, 4, 4)
    for k, t in enumerate(ts.tolist()):
        ref = np.zeros((4, 4))
        ref[:2, :2] = expm(a.numpy() * t)
        ref[2:, 2:] = expm(-a.numpy().T * t)
        np.testing.assert_allclose(ms[k].numpy(), ref, rtol=1e-10, atol=1e-12)


def test_variational_jacobian_matches_finite_differences_of_the_flow() -> None:
    f = contracting_field(2, k=0.5, seed=14)
    ts = torch.tensor([0.0, 1.0], dtype=DT)
    z0 = torch.randn(2, 4, generator=rng(15), dtype=DT)
    ms = variational_jacobian(f, z0, ts)
    assert ms.shape == (2, 2, 4, 4)

    def flow(z: torch.Tensor) -> torch.Tensor:
        xs, ps = hamiltonian_flow(f, z[:2], z[2:], ts, method="dopri8", rtol=1e-13, atol=1e-13, options={"step_t": ts})
        return torch.cat([xs[-1], ps[-1]])

    ref = fd_jacobian(flow, z0[1], eps=1e-5)
    np.testing.assert_allclose(ms[-1, 1].numpy(), ref.numpy(), rtol=1e-6, atol=1e-7)
    assert float(symplectic_defect(ms[-1]).max()) < 1e-11
    assert float(volume_defect(ms[-1]).max()) < 1e-11


# --- bad input: one table per public face -------------------------------------------------

_TS = torch.linspace(0, 1, 3, dtype=DT)
_MATRIX_CASES = [
    ([[1.0, 0.0], [0.0, 1.0]], TypeError, r"^M must be a torch.Tensor"),
    (torch.eye(2, dtype=torch.int64), TypeError, r"^M must have a floating-point dtype"),
    (torch.zeros(4, 3, dtype=DT), ValueError, r"^M must be a square"),
    (torch.zeros(2, 3, 4, dtype=DT), ValueError, r"^M must be a square"),
    (torch.full((2, 2), float("nan"), dtype=DT), ValueError, r"^M must contain only finite"),
]
_POINTS_CASES = [
    (torch.zeros(2, 2, dtype=DT), ValueError, r"^points must have shape \(n, 2\) with n >= 3"),
    (torch.zeros(5, 3, dtype=DT), ValueError, r"^points must have shape \(n, 2\) with n >= 3"),
    (torch.zeros(5, dtype=DT), ValueError, r"^points must have shape \(n, 2\) with n >= 3"),
    ([[0.0, 1.0]] * 4, TypeError, r"^points must be a torch.Tensor"),
]


@pytest.mark.parametrize(
    ("d", "error", "match"),
    [(0, ValueError, r"^d must be an integer >= 1"), (2.0, TypeError, r"^d must be an integer")],
)
def test_symplectic_form_rejects(d: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        symplectic_form(d)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("M", "error", "match"), [*_MATRIX_CASES, (torch.eye(3, dtype=DT), ValueError, r"^M must be a phase-space matrix")]
)
def test_symplectic_defect_rejects(M: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        symplectic_defect(M)  # type: ignore[arg-type]


@pytest.mark.parametrize(("M", "error", "match"), _MATRIX_CASES)
def test_volume_defect_rejects(M: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        volume_defect(M)  # type: ignore[arg-type]


@pytest.mark.parametrize(("points", "error", "match"), _POINTS_CASES)
def test_polygon_area_rejects(points: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        polygon_area(points)  # type: ignore[arg-type]


@pytest.mark.parametrize(("points", "error", "match"), _POINTS_CASES)
def test_curve_area_rejects(points: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        curve_area(points)  # type: ignore[arg-type]


# f = −2x makes I + h f_x = 0 on ts = (0, 0.5, 1): p cannot be carried forward; no silent inf/NaN.
_PHASE_CASES = [
    ({"f": "f"}, TypeError, r"^f must be callable"),
    ({"f": lambda t, x: x[..., :1]}, ValueError, r"^f\(t, x\) must return the shape of x"),
    ({"z0": torch.zeros(3, dtype=DT)}, ValueError, r"^z0 must hold \(x, p\) with an even last dimension"),
    ({"z0": torch.zeros(2, 5, dtype=DT)}, ValueError, r"^z0 must hold \(x, p\) with an even last dimension"),
    ({"z0": torch.zeros(1, 2, 4, dtype=DT)}, ValueError, r"^z0 must have shape"),
    ({"ts": torch.tensor([0.0, 0.0], dtype=DT)}, ValueError, r"^ts must be strictly"),
    ({"ts": _TS.float()}, TypeError, r"^ts must have the dtype of x0"),
]
_SINGULAR = {"f": lambda t, x: -2.0 * x, "ts": torch.tensor([0.0, 0.5, 1.0], dtype=DT)}
_SINGULAR_CASES = [
    (_SINGULAR | {"z0": torch.ones(2, 4, dtype=DT)}, ValueError, r"^f gives a singular step map .* step n = 0"),
    (_SINGULAR | {"z0": torch.ones(4, dtype=DT)}, ValueError, r"^f gives a singular step map .* step n = 0 \(row 0\)"),
]


@pytest.mark.parametrize(("bad", "error", "match"), [*_PHASE_CASES, *_SINGULAR_CASES])
def test_network_phase_map_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        network_phase_map(**({"f": contracting_field(2), "z0": torch.zeros(4, dtype=DT), "ts": _TS} | bad))


@pytest.mark.parametrize(("bad", "error", "match"), [*_PHASE_CASES, *_SINGULAR_CASES])
def test_network_phase_jacobian_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        network_phase_jacobian(**({"f": contracting_field(2), "z0": torch.zeros(4, dtype=DT), "ts": _TS} | bad))


def test_nearly_singular_step_map_is_rejected() -> None:
    """cond(I + h f_x) = 1e14 > SINGULAR_COND but finite: the map runs, then the check names the step."""
    ts = torch.tensor([0.0, 0.5, 1.0], dtype=DT)
    rates = torch.tensor([0.0, -2.0 + 2e-14], dtype=DT)  # I + h f_x = diag(1, 1e-14)
    f = lambda t, x: rates * x  # noqa: E731
    for face in (network_phase_map, network_phase_jacobian):
        with pytest.raises(ValueError, match=r"^f gives a singular step map .* step n = 0"):
            face(f, torch.ones(4, dtype=DT), ts)


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        *_PHASE_CASES,
        ({"rtol": 0.0}, ValueError, r"^rtol must be a finite number > 0"),
        ({"method": "rk45"}, ValueError, r"^method must be one of"),
        ({"options": [1]}, TypeError, r"^options must be a dict or None"),
    ],
)
def test_variational_jacobian_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        variational_jacobian(**({"f": contracting_field(2), "z0": torch.zeros(4, dtype=DT), "ts": _TS} | bad))


# --- logarithmic norm, its integral, the step-norm product, finite-difference Jacobian ------------
