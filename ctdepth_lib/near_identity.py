"""The near-identity limit ``dx/dt = A(t) x + c(t) + g(x)``: its weak nonlinearities, field and Jacobian laws.

A near-identity feedforward network (:mod:`ctdepth_lib.feedforward`) with weights
``W_n = I + h A(t_n)``, bias ``b_n = h c(t_n)`` and activation ``σ_h(z) = z + h g(z)``
converges to this equation: the equation ``dx/dt = w(t)x + b(t) + g(x)`` and the network
``x_{l+1} = h(W_l x_l + B_l)`` of Ruseckas, arXiv:1909.03767, as the author's talk of
28 October 2019 states them (slides 17–19; ``w = A``, ``b = c``, ``Δt = h``).
This module holds the ODE side:

- the weak elementwise nonlinearities ``g`` with their derivatives ``g′`` and exact flows
  (:class:`Nonlinearity`, :data:`TANH`, :func:`leaky_relu_nonlinearity`, and the talk's
  example ``g(x) = −γx³``, :func:`cubic_nonlinearity`);
- the limit field ``f(t, x) = A(t)x + c(t) + g(x)`` (:func:`near_identity_field`) and
  Hamilton's equations ``dp/dt = −p (A(t) + diag g′(x))`` in closed form
  (:func:`near_identity_momentum_field`);
- its divergence (the volume law) and logarithmic norm (the gradient bound):
  :func:`near_identity_divergence`, :func:`near_identity_log_norm`.

Shapes: ``x`` is ``(d,)`` or ``(batch, d)``; ``A(t)`` is ``(d, d)`` and ``c(t)`` is ``(d,)`` for a
0-d tensor ``t``.

References: J. Ruseckas, *Differential equations and neural networks*, talk, 28 October 2019
(slides 17–19); Duan, Li, Ji & Cai, *Vanilla feedforward neural networks as a discretization of
dynamical systems*, arXiv:2209.10909 (2022); G. Söderlind, *The logarithmic norm. History and
modern theory*, BIT 46 (2006).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ._typing import Field
from ._validate import check_callable, check_real, check_state, check_time, check_type

__all__ = [
    "TANH",
    "NearIdentityField",
    "Nonlinearity",
    "cubic_nonlinearity",
    "leaky_relu_nonlinearity",
    "near_identity_divergence",
    "near_identity_field",
    "near_identity_log_norm",
    "near_identity_momentum_field",
]

MatrixFn = Callable[[torch.Tensor], torch.Tensor]
Elementwise = Callable[[torch.Tensor], torch.Tensor]


# --------------------------------------------------------------------------- nonlinearities
@dataclass(frozen=True)
class Nonlinearity:
    """A weak elementwise nonlinearity ``g`` with its derivative ``g′`` and exact flow.

    The network's activation is ``σ_h(z) = z + h g(z)`` (one Euler step of
    ``dz/dt = g(z)``); ``flow(z, s)`` is the exact time-``s`` flow of that scalar
    equation, used by the exact-subflow splittings.  Calling the object
    evaluates ``g``.

    Attributes:
        name: a label (``"tanh"``, ``"leaky(α=…)"``).
        g: ``z ↦ g(z)``, elementwise, any shape.
        dg: ``z ↦ g′(z)``, elementwise.
        flow: ``(z, s) ↦ φ_s(z)`` with ``dφ/ds = g(φ)``, ``φ_0 = z``.
        homogeneous: whether ``g(λz) = λ g(z)`` for all ``λ > 0`` (so Noether's ``p·x`` law applies).
    """

    name: str
    g: Elementwise
    dg: Elementwise
    flow: Callable[[torch.Tensor, float | torch.Tensor], torch.Tensor]
    homogeneous: bool = False

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return self.g(z)


def _tanh_dg(z: torch.Tensor) -> torch.Tensor:
    return 1 - torch.tanh(z) ** 2


def _tanh_flow(z: torch.Tensor, s: float | torch.Tensor) -> torch.Tensor:
    # dz/ds = tanh z  ⇔  d sinh z / ds = sinh z  ⇒  sinh φ_s(z) = e^s sinh z.
    return torch.asinh(torch.exp(torch.as_tensor(s, dtype=z.dtype)) * torch.sinh(z))


#: ``g = tanh`` (so ``σ_h(z) = z + h tanh z``), with ``g′ = 1 − tanh²`` and flow ``asinh(e^s sinh z)``.
TANH = Nonlinearity("tanh", torch.tanh, _tanh_dg, _tanh_flow)


def leaky_relu_nonlinearity(alpha: float) -> Nonlinearity:
    """``g(z) = α·relu(−z)``: the weak nonlinearity of a leaky ReLU with negative slope ``1 − hα``.

    ``leaky_relu(z; slope 1 − hα) = z + h α relu(−z)`` exactly (claim F2), so a
    leaky-ReLU layer is the Euler step of ``dz/dt = α relu(−z)``, whose exact flow
    is a leaky ReLU with slope ``e^{−α s}`` (Duan et al. 2022).  ``g`` is
    positively homogeneous of degree 1.

    Args:
        alpha: the strength ``α`` (a finite real number; ``α > 0`` damps negative coordinates).
    """
    a = check_real("alpha", alpha)

    def g(z: torch.Tensor) -> torch.Tensor:
        return a * torch.relu(-z)

    def dg(z: torch.Tensor) -> torch.Tensor:
        return torch.where(z < 0, -a, 0.0).to(z.dtype)

    def flow(z: torch.Tensor, s: float | torch.Tensor) -> torch.Tensor:
        return torch.where(z < 0, z * torch.exp(-a * torch.as_tensor(s, dtype=z.dtype)), z)

    return Nonlinearity(f"leaky(α={a:g})", g, dg, flow, homogeneous=True)


def cubic_nonlinearity(gamma: float) -> Nonlinearity:
    """``g(z) = −γ z³``: the talk's example of a weak nonlinearity, with ``g′`` and its exact flow.

    With it the limit is the talk's forward equation (Ruseckas 2019, talk, slide 17)::

        dx_i/dt = Σ_j w_ij(t) x_j + b_i(t) − γ x_i³,
        −da_i/dt = Σ_j a_j w_ji(t) − 3γ x_i² a_i          (backward: the momentum a = p),

    and the network's activation is ``h(z) = z + Δt g(z) = z − γ Δt z³`` (slide 19).
    ``g′(z) = −3γ z²``.  The exact flow of ``dz/ds = −γ z³`` follows from
    ``d(z⁻²)/ds = 2γ``: ``φ_s(z) = z / √(1 + 2γ s z²)``, defined for ``s ≥ 0`` (and for
    ``s < 0`` while ``1 + 2γ s z² > 0``; beyond that the backward flow has blown up and the
    result is NaN).  A standard ``tanh`` layer at small amplitude is this activation with
    ``γ = 1/3``, since ``tanh u = u − u³/3 + O(u⁵)``.  ``g`` is homogeneous of degree 3,
    not 1, so Noether's ``p·x`` law does not apply (``homogeneous=False``).

    Args:
        gamma: the strength ``γ``, a finite real number ``≥ 0`` (``γ > 0`` damps every coordinate).

    Returns:
        A :class:`Nonlinearity` named ``"cubic(γ=…)"``; ``g``, ``dg`` and ``flow`` act
        elementwise on tensors of any shape.

    Reference: J. Ruseckas, *Differential equations and neural networks*, talk, 28 October 2019,
    slides 17–19.
    """
    gam = check_real("gamma", gamma, low=0.0)

    def g(z: torch.Tensor) -> torch.Tensor:
        return -gam * z**3

    def dg(z: torch.Tensor) -> torch.Tensor:
        return -3.0 * gam * z**2

    def flow(z: torch.Tensor, s: float | torch.Tensor) -> torch.Tensor:
        return z / torch.sqrt(1.0 + 2.0 * gam * torch.as_tensor(s, dtype=z.dtype) * z**2)

    return Nonlinearity(f"cubic(γ={gam:g})", g, dg, flow)


# --------------------------------------------------------------------------- argument checks (shared with feedforward)
def check_coefficient_functions(A: Any, c: Any, g: Any) -> None:
    """``A``, ``g`` and (unless ``None``) ``c`` must be callable (``TypeError`` naming the argument)."""
    check_callable("A", A)
    if c is not None:
        check_callable("c", c)
    check_callable("g", g)


def check_nonlinearity(g: Any, needs: str) -> Nonlinearity:
    """``g`` must be a :class:`Nonlinearity` (``TypeError``); ``needs`` names the part the caller uses."""
    return check_type("g", g, Nonlinearity, f"a Nonlinearity (with its {needs})")


# --------------------------------------------------------------------------- the field
class NearIdentityField(nn.Module):
    """The vector field ``f(t, x) = A(t) x + c(t) + g(x)`` of the near-identity limit.

    An ``nn.Module`` so it can be passed to :func:`ctdepth_lib.odeint` (also with
    ``adjoint=True``), :func:`ctdepth_lib.backprop_momenta` and
    :func:`ctdepth_lib.adjoint_momenta`; if ``A`` or ``c`` are bound methods of
    an ``nn.Module`` (the trained example), that module is registered so its
    parameters are seen.

    Shapes: ``x`` is ``(d,)`` or ``(batch, d)``, ``A(t)`` is ``(d, d)``, ``c(t)`` is ``(d,)``.
    """

    def __init__(self, A: MatrixFn, c: MatrixFn | None, g: Elementwise) -> None:
        super().__init__()
        check_coefficient_functions(A, c, g)
        self.A = A
        self.c = c
        self.g = g
        owners = {id(o): o for fn in (A, c) if isinstance(o := getattr(fn, "__self__", None), nn.Module)}
        self.owners = nn.ModuleList(owners.values())

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``x A(t)ᵀ + c(t) + g(x)`` (row-vector convention, batch in front)."""
        out = x @ self.A(t).T + self.g(x)
        return out if self.c is None else out + self.c(t)


def near_identity_field(A: MatrixFn, c: MatrixFn | None, g: Elementwise) -> NearIdentityField:
    """The field ``f(t, x) = A(t) x + c(t) + g(x)`` that near-identity feedforward networks converge to.

    Args:
        A: ``t ↦ A(t)``, a ``(d, d)`` tensor for a 0-d tensor ``t``.
        c: ``t ↦ c(t)``, a ``(d,)`` tensor, or ``None`` for ``c = 0``.
        g: elementwise nonlinearity (a :class:`Nonlinearity` or any shape-keeping callable).

    Returns:
        A :class:`NearIdentityField` ``f(t, x)`` for ``x: (d,)`` or ``(batch, d)``.
    """
    return NearIdentityField(A, c, g)  # which checks the three


def near_identity_momentum_field(A: MatrixFn, c: MatrixFn | None, g: Nonlinearity) -> Field:
    """Hamilton's equations of the limit in closed form, on ``y = [x, p]`` (last axis ``2d``).

    ``dx/dt = A(t)x + c(t) + g(x)``, ``dp/dt = −p (A(t) + diag g′(x))`` — the momentum
    equation of claim F3, written with the explicit Jacobian ``A + diag g′(x)``
    (no autograd), so it is an independent check of :func:`ctdepth_lib.adjoint_momenta`.

    Args:
        A, c: as for :func:`near_identity_field`.
        g: a :class:`Nonlinearity` (its ``dg`` is used).

    Returns:
        ``F(t, y)`` with ``y: (2d,)`` or ``(batch, 2d)``.
    """
    field = NearIdentityField(A, c, check_nonlinearity(g, "derivative dg"))

    def joint(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        d = y.shape[-1] // 2
        x, p = y[..., :d], y[..., d:]
        dp = -(p @ A(t) + p * g.dg(x))
        return torch.cat([field(t, x), dp], dim=-1)

    return joint


def near_identity_divergence(A: MatrixFn, g: Nonlinearity, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The divergence ``∇·f = tr A(t) + Σ_i g′(x_i)`` of the limit field (Liouville/Jacobi).

    Along a solution, ``d log|det ∂x(t)/∂x_0| / dt = tr A(t) + Σ_i g′(x_i(t))`` (the volume law,
    claim F3-volume).  It fixes only the product of the singular values of ``∂x(T)/∂x_0``, so its
    sign does not decide whether gradients vanish; :func:`near_identity_log_norm` bounds them.

    Args:
        A: ``t ↦ A(t)``.
        g: a :class:`Nonlinearity`.
        t: a 0-d tensor.
        x: ``(d,)`` or ``(batch, d)``.

    Returns:
        Shape ``()`` or ``(batch,)``.
    """
    check_callable("A", A)
    check_nonlinearity(g, "derivative dg")
    check_state("x", x)
    return torch.diagonal(A(check_time("t", t, x))).sum() + g.dg(x).sum(-1)


def near_identity_log_norm(
    A: MatrixFn, g: Nonlinearity, t: torch.Tensor, x: torch.Tensor, *, smallest: bool = False
) -> torch.Tensor:
    """The logarithmic norm ``μ(f_x) = λ_max(½(A(t) + A(t)ᵀ) + diag g′(x))`` of the limit field.

    ``f_x = A(t) + diag g′(x)`` is written out (no autograd), and ``μ(M) = λ_max((M + Mᵀ)/2)``.
    Along a solution it bounds backpropagation for *every* final momentum: integrating
    ``d|p|²/ds = 2 p f_x pᵀ ≤ 2μ(f_x)|p|²`` backward (``s = T − t``) gives
    ``|p(0)| ≤ exp(∫₀ᵀ μ(f_x(t, x(t))) dt) |p(T)|``, i.e. ``σ_max(∂x(T)/∂x_0) ≤ exp(∫ μ)``.
    So gradients vanish whenever ``μ < 0`` along the trajectory.  The divergence
    ``tr f_x`` (:func:`near_identity_divergence`) does not decide this: it fixes only the
    product of the singular values (claim F3).  With ``g′ ≤ γ`` everywhere (``γ = 1`` for
    ``tanh``, ``0`` for ``α relu(−z)`` with ``α ≥ 0``), ``μ(f_x) ≤ μ(A(t)) + γ``.

    With ``smallest=True`` it returns the smallest eigenvalue ``λ_min(½(f_x + f_xᵀ)) = −μ(−f_x)``
    instead, the matching lower bound: ``|p(0)| ≥ exp(∫₀ᵀ λ_min dt) |p(T)|``, i.e.
    ``σ_min(∂x(T)/∂x_0) ≥ exp(∫ λ_min)`` — every gradient grows when ``λ_min > 0``.

    Args:
        A: ``t ↦ A(t)``, a ``(d, d)`` tensor.
        g: a :class:`Nonlinearity` (its ``dg`` is used).
        t: a 0-d tensor.
        x: ``(d,)`` or ``(batch, d)``.
        smallest: return ``λ_min`` of the symmetric part instead of ``λ_max = μ``.

    Returns:
        Shape ``()`` or ``(batch,)``.

    Reference: G. Söderlind, *The logarithmic norm. History and modern theory*, BIT 46 (2006)
    631–652, §2–3; G. Dahlquist (1958).
    """
    check_callable("A", A)
    check_nonlinearity(g, "derivative dg")
    check_state("x", x)
    check_type("smallest", smallest, bool, "a bool")
    a = check_type("A(t)", A(check_time("t", t, x)), torch.Tensor, "a torch.Tensor (a (d, d) matrix)")
    if a.shape != (x.shape[-1], x.shape[-1]):
        raise ValueError(
            f"A(t) must return a ({x.shape[-1]}, {x.shape[-1]}) matrix for x of dimension d; got {tuple(a.shape)}"
        )
    sym = 0.5 * (a + a.T) + torch.diag_embed(g.dg(x))
    return torch.linalg.eigvalsh(sym)[..., 0 if smallest else -1]
