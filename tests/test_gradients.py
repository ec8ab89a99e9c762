"""Tests of ctdepth_lib.gradients against closed forms and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.linalg import expm

from ctdepth_lib import layer_gradients, parameter_density, solver_gradients

DT = torch.float64


def _rng(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


class Affine(torch.nn.Module):
    """f(t, x) = W x + b."""

    def __init__(self, d: int, seed: int = 0, scale: float = 0.6) -> None:
        super().__init__()
        g = _rng(seed)
        self.w = torch.nn.Parameter(scale * torch.randn(d, d, generator=g, dtype=DT) / d**0.5)
        self.b = torch.nn.Parameter(0.2 * torch.randn(d, generator=g, dtype=DT))

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return x @ self.w.T + self.b


class SmallMLP(torch.nn.Module):
    """f(t, x) = V tanh(W x + t u)."""

    def __init__(self, d: int = 2, width: int = 3, seed: int = 0) -> None:
        super().__init__()
        g = _rng(seed)
        self.w = torch.nn.Parameter(torch.randn(width, d, generator=g, dtype=DT))
        self.u = torch.nn.Parameter(torch.randn(width, generator=g, dtype=DT))
        self.v = torch.nn.Parameter(torch.randn(d, width, generator=g, dtype=DT) / width)

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x @ self.w.T + t * self.u) @ self.v.T


def half_square(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * (x**2).sum()


def test_parameter_density_affine_closed_form() -> None:
    # ∂/∂W [p·(Wx + b)] = Σ_batch pᵀx,  ∂/∂b = Σ_batch p.
    f = Affine(3)
    ts = torch.linspace(0.0, 1.0, 5, dtype=DT)
    xs = torch.randn(5, 4, 3, generator=_rng(1), dtype=DT)
    ps = torch.randn(5, 4, 3, generator=_rng(2), dtype=DT)
    dens = parameter_density(f, ts, xs, ps)
    np.testing.assert_allclose(dens["w"].numpy(), np.einsum("nbi,nbj->nij", ps.numpy(), xs.numpy()), rtol=1e-13)
    np.testing.assert_allclose(dens["b"].numpy(), ps.sum(1).numpy(), rtol=1e-13)
    single = parameter_density(f, ts, xs[:, 0], ps[:, 0])
    assert single["w"].shape == (5, 3, 3)


def _untied_loss(f: SmallMLP, x0: torch.Tensor, ts: torch.Tensor, thetas: list[dict[str, torch.Tensor]]) -> float:
    x = x0
    for n in range(len(thetas)):
        x = x + (ts[n + 1] - ts[n]) * torch.func.functional_call(f, thetas[n], (ts[n], x))
    return float(half_square(x))


def test_layer_gradients_finite_differences() -> None:
    f = SmallMLP()
    x0 = torch.randn(3, 2, generator=_rng(3), dtype=DT)
    ts = torch.linspace(0.0, 1.0, 5, dtype=DT)
    grads = layer_gradients(f, x0, ts, half_square)
    base = {k: v.detach() for k, v in f.named_parameters()}
    eps = 1e-6
    with torch.no_grad():
        for n in (0, 3):
            for name in ("w", "v"):
                fd = np.zeros(base[name].numel())
                for k in range(fd.size):
                    vals = []
                    for sign in (1, -1):
                        thetas = [dict(base) for _ in range(4)]
                        bumped = base[name].clone().reshape(-1)
                        bumped[k] += sign * eps
                        thetas[n] = {**base, name: bumped.reshape(base[name].shape)}
                        vals.append(_untied_loss(f, x0, ts, thetas))
                    fd[k] = (vals[0] - vals[1]) / (2 * eps)
                np.testing.assert_allclose(grads[name][n].reshape(-1).numpy(), fd, rtol=1e-6, atol=1e-9)
    assert grads["u"].shape == (4, 3)


def test_solver_gradients_linear_closed_form() -> None:
    # f = W x + b, L = |x(T)|²/2: dL/dx0 = e^{WᵀT} x(T) for both direct and adjoint dopri5.
    f = Affine(3, seed=4)
    x0 = torch.randn(3, generator=_rng(5), dtype=DT)
    ts = torch.tensor([0.0, 1.0], dtype=DT)
    w, b = f.w.detach().numpy(), f.b.detach().numpy()
    big = np.zeros((4, 4))
    big[:3, :3], big[:3, 3] = w, b
    x_t = (expm(big) @ np.append(x0.numpy(), 1.0))[:3]
    expected = expm(w.T) @ x_t
    for adjoint in (False, True):
        gx, gp = solver_gradients(f, x0, ts, half_square, adjoint=adjoint, rtol=1e-11, atol=1e-11)
        np.testing.assert_allclose(gx.numpy(), expected, rtol=1e-8)
        assert set(gp) == {"w", "b"}


def test_solver_gradients_parameter_finite_differences() -> None:
    f = SmallMLP(seed=6)
    x0 = torch.randn(2, generator=_rng(7), dtype=DT)
    ts = torch.tensor([0.0, 1.0], dtype=DT)
    _, gp = solver_gradients(f, x0, ts, half_square, adjoint=True, rtol=1e-11, atol=1e-11)
    from ctdepth_lib import odeint

    eps = 1e-5
    with torch.no_grad():
        for k in range(f.u.numel()):
            vals = []
            for sign in (1, -1):
                f.u[k] += sign * eps
                vals.append(float(half_square(odeint(f, x0, ts, rtol=1e-12, atol=1e-12)[-1])))
                f.u[k] -= sign * eps
            assert abs(float(gp["u"][k]) - (vals[0] - vals[1]) / (2 * eps)) <= 1e-7


# --- bad input: one table per public face -------------------------------------------------

_TS = torch.linspace(0.0, 1.0, 3, dtype=DT)
_XS = torch.zeros(3, 2, dtype=DT)
_MODULE_CASES = [
    ({"f": lambda t, x: x}, TypeError, r"^f must be a torch.nn.Module"),
    ({"f": torch.nn.Identity()}, ValueError, r"^f must have at least one parameter"),
]
_LOSS_CASES = [
    ({"loss": None}, TypeError, r"^loss must be callable"),
    ({"loss": lambda x: x}, ValueError, r"^loss\(x_N\) must return a scalar"),
]


class _Narrow(Affine):
    """A field that returns one coordinate too few."""

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return super().forward(t, x)[..., :1]


_OUTPUT_CASES = [({"f": _Narrow(2)}, ValueError, r"^f\(t, x\) must return the shape of x")]
_X0_CASES = [
    ({"x0": torch.zeros(2, dtype=torch.int32)}, TypeError, r"^x0 must have a floating-point dtype"),
    ({"x0": torch.zeros(1, 1, 2, dtype=DT)}, ValueError, r"^x0 must have shape"),
    ({"ts": _TS.float()}, TypeError, r"^ts must have the dtype of x0"),
    ({"ts": _TS[[0, 2, 1]]}, ValueError, r"^ts must be strictly"),
]


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        *_MODULE_CASES,
        ({"xs": torch.zeros(3, dtype=DT), "ps": torch.zeros(3, dtype=DT)}, ValueError, r"^xs must have shape"),
        ({"ps": torch.zeros(3, 3, dtype=DT)}, ValueError, r"^ps must have the shape of xs"),
        ({"ts": _TS[:2]}, ValueError, r"^ts must hold one time per row of xs"),
        ({"ts": _TS.flip(0)[[0, 2, 1]]}, ValueError, r"^ts must be strictly"),
    ],
)
def test_parameter_density_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        parameter_density(**({"f": Affine(2), "ts": _TS, "xs": _XS, "ps": _XS} | bad))


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [*_MODULE_CASES, *_X0_CASES, *_LOSS_CASES, *_OUTPUT_CASES],
)
def test_layer_gradients_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        layer_gradients(**({"f": Affine(2), "x0": _XS[0], "ts": _TS, "loss": half_square} | bad))


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        *_MODULE_CASES,
        *_X0_CASES,
        *_LOSS_CASES,
        *_OUTPUT_CASES,
        ({"rtol": 0.0}, ValueError, r"^rtol must be a finite number > 0"),
        ({"method": "rk45"}, ValueError, r"^method must be one of"),
        ({"adjoint": "yes"}, TypeError, r"^adjoint must be a bool"),
        ({"options": 1}, TypeError, r"^options must be a dict or None"),
    ],
)
def test_solver_gradients_rejects(bad: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        solver_gradients(**({"f": Affine(2), "x0": _XS[0], "ts": _TS, "loss": half_square} | bad))
