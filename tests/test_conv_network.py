"""Tests of ctdepth_lib.conv_network: the near-identity convolutional network on digits and its ODE.

References are independent of the module: the convolution as an explicit (C·H·W)² matrix built
by loops, SciPy's DOP853 for the ODE, and NumPy for the read-out.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from ctdepth_lib.conv_network import (
    NONLINEARITIES,
    NearIdentityConvNet,
    _CubicStep,
    digit_split,
    relative_layer_changes,
)
from ctdepth_lib.training import train


def _tiny(nonlinearity: str = "cubic", *, n_layers: int = 3, seed: int = 0, gamma: float = 1.0) -> NearIdentityConvNet:
    """C = 2 channels over a 4×4 image, float64, with random biases and templates (not the zero start)."""
    model = NearIdentityConvNet(
        channels=2,
        n_classes=2,
        image_size=4,
        n_layers=n_layers,
        T=1.0,
        nonlinearity=nonlinearity,
        gamma=gamma,
        init_scale=3.0,
        seed=seed,
        dtype=torch.float64,
    )
    gen = torch.Generator().manual_seed(100 + seed)
    with torch.no_grad():
        model.b.copy_(torch.randn(model.b.shape, generator=gen, dtype=torch.float64))
        model.R.copy_(torch.randn(model.R.shape, generator=gen, dtype=torch.float64))
        model.c.copy_(torch.randn(model.c.shape, generator=gen, dtype=torch.float64))
    return model


def _images(n: int, size: int = 4, seed: int = 1) -> torch.Tensor:
    return torch.rand(n, size, size, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _conv_matrix(kernel: np.ndarray, size: int) -> np.ndarray:
    """The matrix of the 3×3 cross-correlation with zero padding, acting on x flattened as (c, i, j)."""
    c_out, c_in = kernel.shape[:2]
    n = size * size
    m = np.zeros((c_out * n, c_in * n))
    for o in range(c_out):
        for c in range(c_in):
            for i in range(size):
                for j in range(size):
                    for di in range(3):
                        for dj in range(3):
                            ii, jj = i + di - 1, j + dj - 1
                            if 0 <= ii < size and 0 <= jj < size:
                                m[o * n + i * size + j, c * n + ii * size + jj] += kernel[o, c, di, dj]
    return m


def _g(nonlinearity: str, gamma: float, z: np.ndarray) -> np.ndarray:
    return -gamma * z**3 if nonlinearity == "cubic" else gamma * np.maximum(-z, 0.0)


def _explicit(model: NearIdentityConvNet) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per layer: the matrix of conv_l and the bias vector b_l ⊗ 1 (flattened (c, i, j))."""
    size = model.image_size
    ms = [_conv_matrix(model.w[k].detach().numpy(), size) for k in range(model.n_layers)]
    bs = [np.repeat(model.b[k].detach().numpy(), size * size) for k in range(model.n_layers)]
    return ms, bs


def _x0(u: np.ndarray, channels: int) -> np.ndarray:
    x = np.zeros((u.shape[0], channels, *u.shape[1:]))
    x[:, 0] = u
    return x.reshape(u.shape[0], -1)


@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
def test_layers_match_explicit_matrices(nonlinearity: str) -> None:
    """x_{l+1} = σ(W_l x_l + B_l) with W_l = I + Δt M_l, B_l = Δt b_l, σ(z) = z + Δt g(z), on a 4×4 image."""
    model = _tiny(nonlinearity, gamma=1.7)
    u = _images(5)
    states = model.states(u).detach()
    assert states.shape == (4, 5, 2, 4, 4)
    ms, bs = _explicit(model)
    dt = model.dt
    x = _x0(u.numpy(), 2)
    np.testing.assert_allclose(states[0].reshape(5, -1).numpy(), x, rtol=0, atol=0)
    for k in range(3):
        z = x + dt * (x @ ms[k].T + bs[k])
        x = z + dt * _g(nonlinearity, 1.7, z)
        np.testing.assert_allclose(states[k + 1].reshape(5, -1).numpy(), x, rtol=1e-13, atol=1e-14)
    # the read-out: logit_k = Σ_ij R_k[i, j] x_L[k, i, j] + c_k, and the evidence maps sum to it
    xl = x.reshape(5, 2, 4, 4)
    logits = np.einsum("bkij,kij->bk", xl, model.R.detach().numpy()) + model.c.detach().numpy()
    np.testing.assert_allclose(model(u).detach().numpy(), logits, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(model.predict_logits(u, batch_size=2).numpy(), logits, rtol=1e-13, atol=1e-13)
    ev = model.evidence(u).detach()
    np.testing.assert_allclose((ev.sum((2, 3)) + model.c.detach()).numpy(), logits, rtol=1e-13, atol=1e-13)


def test_cubic_step_gradient_against_finite_differences_and_autograd() -> None:
    gen = torch.Generator().manual_seed(1)
    z = torch.randn(3, 4, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: _CubicStep.apply(v, 0.07), (z,))
    weights = torch.randn(3, 4, 5, generator=gen, dtype=torch.float64)
    (mine,) = torch.autograd.grad((_CubicStep.apply(z, 0.07) * weights).sum(), z)
    (plain,) = torch.autograd.grad(((z - 0.07 * z**3) * weights).sum(), z)
    torch.testing.assert_close(mine, plain, rtol=1e-14, atol=1e-15)


def test_field_matches_explicit_matrix() -> None:
    model = _tiny("cubic", gamma=0.8)
    x = torch.randn(3, 2, 4, 4, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    ms, bs = _explicit(model)
    xf = x.reshape(3, -1).numpy()
    for k in range(3):
        want = xf @ ms[k].T + bs[k] + _g("cubic", 0.8, xf)
        np.testing.assert_allclose(model.field(k, x).detach().reshape(3, -1).numpy(), want, rtol=1e-13, atol=1e-13)


def test_lift_puts_the_image_in_channel_zero() -> None:
    model = _tiny()
    u = _images(3)
    x0 = model.lift(u)
    assert x0.shape == (3, 2, 4, 4)
    assert torch.equal(x0[:, 0], u) and torch.equal(x0[:, 1], torch.zeros_like(u))
    # flattened images (as train() passes them) give the same logits
    assert torch.equal(model(u.reshape(3, 16)), model(u))


def _scipy_ode(model: NearIdentityConvNet, u: torch.Tensor) -> np.ndarray:
    """x(T) of dx/dt = M_l x + b_l + g(x) on each layer's interval, by DOP853 (rtol 1e-12)."""
    ms, bs = _explicit(model)
    dt, x = model.dt, _x0(u.numpy(), model.channels)
    out = []
    for xi in x:
        for k in range(model.n_layers):

            def f(_t: float, y: np.ndarray, k: int = k) -> np.ndarray:
                return ms[k] @ y + bs[k] + _g(model.nonlinearity, model.gamma, y)

            xi = solve_ivp(f, (0.0, dt), xi, method="DOP853", rtol=1e-12, atol=1e-13).y[:, -1]
        out.append(xi)
    return np.array(out)


@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
def test_network_converges_to_its_ode_at_first_order(nonlinearity: str) -> None:
    """At fixed T, m sub-layers per layer: ‖x_{Lm} − x(T)‖ halves when m doubles (order 1; x(T) by SciPy)."""
    model = _tiny(nonlinearity, n_layers=4, gamma=1.0)
    u = _images(2, seed=3)
    ref = _scipy_ode(model, u)
    with torch.no_grad():
        errs = [np.linalg.norm(model.final_state(u, substeps=m).reshape(2, -1).numpy() - ref) for m in (4, 8, 16, 32)]
    ratios = np.array(errs[:-1]) / np.array(errs[1:])
    assert np.all((ratios > 1.8) & (ratios < 2.2)), ratios
    assert abs(ratios[-1] - 2.0) < abs(ratios[0] - 2.0)  # the asymptotic ratio is approached


def test_rk4_solves_the_ode() -> None:
    """ode_final_state: fourth order for the smooth cubic g (error ÷16 per halving), and agrees with SciPy."""
    for nonlinearity, substeps, tol in (("cubic", 32, 1e-8), ("leaky", 64, 2e-6)):
        model = _tiny(nonlinearity, n_layers=4)
        u = _images(2, seed=3)
        ref = _scipy_ode(model, u)
        with torch.no_grad():
            got = model.ode_final_state(u, substeps=substeps).reshape(2, -1).numpy()
            if nonlinearity == "cubic":
                errs = [
                    np.abs(model.ode_final_state(u, substeps=m).reshape(2, -1).numpy() - ref).max() for m in (4, 8, 16)
                ]
                ratios = np.array(errs[:-1]) / np.array(errs[1:])
                assert np.all((ratios > 12) & (ratios < 20)), ratios
        # the leaky g has a kink at 0, where RK4 loses its order (the error still falls with the step)
        np.testing.assert_allclose(got, ref, rtol=0, atol=tol * np.abs(ref).max())


def test_layer_changes_are_o_dt() -> None:
    """Per-layer relative change ≈ Δt ‖f‖/‖x‖: it halves when the depth doubles at fixed T."""
    model = _tiny("cubic", n_layers=4)
    u = _images(3)
    with torch.no_grad():
        states = model.states(u)
        ch1 = model.layer_changes(u)
        ch2 = model.layer_changes(u, substeps=2)
        ch4 = model.layer_changes(u, substeps=4)
        states4 = model.states(u, substeps=4)
    assert ch1.shape == (4, 3) and ch2.shape == (8, 3) and states4.shape == (17, 3, 2, 4, 4)
    torch.testing.assert_close(ch1, relative_layer_changes(states), rtol=1e-12, atol=0)
    torch.testing.assert_close(ch4, relative_layer_changes(states4), rtol=1e-12, atol=0)
    r21 = float(ch2.max() / ch1.max())
    r42 = float(ch4.max() / ch2.max())
    assert 0.4 < r21 < 0.6 and 0.45 < r42 < 0.55, (r21, r42)
    # the same trajectory: states at the layer boundaries agree to O(Δt)
    gap = float((states4[::4] - states).norm() / states.norm())
    assert gap < 0.5 * model.dt * 10


def test_relative_layer_changes_against_numpy() -> None:
    states = torch.randn(5, 3, 2, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    s = states.numpy().reshape(5, 3, -1)
    want = np.linalg.norm(s[1:] - s[:-1], axis=2) / np.linalg.norm(s[:-1], axis=2)
    np.testing.assert_allclose(relative_layer_changes(states).numpy(), want, rtol=1e-14)


def test_seed_dtype_and_double_copy() -> None:
    a, b, c = NearIdentityConvNet(seed=3), NearIdentityConvNet(seed=3), NearIdentityConvNet(seed=4)
    assert a.w.dtype == torch.float32 and torch.equal(a.w, b.w) and not torch.equal(a.w, c.w)
    assert a.dt == pytest.approx(1.0 / 20)
    # the kernels start as N(0, 1/(9C)) entries, everything else at zero
    assert float(a.w.detach().std()) == pytest.approx(1 / (9 * 10) ** 0.5, rel=0.05)
    assert not a.b.any() and not a.R.any() and not a.c.any()
    # a float64 copy computes the same function (to float32 rounding)
    with torch.no_grad():
        a.R.normal_(generator=torch.Generator().manual_seed(0))
    u = torch.rand(2, 28, 28, generator=torch.Generator().manual_seed(1))
    d = copy.deepcopy(a).double()
    torch.testing.assert_close(a(u).double(), d(u.double()), rtol=1e-4, atol=1e-4)
    assert "channels=10" in repr(a)


def test_digit_split_is_stratified_disjoint_and_seeded() -> None:
    x_tr, y_tr, x_te, y_te = digit_split(500, 200, seed=0)
    assert x_tr.shape == (500, 784) and x_te.shape == (200, 784) and x_tr.dtype == torch.float64
    assert y_tr.dtype == torch.int64 and set(y_te.tolist()) == set(range(10))
    # stratified: every class's count within one of its share (class counts of the 10,000 digits)
    shares = np.array([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]) / 10000
    assert np.all(np.abs(np.bincount(y_te.numpy(), minlength=10) - 200 * shares) <= 1.0)
    assert np.all(np.abs(np.bincount(y_tr.numpy(), minlength=10) - 500 * shares) <= 1.0)
    # disjoint (the 10,000 images are distinct, so compare images)
    both = torch.cat([x_tr, x_te])
    assert torch.unique(both, dim=0).shape[0] == 700
    again = digit_split(500, 200, seed=0)
    assert torch.equal(again[0], x_tr) and torch.equal(again[3], y_te)
    assert not torch.equal(digit_split(500, 200, seed=1)[2], x_te)
    assert digit_split(10, 200, seed=0, dtype=torch.float32)[0].dtype == torch.float32


def test_trains_with_the_book_loop() -> None:
    """train() lowers the loss of a shallow network on 100 digits (flattened float64 inputs, float32 model)."""
    torch.set_num_threads(1)
    x_tr, y_tr, _, _ = digit_split(100, 50, seed=0)
    model = NearIdentityConvNet(n_layers=3, seed=0)
    result = train(model, x_tr, y_tr, steps=12, lr=0.02, batch_size=50, seed=0)
    assert result.losses[0] == pytest.approx(np.log(10), rel=1e-6)  # zero read-out: uniform logits
    assert min(result.losses[-3:]) < 0.7 * result.losses[0]


# --------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"channels": 9}, ValueError, "^channels"),
        ({"channels": 10.0}, TypeError, "^channels"),
        ({"n_layers": 0}, ValueError, "^n_layers"),
        ({"n_layers": True}, TypeError, "^n_layers"),
        ({"T": 0.0}, ValueError, "^T"),
        ({"T": float("inf")}, ValueError, "^T"),
        ({"T": "1"}, TypeError, "^T"),
        ({"nonlinearity": "relu"}, ValueError, "^nonlinearity"),
        ({"gamma": -1.0}, ValueError, "^gamma"),
        ({"gamma": float("nan")}, ValueError, "^gamma"),
        ({"gamma": None}, TypeError, "^gamma"),
        ({"image_size": 0}, ValueError, "^image_size"),
        ({"n_classes": 0}, ValueError, "^n_classes"),
        ({"init_scale": -0.1}, ValueError, "^init_scale"),
        ({"init_scale": "1"}, TypeError, "^init_scale"),
        ({"seed": -1}, ValueError, "^seed"),
        ({"dtype": torch.int32}, TypeError, "^dtype"),
        ({"dtype": "float32"}, TypeError, "^dtype"),
    ],
)
def test_constructor_rejects(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        NearIdentityConvNet(**kwargs)


_BAD_IMAGES = [
    ([[0.0] * 16], TypeError, "^u must be a torch.Tensor"),
    (torch.zeros(2, 4, 4, dtype=torch.int64), TypeError, "^u must have a floating-point dtype"),
    (torch.zeros(2, 5, 4), ValueError, r"^u must have shape \(batch, 4, 4\) or \(batch, 16\)"),
    (torch.zeros(2, 15), ValueError, "^u must have shape"),
    (torch.zeros(4, 4), ValueError, "^u must have shape"),
    (torch.zeros(0, 4, 4), ValueError, "batch >= 1"),
    (torch.full((1, 4, 4), float("nan")), ValueError, "^u must contain only finite"),
]


@pytest.mark.parametrize(
    "method",
    ["forward", "predict_logits", "lift", "states", "final_state", "ode_final_state", "layer_changes", "evidence"],
)
@pytest.mark.parametrize(("u", "error", "match"), _BAD_IMAGES)
def test_methods_reject_bad_images(method: str, u: object, error: type, match: str) -> None:
    model = _tiny()
    with pytest.raises(error, match=match):
        getattr(model, method)(u)


def test_predict_logits_rejects_bad_batch_size() -> None:
    for bad, error in ((0, ValueError), (2.0, TypeError)):
        with pytest.raises(error, match=r"^batch_size"):
            _tiny().predict_logits(_images(1), batch_size=bad)


@pytest.mark.parametrize("method", ["states", "final_state", "ode_final_state", "layer_changes"])
@pytest.mark.parametrize(("substeps", "error"), [(0, ValueError), (1.5, TypeError), (True, TypeError)])
def test_methods_reject_bad_substeps(method: str, substeps: object, error: type) -> None:
    with pytest.raises(error, match=r"^substeps"):
        getattr(_tiny(), method)(_images(1), substeps=substeps)


@pytest.mark.parametrize(
    ("layer", "x", "error", "match"),
    [
        (3, torch.zeros(1, 2, 4, 4), ValueError, r"^layer must be an integer in \[0, 2\]"),
        (-1, torch.zeros(1, 2, 4, 4), ValueError, "^layer"),
        (1.0, torch.zeros(1, 2, 4, 4), TypeError, "^layer"),
        (0, np.zeros((1, 2, 4, 4)), TypeError, "^x must be a torch.Tensor"),
        (0, torch.zeros(1, 2, 4, 4, dtype=torch.int64), TypeError, "^x must have a floating"),
        (0, torch.zeros(1, 3, 4, 4), ValueError, r"^x must have shape \(batch, 2, 4, 4\)"),
        (0, torch.zeros(2, 4, 4), ValueError, "^x must have shape"),
        (0, torch.full((1, 2, 4, 4), float("inf")), ValueError, "^x must contain only finite"),
    ],
)
def test_field_rejects(layer: object, x: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        _tiny().field(layer, x)


@pytest.mark.parametrize(
    ("states", "error", "match"),
    [
        (np.ones((3, 2, 4)), TypeError, "^states must be a torch.Tensor"),
        (torch.ones(3, 2, 4, dtype=torch.int64), TypeError, "^states must have a floating"),
        (torch.ones(1, 2, 4), ValueError, r"^states must have shape \(n_states >= 2"),
        (torch.ones(3, 4), ValueError, "^states must have shape"),
        (torch.ones(3, 0, 4), ValueError, "^states must have shape"),
        (torch.full((3, 2, 4), float("nan")), ValueError, "^states must contain only finite"),
        (torch.zeros(3, 2, 4), ValueError, "^states must be non-zero"),
    ],
)
def test_relative_layer_changes_rejects(states: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        relative_layer_changes(states)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((100, 9), {}, ValueError, r"^n_test must be an integer in \[10, 9990\]"),
        ((100, 9991), {}, ValueError, "^n_test"),
        ((9, 100), {}, ValueError, r"^n_train must be an integer in \[10, 9900\]"),
        ((9901, 100), {}, ValueError, "^n_train"),
        ((100.0, 100), {}, TypeError, "^n_train"),
        ((100, True), {}, TypeError, "^n_test"),
        ((100, 100), {"seed": -1}, ValueError, "^seed"),
        ((100, 100), {"seed": "0"}, TypeError, "^seed"),
        ((100, 100), {"dtype": torch.int64}, TypeError, "^dtype"),
    ],
)
def test_digit_split_rejects(args: tuple, kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        digit_split(*args, **kwargs)
