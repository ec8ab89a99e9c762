"""Tests of ctdepth_lib.invariants: closed forms, symmetry laws of the fields, finite differences, scipy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from field_cases import DT, rng
from hypothesis import given, settings, strategies as st
from scipy.integrate import solve_ivp
from scipy.linalg import expm

from ctdepth_lib import (
    FeedforwardNet,
    HomogeneousField,
    RotationEquivariantField,
    TranslationInvariantField,
    angular_momentum,
    backprop_momenta,
    charge_drift,
    charge_drift_profile,
    layer_momenta,
    noether_charge,
    relative_drift,
    rotation_generator,
    scaling_charge,
    translation_charge,
)


def _loss(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * (x**2).sum() + torch.sin(x).sum()


# --- charges -----------------------------------------------------------------------------


def test_charges_closed_forms() -> None:
    xs = torch.randn(5, 3, 4, generator=rng(1), dtype=DT)
    ps = torch.randn(5, 3, 4, generator=rng(2), dtype=DT)
    x, p = xs.numpy(), ps.numpy()
    np.testing.assert_allclose(scaling_charge(xs, ps).numpy(), np.einsum("nbi,nbi->nb", p, x), rtol=1e-14)
    v = torch.tensor([1.0, -2.0, 0.0, 0.5], dtype=DT)
    np.testing.assert_allclose(translation_charge(ps, v).numpy(), p @ v.numpy(), rtol=1e-14)
    np.testing.assert_allclose(
        angular_momentum(xs, ps, 1, 3).numpy(), x[..., 1] * p[..., 3] - x[..., 3] * p[..., 1], rtol=1e-13, atol=1e-15
    )
    g = torch.randn(4, 4, generator=rng(3), dtype=DT)
    np.testing.assert_allclose(
        noether_charge(xs, ps, g).numpy(), np.einsum("nbi,ij,nbj->nb", p, g.numpy(), x), rtol=1e-12, atol=1e-14
    )
    assert scaling_charge(xs[:, 0], ps[:, 0]).shape == (5,)


def test_rotation_generator_closed_form() -> None:
    g = rotation_generator(3, 0, 2)
    expected = torch.tensor([[0, 0, -1], [0, 0, 0], [1, 0, 0]], dtype=DT)
    assert torch.equal(g, expected)
    # It generates rotations: expm(sG) is orthogonal with det 1.
    r = expm(0.7 * g.numpy())
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-15)
    assert np.linalg.det(r) == pytest.approx(1.0)


def test_charge_drift_closed_form() -> None:
    # Q_n = p_n · x_n = 1, 1, 1.5 with |p||x| at most 1.5·… : drift = 0.5 / max |p||x|.
    xs = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.5, 0.0]], dtype=DT)
    ps = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], dtype=DT)
    assert charge_drift(xs, ps) == pytest.approx(0.5 / 1.5)
    v = torch.tensor([0.0, 2.0], dtype=DT)
    # p · v = 0, 2, 0; scale max |p||v| = 2.
    assert charge_drift(xs, ps, v=v) == pytest.approx(1.0)
    assert charge_drift(xs, ps, generator=rotation_generator(2)) == pytest.approx(0.0)
    np.testing.assert_allclose(charge_drift_profile(xs, ps).numpy(), [0.0, 0.0, 0.5 / 1.5], rtol=1e-15)
    # A batch: the profile is the largest drift over the batch, on the batch's common scale.
    xb = torch.stack([xs, 2 * xs], dim=1)
    pb = torch.stack([ps, ps], dim=1)
    np.testing.assert_allclose(charge_drift_profile(xb, pb).numpy(), [0.0, 0.0, 1.0 / 3.0], rtol=1e-15)


# --- momenta of layered maps -------------------------------------------------------------


def test_layer_momenta_matches_finite_differences() -> None:
    net = FeedforwardNet(3, 4, activation="tanh", bias=True, seed=1)
    x0 = torch.randn(3, generator=rng(4), dtype=DT)
    xs, ps = layer_momenta(net.steps(), x0, _loss)
    assert xs.shape == ps.shape == (5, 3)
    np.testing.assert_allclose(xs[-1].numpy(), net(x0).detach().numpy(), rtol=1e-15)
    eps = 1e-6
    with torch.no_grad():
        ref = [(float(_loss(net(x0 + eps * e))) - float(_loss(net(x0 - eps * e)))) / (2 * eps) for e in torch.eye(3)]
    np.testing.assert_allclose(ps[0].numpy(), ref, rtol=1e-7, atol=1e-9)


def test_layer_momenta_of_residual_layers_is_backprop() -> None:
    f = HomogeneousField(3, 8, activation="tanh", bias=True, seed=2)
    ts = torch.linspace(0, 1, 6, dtype=DT)
    steps = [lambda x, n=n: x + (ts[n + 1] - ts[n]) * f(ts[n], x) for n in range(5)]
    x0 = torch.randn(2, 3, generator=rng(5), dtype=DT)
    xs, ps = layer_momenta(steps, x0, _loss)
    xr, pr = backprop_momenta(f, x0, ts, _loss)
    np.testing.assert_allclose(xs.numpy(), xr.numpy(), rtol=1e-14)
    np.testing.assert_allclose(ps.numpy(), pr.numpy(), rtol=1e-13, atol=1e-15)


# The symmetry laws of the fields themselves (and their controls) are tested in test_fields.py,
# FeedforwardNet's in test_models.py; here the charges they conserve.


# --- Noether laws (claims N1–N3) ---------------------------------------------------------


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 1000), n=st.integers(1, 20), act=st.sampled_from(["relu", "leaky_relu"]))
def test_resnet_conserves_scaling_charge(seed: int, n: int, act: str) -> None:
    f = HomogeneousField(3, 8, activation=act, seed=seed)
    ts = torch.linspace(0, 1.5, n + 1, dtype=DT)
    xs, ps = backprop_momenta(f, torch.randn(2, 3, generator=rng(seed), dtype=DT), ts, _loss)
    assert charge_drift(xs, ps) <= 1e-12
    # The consequence: ∇_{x_0}L · x_0 = ∇ℓ(x_N) · x_N.
    q = scaling_charge(xs, ps)
    np.testing.assert_allclose(q[0].numpy(), q[-1].numpy(), rtol=1e-11, atol=1e-12)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 1000), depth=st.integers(1, 20))
def test_bias_free_feedforward_conserves_scaling_charge(seed: int, depth: int) -> None:
    net = FeedforwardNet(4, depth, activation="leaky_relu", seed=seed)
    xs, ps = layer_momenta(net.steps(), torch.randn(3, 4, generator=rng(seed), dtype=DT), _loss)
    assert charge_drift(xs, ps) <= 1e-12


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 1000), n=st.integers(1, 20))
def test_resnet_conserves_translation_and_rotation_charges(seed: int, n: int) -> None:
    ts = torch.linspace(0, 1.0, n + 1, dtype=DT)
    x0 = torch.randn(2, 3, generator=rng(seed), dtype=DT)
    ft = TranslationInvariantField(3, seed=seed)
    xs, ps = backprop_momenta(ft, x0, ts, _loss)
    assert charge_drift(xs, ps, v=ft.v) <= 1e-12
    fr = RotationEquivariantField(3, 0, 2, seed=seed)
    xs, ps = backprop_momenta(fr, x0, ts, _loss)
    assert charge_drift(xs, ps, generator=rotation_generator(3, 0, 2)) <= 1e-12


def test_controls_do_not_conserve() -> None:
    ts = torch.linspace(0, 2.0, 33, dtype=DT)
    x0 = torch.randn(4, 3, generator=rng(8), dtype=DT)
    for f in (HomogeneousField(3, 8, bias=True, seed=1), HomogeneousField(3, 8, activation="tanh", seed=1)):
        xs, ps = backprop_momenta(f, x0, ts, _loss)
        assert charge_drift(xs, ps) > 1e-3
    ft = TranslationInvariantField(3, symmetric=False, seed=1)
    xs, ps = backprop_momenta(ft, x0, ts, _loss)
    assert charge_drift(xs, ps, v=ft.v) > 1e-3
    fr = RotationEquivariantField(3, symmetric=False, seed=1)
    xs, ps = backprop_momenta(fr, x0, ts, _loss)
    assert charge_drift(xs, ps, generator=rotation_generator(3)) > 1e-3


def test_ode_conserves_scaling_charge_scipy_reference() -> None:
    # Independent of torchdiffeq: scipy's DOP853 on the joint system with an explicit p f_x.
    f = HomogeneousField(2, 6, activation="leaky_relu", seed=3)
    a0, a1, b0, b1 = (w.detach().numpy() for w in (f.a0, f.a1, f.b0, f.b1))

    def rhs(t: float, z: np.ndarray) -> np.ndarray:
        x, p = z[:2], z[2:]
        b, a = b0 + t * b1, a0 + t * a1
        u = b @ x
        slope = np.where(u > 0, 1.0, 0.2)
        fx = a @ (slope * u)
        jac = a @ (slope[:, None] * b)
        return np.concatenate([fx, -p @ jac])

    z0 = np.array([0.7, -1.2, 0.4, 0.9])
    sol = solve_ivp(rhs, (0.0, 1.5), z0, method="DOP853", rtol=1e-12, atol=1e-12, dense_output=False)
    xs = torch.from_numpy(sol.y[:2].T.copy())
    ps = torch.from_numpy(sol.y[2:].T.copy())
    assert charge_drift(xs, ps) < 1e-9
    # The torch field agrees with the numpy rhs used as the reference.
    with torch.no_grad():
        np.testing.assert_allclose(
            f(torch.tensor(0.4, dtype=DT), torch.from_numpy(z0[:2])).numpy(), rhs(0.4, z0)[:2], rtol=1e-13
        )


def test_relative_drift_closed_form() -> None:
    values = torch.tensor([[1.0, -2.0], [1.5, -2.0], [0.0, -1.0]], dtype=torch.float64)  # (N+1, batch)
    scale = torch.tensor([2.0, 4.0], dtype=torch.float64)
    # sample 0: max |q - q_0| = 1 over scale 2; sample 1: 1 over 4
    assert relative_drift(values, scale) == 0.5
    assert relative_drift(values[:, 1], scale[1]) == 0.25


# --- bad input: one table per public face -------------------------------------------------

_XS = torch.zeros(3, 2, dtype=DT)
_PS = torch.ones(3, 2, dtype=DT)
_TRAJECTORY_CASES = [
    ({"ps": torch.zeros(3, 3, dtype=DT)}, ValueError, r"^ps must have the shape of xs"),
    ({"ps": _PS.float()}, TypeError, r"^ps must have the dtype of xs"),
    ({"xs": torch.zeros(3, dtype=DT), "ps": torch.zeros(3, dtype=DT)}, ValueError, r"^xs must have shape"),
    ({"xs": torch.full((3, 2), float("inf"), dtype=DT)}, ValueError, r"^xs must contain only finite"),
    ({"xs": [[0.0, 0.0]] * 3}, TypeError, r"^xs must be a torch.Tensor"),
]


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        ({"d": 1}, ValueError, r"^d must be an integer >= 2"),
        ({"d": 3.0}, TypeError, r"^d must be an integer"),
        ({"i": 1, "j": 1}, ValueError, r"^i and j must differ"),
        ({"j": 3}, ValueError, r"^j must be an integer in \[0, 2\]"),
        ({"i": "0"}, TypeError, r"^i must be an integer"),
    ],
)
def test_rotation_generator_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        rotation_generator(**({"d": 3, "i": 0, "j": 1} | bad))


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        *_TRAJECTORY_CASES,
        ({"generator": torch.zeros(2, 3, dtype=DT)}, ValueError, r"^generator must be a square \(d, d\) matrix"),
        ({"generator": torch.eye(2, dtype=torch.int64)}, TypeError, r"^generator must have a floating-point dtype"),
    ],
)
def test_noether_charge_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        noether_charge(**({"xs": _XS, "ps": _PS, "generator": torch.eye(2, dtype=DT)} | bad))


@pytest.mark.parametrize(("bad", "error", "match"), _TRAJECTORY_CASES)
def test_scaling_charge_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        scaling_charge(**({"xs": _XS, "ps": _PS} | bad))


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        ({"ps": torch.zeros(3, dtype=DT)}, ValueError, r"^ps must have shape"),
        ({"ps": _PS.long()}, TypeError, r"^ps must have a floating-point dtype"),
        ({"v": torch.zeros(2, dtype=DT)}, ValueError, r"^v must be a non-zero direction"),
        ({"v": torch.ones(3, dtype=DT)}, ValueError, r"^v must be a direction of shape \(d,\) = \(2,\)"),
    ],
)
def test_translation_charge_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        translation_charge(**({"ps": _PS, "v": torch.ones(2, dtype=DT)} | bad))


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        *_TRAJECTORY_CASES,
        ({"j": 2}, ValueError, r"^j must be an integer in \[0, 1\]"),
        ({"i": 1, "j": 1}, ValueError, r"^i and j must differ"),
    ],
)
def test_angular_momentum_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        angular_momentum(**({"xs": _XS, "ps": _PS, "i": 0, "j": 1} | bad))


_DRIFT_CASES = [
    *_TRAJECTORY_CASES,
    ({"generator": torch.eye(3, dtype=DT)}, ValueError, r"^generator must be a square"),
    ({"v": torch.ones(3, dtype=DT)}, ValueError, r"^v must be a direction"),
    ({"generator": torch.eye(2, dtype=DT), "v": torch.ones(2, dtype=DT)}, ValueError, r"^generator and v"),
    ({"ps": torch.zeros(3, 2, dtype=DT)}, ValueError, r"^ps must not vanish"),
]


@pytest.mark.parametrize(("bad", "error", "match"), _DRIFT_CASES)
def test_charge_drift_profile_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        charge_drift_profile(**({"xs": _XS, "ps": _PS} | bad))


@pytest.mark.parametrize(("bad", "error", "match"), _DRIFT_CASES)
def test_charge_drift_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        charge_drift(**({"xs": _XS, "ps": _PS} | bad))


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        ({"scale": torch.ones(1, dtype=DT)}, ValueError, r"^values must be \(N\+1,\) or \(N\+1, batch\) and scale"),
        ({"scale": torch.zeros(2, dtype=DT)}, ValueError, r"^scale must be > 0"),
        ({"values": [[1.0, 2.0]]}, TypeError, r"^values must be a torch.Tensor"),
        ({"scale": torch.ones(2, dtype=torch.int64)}, TypeError, r"^scale must have a floating-point dtype"),
    ],
)
def test_relative_drift_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        relative_drift(**({"values": torch.zeros(3, 2, dtype=DT), "scale": torch.ones(2, dtype=DT)} | bad))
