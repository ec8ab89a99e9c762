"""Shared by the near-identity tests: one set of coefficients ``A(t)``, ``c(t)`` (torch and NumPy) and a grid."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

DT = torch.float64
D = 3

Coefficients = tuple[
    Callable[[torch.Tensor], torch.Tensor],
    Callable[[torch.Tensor], torch.Tensor],
    torch.Tensor,
    Callable[[float], np.ndarray],
    Callable[[float], np.ndarray],
]


def coefficients() -> Coefficients:
    """``(A, c, x0, A_np, c_np)`` with ``A(t) = A_0 + sin(2t) A_1``, ``c(t) = c_0 cos t`` (seed 1, d = 3)."""
    gen = torch.Generator().manual_seed(1)
    A0 = torch.randn(D, D, generator=gen, dtype=DT) / D**0.5
    A1 = torch.randn(D, D, generator=gen, dtype=DT) / D**0.5
    c0 = torch.randn(D, generator=gen, dtype=DT)
    x0 = torch.randn(D, generator=gen, dtype=DT)

    def A(t: torch.Tensor) -> torch.Tensor:
        return A0 + torch.sin(2 * t) * A1

    def c(t: torch.Tensor) -> torch.Tensor:
        return c0 * torch.cos(t)

    def A_np(t: float) -> np.ndarray:
        return A0.numpy() + math.sin(2 * t) * A1.numpy()

    def c_np(t: float) -> np.ndarray:
        return c0.numpy() * math.cos(t)

    return A, c, x0, A_np, c_np


def grid(n: int, T: float = 1.0) -> torch.Tensor:
    """The uniform grid of ``n`` steps on ``[0, T]``."""
    return torch.linspace(0.0, T, n + 1, dtype=DT)
