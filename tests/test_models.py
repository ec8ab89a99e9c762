"""Tests of ctdepth_lib.models: each model against an independent loop, SciPy or its own ODE; seeding; validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from scipy.integrate import solve_ivp

from ctdepth_lib.models import FeedforwardNet, FreeResNet, NearIdentityClassifier, ODEClassifier
from ctdepth_lib.training import loss_gradient

DT = torch.float64


def _data(n: int = 40, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=gen)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    return x, y


def _manual_euler(model: ODEClassifier, x: torch.Tensor, n_steps: int) -> torch.Tensor:
    """An independent Euler loop written out with the raw weights."""
    f = model.field
    z = x @ model.encoder.weight.T + model.encoder.bias
    h = model.T / n_steps
    for n in range(n_steps):
        t = n * h
        z = z + h * (torch.tanh(z @ f.w1.T + t * f.u + f.b1) @ f.w2.T + f.b2)
    return z @ model.decoder.weight.T + model.decoder.bias


def test_resnet_mode_is_an_euler_loop() -> None:
    x, _ = _data()
    model = ODEClassifier(3, 2, d=4, width=8, seed=1)
    with torch.no_grad():
        torch.testing.assert_close(
            model(x, mode="resnet", n_steps=8), _manual_euler(model, x, 8), rtol=1e-14, atol=1e-14
        )


def test_euler_adjoint_forward_equals_resnet_and_gradient_gap_is_order_one() -> None:
    x, y = _data()
    model = ODEClassifier(3, 2, d=2, width=8, seed=2, scale=1.5)
    with torch.no_grad():
        assert torch.equal(model(x, mode="euler_adjoint", n_steps=8), model(x, mode="resnet", n_steps=8))
    gaps = []
    for n in (16, 32, 64):
        g_bp = loss_gradient(model, x, y, mode="resnet", n_steps=n)
        g_adj = loss_gradient(model, x, y, mode="euler_adjoint", n_steps=n)
        gaps.append(float((g_bp - g_adj).norm() / g_bp.norm()))
    slope = np.polyfit(np.log([1 / 16, 1 / 32, 1 / 64]), np.log(gaps), 1)[0]
    assert abs(slope - 1) < 0.2, gaps


def test_dopri5_mode_matches_scipy() -> None:
    x, _ = _data(5)
    model = ODEClassifier(3, 2, d=3, width=8, seed=4)
    f = model.field
    with torch.no_grad():
        z0 = model.encoder(x)

        def rhs(t: float, y: np.ndarray) -> np.ndarray:
            return f(torch.tensor(t), torch.from_numpy(y).reshape(z0.shape)).reshape(-1).numpy()

        ref = solve_ivp(rhs, (0.0, 1.0), z0.reshape(-1).numpy(), method="DOP853", rtol=1e-12, atol=1e-12)
        want = model.decoder(torch.from_numpy(ref.y[:, -1]).reshape(z0.shape))
        got = model(x, mode="dopri5", rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(got, want, rtol=1e-8, atol=1e-8)


def test_adjoint_gradient_matches_direct_dopri5() -> None:
    x, y = _data(20)
    model = ODEClassifier(3, 2, d=2, width=6, seed=5)
    g_direct = loss_gradient(model, x, y, mode="dopri5", rtol=1e-10, atol=1e-10)
    g_adj = loss_gradient(model, x, y, mode="adjoint", rtol=1e-10, atol=1e-10)
    assert float((g_direct - g_adj).norm() / g_direct.norm()) < 1e-6


def test_trajectory_shapes_and_grid() -> None:
    x, _ = _data(7)
    model = ODEClassifier(3, 2, d=2, width=4)
    with torch.no_grad():
        zs = model.trajectory(x, mode="resnet", n_steps=4)
        assert zs.shape == (5, 7, 2)
        zs_ode = model.trajectory(x, mode="dopri5", ts=torch.linspace(0, 1, 3))
        assert zs_ode.shape == (3, 7, 2)
    torch.testing.assert_close(model.grid(4), torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0]))


def test_free_resnet_layers_and_refinement() -> None:
    x, _ = _data(6)
    net = FreeResNet(3, 2, n_layers=3, d=2, width=5, seed=0, scale=0.3)
    with torch.no_grad():
        z = net.encoder(x)
        for layer in net.layers:  # independent loop: z_{n+1} = z_n + g_n(z_n)
            z = z + torch.tanh(z @ layer.w1.T + layer.b1) @ layer.w2.T + layer.b2
        torch.testing.assert_close(net(x), net.decoder(z), rtol=1e-14, atol=1e-14)
        # refinement converges (O(1/r)) to the dopri5 solution of the piecewise-constant field
        ode = net(x, mode="dopri5", rtol=1e-10, atol=1e-10)
        e8 = float((net(x, refine=8) - ode).abs().max())
        e16 = float((net(x, refine=16) - ode).abs().max())
        assert 1.6 < e8 / e16 < 2.4


def test_seeds_fix_the_weights() -> None:
    """The weights depend on the seed alone, not on the global RNG (which nn.Linear's init still advances)."""
    for make in (
        lambda s: ODEClassifier(3, 2, d=2, width=4, seed=s),
        lambda s: FreeResNet(3, 2, n_layers=2, d=2, width=4, seed=s),
        lambda s: NearIdentityClassifier(2, 3, 2, seed=s),
        lambda s: FeedforwardNet(3, 2, seed=s),
    ):
        torch.manual_seed(0)
        one = make(1).state_dict()
        torch.manual_seed(1)
        same, other = make(1).state_dict(), make(2).state_dict()
        assert all(torch.equal(one[k], same[k]) for k in one)
        assert not all(torch.equal(one[k], other[k]) for k in one)
        assert all(v.dtype == DT for v in one.values())
    torch.manual_seed(0)
    a = torch.rand(1)
    torch.manual_seed(0)
    FeedforwardNet(3, 2, seed=1)
    assert torch.equal(torch.rand(1), a)  # FeedforwardNet draws from its own generator only


def test_free_resnet_weights_are_normal_with_the_stated_scale() -> None:
    """Entries of W₁ⁿ have standard deviation scale/√d (a large layer, a loose statistical bound)."""
    net = FreeResNet(3, 2, n_layers=4, d=50, width=60, seed=0, scale=0.5)
    w1 = torch.cat([layer.w1.detach().reshape(-1) for layer in net.layers])
    b1 = torch.cat([layer.b1.detach() for layer in net.layers])
    assert abs(float(w1.std()) / (0.5 / 50**0.5) - 1) < 0.05
    assert abs(float(b1.std()) / 0.5 - 1) < 0.2


# --------------------------------------------------------------------------- the near-identity classifier


def test_classifier_network_approaches_its_ode() -> None:
    model = NearIdentityClassifier(2, 3, 2, seed=0)
    u = torch.randn(20, 2, dtype=DT, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ode = model.ode_logits(u)
        gaps = [float((model(u, n) - ode).abs().max()) for n in (16, 64, 256)]
    assert gaps[2] < gaps[1] < gaps[0]
    assert gaps[2] < 0.5 * gaps[1]


def test_classifier_coefficients_are_legendre_series() -> None:
    """A(t) = Σ_k A_k P_k(2t/T − 1) with P_0 = 1, P_1 = s, P_2 = (3s² − 1)/2, P_3 = (5s³ − 3s)/2."""
    model = NearIdentityClassifier(2, 3, 2, n_basis=4, T=2.0, seed=1)
    t = torch.tensor(0.5, dtype=DT)
    s = 2 * 0.5 / 2.0 - 1
    p = [1.0, s, (3 * s**2 - 1) / 2, (5 * s**3 - 3 * s) / 2]
    with torch.no_grad():
        want_a = sum(pk * ak for pk, ak in zip(p, model.coef_A, strict=True))
        want_c = sum(pk * ck for pk, ck in zip(p, model.coef_c, strict=True))
        torch.testing.assert_close(model.A(t), want_a, rtol=1e-14, atol=1e-15)
        torch.testing.assert_close(model.c(t), want_c, rtol=1e-14, atol=1e-15)
        assert torch.equal(model.lift(torch.ones(4, 2, dtype=DT))[:, 2], torch.zeros(4, dtype=DT))


# --------------------------------------------------------------------------- continuous-depth classifiers


# --------------------------------------------------------------------------- the plain feedforward network


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 1000), c=st.floats(0.01, 100.0), act=st.sampled_from(["relu", "leaky_relu"]))
def test_feedforward_net_is_positively_homogeneous(seed: int, c: float, act: str) -> None:
    net = FeedforwardNet(3, 3, activation=act, seed=seed)
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(seed), dtype=DT)
    with torch.no_grad():
        np.testing.assert_allclose(net(c * x).numpy(), c * net(x).numpy(), rtol=1e-12, atol=1e-12)


def test_feedforward_net_is_its_layers() -> None:
    """x_N = φ(W_{N−1} … φ(W_0 x + b_0) … + b_{N−1}) written out with NumPy (leaky slope 0.3)."""
    net = FeedforwardNet(3, 4, activation="leaky_relu", negative_slope=0.3, bias=True, seed=2)
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(3), dtype=DT)
    want = x.numpy()
    for w, b in zip(net.weights, net.biases, strict=True):
        z = want @ w.detach().numpy().T + b.detach().numpy()
        want = np.where(z > 0, z, 0.3 * z)
    with torch.no_grad():
        np.testing.assert_allclose(net(x).numpy(), want, rtol=1e-14, atol=1e-15)
    assert len(net.steps()) == 4


# --------------------------------------------------------------------------- bad input: one table per public face

_U = torch.zeros(4, 2, dtype=DT)
_X = torch.zeros(4, 3, dtype=DT)


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        ({"d": 1}, ValueError, r"^d must be >= d_in"),
        ({"n_classes": 0}, ValueError, r"^n_classes must be an integer >= 1"),
        ({"n_basis": 1.0}, TypeError, r"^n_basis must be an integer"),
        ({"T": 0.0}, ValueError, r"^T must be a finite number > 0"),
        ({"alpha": float("inf")}, ValueError, r"^alpha must be a finite number"),
    ],
)
def test_near_identity_classifier_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        NearIdentityClassifier(**({"d_in": 2, "d": 3, "n_classes": 2} | bad))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda m: m(_U, 0), ValueError, r"^n_layers must be an integer >= 1"),
        (lambda m: m(_U, 2.0), TypeError, r"^n_layers must be an integer"),
        (lambda m: m(_U.long(), 4), TypeError, r"^u must have a floating-point dtype"),
        (lambda m: m.network_features(_U * float("nan"), 4), ValueError, r"^u must contain only finite"),
        (lambda m: m.ode_logits(_U, rtol=0.0), ValueError, r"^rtol must be a finite number > 0"),
        (lambda m: m.ode_features(_U.reshape(1, 4, 2)), ValueError, r"^u must have shape"),
    ],
)
def test_near_identity_classifier_forward_rejects(call, error: type, match: str) -> None:
    """The network (``forward``, ``network_features``) and its ODE (``ode_logits``, ``ode_features``)."""
    with pytest.raises(error, match=match):
        call(NearIdentityClassifier(2, 3, 2))


_SIZE_CASES = [
    ({"n_features": 0}, ValueError, r"^n_features must be an integer >= 1"),
    ({"n_classes": 1}, ValueError, r"^n_classes must be an integer >= 2"),
    ({"d": 0}, ValueError, r"^d must be an integer >= 1"),
    ({"width": 1.5}, TypeError, r"^width must be an integer"),
    ({"T": 0.0}, ValueError, r"^T must be a finite number > 0"),
    ({"scale": 0.0}, ValueError, r"^scale must be a finite number > 0"),
]


@pytest.mark.parametrize(("bad", "error", "match"), _SIZE_CASES)
def test_ode_classifier_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        ODEClassifier(**({"n_features": 3, "n_classes": 2} | bad))


_MODE_CASES = [
    ({"mode": "rk45"}, ValueError, r"^mode must be one of"),
    ({"n_steps": 0}, ValueError, r"^n_steps must be an integer >= 1"),
    ({"mode": "euler_adjoint", "n_steps": 0}, ValueError, r"^n_steps must be an integer >= 1"),
    ({"mode": "dopri5", "rtol": 0.0}, ValueError, r"^rtol must be a finite number > 0"),
    ({"x": _X[:, None]}, ValueError, r"^x must have shape"),
    ({"x": _X * float("nan")}, ValueError, r"^x must contain only finite"),
]


@pytest.mark.parametrize(("bad", "error", "match"), _MODE_CASES)
def test_ode_classifier_forward_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        ODEClassifier(3, 2, d=2, width=4)(**({"x": _X} | bad))


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        *_MODE_CASES,
        ({"ts": torch.linspace(0, 1, 3, dtype=DT)}, ValueError, r"^ts must be None for mode 'resnet'"),
        ({"mode": "dopri5", "ts": torch.tensor([0.0, 0.0], dtype=DT)}, ValueError, r"^ts must be strictly"),
    ],
)
def test_ode_classifier_trajectory_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        ODEClassifier(3, 2, d=2, width=4).trajectory(**({"x": _X} | bad))


@pytest.mark.parametrize(
    ("n_steps", "error", "match"),
    [(0, ValueError, r"^n_steps must be an integer >= 1"), (4.0, TypeError, r"^n_steps must be an integer")],
)
def test_ode_classifier_grid_rejects(n_steps: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        ODEClassifier(3, 2, d=2, width=4).grid(n_steps)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [*_SIZE_CASES, ({"n_layers": 0}, ValueError, r"^n_layers must be an integer >= 1")],
)
def test_free_resnet_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        FreeResNet(**({"n_features": 3, "n_classes": 2, "n_layers": 2} | bad))


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        ({"refine": 0}, ValueError, r"^refine must be an integer >= 1"),
        ({"mode": "adjoint"}, ValueError, r"^mode must be one of"),
        ({"mode": "dopri5", "atol": -1.0}, ValueError, r"^atol must be a finite number > 0"),
        ({"x": [[0.0] * 3]}, TypeError, r"^x must be a torch.Tensor"),
    ],
)
def test_free_resnet_forward_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        FreeResNet(3, 2, n_layers=2)(**({"x": _X} | bad))


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        ({"depth": 0}, ValueError, r"^depth must be an integer >= 1"),
        ({"d": 2.0}, TypeError, r"^d must be an integer"),
        ({"scale": -1.0}, ValueError, r"^scale must be a finite number > 0"),
        ({"activation": "gelu"}, ValueError, r"^activation must be one of"),
        ({"negative_slope": "0.1"}, TypeError, r"^negative_slope must be a real number"),
    ],
)
def test_feedforward_net_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        FeedforwardNet(**({"d": 2, "depth": 2} | bad))
