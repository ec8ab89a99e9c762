"""Shared test cases of the field-based tests (momenta, finite differences, Jacobians, phase space, invariants).

Small fields with known derivatives and seeded random matrices, all float64; the independent
references stay in each test.
"""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest
import torch

from ctdepth_lib import TimeMLP, _validate

DT = torch.float64


def rng(seed: int = 0) -> torch.Generator:
    """A fresh ``torch.Generator`` seeded with ``seed``."""
    return torch.Generator().manual_seed(seed)


def matrix(d: int, seed: int = 0, scale: float = 0.7) -> torch.Tensor:
    """A random ``(d, d)`` matrix of spectral size about ``scale``."""
    return scale * torch.randn(d, d, generator=rng(seed), dtype=DT) / d**0.5


def contracting_field(d: int, k: float = 1.0, seed: int = 0):
    """``f(t, x) = −k x + 0.3 TimeMLP(t, x)``: smooth, time-dependent, contracting for ``k ≳ 1``."""
    mlp = TimeMLP(d, 8, seed=seed)

    def f(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return -k * x + 0.3 * mlp(t, x)

    return f


def linear(a: torch.Tensor):
    """``f(t, x) = a x`` (row-vector form ``x @ aᵀ``)."""
    return lambda t, x: x @ a.T


def fd_jacobian(fun, z: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Central finite differences, one column per coordinate (the independent reference)."""
    cols = []
    for k in range(z.numel()):
        e = torch.zeros_like(z)
        e[k] = eps
        cols.append((fun(z + e) - fun(z - e)) / (2 * eps))
    return torch.stack(cols, dim=-1)


class TanhField(torch.nn.Module):
    """Autonomous f(x) = tanh(W x + b) with an explicit Jacobian for the references."""

    def __init__(self, d: int, seed: int = 1) -> None:
        super().__init__()
        g = rng(seed)
        self.w = torch.nn.Parameter(torch.randn(d, d, generator=g, dtype=DT) / d**0.5)
        self.b = torch.nn.Parameter(0.3 * torch.randn(d, generator=g, dtype=DT))

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x @ self.w.T + self.b)

    def np_f(self, x: np.ndarray) -> np.ndarray:
        return np.tanh(self.w.detach().numpy() @ x + self.b.detach().numpy())

    def np_jac(self, x: np.ndarray) -> np.ndarray:
        w = self.w.detach().numpy()
        s = np.tanh(w @ x + self.b.detach().numpy())
        return (1 - s**2)[:, None] * w


_SCIENCE_MODULES = (
    "solvers", "resnet", "fields", "momenta", "gradients", "finite_differences", "phase_space", "jacobians", "lagrange",
    "invariants", "near_identity", "feedforward", "leaky_limit", "models", "training",
)  # fmt: skip


def count_time_grid_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count every call of the time-grid check, whatever module calls it; returns the list of names checked.

    Every module of the package that holds ``check_time_grid`` (imported by name, or ``_validate``
    itself) gets a counting wrapper, so no call escapes the count.
    """
    for name in _SCIENCE_MODULES:  # load them first: a module imported later would bind the original
        importlib.import_module(f"ctdepth_lib.{name}")
    calls: list[str] = []
    original = _validate.check_time_grid

    def counting(name: str, *args: object, **kwargs: object) -> torch.Tensor:
        calls.append(name)
        return original(name, *args, **kwargs)

    for module_name, module in list(sys.modules.items()):
        if module_name.startswith("ctdepth_lib") and getattr(module, "check_time_grid", None) is original:
            monkeypatch.setattr(module, "check_time_grid", counting)
    return calls
