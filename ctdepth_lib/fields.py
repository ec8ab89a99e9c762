"""Vector fields used across the book, with weights drawn from fixed seeds.

- :class:`TimeMLP` — a smooth time-dependent MLP ``f(t, x) = W₂ tanh(W₁x + t·u + b₁) + b₂``;
- the symmetric fields of the Noether chapter, each with a control that breaks its symmetry:
  :class:`HomogeneousField` (scaling, claim N1), :class:`TranslationInvariantField`
  (translation, claim N2) and :class:`RotationEquivariantField` (rotation, claim N3).

Every weight is drawn by :func:`seeded_normal` from a ``torch.Generator`` of the field's own
seed (the global RNG is left untouched).  Fields are ``nn.Module`` s called as ``f(t, x)``
(torchdiffeq's order) with ``t`` a 0-d tensor and ``x`` of shape ``(d,)`` or ``(batch, d)``;
the output has ``x``'s shape.

Reference: E. Noether, *Invariante Variationsprobleme* (1918); Hairer, Lubich & Wanner,
*Geometric Numerical Integration* (2nd ed., 2006), §IV.1–IV.2 and §VI.6.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ._validate import check_choice, check_float_dtype, check_int, check_positive, check_real, check_type
from .invariants import _check_plane, check_direction

__all__ = [
    "ACTIVATIONS",
    "HomogeneousField",
    "RotationEquivariantField",
    "TimeMLP",
    "TranslationInvariantField",
    "activation_fn",
    "seeded_normal",
]

#: Activations of the example fields; ``relu`` and ``leaky_relu`` are positively homogeneous, ``tanh`` is not.
ACTIVATIONS = ("relu", "leaky_relu", "tanh")


def seeded_normal(
    gen: torch.Generator, *shape: int, scale: float, fan_in: int, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """Weights ``w = z · scale / √fan_in`` with ``z`` i.i.d. standard normal, drawn from ``gen``.

    ``z`` is drawn in float64 (so a seed gives the same weights in every dtype) and ``w`` is
    then cast to ``dtype``.  Successive calls on one generator continue its stream, so the
    order of the calls fixes the weights.

    Args:
        gen: the generator (seeded by the caller; the global RNG is not used).
        shape: the shape of ``w``.
        scale: the overall size; fan_in: the number of inputs a weight multiplies (``1`` for biases).
        dtype: floating dtype of the result.

    Returns:
        A tensor of shape ``shape`` (variance ``scale² / fan_in``).
    """
    check_type("gen", gen, torch.Generator, "a torch.Generator")
    for size in shape:
        check_int("shape", size, 0)
    return _seeded_normal(
        gen, shape, check_positive("scale", scale), check_int("fan_in", fan_in, 1), check_float_dtype("dtype", dtype)
    )


def _seeded_normal(
    gen: torch.Generator, shape: tuple[int, ...], scale: float, fan_in: int, dtype: torch.dtype
) -> torch.Tensor:
    """The unchecked core of :func:`seeded_normal` (the fields and models draw their weights with it)."""
    w = torch.randn(*shape, generator=gen, dtype=torch.float64) * (scale / fan_in**0.5)
    return w.to(dtype)


def activation_fn(name: str, negative_slope: float = 0.2) -> Callable[[torch.Tensor], torch.Tensor]:
    """The elementwise activation ``φ`` named ``name``: ``relu``, ``leaky_relu`` (``max(z, s z)``) or ``tanh``.

    Args:
        name: one of :data:`ACTIVATIONS`.
        negative_slope: the slope ``s`` of leaky ReLU for ``z < 0`` (a finite real number).
    """
    check_choice("activation", name, ACTIVATIONS)
    negative_slope = check_real("negative_slope", negative_slope)
    if name == "relu":
        return torch.relu
    if name == "leaky_relu":
        return lambda z: torch.nn.functional.leaky_relu(z, negative_slope)
    return torch.tanh


def _drawer(
    d: int, width: int, seed: int, scale: float, *, d_min: int = 1, dtype: torch.dtype = torch.float64
) -> Callable[..., nn.Parameter]:
    """The checks every field shares (``d ≥ d_min``, ``width ≥ 1``, ``scale > 0``) and its weights:
    ``draw(*shape, fan_in)`` gives parameters from :func:`seeded_normal` on one generator of ``seed``."""
    check_int("d", d, d_min)
    check_int("width", width, 1)
    size = check_positive("scale", scale)
    gen = torch.Generator().manual_seed(int(seed))

    def draw(*shape: int, fan_in: int) -> nn.Parameter:
        return nn.Parameter(_seeded_normal(gen, shape, size, fan_in, dtype))

    return draw


def _mlp_weights(draw: Callable[..., nn.Parameter], n_in: int, width: int, n_out: int) -> tuple[nn.Parameter, ...]:
    """``(W₁, u, b₁, W₂, b₂)`` of ``W₂ tanh(W₁ s + t u + b₁) + b₂``, drawn in this order.

    Shapes ``(width, n_in)``, ``(width,)``, ``(width,)``, ``(n_out, width)``, ``(n_out,)``; fan-ins
    ``n_in``, 1, 1, ``width``, ``width``.
    """
    w1, u, b1 = draw(width, n_in, fan_in=n_in), draw(width, fan_in=1), draw(width, fan_in=1)
    return w1, u, b1, draw(n_out, width, fan_in=width), draw(n_out, fan_in=width)


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
        draw = _drawer(d, width, seed, scale, dtype=check_float_dtype("dtype", dtype))
        self.w1, self.u, self.b1, self.w2, self.b2 = _mlp_weights(draw, d, width, d)

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``W₂ tanh(W₁x + t·u + b₁) + b₂`` for ``x`` of shape ``(d,)`` or ``(batch, d)``."""
        hidden = torch.tanh(x @ self.w1.T + t * self.u + self.b1)
        return hidden @ self.w2.T + self.b2


class HomogeneousField(nn.Module):
    """``f(t, x) = A(t) φ(B(t) x + b_in) + b_out`` with ``A(t) = A_0 + t A_1``, ``B(t) = B_0 + t B_1``.

    With ``bias=False`` and ``φ`` = ReLU or leaky ReLU, ``f(t, c x) = c f(t, x)`` for every
    ``c > 0``: positively homogeneous of degree 1 in ``x`` at every ``t`` (time dependence
    allowed), so ``p · x`` is conserved (claim N1).  ``bias=True`` or ``activation="tanh"``
    are the controls that break the symmetry.

    Shapes: ``x`` is ``(d,)`` or ``(batch, d)``, ``t`` a 0-d tensor; the output has ``x``'s shape.

    Args:
        d: state dimension ≥ 1; width: hidden width ≥ 1.
        activation: one of :data:`ACTIVATIONS`; negative_slope: of leaky ReLU.
        bias: add the biases ``b_in``, ``b_out`` (breaks homogeneity).
        time_dependent: include ``t A_1``, ``t B_1``.
        seed: seed of the weights (the global RNG is untouched); scale: size of the weights (> 0).
    """

    def __init__(
        self,
        d: int,
        width: int = 16,
        *,
        activation: str = "relu",
        negative_slope: float = 0.2,
        bias: bool = False,
        time_dependent: bool = True,
        seed: int = 0,
        scale: float = 1.0,
    ) -> None:
        super().__init__()
        draw = _drawer(d, width, seed, scale)
        self._phi, self.activation = activation_fn(activation, negative_slope), activation
        self.a0, self.b0 = draw(d, width, fan_in=width), draw(width, d, fan_in=d)
        self.a1, self.b1 = draw(d, width, fan_in=width), draw(width, d, fan_in=d)
        self.bias_in, self.bias_out = draw(width, fan_in=1), draw(d, fan_in=1)
        self.bias, self.time_dependent = bool(bias), bool(time_dependent)

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``A(t) φ(B(t) x [+ b_in]) [+ b_out]``."""
        tt = t if self.time_dependent else torch.zeros_like(t)
        a, b = self.a0 + tt * self.a1, self.b0 + tt * self.b1
        z = x @ b.mT
        if self.bias:
            z = z + self.bias_in
        out = self._phi(z) @ a.mT
        return out + self.bias_out if self.bias else out


class TranslationInvariantField(nn.Module):
    """``f(t, x) = W_2 tanh(W_1 P x + t u + b_1) + b_2`` with ``P = I − v vᵀ/|v|²`` (``symmetric=True``).

    ``P v = 0``, so ``f(t, x + s v) = f(t, x)`` for all ``s`` and ``p · v`` is conserved
    (claim N2).  ``symmetric=False`` uses ``P = I`` (the control).

    Args:
        d: state dimension ≥ 2; v: the direction ``(d,)``, non-zero (default ``e_0``).
        width, seed, scale: as for :class:`HomogeneousField`.
    """

    def __init__(
        self,
        d: int,
        v: torch.Tensor | None = None,
        width: int = 16,
        *,
        symmetric: bool = True,
        seed: int = 0,
        scale: float = 1.0,
    ) -> None:
        super().__init__()
        draw = _drawer(d, width, seed, scale, d_min=2)
        if v is None:
            v = torch.zeros(d, dtype=torch.float64)
            v[0] = 1.0
        check_direction("v", v, d)
        v = v.to(torch.float64)
        self.register_buffer("v", v)
        proj = torch.eye(d, dtype=torch.float64) - torch.outer(v, v) / (v @ v)
        self.register_buffer("proj", proj if symmetric else torch.eye(d, dtype=torch.float64))
        self.symmetric = bool(symmetric)
        self.w1, self.u, self.b1, self.w2, self.b2 = _mlp_weights(draw, d, width, d)

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``W_2 tanh(W_1 P x + t u + b_1) + b_2``."""
        hidden = torch.tanh(x @ (self.w1 @ self.proj).mT + t * self.u + self.b1)
        return hidden @ self.w2.mT + self.b2


class RotationEquivariantField(nn.Module):
    """A field equivariant under rotations of the ``(x_i, x_j)`` plane (``symmetric=True``).

    Write ``z = (x_i, x_j)`` and ``w`` for the other coordinates.  From the rotation
    invariants ``s = (|z|², w)`` an MLP gives ``(α, β, γ) = W_2 tanh(W_1 s + t u + b_1) + b_2``, and
    ``f_z = α z + β J z`` (``J`` the quarter turn), ``f_w = γ``.  Then ``f(t, R x) = R f(t, x)`` for
    every rotation ``R`` of the plane, and the angular momentum ``x_i p_j − x_j p_i`` is conserved
    (claim N3).  ``symmetric=False`` (the control) also feeds ``x_i`` itself to the MLP.

    Args:
        d: state dimension ≥ 2; i, j: the plane (distinct indices).
        width, seed, scale: as for :class:`HomogeneousField`.
    """

    def __init__(
        self,
        d: int,
        i: int = 0,
        j: int = 1,
        width: int = 16,
        *,
        symmetric: bool = True,
        seed: int = 0,
        scale: float = 1.0,
    ) -> None:
        super().__init__()
        draw = _drawer(_check_plane(check_int("d", d, 2), i, j), width, seed, scale)
        self.d, self.i, self.j, self.symmetric = d, i, j, bool(symmetric)
        self._rest = [k for k in range(d) if k not in (i, j)]
        n_in = d - 1 + (0 if symmetric else 1)
        n_out = 2 + (d - 2)
        self.w1, self.u, self.b1, self.w2, self.b2 = _mlp_weights(draw, n_in, width, n_out)

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``(α z + β J z, γ)`` placed back at the coordinates ``(i, j)`` and the rest."""
        zi, zj = x[..., self.i], x[..., self.j]
        rest = x[..., self._rest]
        feats = [(zi * zi + zj * zj).unsqueeze(-1), rest]
        if not self.symmetric:
            feats.append(zi.unsqueeze(-1))
        s = torch.cat(feats, dim=-1)
        out = torch.tanh(s @ self.w1.mT + t * self.u + self.b1) @ self.w2.mT + self.b2
        alpha, beta, gamma = out[..., 0], out[..., 1], out[..., 2:]
        fi = alpha * zi - beta * zj
        fj = alpha * zj + beta * zi
        cols = [torch.zeros_like(zi)] * self.d
        cols[self.i], cols[self.j] = fi, fj
        for k, col in zip(self._rest, gamma.unbind(-1), strict=True):
            cols[k] = col
        return torch.stack(cols, dim=-1)
