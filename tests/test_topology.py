"""Tests of ctdepth_lib.topology: the free-layer network against feedforward_unroll and a NumPy loop, its ODE
against SciPy, the layer Jacobian determinants against the closed form and finite differences, the fold
summary on constructed folds, and the separability and distance measurements against brute force."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from ctdepth_lib.feedforward import feedforward_unroll
from ctdepth_lib.near_identity import cubic_nonlinearity
from ctdepth_lib.topology import (
    FoldSummary,
    FreeLayerClassifier,
    FreeLayerTraining,
    PiecewiseConstantField,
    _flush_denormals,
    _StackedLayers,
    circle_image,
    disc_grid,
    error_by_distance,
    fold_summary,
    layer_jacobian_dets,
    nearest_distance,
    train_free_layer_classifier,
    winding_number,
)
from ctdepth_lib.training import TrainingDiverged, restart_seeds

DT = torch.float64


def _inputs(n: int = 30, d: int = 2, seed: int = 0, scale: float = 1.0) -> torch.Tensor:
    return scale * torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=DT)


# --------------------------------------------------------------------------- the network
def test_network_equals_feedforward_unroll_and_a_numpy_loop() -> None:
    """Independent references: the library's feedforward_unroll with piecewise-constant A(t), c(t), and NumPy."""
    model = FreeLayerClassifier(2, 12, T=1.5, gamma=2.0, init_scale=0.2, seed=3)
    x = _inputs(25)
    with torch.no_grad():
        ours = model.trajectory(x)
        grid = torch.linspace(0.0, 1.5, 13, dtype=DT)
        w, b = model.w.detach(), model.b.detach()

        def idx(t: torch.Tensor) -> int:
            return int(torch.argmin((grid - t).abs()))

        ref = feedforward_unroll(lambda t: w[idx(t)], lambda t: b[idx(t)], cubic_nonlinearity(2.0), x, grid)
    torch.testing.assert_close(ours, ref, rtol=1e-13, atol=1e-13)
    # a NumPy loop with the network's own weights W_l = I + Δt w_l, B_l = Δt b_l
    W, B = (t.detach().numpy() for t in model.layer_weights())
    xn, dt = x.numpy().copy(), 1.5 / 12
    for layer in range(12):
        z = xn @ W[layer].T + B[layer]
        xn = z + dt * (-2.0 * z**3)
    np.testing.assert_allclose(ours[-1].numpy(), xn, rtol=1e-13, atol=1e-13)
    # the read-out acts on x_L; features and preactivations are consistent with the trajectory
    with torch.no_grad():
        torch.testing.assert_close(model(x), model.readout(ours[-1]), rtol=0, atol=0)
        torch.testing.assert_close(model.features(x), ours[-1], rtol=0, atol=0)
        zs = model.preactivations(x)
        torch.testing.assert_close(zs, ours[:-1] @ torch.as_tensor(W).mT + torch.as_tensor(B)[:, None, :])


def test_parameters_seeding_and_ode_coefficients() -> None:
    a = FreeLayerClassifier(3, 20, T=2.0, gamma=1.0, init_scale=0.1, seed=5)
    b = FreeLayerClassifier(3, 20, T=2.0, gamma=1.0, init_scale=0.1, seed=5)
    c = FreeLayerClassifier(3, 20, T=2.0, gamma=1.0, init_scale=0.1, seed=6)
    assert torch.equal(a.delta_w, b.delta_w) and torch.equal(a.readout.weight, b.readout.weight)
    assert not torch.equal(a.delta_w, c.delta_w)
    assert a.delta_w.shape == (20, 3, 3) and a.delta_b.shape == (20, 3) and a.readout.weight.shape == (2, 3)
    assert a.dt == pytest.approx(0.1)
    torch.testing.assert_close(a.w * a.dt, a.delta_w)
    torch.testing.assert_close(a.b * a.dt, a.delta_b)
    assert a.critical_point == pytest.approx(1 / math.sqrt(3 * 0.1 * 1.0))
    assert FreeLayerClassifier(2, 4, gamma=0.0).critical_point == math.inf
    zero = FreeLayerClassifier(2, 4, init_scale=0.0)
    assert not zero.delta_w.any() and not zero.delta_b.any()
    assert {n for n, _ in a.named_parameters()} == {"delta_w", "delta_b", "readout.weight", "readout.bias"}


def test_ode_matches_scipy_interval_by_interval() -> None:
    """dopri5 with jump_t against SciPy's DOP853 restarted on each interval of constant coefficients."""
    model = FreeLayerClassifier(2, 6, T=1.0, gamma=1.5, init_scale=0.3, seed=1)
    x = _inputs(4, scale=1.2)
    with torch.no_grad():
        got = model.ode_trajectory(x, rtol=1e-11, atol=1e-11)
        w, b = model.w.numpy(), model.b.numpy()
    ys = [x.numpy().reshape(-1)]
    for layer in range(6):

        def rhs(t: float, y: np.ndarray, layer: int = layer) -> np.ndarray:
            v = y.reshape(4, 2)
            return (v @ w[layer].T + b[layer] - 1.5 * v**3).reshape(-1)

        t0 = layer / 6
        sol = solve_ivp(rhs, (t0, t0 + 1 / 6), ys[-1], method="DOP853", rtol=1e-13, atol=1e-13)
        ys.append(sol.y[:, -1])
    ref = np.stack(ys).reshape(7, 4, 2)
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-8, atol=1e-9)
    with torch.no_grad():
        torch.testing.assert_close(model.ode_features(x, rtol=1e-11, atol=1e-11), got[-1])
        torch.testing.assert_close(model.ode_logits(x, rtol=1e-11, atol=1e-11), model.readout(got[-1]))


def test_ode_log_det_matches_finite_differences_of_the_flow() -> None:
    """Liouville's formula against the determinant of a central-difference Jacobian of x(T)."""
    model = FreeLayerClassifier(2, 5, T=1.0, gamma=2.0, init_scale=0.4, seed=7)
    x = _inputs(6, scale=0.9)
    with torch.no_grad():
        got = model.ode_log_det(x, rtol=1e-12, atol=1e-12)
        eps = 1e-5
        cols = []
        for j in range(2):
            e = torch.zeros(2, dtype=DT)
            e[j] = eps
            up = model.ode_features(x + e, rtol=1e-12, atol=1e-12)
            down = model.ode_features(x - e, rtol=1e-12, atol=1e-12)
            cols.append((up - down) / (2 * eps))
        fd = torch.linalg.det(torch.stack(cols, dim=-1))
    assert bool((fd > 0).all())
    torch.testing.assert_close(got, torch.log(fd), rtol=1e-6, atol=1e-7)


def test_network_converges_to_its_ode_at_first_order() -> None:
    """Weights sampled from smooth w(t), b(t): |x_L − x(T)| = O(Δt) (Lie–Trotter is first order)."""
    errors = []
    hs = []
    x = _inputs(10, scale=0.8)
    for n_layers in (20, 40, 80, 160):
        model = FreeLayerClassifier(2, n_layers, T=1.0, gamma=1.0, init_scale=0.0)
        t = (torch.arange(n_layers, dtype=DT) + 0.0) / n_layers
        w = torch.stack(
            [torch.stack([torch.cos(3 * t), -1 + 0 * t]), torch.stack([1 + 0 * t, torch.sin(2 * t) - 0.5])]
        ).permute(2, 0, 1)
        b = torch.stack([0.3 * torch.sin(4 * t), 0.2 + 0 * t], dim=1)
        with torch.no_grad():
            model.delta_w.copy_(model.dt * w)
            model.delta_b.copy_(model.dt * b)
            errors.append(float((model.features(x) - model.ode_features(x)).abs().max()))
        hs.append(model.dt)
    slope = np.polyfit(np.log(hs), np.log(errors), 1)[0]
    assert abs(slope - 1) < 0.1, errors


def test_field_layer_index_at_the_jumps() -> None:
    w = torch.zeros(4, 2, 2, dtype=DT)
    f = PiecewiseConstantField(w, torch.zeros(4, 2, dtype=DT), cubic_nonlinearity(1.0), 2.0)
    grid = f.grid
    assert [f.layer_index(t) for t in grid] == [0, 1, 2, 3, 3]
    before = torch.nextafter(grid, torch.full_like(grid, -1.0))
    after = torch.nextafter(grid, torch.full_like(grid, 10.0))
    assert [f.layer_index(t) for t in before[1:]] == [0, 1, 2, 3]
    assert [f.layer_index(t) for t in after[:-1]] == [0, 1, 2, 3]
    x = _inputs(3)
    torch.testing.assert_close(f(torch.tensor(0.7, dtype=DT), x), -(x**3))


@pytest.mark.parametrize(
    ("w", "b", "g", "T", "error", "match"),
    [
        ([[[0.0]]], torch.zeros(1, 1, dtype=DT), abs, 1.0, TypeError, r"^w must be a torch\.Tensor"),
        (
            torch.zeros(2, 2, dtype=DT),
            torch.zeros(2, 2, dtype=DT),
            abs,
            1.0,
            ValueError,
            r"^w must have shape \(L, d, d\)",
        ),
        (
            torch.zeros(2, 2, 3, dtype=DT),
            torch.zeros(2, 2, dtype=DT),
            abs,
            1.0,
            ValueError,
            r"^w must have shape \(L, d, d\)",
        ),
        (
            torch.zeros(2, 2, 2, dtype=DT),
            torch.zeros(2, 3, dtype=DT),
            abs,
            1.0,
            ValueError,
            r"^b must have shape \(L, d\) = \(2, 2\)",
        ),
        (
            torch.zeros(2, 2, 2, dtype=DT),
            torch.zeros(2, 2, dtype=torch.float32),
            abs,
            1.0,
            TypeError,
            r"^b must have the dtype of w",
        ),
        (
            torch.zeros(2, 2, 2, dtype=DT),
            torch.zeros(2, 2, dtype=DT),
            3.0,
            1.0,
            TypeError,
            r"^g must be callable as g\(x\)",
        ),
        (
            torch.zeros(2, 2, 2, dtype=DT),
            torch.zeros(2, 2, dtype=DT),
            abs,
            0.0,
            ValueError,
            r"^T must be a finite number > 0",
        ),
        (
            torch.full((2, 2, 2), float("nan"), dtype=DT),
            torch.zeros(2, 2, dtype=DT),
            abs,
            1.0,
            ValueError,
            r"^w must contain only finite",
        ),
    ],
)
def test_field_rejects(w: object, b: object, g: object, T: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        PiecewiseConstantField(w, b, g, T)  # type: ignore[arg-type]


def test_three_dimensional_model_runs() -> None:
    model = FreeLayerClassifier(3, 5, gamma=1.0, seed=0)
    x = torch.nn.functional.pad(_inputs(7), (0, 1))
    with torch.no_grad():
        assert model(x).shape == (7, 2)
        assert model.ode_trajectory(x).shape == (6, 7, 3)
        assert layer_jacobian_dets(model, x).shape == (5, 7)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"dim": 0}, ValueError, r"^dim must be an integer >= 1; got 0"),
        ({"dim": 2.0}, TypeError, r"^dim must be an integer >= 1"),
        ({"n_layers": 0}, ValueError, r"^n_layers must be an integer >= 1; got 0"),
        ({"n_classes": 1}, ValueError, r"^n_classes must be an integer >= 2; got 1"),
        ({"T": 0.0}, ValueError, r"^T must be a finite number > 0; got 0\.0"),
        ({"T": "1"}, TypeError, r"^T must be a positive real number"),
        ({"gamma": -0.5}, ValueError, r"^gamma must be a finite number >= 0; got -0\.5"),
        ({"init_scale": float("nan")}, ValueError, r"^init_scale must be a finite number >= 0"),
        ({"seed": -2}, ValueError, r"^seed must be an integer >= 0; got -2"),
    ],
)
def test_classifier_rejects(kwargs: dict, error: type, match: str) -> None:
    args = {"dim": 2, "n_layers": 3, **kwargs}
    dim, n_layers = args.pop("dim"), args.pop("n_layers")
    with pytest.raises(error, match=match):
        FreeLayerClassifier(dim, n_layers, **args)


@pytest.mark.parametrize(
    ("u", "error", "match"),
    [
        ([[0.0, 1.0]], TypeError, r"^u must be a torch\.Tensor"),
        (torch.zeros(3, 3, dtype=DT), ValueError, r"^u must have shape \(batch, 2\) for this model; got \(3, 3\)"),
        (torch.zeros(2, dtype=DT), ValueError, r"^u must have shape \(batch, 2\); got shape \(2,\)"),
        (torch.zeros(3, 2, dtype=torch.float32), TypeError, r"^u must have the model's dtype torch\.float64"),
        (torch.zeros(3, 2, dtype=torch.int64), TypeError, r"^u must have a floating-point dtype"),
        (torch.tensor([[0.0, float("nan")]], dtype=DT), ValueError, r"^u must contain only finite values"),
    ],
)
@pytest.mark.parametrize(
    "method", ["trajectory", "features", "forward", "preactivations", "ode_trajectory", "ode_log_det"]
)
def test_classifier_inputs_rejected(u: object, error: type, match: str, method: str) -> None:
    model = FreeLayerClassifier(2, 3)
    with pytest.raises(error, match=match):
        getattr(model, method)(u)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"rtol": 0.0}, ValueError, r"^rtol must be a finite number > 0"),
        ({"atol": -1e-9}, ValueError, r"^atol must be a finite number > 0"),
        ({"rtol": None}, TypeError, r"^rtol must be a positive real number"),
    ],
)
@pytest.mark.parametrize("method", ["ode_trajectory", "ode_features", "ode_logits", "ode_log_det"])
def test_ode_tolerances_rejected(kwargs: dict, error: type, match: str, method: str) -> None:
    model = FreeLayerClassifier(2, 3)
    with pytest.raises(error, match=match):
        getattr(model, method)(_inputs(2), **kwargs)


# --------------------------------------------------------------------------- Jacobian determinants and folds
def _folding_model() -> FreeLayerClassifier:
    """Layer 3 shifts coordinate 0 past the critical point for part of the points; layer 5 reflects."""
    model = FreeLayerClassifier(2, 8, T=0.08, gamma=10.0, init_scale=0.0)  # Δtγ = 0.1, z* = 1.83
    with torch.no_grad():
        model.delta_b[3, 0] = model.critical_point - 0.2  # points with x_0 > 0.2 pass z*
        model.delta_b[4, 0] = -(model.critical_point - 0.2)
        model.delta_w[5] = torch.diag(torch.tensor([-2.2, 0.0], dtype=DT))  # W_5 = diag(−1.2, 1)
    return model


def test_dets_match_closed_form_and_finite_differences() -> None:
    model = FreeLayerClassifier(2, 10, T=1.0, gamma=3.0, init_scale=0.2, seed=2)
    x = _inputs(40, scale=1.0)
    dets = layer_jacobian_dets(model, x)
    with torch.no_grad():
        states = model.trajectory(x)
        zs = model.preactivations(x)
        W, _ = model.layer_weights()
        closed = torch.linalg.det(W)[:, None] * torch.prod(1 - 3 * model.dt * model.gamma * zs**2, dim=-1)
    torch.testing.assert_close(dets, closed, rtol=1e-12, atol=1e-12)
    assert bool((dets < 0).any()) and bool((dets > 0).any())  # γΔt = 0.3: folds present, so the test bites
    # central differences of the layer map, column by column
    eps = 1e-6
    with torch.no_grad():
        for layer in (0, 4, 9):
            x_l = states[layer]
            cols = []
            for j in range(2):
                e = torch.zeros(2, dtype=DT)
                e[j] = eps
                cols.append((model._layer(layer, x_l + e) - model._layer(layer, x_l - e)) / (2 * eps))
            fd = torch.linalg.det(torch.stack(cols, dim=-1))
            torch.testing.assert_close(dets[layer], fd, rtol=1e-6, atol=1e-7)


def test_fold_summary_finds_the_constructed_fold_and_reflection() -> None:
    model = _folding_model()
    g = torch.linspace(-1, 1, 41, dtype=DT)
    u = torch.stack(torch.meshgrid(g, g, indexing="xy"), -1).reshape(-1, 2)
    summary = fold_summary(model, u)
    assert isinstance(summary, FoldSummary)
    with torch.no_grad():
        x3 = model.trajectory(u)[3]
        past = (x3[:, 0] + model.delta_b[3, 0]).abs() > model.critical_point
    assert summary.fold_layers == [3]
    assert summary.point_fraction == pytest.approx(float(past.double().mean()))
    assert 0 < summary.point_fraction < 1
    assert float(summary.layer_fraction[3]) == pytest.approx(summary.point_fraction)
    assert summary.reflection_layers == [5]
    assert summary.negative_fraction == 1.0  # layer 5 reverses orientation everywhere
    assert summary.min_det < 0
    # no fold, no reflection: a near-identity model
    calm = fold_summary(FreeLayerClassifier(2, 8, init_scale=0.01), u)
    assert calm.fold_layers == [] and calm.reflection_layers == [] and calm.point_fraction == 0.0
    assert calm.negative_fraction == 0.0 and calm.min_det > 0


@pytest.mark.parametrize("fn", [layer_jacobian_dets, fold_summary])
@pytest.mark.parametrize(
    ("model", "u", "error", "match"),
    [
        (torch.nn.Linear(2, 2), torch.zeros(2, 2, dtype=DT), TypeError, r"^model must be a FreeLayerClassifier"),
        (None, torch.zeros(2, 3, dtype=DT), ValueError, r"^u must have shape \(batch, 2\) for this model"),
        (None, np.zeros((2, 2)), TypeError, r"^u must be a torch\.Tensor"),
    ],
)
def test_fold_functions_reject(fn: object, model: object, u: object, error: type, match: str) -> None:
    model = FreeLayerClassifier(2, 3) if model is None else model
    with pytest.raises(error, match=match):
        fn(model, u)  # type: ignore[operator]


# --------------------------------------------------------------------------- linear separability
def test_winding_number_against_closed_forms_and_matplotlib() -> None:
    """Independent references: circles traversed k times (w = k), the inside test of matplotlib's Path."""
    from matplotlib.path import Path

    s = np.linspace(0.0, 2.0 * np.pi, 400, endpoint=False)
    circle = np.stack([np.cos(s), np.sin(s)], axis=1)
    assert winding_number(circle, np.array([0.2, -0.3])) == pytest.approx(1.0, abs=1e-12)
    assert winding_number(circle[::-1], np.array([0.2, -0.3])) == pytest.approx(-1.0, abs=1e-12)
    assert winding_number(circle, np.array([1.5, 0.0])) == pytest.approx(0.0, abs=1e-12)
    twice = np.stack([np.cos(2 * s), np.sin(2 * s)], axis=1)
    assert winding_number(twice, torch.tensor([0.0, 0.1])) == pytest.approx(2.0, abs=1e-12)
    # a simple star-shaped curve: w = 1 inside, 0 outside, as matplotlib's even-odd test says
    r = 1.0 + 0.4 * np.cos(5 * s)
    star = np.stack([r * np.cos(s), r * np.sin(s)], axis=1)
    path = Path(star)
    rng = np.random.default_rng(3)
    for p in rng.uniform(-1.5, 1.5, size=(50, 2)):
        assert winding_number(star, p) == pytest.approx(float(path.contains_point(p)), abs=1e-9)

    # a homeomorphism (a shear and a twist) keeps w = 1 around the image of the centre
    def phi(x: np.ndarray) -> np.ndarray:
        rr = np.hypot(x[..., 0], x[..., 1])
        c, sn = np.cos(3 * rr), np.sin(3 * rr)
        return np.stack([c * x[..., 0] - sn * x[..., 1] + 0.5 * x[..., 1], sn * x[..., 0] + c * x[..., 1]], -1)

    assert winding_number(phi(1.25 * circle), phi(np.zeros(2))) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize(
    ("curve", "point", "error", "match"),
    [
        (np.array([[0.0, 1.0], [1.0, 0.0]]), np.zeros(2), ValueError, r"^curve must have shape \(m, 2\) with m >= 3"),
        (np.zeros((4, 3)), np.zeros(2), ValueError, r"^curve must have shape \(m, 2\)"),
        (np.array([[np.nan, 0], [1, 0], [0, 1]]), np.zeros(2), ValueError, r"^curve must contain only finite"),
        (np.array([["a", "b"]] * 3), np.zeros(2), TypeError, r"^curve must hold real numbers"),
        (np.eye(3)[:, :2], np.zeros(3), ValueError, r"^point must be 2 finite numbers"),
        (np.eye(3)[:, :2], np.array([np.inf, 0.0]), ValueError, r"^point must be 2 finite numbers"),
        (np.eye(3)[:, :2], np.array([True, False]), TypeError, r"^point must hold real numbers"),
        (np.eye(3)[:, :2], np.array([1.0, 0.0]), ValueError, r"^point must not be a vertex of curve"),
    ],
)
def test_winding_number_rejects(curve: object, point: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        winding_number(curve, point)


def test_circle_image_refines_until_the_winding_number_is_right() -> None:
    """Closed forms: the identity keeps the circle; z ↦ z^k (complex power) winds k times around φ(0) = 0."""
    curve, centre = circle_image(lambda u: 2.0 * u + 1.0, 1.5, n_points=100)
    a = np.linspace(0.0, 2.0 * math.pi, 100, endpoint=False)
    np.testing.assert_allclose(curve, 2.0 * 1.5 * np.stack([np.cos(a), np.sin(a)], 1) + 1.0, rtol=0, atol=1e-14)
    np.testing.assert_allclose(centre, [1.0, 1.0], rtol=0, atol=0)

    def power(k: int) -> Callable[[torch.Tensor], torch.Tensor]:
        def f(u: torch.Tensor) -> torch.Tensor:
            z = torch.complex(u[:, 0], u[:, 1]) ** k
            return torch.stack([z.real, z.imag], 1)

        return f

    for k in (2, 5):
        # 4 points: the image's edges turn by k·π/2 > π, so the polygon alone would miscount
        coarse = power(k)(1.2 * torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]], dtype=DT)).numpy()
        assert abs(winding_number(coarse, np.zeros(2)) - k) > 0.5
        curve, centre = circle_image(power(k), 1.2, n_points=4, max_turn=math.pi / 4)
        assert curve.shape[0] > 4 and winding_number(curve, centre) == pytest.approx(k, abs=1e-9)
        z = curve[:, 0] + 1j * curve[:, 1]
        assert np.abs(np.angle(np.roll(z, -1) / z)).max() <= math.pi / 4
    with pytest.raises(RuntimeError, match="max_points = 10"):
        circle_image(power(5), 1.0, n_points=4, max_points=10)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((None, 1.0), {}, TypeError, r"^features must be callable"),
        ((lambda u: u, 0.0), {}, ValueError, r"^radius must be"),
        ((lambda u: u, 1.0), {"n_points": 2}, ValueError, r"^n_points must be"),
        ((lambda u: u, 1.0), {"max_turn": math.pi}, ValueError, r"^max_turn must be less than pi"),
        ((lambda u: u, 1.0), {"max_turn": 0.0}, ValueError, r"^max_turn must be"),
        ((lambda u: u, 1.0), {"n_points": 100, "max_points": 50}, ValueError, r"^max_points must be"),
        ((lambda u: u[:, :1], 1.0), {}, ValueError, r"^features must map points \(n, 2\) to \(n, 2\)"),
    ],
)
def test_circle_image_rejects(args: tuple, kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        circle_image(*args, **kwargs)


# --------------------------------------------------------------------------- distances and error rates
def test_nearest_distance_against_brute_force() -> None:
    rng = np.random.default_rng(3)
    p, r = rng.normal(size=(50, 2)), rng.normal(size=(30, 2))
    brute = np.sqrt(((p[:, None, :] - r[None, :, :]) ** 2).sum(-1)).min(1)
    np.testing.assert_allclose(nearest_distance(p, r), brute, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(nearest_distance(torch.as_tensor(p), torch.as_tensor(r)), brute, rtol=1e-14)
    assert nearest_distance(r, r).max() == 0.0


def test_error_by_distance_against_a_loop() -> None:
    rng = np.random.default_rng(4)
    d = rng.uniform(0, 1, 500)
    ok = rng.uniform(size=500) > d  # errors grow with distance
    edges = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    rate, count = error_by_distance(d, ok, edges)
    for k in range(4):
        m = (d >= edges[k]) & ((d < edges[k + 1]) if k < 3 else (d <= edges[k + 1]))
        assert count[k] == m.sum()
        assert rate[k] == pytest.approx(1 - ok[m].mean())
    assert np.all(np.diff(rate) > 0)
    # an empty bin gives NaN; points outside the edges are left out
    rate2, count2 = error_by_distance(np.array([0.1, 0.2, 5.0]), np.array([True, False, True]), [0.0, 0.5, 1.0])
    assert count2.tolist() == [2, 0] and rate2[0] == 0.5 and math.isnan(rate2[1])


@pytest.mark.parametrize(
    ("points", "reference", "error", "match"),
    [
        (np.zeros(3), np.zeros((2, 2)), ValueError, r"^points must have shape \(n, d\)"),
        (np.zeros((3, 2)), np.zeros((0, 2)), ValueError, r"^reference must have shape \(n, d\)"),
        (np.zeros((3, 2)), np.zeros((2, 3)), ValueError, r"^reference must have the dimension of points \(2\)"),
        (np.array([[np.inf, 0.0]]), np.zeros((2, 2)), ValueError, r"^points must contain only finite values"),
        (np.array([["a", "b"]]), np.zeros((2, 2)), TypeError, r"^points must hold real numbers"),
    ],
)
def test_nearest_distance_rejects(points: object, reference: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        nearest_distance(points, reference)


@pytest.mark.parametrize(
    ("distance", "correct", "edges", "match"),
    [
        (np.array([]), np.array([], dtype=bool), [0.0, 1.0], r"^distance must be a non-empty 1-D array"),
        (
            np.array([-0.1]),
            np.array([True]),
            [0.0, 1.0],
            r"^distance must be a non-empty 1-D array of finite values >= 0",
        ),
        (np.array([0.1]), np.array([1]), [0.0, 1.0], r"^correct must be a boolean array"),
        (np.array([0.1, 0.2]), np.array([True]), [0.0, 1.0], r"^correct must be a boolean array of the shape"),
        (np.array([0.1]), np.array([True]), [1.0], r"^edges must be a 1-D strictly increasing array"),
        (np.array([0.1]), np.array([True]), [0.0, 0.0, 1.0], r"^edges must be a 1-D strictly increasing array"),
    ],
)
def test_error_by_distance_rejects(distance: object, correct: object, edges: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        error_by_distance(distance, correct, edges)


# --------------------------------------------------------------------------- training with restarts
def test_batched_restarts_equal_separate_adam_runs() -> None:
    """Independent reference: each run trained alone by torch.optim.Adam on the model, keeping its best loss."""
    from ctdepth_lib.data import disc_annulus_dataset

    x, y = disc_annulus_dataset(60, 2, seed=2)
    kwargs = {"n_layers": 6, "T": 1.0, "gamma": 2.0, "init_scale": 0.2}
    out = train_free_layer_classifier(x, y, lr=0.01, steps=25, restarts=3, seed=4, **kwargs)
    assert isinstance(out, FreeLayerTraining)
    assert out.seeds == restart_seeds(4, 3) and out.losses.shape == (25, 3) and out.train_losses.shape == (3,)
    refs = []
    for j, s in enumerate(out.seeds):
        model = FreeLayerClassifier(2, seed=s, **kwargs)
        opt = torch.optim.Adam(model.parameters(), lr=0.01)
        best, kept = math.inf, None
        for step in range(26):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            if float(loss.detach()) < best:
                best, kept = float(loss.detach()), {k: v.detach().clone() for k, v in model.state_dict().items()}
            if step == 25:
                break
            assert float(loss.detach()) == pytest.approx(out.losses[step, j], rel=1e-10)
            loss.backward()
            opt.step()
        refs.append((best, kept))
        assert out.train_losses[j] == pytest.approx(best, rel=1e-10)
    assert out.best == int(np.argmin([b for b, _ in refs]))
    chosen = refs[out.best][1]
    for name, value in out.model.state_dict().items():
        torch.testing.assert_close(value, chosen[name], rtol=1e-9, atol=1e-11)
    with torch.no_grad():
        final = float(torch.nn.functional.cross_entropy(out.model(x), y))
    assert final == pytest.approx(out.train_losses[out.best], rel=1e-10)


def test_stacked_layers_backward_against_finite_differences_and_autograd() -> None:
    """The hand-written backward pass of the batched training against gradcheck and autograd of the model itself."""
    gen = torch.Generator().manual_seed(3)
    k, n_layers, d, n, a = 2, 4, 3, 5, 0.3
    dw = (0.3 * torch.randn(k, n_layers, d, d, generator=gen, dtype=DT)).requires_grad_(True)
    db = (0.3 * torch.randn(k, n_layers, 1, d, generator=gen, dtype=DT)).requires_grad_(True)
    x = torch.randn(n, d, generator=gen, dtype=DT)
    assert torch.autograd.gradcheck(lambda w, b: _StackedLayers.apply(w, b, x, a), (dw, db))
    weights = torch.randn(k, n, d, generator=gen, dtype=DT)
    grads = torch.autograd.grad((_StackedLayers.apply(dw, db, x, a) * weights).sum(), (dw, db))
    for j in range(k):
        model = FreeLayerClassifier(d, n_layers, T=1.0, gamma=a * n_layers)
        with torch.no_grad():
            model.delta_w.copy_(dw[j])
            model.delta_b.copy_(db[j, :, 0])
        (model.features(x) * weights[j]).sum().backward()
        torch.testing.assert_close(grads[0][j], model.delta_w.grad, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(grads[1][j, :, 0], model.delta_b.grad, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("before", [False, True])
def test_flush_denormals_is_on_inside_and_restored_after(before: bool) -> None:
    def subnormal_survives() -> bool:
        return bool(torch.tensor([5e-324], dtype=DT).mul(1.0)[0] != 0)

    assert torch.set_flush_denormal(before)  # this CPU supports the mode (x86 with SSE3)
    try:
        assert subnormal_survives() is not before
        with _flush_denormals():
            assert not subnormal_survives()
        assert subnormal_survives() is not before
    finally:
        torch.set_flush_denormal(False)


def test_training_separates_the_3d_disc_from_the_annulus() -> None:
    """A smoke test of the science: 20 layers in 3-D lift the disc out of the plane (a few seconds)."""
    from ctdepth_lib.data import disc_annulus_dataset

    x, y = disc_annulus_dataset(200, 3, seed=0)
    out = train_free_layer_classifier(x, y, n_layers=20, lr=1e-2, steps=300, restarts=2, seed=0)
    with torch.no_grad():
        assert float((out.model(x).argmax(1) == y).double().mean()) >= 0.99


def test_training_stops_when_every_run_diverges() -> None:
    x = torch.tensor([[1e120, 0.0], [0.0, 1e120]], dtype=DT)
    with pytest.raises(TrainingDiverged, match=r"^training stopped at step 0: every run's loss is NaN or infinite"):
        train_free_layer_classifier(x, torch.tensor([0, 1]), n_layers=2, steps=3, restarts=2)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"x": np.zeros((3, 2, 1))}, ValueError, r"^x must have shape \(n_samples, n_features\)"),
        ({"y": np.array([0, 1])}, ValueError, r"^y must hold one label per row of x"),
        ({"y": np.array([0, 0, 0, 0])}, ValueError, r"^y must hold at least two classes"),
        ({"n_layers": 0}, ValueError, r"^n_layers must be an integer >= 1; got 0"),
        ({"T": -1.0}, ValueError, r"^T must be a finite number > 0"),
        ({"gamma": -1.0}, ValueError, r"^gamma must be a finite number >= 0"),
        ({"init_scale": -0.1}, ValueError, r"^init_scale must be a finite number >= 0"),
        ({"lr": 0.0}, ValueError, r"^lr must be a finite number > 0"),
        ({"steps": 0}, ValueError, r"^steps must be an integer >= 1; got 0"),
        ({"restarts": 0}, ValueError, r"^restarts must be an integer >= 1; got 0"),
        ({"restarts": 2.0}, TypeError, r"^restarts must be an integer >= 1"),
        ({"seed": -1}, ValueError, r"^seed must be an integer >= 0"),
    ],
)
def test_training_rejects(kwargs: dict, error: type, match: str) -> None:
    args = {"x": np.zeros((4, 2)), "y": np.array([0, 1, 0, 1]), "n_layers": 2, "steps": 1, "restarts": 1, **kwargs}
    x, y = args.pop("x"), args.pop("y")
    with pytest.raises(error, match=match):
        train_free_layer_classifier(x, y, **args)


# --------------------------------------------------------------------------- the grid of the disc
def test_disc_grid_points_and_count() -> None:
    g = disc_grid(1.5, 0.02)
    assert g.dtype == DT and g.shape[1] == 2
    assert float(torch.linalg.vector_norm(g, dim=1).max()) <= 1.5 + 1e-12
    # every lattice point inside is there exactly once: count by brute force over integer pairs
    i = np.arange(-75, 76)
    brute = int(((0.02 * i[:, None]) ** 2 + (0.02 * i[None, :]) ** 2 <= 1.5**2 * (1 + 1e-12)).sum())
    assert g.shape[0] == brute
    assert abs(g.shape[0] - math.pi * 1.5**2 / 0.02**2) < 4 * 1.5 / 0.02  # Gauss circle problem: O(r/h)
    assert bool((g == 0).all(1).any())  # the centre is a lattice point
    steps = torch.unique(torch.diff(torch.unique(g[:, 0])))
    torch.testing.assert_close(steps, torch.full_like(steps, 0.02), rtol=1e-9, atol=1e-12)
    g3 = disc_grid(1.5, 0.02, 3)
    assert g3.shape == (g.shape[0], 3) and bool((g3[:, 2] == 0).all()) and torch.equal(g3[:, :2], g)


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((0.0, 0.1), ValueError, r"^radius must be a finite number > 0"),
        ((1.0, -0.1), ValueError, r"^spacing must be a finite number > 0"),
        ((1.0, 2.0), ValueError, r"^spacing must be <= radius = 1\.0"),
        ((1.0, 0.1, 4), ValueError, r"^dim must be 2 or 3; got 4"),
        (("1", 0.1), TypeError, r"^radius must be a .*real number"),
    ],
)
def test_disc_grid_rejects(args: tuple, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        disc_grid(*args)
