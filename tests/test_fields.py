"""ctdepth_lib.fields: TimeMLP, the symmetric fields (their symmetry laws and controls), seeded_normal."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from scipy.linalg import expm

import ctdepth_lib as cl
from ctdepth_lib.fields import activation_fn, seeded_normal

DT = torch.float64
T0 = torch.tensor(0.3, dtype=DT)


def _rng(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_formula_and_batching() -> None:
    f = cl.TimeMLP(3, 5, seed=7)
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(0))
    t = torch.tensor(0.3)
    expected = torch.tanh(x @ f.w1.T + t * f.u + f.b1) @ f.w2.T + f.b2
    torch.testing.assert_close(f(t, x), expected, rtol=0, atol=0)
    torch.testing.assert_close(f(t, x[1]), expected[1], rtol=1e-15, atol=1e-15)


def test_seed_fixes_weights_and_leaves_global_rng() -> None:
    torch.manual_seed(0)
    a = torch.rand(1)
    torch.manual_seed(0)
    f1, f2 = cl.TimeMLP(2, seed=1), cl.TimeMLP(2, seed=1)
    assert torch.equal(torch.rand(1), a)
    assert all(torch.equal(p, q) for p, q in zip(f1.parameters(), f2.parameters()))
    assert not torch.equal(cl.TimeMLP(2, seed=2).w1, f1.w1)


def test_time_mlp_dtype_rounds_the_float64_draw() -> None:
    f64, f32 = cl.TimeMLP(3, 4, seed=3), cl.TimeMLP(3, 4, seed=3, dtype=torch.float32)
    assert all(p.dtype == torch.float32 for p in f32.parameters())
    assert all(torch.equal(p.to(torch.float32), q) for p, q in zip(f64.parameters(), f32.parameters(), strict=True))


# --- seeded_normal and the activations ---------------------------------------------------


def test_seeded_normal_is_scaled_standard_normal() -> None:
    """w = z·scale/√fan_in with z ~ N(0, 1) from the generator; successive calls continue its stream."""
    gen, ref = _rng(4), _rng(4)
    w = seeded_normal(gen, 2, 3, scale=0.5, fan_in=4)
    v = seeded_normal(gen, 5, scale=2.0, fan_in=1, dtype=torch.float32)
    assert w.shape == (2, 3) and w.dtype == DT and v.dtype == torch.float32
    assert torch.equal(w, torch.randn(2, 3, generator=ref, dtype=DT) * 0.25)
    assert torch.equal(v, (torch.randn(5, generator=ref, dtype=DT) * 2.0).to(torch.float32))
    big = seeded_normal(_rng(5), 200_000, scale=3.0, fan_in=9)
    assert abs(float(big.std()) - 1.0) < 0.01 and abs(float(big.mean())) < 0.01


def test_activations() -> None:
    z = torch.linspace(-2, 2, 9, dtype=DT)
    np.testing.assert_array_equal(activation_fn("relu")(z).numpy(), np.maximum(z.numpy(), 0))
    zn = z.numpy()
    np.testing.assert_array_equal(activation_fn("leaky_relu", 0.1)(z).numpy(), np.where(zn > 0, zn, 0.1 * zn))
    np.testing.assert_allclose(activation_fn("tanh")(z).numpy(), np.tanh(z.numpy()), rtol=1e-15)
    assert set(cl.ACTIVATIONS) == {"relu", "leaky_relu", "tanh"}


# --- symmetries of the Noether fields ------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 1000), c=st.floats(0.01, 100.0), act=st.sampled_from(["relu", "leaky_relu"]))
def test_homogeneous_field_is_positively_homogeneous(seed: int, c: float, act: str) -> None:
    f = cl.HomogeneousField(3, 8, activation=act, seed=seed)
    x = torch.randn(4, 3, generator=_rng(seed), dtype=DT)
    with torch.no_grad():
        np.testing.assert_allclose(f(T0, c * x).numpy(), c * f(T0, x).numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("act", "bias"), [("relu", True), ("tanh", False)])
def test_controls_are_not_homogeneous(act: str, bias: bool) -> None:
    f = cl.HomogeneousField(3, 8, activation=act, bias=bias, seed=0)
    x = torch.randn(3, generator=_rng(6), dtype=DT)
    with torch.no_grad():
        assert float((f(T0, 2 * x) - 2 * f(T0, x)).abs().max()) > 1e-2


def test_homogeneous_field_formula() -> None:
    """A(t) φ(B(t) x + b_in) + b_out written out with NumPy (leaky slope 0.3, biases on)."""
    f = cl.HomogeneousField(3, 5, activation="leaky_relu", negative_slope=0.3, bias=True, seed=1)
    a0, a1, b0, b1, bi, bo = (w.detach().numpy() for w in (f.a0, f.a1, f.b0, f.b1, f.bias_in, f.bias_out))
    x = torch.randn(4, 3, generator=_rng(2), dtype=DT)
    u = x.numpy() @ (b0 + 0.3 * b1).T + bi
    want = np.where(u > 0, u, 0.3 * u) @ (a0 + 0.3 * a1).T + bo
    with torch.no_grad():
        np.testing.assert_allclose(f(T0, x).numpy(), want, rtol=1e-13, atol=1e-14)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 1000), s=st.floats(-10.0, 10.0))
def test_translation_field_is_invariant(seed: int, s: float) -> None:
    v = torch.tensor([1.0, 2.0, -1.0], dtype=DT)
    f = cl.TranslationInvariantField(3, v, seed=seed)
    x = torch.randn(5, 3, generator=_rng(seed), dtype=DT)
    with torch.no_grad():
        np.testing.assert_allclose(f(T0, x + s * v).numpy(), f(T0, x).numpy(), rtol=1e-12, atol=1e-12)
    control = cl.TranslationInvariantField(3, v, symmetric=False, seed=seed)
    with torch.no_grad():
        assert float((control(T0, x + 1.0 * v) - control(T0, x)).abs().max()) > 1e-3


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 1000), angle=st.floats(-3.0, 3.0))
def test_rotation_field_is_equivariant(seed: int, angle: float) -> None:
    f = cl.RotationEquivariantField(4, 1, 3, seed=seed)
    r = torch.from_numpy(expm(angle * cl.rotation_generator(4, 1, 3).numpy()))
    x = torch.randn(5, 4, generator=_rng(seed), dtype=DT)
    with torch.no_grad():
        np.testing.assert_allclose(f(T0, x @ r.T).numpy(), f(T0, x).numpy() @ r.numpy().T, rtol=1e-12, atol=1e-12)


def test_rotation_control_is_not_equivariant() -> None:
    f = cl.RotationEquivariantField(3, symmetric=False, seed=0)
    r = torch.from_numpy(expm(1.0 * cl.rotation_generator(3).numpy()))
    x = torch.randn(3, generator=_rng(7), dtype=DT)
    with torch.no_grad():
        assert float((f(T0, x @ r.T) - f(T0, x) @ r.T).abs().max()) > 1e-3


# --- bad input: one table per public face -------------------------------------------------

_SIZES = [
    ({"d": 0}, ValueError, r"^d must be an integer >= 1"),
    ({"d": 2.0}, TypeError, r"^d must be an integer"),
    ({"width": 0}, ValueError, r"^width must be an integer >= 1"),
    ({"width": 2.5}, TypeError, r"^width must be an integer"),
    ({"scale": 0}, ValueError, r"^scale must be a finite number > 0"),
    ({"scale": float("inf")}, ValueError, r"^scale must be a finite number > 0"),
    ({"scale": "1"}, TypeError, r"^scale must be a positive real number"),
]


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        ({"gen": 0}, TypeError, r"^gen must be a torch.Generator"),
        ({"shape": (2, -1)}, ValueError, r"^shape must be an integer >= 0"),
        ({"scale": 0.0}, ValueError, r"^scale must be a finite number > 0"),
        ({"fan_in": 0}, ValueError, r"^fan_in must be an integer >= 1"),
        ({"dtype": torch.int64}, TypeError, r"^dtype must be a floating"),
    ],
)
def test_seeded_normal_rejects(bad: dict, error: type, match: str) -> None:
    args = {"gen": _rng(0), "shape": (2, 3), "scale": 1.0, "fan_in": 3, "dtype": DT} | bad
    with pytest.raises(error, match=match):
        seeded_normal(args.pop("gen"), *args.pop("shape"), **args)


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        ({"name": "gelu"}, ValueError, r"^activation must be one of"),
        ({"name": None}, TypeError, r"^activation must be one of"),
        ({"negative_slope": "0.1"}, TypeError, r"^negative_slope must be a real number"),
        ({"negative_slope": float("nan")}, ValueError, r"^negative_slope must be a finite number"),
    ],
)
def test_activation_fn_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        activation_fn(**({"name": "leaky_relu", "negative_slope": 0.2} | bad))


@pytest.mark.parametrize(
    ("bad", "error", "match"), [*_SIZES, ({"dtype": torch.int64}, TypeError, r"^dtype must be a floating")]
)
def test_time_mlp_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        cl.TimeMLP(**({"d": 2} | bad))


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        *_SIZES,
        ({"activation": "gelu"}, ValueError, r"^activation must be one of"),
        ({"negative_slope": None}, TypeError, r"^negative_slope must be a real number"),
    ],
)
def test_homogeneous_field_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        cl.HomogeneousField(**({"d": 2} | bad))


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        *_SIZES[2:],
        ({"d": 1}, ValueError, r"^d must be an integer >= 2"),
        ({"v": torch.ones(2, dtype=DT)}, ValueError, r"^v must be a direction of shape \(d,\) = \(3,\)"),
        ({"v": torch.zeros(3, dtype=DT)}, ValueError, r"^v must be a non-zero direction"),
        ({"v": [1.0, 0.0, 0.0]}, TypeError, r"^v must be a torch.Tensor"),
    ],
)
def test_translation_invariant_field_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        cl.TranslationInvariantField(**({"d": 3} | bad))


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        *_SIZES[2:],
        ({"d": 1}, ValueError, r"^d must be an integer >= 2"),
        ({"i": 1, "j": 1}, ValueError, r"^i and j must differ"),
        ({"j": 3}, ValueError, r"^j must be an integer in \[0, 2\]"),
        ({"i": 0.0}, TypeError, r"^i must be an integer"),
    ],
)
def test_rotation_equivariant_field_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        cl.RotationEquivariantField(**({"d": 3} | bad))
