"""Vector fields used across the book: small time-dependent MLPs with fixed seeds."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["TimeMLP"]


class TimeMLP(nn.Module):
    """A time-dependent one-hidden-layer MLP field ``f(t, x) = W₂ tanh(W₁x + t·u + b₁) + b₂``.

    Shapes: ``x`` is ``(d,)`` or ``(batch, d)``, ``t`` a 0-d tensor; the output has
    ``x``'s shape.  Weights are drawn from a normal law with a fixed seed and
    scaled by ``scale / sqrt(fan_in)``, so ``f`` is smooth, Lipschitz and of
    order ``scale``.

    Args:
        d: state dimension (≥ 1).
        width: hidden width (≥ 1).
        seed: seed of the weights (the global RNG is left untouched).
        scale: overall size of the field (> 0).
        dtype: floating dtype of the parameters (float64 for every claim).
    """

    def __init__(
        self, d: int, width: int = 16, *, seed: int = 0, scale: float = 1.0, dtype: torch.dtype = torch.float64
    ) -> None:
        super().__init__()
        for name, value in (("d", d), ("width", width)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
        if not isinstance(scale, (int, float)) or not scale > 0:
            raise ValueError(f"scale must be a number > 0; got {scale!r}")
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"dtype must be a floating torch.dtype; got {dtype!r}")
        gen = torch.Generator().manual_seed(int(seed))

        def draw(*shape: int, fan_in: int) -> nn.Parameter:
            w = torch.randn(*shape, generator=gen, dtype=torch.float64) * (scale / fan_in**0.5)
            return nn.Parameter(w.to(dtype))

        self.w1 = draw(width, d, fan_in=d)
        self.u = draw(width, fan_in=1)
        self.b1 = draw(width, fan_in=1)
        self.w2 = draw(d, width, fan_in=width)
        self.b2 = draw(d, fan_in=width)

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``W₂ tanh(W₁x + t·u + b₁) + b₂`` for ``x`` of shape ``(d,)`` or ``(batch, d)``."""
        hidden = torch.tanh(x @ self.w1.T + t * self.u + self.b1)
        return hidden @ self.w2.T + self.b2
