"""Feedforward networks near the identity and the differential equation they discretise.

A feedforward layer ``x_{n+1} = σ(W_n x_n + b_n)`` with weights close to the
identity, ``W_n = I + h A(t_n)``, a small bias ``b_n = h c(t_n)`` and a weak
elementwise nonlinearity ``σ_h(z) = z + h g(z)`` is a consistent one-step method
for the equation the book studies (our reconstruction of Ruseckas,
arXiv:1909.03767, claim 3 — only the abstract and the opening of the introduction are available)::

    dx/dt = A(t) x + c(t) + g(x).

The network step is a *Lie–Trotter splitting* — one Euler substep of the linear
part, then one of the nonlinear part — not the Euler method: it differs from
Euler by ``h² g′(x) ⊙ (A x + c) + O(h³)`` per step.  This module holds the
network (:func:`feedforward_unroll`), the field it converges to
(:func:`near_identity_field`) with its divergence and logarithmic norm
(:func:`near_identity_divergence`, :func:`near_identity_log_norm`), the splitting schemes the chapter compares
(:func:`splitting_unroll`), the weak nonlinearities with their derivatives and
exact flows (:class:`Nonlinearity`), the closed-form piecewise-linear limit of a
leaky-ReLU network (:func:`leaky_limit_closed_form`), the O(1)-nonlinearity
network that has no ODE limit (:func:`strong_feedforward_unroll`) and the trained
example's model (:class:`NearIdentityClassifier`).

References: Duan, Li, Ji & Cai, *Vanilla feedforward neural networks as a discretization of dynamical systems*,
arXiv:2209.10909 (2022) — feedforward networks as splitting schemes;
Hairer, Lubich & Wanner, *Geometric Numerical Integration*, §II.5 (splitting methods).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg
import scipy.optimize
import torch
from torch import nn

from ._validate import Field, check_callable, check_positive, check_state, check_time_grid
from .solvers import odeint
from .training import train

__all__ = [
    "SPLITTING_SCHEMES",
    "TANH",
    "NearIdentityClassifier",
    "NearIdentityField",
    "Nonlinearity",
    "euler_step_difference",
    "feedforward_layers",
    "feedforward_unroll",
    "leaky_limit_closed_form",
    "leaky_relu_nonlinearity",
    "near_identity_divergence",
    "near_identity_field",
    "near_identity_log_norm",
    "near_identity_momentum_field",
    "splitting_unroll",
    "strong_feedforward_unroll",
    "train_near_identity_classifier",
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
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not math.isfinite(alpha):
        raise ValueError(f"alpha must be a finite real number; got {alpha!r}")
    a = float(alpha)

    def g(z: torch.Tensor) -> torch.Tensor:
        return a * torch.relu(-z)

    def dg(z: torch.Tensor) -> torch.Tensor:
        return torch.where(z < 0, -a, 0.0).to(z.dtype)

    def flow(z: torch.Tensor, s: float | torch.Tensor) -> torch.Tensor:
        return torch.where(z < 0, z * torch.exp(-a * torch.as_tensor(s, dtype=z.dtype)), z)

    return Nonlinearity(f"leaky(α={a:g})", g, dg, flow, homogeneous=True)


# --------------------------------------------------------------------------- validation
def _check_coefficients(
    A: Any, c: Any, g: Any, x0: torch.Tensor, t0: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Check ``A(t)``, ``c(t)`` and ``g`` at the first time; return ``A(t0)``, ``c(t0)``."""
    check_callable("A", A)
    if c is not None:
        check_callable("c", c)
    check_callable("g", g)
    d = x0.shape[-1]
    a0 = A(t0)
    if not isinstance(a0, torch.Tensor):
        raise TypeError(f"A(t) must return a torch.Tensor (a (d, d) matrix); got {type(a0).__name__}")
    if a0.ndim != 2 or a0.shape[0] != a0.shape[1]:
        raise ValueError(f"A(t) must return a square matrix of shape (d, d); got shape {tuple(a0.shape)}")
    if a0.shape[0] != d:
        raise ValueError(f"A(t) must be ({d}, {d}) to act on x0 of dimension d = {d}; got shape {tuple(a0.shape)}")
    if a0.dtype != x0.dtype:
        raise TypeError(f"A(t) must have the dtype of x0 ({x0.dtype}); got {a0.dtype}")
    c0 = None
    if c is not None:
        c0 = c(t0)
        if not isinstance(c0, torch.Tensor):
            raise TypeError(f"c(t) must return a torch.Tensor of shape ({d},); got {type(c0).__name__}")
        if tuple(c0.shape) != (d,):
            raise ValueError(f"c(t) must return a vector of shape ({d},) (the dimension of x0); got {tuple(c0.shape)}")
        if c0.dtype != x0.dtype:
            raise TypeError(f"c(t) must have the dtype of x0 ({x0.dtype}); got {c0.dtype}")
    _check_elementwise(g, x0)
    return a0, c0


def _check_elementwise(g: Any, x: torch.Tensor) -> None:
    """``g`` must keep the shape and act on each coordinate alone."""
    with torch.no_grad():
        xd = x.detach()
        out = g(xd)
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"g(z) must return a torch.Tensor; got {type(out).__name__}")
        if out.shape != xd.shape:
            raise ValueError(
                f"g must be elementwise and keep the shape {tuple(xd.shape)}; got output shape {tuple(out.shape)}"
            )
        # Elementwise ⇔ applying g to each coordinate on its own gives the same values.
        try:
            single = g(xd.reshape(-1, 1))
        except Exception as err:  # a shape-mixing map fails on a column of scalars
            raise ValueError(f"g must be elementwise (act on each coordinate alone); g(column) raised {err!r}") from err
        if (
            not isinstance(single, torch.Tensor)
            or single.numel() != xd.numel()
            or not torch.allclose(single.reshape(xd.shape), out, rtol=1e-12, atol=1e-300, equal_nan=True)
        ):
            raise ValueError("g must be elementwise: g(z)_i must depend on z_i only (it mixes coordinates)")


def _check_grid_near_identity(A: MatrixFn, ts: torch.Tensor, max_deviation: float) -> None:
    """``‖h_n A(t_n)‖₂ ≤ max_deviation`` for every layer, else ``ValueError``."""
    with torch.no_grad():
        hs = (ts[1:] - ts[:-1]).abs()
        worst, where = 0.0, 0
        for n in range(hs.numel()):
            dev = float(hs[n] * torch.linalg.matrix_norm(A(ts[n]), ord=2))
            if dev > worst:
                worst, where = dev, n
    if worst > max_deviation:
        raise ValueError(
            f"ts: the step is too large for a near-identity network — W_n = I + hA(t_n) deviates from I by "
            f"‖hA‖₂ = {worst:.3g} at layer {where}, more than max_deviation = {max_deviation:g}; use a finer grid"
        )


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
    check_callable("A", A)
    if c is not None:
        check_callable("c", c)
    check_callable("g", g)
    return NearIdentityField(A, c, g)


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
    check_callable("A", A)
    if not isinstance(g, Nonlinearity):
        raise TypeError(f"g must be a Nonlinearity (with its derivative dg); got {type(g).__name__}")
    field = NearIdentityField(A, c, g)

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
    return torch.diagonal(A(t)).sum() + g.dg(x).sum(-1)


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
    if not isinstance(g, Nonlinearity):
        raise TypeError(f"g must be a Nonlinearity (with its derivative dg); got {type(g).__name__}")
    check_state("x", x)
    a = A(t)
    if not isinstance(a, torch.Tensor) or a.ndim != 2 or a.shape != (x.shape[-1], x.shape[-1]):
        shape = tuple(a.shape) if isinstance(a, torch.Tensor) else type(a).__name__
        raise ValueError(f"A(t) must return a ({x.shape[-1]}, {x.shape[-1]}) matrix for x of dimension d; got {shape}")
    if not isinstance(smallest, bool):
        raise TypeError(f"smallest must be a bool; got {smallest!r}")
    sym = 0.5 * (a + a.T) + torch.diag_embed(g.dg(x))
    return torch.linalg.eigvalsh(sym)[..., 0 if smallest else -1]


# --------------------------------------------------------------------------- the networks
def feedforward_unroll(
    A: MatrixFn,
    c: MatrixFn | None,
    g: Elementwise,
    x0: torch.Tensor,
    ts: torch.Tensor,
    *,
    reverse: bool = False,
    max_deviation: float | None = None,
) -> torch.Tensor:
    """The near-identity feedforward network on the grid ``ts``.

    With ``h_n = t_{n+1} − t_n``, ``W_n = I + h_n A(t_n)``, ``b_n = h_n c(t_n)`` and
    ``σ_h(z) = z + h g(z)``::

        x_{n+1} = σ_{h_n}(W_n x_n + b_n)          (reverse=False, the feedforward layer)
        x_{n+1} = W_n σ_{h_n}(x_n) + b_n          (reverse=True, activation first)

    Both converge at order 1 to ``dx/dt = A(t)x + c(t) + g(x)`` (claim F1); the
    first is a Lie–Trotter splitting with Euler substeps and differs from the
    Euler step by ``h² g′(x)(Ax + c) + O(h³)``.

    Args:
        A: ``t ↦ A(t)``, a ``(d, d)`` tensor (dtype of ``x0``).
        c: ``t ↦ c(t)``, a ``(d,)`` tensor, or ``None`` (no bias).
        g: elementwise, shape-keeping nonlinearity (e.g. :data:`TANH`).
        x0: ``(d,)`` or ``(batch, d)``, floating point, finite.
        ts: strictly monotone grid of ``N + 1 ≥ 2`` times (dtype/device of ``x0``).
        reverse: apply the activation before the affine map.
        max_deviation: if given, require ``‖h_n A(t_n)‖₂ ≤ max_deviation`` for every layer
            (the "near identity" assumption); otherwise no check.

    Returns:
        ``(len(ts), *x0.shape)``: ``x_0, …, x_N``; differentiable in ``x0`` and in parameters of ``A``, ``c``.

    Raises:
        ValueError: ``A(t)`` not square or not ``(d, d)``, ``c(t)`` not ``(d,)``, ``g`` not
            elementwise, or (with ``max_deviation``) a step too large — naming the argument.

    Reference: our reconstruction of Ruseckas (2019), claim 3; Duan et al. (2022).
    """
    check_state("x0", x0)
    check_time_grid("ts", ts, like=x0)
    _check_coefficients(A, c, g, x0, ts[0])
    if max_deviation is not None:
        check_positive("max_deviation", max_deviation)
        _check_grid_near_identity(A, ts, float(max_deviation))
    xs = [x0]
    x = x0
    for n in range(ts.numel() - 1):
        x = _ff_step(A, c, g, x, ts[n], ts[n + 1], reverse)
        xs.append(x)
    return torch.stack(xs)


def euler_step_difference(
    A: MatrixFn, c: MatrixFn | None, g: Nonlinearity, t: torch.Tensor, x: torch.Tensor, h: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """One network step minus one Euler step, and its leading term ``h² g′(x) ⊙ (A(t)x + c(t))``.

    Args:
        A, c: coefficient functions; g: a :class:`Nonlinearity`.
        t: a 0-d tensor; x: ``(d,)`` or ``(batch, d)``; h: the step (> 0).

    Returns:
        ``(difference, leading_term)``, both of ``x``'s shape.
    """
    check_state("x", x)
    check_positive("h", h)
    ts = torch.stack([t, t + h])
    net = feedforward_unroll(A, c, g, x, ts)[-1]
    f = NearIdentityField(A, c, g)
    euler = x + h * f(t, x)
    v = x @ A(t).T + (0.0 if c is None else c(t))
    return net - euler, h**2 * g.dg(x) * v


def _linear_flow(a: torch.Tensor, cvec: torch.Tensor | None, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact flow of ``dx/dt = a x + cvec`` (constant coefficients) over ``h``: ``x ↦ E x + v``."""
    d = a.shape[0]
    aug = torch.zeros(d + 1, d + 1, dtype=a.dtype, device=a.device)
    aug[:d, :d] = a
    if cvec is not None:
        aug[:d, d] = cvec
    m = torch.linalg.matrix_exp(h * aug)
    return m[:d, :d], m[:d, d]


#: Schemes of :func:`splitting_unroll`.
SPLITTING_SCHEMES = ("lie", "strang")


def splitting_unroll(
    A: MatrixFn, c: MatrixFn | None, g: Nonlinearity, x0: torch.Tensor, ts: torch.Tensor, *, scheme: str = "lie"
) -> torch.Tensor:
    """Exact-subflow splittings of ``dx/dt = A(t)x + c(t) + g(x)`` on the grid ``ts``.

    ``L_h`` is the exact flow of the linear part with the coefficients frozen at the
    step's midpoint ``t_n + h/2`` (``x ↦ e^{hA}x + φ₁(hA) h c``, via the matrix
    exponential of ``[[A, c], [0, 0]]``) and ``N_s`` the exact flow of ``dz/dt = g(z)``:

    * ``"lie"`` (Lie–Trotter):  ``x_{n+1} = N_h(L_h(x_n))`` — order 1;
    * ``"strang"``:             ``x_{n+1} = N_{h/2}(L_h(N_{h/2}(x_n)))`` — order 2.

    Args:
        A, c: as for :func:`feedforward_unroll`.
        g: a :class:`Nonlinearity` (its exact ``flow`` is used).
        x0: ``(d,)`` or ``(batch, d)``; ts: strictly monotone grid.
        scheme: one of :data:`SPLITTING_SCHEMES`.

    Returns:
        ``(len(ts), *x0.shape)``.

    Reference: Hairer, Lubich & Wanner, *Geometric Numerical Integration*, §II.5 and §III.5.
    """
    check_state("x0", x0)
    check_time_grid("ts", ts, like=x0)
    if not isinstance(g, Nonlinearity):
        raise TypeError(f"g must be a Nonlinearity (with its exact flow); got {type(g).__name__}")
    if not isinstance(scheme, str) or scheme not in SPLITTING_SCHEMES:
        raise ValueError(f"scheme must be one of {list(SPLITTING_SCHEMES)}; got {scheme!r}")
    _check_coefficients(A, c, g, x0, ts[0])
    xs = [x0]
    x = x0
    for n in range(ts.numel() - 1):
        t = ts[n]
        h = ts[n + 1] - t
        tm = t + h / 2
        e, v = _linear_flow(A(tm), None if c is None else c(tm), h)
        if scheme == "lie":
            x = g.flow(x @ e.T + v, h)
        else:
            x = g.flow(g.flow(x, h / 2) @ e.T + v, h / 2)
        xs.append(x)
    return torch.stack(xs)


def strong_feedforward_unroll(
    A: MatrixFn, c: MatrixFn | None, sigma: Elementwise, x0: torch.Tensor, ts: torch.Tensor
) -> torch.Tensor:
    """A feedforward network with near-identity weights but an O(1) activation: ``x_{n+1} = σ(W_n x_n + b_n)``.

    ``W_n = I + h A(t_n)``, ``b_n = h c(t_n)`` as in :func:`feedforward_unroll`, but
    ``σ`` (e.g. ``tanh``) is *not* close to the identity, so each layer moves ``x``
    by O(1) and the scheme is consistent with no ODE (claim F4).

    Args:
        A, c: as for :func:`feedforward_unroll`; sigma: elementwise activation.
        x0: ``(d,)`` or ``(batch, d)``; ts: strictly monotone grid.

    Returns:
        ``(len(ts), *x0.shape)``.
    """
    check_state("x0", x0)
    check_time_grid("ts", ts, like=x0)
    _check_coefficients(A, c, sigma, x0, ts[0])
    xs = [x0]
    x = x0
    for n in range(ts.numel() - 1):
        t = ts[n]
        h = ts[n + 1] - t
        z = x + h * (x @ A(t).T)
        if c is not None:
            z = z + h * c(t)
        x = sigma(z)
        xs.append(x)
    return torch.stack(xs)


def feedforward_layers(
    A: MatrixFn, c: MatrixFn | None, g: Elementwise, ts: torch.Tensor, *, reverse: bool = False
) -> list[Callable[[torch.Tensor], torch.Tensor]]:
    """The layer maps ``Φ_n: x_n ↦ x_{n+1}`` of :func:`feedforward_unroll`, one callable per layer.

    ``Φ_n(x) = σ_h(W_n x + b_n)`` (or ``W_n σ_h(x) + b_n`` with ``reverse=True``); pass
    them to :func:`ctdepth_lib.invariants.layer_momenta` for the backprop momenta
    ``p_n = p_{n+1} ∂Φ_n/∂x`` with ``∂Φ_n/∂x = (I + h diag g′(z_n))(I + h A(t_n))``.

    Args:
        A, c, g: as for :func:`feedforward_unroll` (checked when the first layer is applied
            through :func:`feedforward_unroll`; here only that they are callable).
        ts: strictly monotone grid of ``N + 1`` times.
        reverse: activation before the affine map.

    Returns:
        ``N`` callables ``x ↦ Φ_n(x)`` acting on ``(d,)`` or ``(batch, d)``.
    """
    check_callable("A", A)
    if c is not None:
        check_callable("c", c)
    check_callable("g", g)
    check_time_grid("ts", ts)

    def layer(n: int) -> Callable[[torch.Tensor], torch.Tensor]:
        t, t1 = ts[n], ts[n + 1]
        return lambda x: _ff_step(A, c, g, x, t, t1, reverse)

    return [layer(n) for n in range(ts.numel() - 1)]


def _ff_step(
    A: MatrixFn,
    c: MatrixFn | None,
    g: Elementwise,
    x: torch.Tensor,
    t: torch.Tensor,
    t1: torch.Tensor,
    reverse: bool = False,
) -> torch.Tensor:
    h = t1 - t
    if reverse:
        z = x + h * g(x)
        out = z + h * (z @ A(t).T)
        return out if c is None else out + h * c(t)
    z = x + h * (x @ A(t).T)
    if c is not None:
        z = z + h * c(t)
    return z + h * g(z)


# --------------------------------------------------------------------------- closed form (F2)
def leaky_limit_closed_form(
    A: np.ndarray | torch.Tensor,
    c: np.ndarray | torch.Tensor | None,
    alpha: float,
    x0: np.ndarray | torch.Tensor,
    ts: np.ndarray | torch.Tensor,
    *,
    scan: int = 2000,
) -> tuple[np.ndarray, list[tuple[float, int]]]:
    """The limit ``dx/dt = A x + c + α relu(−x)`` (constant ``A``, ``c``) solved piece by piece in closed form.

    In each orthant the field is affine, ``dx/dt = M x + c`` with
    ``M = A − α D₋`` (``D₋`` the 0/1 diagonal of negative coordinates, since
    ``α relu(−x_i) = −α x_i`` for ``x_i < 0``), so
    ``x(τ + s) = e^{sM} x(τ) + φ₁(sM) s c`` — one matrix exponential of
    ``[[M, c], [0, 0]]``.  A coordinate's zero crossing is located by scanning
    the piece on ``scan`` exact sub-steps and refining with Brent's method; the field is
    continuous across ``x_i = 0``, so the new orthant is given by the sign of
    ``(M x + c)_i`` there.  NumPy/SciPy only (an independent reference for the
    torch code).

    Args:
        A: ``(d, d)``; c: ``(d,)`` or ``None``; alpha: ``α``.
        x0: ``(d,)`` (one trajectory); ts: increasing output times, ``ts[0]`` the start.
        scan: sampling points per remaining interval used to bracket crossings.

    Returns:
        ``(xs, crossings)``: ``xs`` of shape ``(len(ts), d)``, and the list of
        ``(time, coordinate)`` of every orthant change.
    """
    a = np.asarray(A.detach().cpu() if isinstance(A, torch.Tensor) else A, dtype=np.float64)
    d = a.shape[0]
    if a.shape != (d, d):
        raise ValueError(f"A must be a square (d, d) array; got shape {a.shape}")
    cv = np.zeros(d) if c is None else np.asarray(c.detach().cpu() if isinstance(c, torch.Tensor) else c, float)
    if cv.shape != (d,):
        raise ValueError(f"c must have shape ({d},); got {cv.shape}")
    x = np.asarray(x0.detach().cpu() if isinstance(x0, torch.Tensor) else x0, dtype=np.float64).copy()
    if x.shape != (d,):
        raise ValueError(f"x0 must have shape ({d},) (one trajectory); got {x.shape}")
    times = np.asarray(ts.detach().cpu() if isinstance(ts, torch.Tensor) else ts, dtype=np.float64)
    if times.ndim != 1 or times.size < 2 or not np.all(np.diff(times) > 0):
        raise ValueError("ts must be a strictly increasing 1-D grid of at least 2 times")
    neg = x < 0
    # a coordinate starting on zero goes where the field sends it
    v0 = a @ x + cv + alpha * np.maximum(-x, 0)
    neg = np.where(x == 0, v0 < 0, neg)

    def piece_map(m: np.ndarray, s: float) -> tuple[np.ndarray, np.ndarray]:
        aug = np.zeros((d + 1, d + 1))
        aug[:d, :d] = m
        aug[:d, d] = cv
        e = scipy.linalg.expm(s * aug)
        return e[:d, :d], e[:d, d]

    def piece(m: np.ndarray, y: np.ndarray, s: float) -> np.ndarray:
        e, v = piece_map(m, s)
        return e @ y + v

    out = np.empty((times.size, d))
    out[0] = x
    crossings: list[tuple[float, int]] = []
    tau, k = times[0], 1
    t_end = times[-1]
    while k < times.size:
        m = a - alpha * np.diag(neg.astype(float))
        ds = (t_end - tau) / scan
        step = piece_map(m, ds)
        signs_ok = np.where(neg, -1.0, 1.0)
        first_s, first_i = None, None
        y = x
        for j in range(scan):
            y_next = step[0] @ y + step[1]
            bad = np.nonzero(signs_ok * y_next < 0)[0]
            if bad.size:
                roots = [
                    (
                        scipy.optimize.brentq(
                            lambda u, i=i, m=m, y0=x: piece(m, y0, u)[i], j * ds, (j + 1) * ds, xtol=1e-15
                        ),
                        int(i),
                    )
                    for i in bad
                ]
                first_s, first_i = min(roots)
                break
            y = y_next
        t_next = t_end if first_s is None else tau + first_s
        while k < times.size and times[k] <= t_next:
            out[k] = piece(m, x, times[k] - tau)
            k += 1
        if first_s is None:
            break
        x = piece(m, x, first_s)
        x[first_i] = 0.0
        vel = m @ x + cv
        neg[first_i] = vel[first_i] < 0
        crossings.append((float(t_next), first_i))
        tau = t_next
    return out, crossings


# --------------------------------------------------------------------------- trained example
class NearIdentityClassifier(nn.Module):
    """A deep near-identity feedforward classifier and its ODE.

    Input ``u ∈ R^{d_in}`` is padded with zeros to ``x_0 ∈ R^d``; the hidden layers
    are :func:`feedforward_unroll` with ``A(t) = Σ_k A_k P_k(2t/T − 1)``,
    ``c(t) = Σ_k c_k P_k(2t/T − 1)`` (Legendre polynomials ``P_0 … P_{K−1}``, so
    the weights ``W_n = I + hA(t_n)`` vary smoothly with depth) and the weak
    leaky ReLU ``g(z) = α relu(−z)`` (negative slope ``1 − hα``); a linear
    read-out gives the logits.  The same ``A(t)``, ``c(t)`` define the ODE
    ``dx/dt = A(t)x + c(t) + g(x)`` (:meth:`ode_features`).

    Args:
        d_in: input dimension; d: hidden dimension (≥ d_in); n_classes: number of classes.
        n_basis: number ``K`` of Legendre polynomials in ``t``.
        alpha: leaky-ReLU strength ``α``; T: the depth (time) horizon.
        seed: seed of the initial weights.
    """

    def __init__(
        self, d_in: int, d: int, n_classes: int, *, n_basis: int = 3, alpha: float = 1.0, T: float = 1.0, seed: int = 0
    ) -> None:
        super().__init__()
        for name, value in (("d_in", d_in), ("d", d), ("n_classes", n_classes), ("n_basis", n_basis)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
        if d < d_in:
            raise ValueError(f"d must be >= d_in = {d_in}; got {d}")
        check_positive("T", T)
        gen = torch.Generator().manual_seed(int(seed))
        self.d_in, self.d, self.T = d_in, d, float(T)
        self.g = leaky_relu_nonlinearity(alpha)
        self.coef_A = nn.Parameter(0.3 * torch.randn(n_basis, d, d, generator=gen, dtype=torch.float64) / d**0.5)
        self.coef_c = nn.Parameter(0.1 * torch.randn(n_basis, d, generator=gen, dtype=torch.float64))
        self.readout = nn.Linear(d, n_classes, dtype=torch.float64)
        with torch.no_grad():
            self.readout.weight.copy_(torch.randn(n_classes, d, generator=gen, dtype=torch.float64) / d**0.5)
            self.readout.bias.zero_()

    def _basis(self, t: torch.Tensor) -> torch.Tensor:
        s = 2 * t / self.T - 1
        polys = [torch.ones_like(s), s]
        for k in range(1, self.coef_A.shape[0] - 1):  # Bonnet's recursion
            polys.append(((2 * k + 1) * s * polys[k] - k * polys[k - 1]) / (k + 1))
        return torch.stack(polys[: self.coef_A.shape[0]])

    def A(self, t: torch.Tensor) -> torch.Tensor:
        """``A(t)``, shape ``(d, d)``."""
        return torch.einsum("k,kij->ij", self._basis(t), self.coef_A)

    def c(self, t: torch.Tensor) -> torch.Tensor:
        """``c(t)``, shape ``(d,)``."""
        return self._basis(t) @ self.coef_c

    def lift(self, u: torch.Tensor) -> torch.Tensor:
        """Pad ``u: (batch, d_in)`` with zeros to ``x_0: (batch, d)``."""
        return torch.nn.functional.pad(u, (0, self.d - self.d_in))

    def network_features(self, u: torch.Tensor, n_layers: int) -> torch.Tensor:
        """``x_N`` of the ``n_layers``-layer network (uniform grid on ``[0, T]``), shape ``(batch, d)``."""
        ts = torch.linspace(0.0, self.T, n_layers + 1, dtype=u.dtype)
        return feedforward_unroll(self.A, self.c, self.g, self.lift(u), ts)[-1]

    def ode_features(self, u: torch.Tensor, *, rtol: float = 1e-9, atol: float = 1e-9) -> torch.Tensor:
        """``x(T)`` of the ODE ``dx/dt = A(t)x + c(t) + g(x)`` (dopri5), shape ``(batch, d)``."""
        ts = torch.tensor([0.0, self.T], dtype=u.dtype)
        f = NearIdentityField(self.A, self.c, self.g)
        return odeint(f, self.lift(u), ts, rtol=rtol, atol=atol)[-1]

    def forward(self, u: torch.Tensor, n_layers: int) -> torch.Tensor:
        """Logits of the ``n_layers``-layer network, shape ``(batch, n_classes)``."""
        return self.readout(self.network_features(u, n_layers))

    def ode_logits(self, u: torch.Tensor, *, rtol: float = 1e-9, atol: float = 1e-9) -> torch.Tensor:
        """Logits of the ODE model (the network replaced by its limit), shape ``(batch, n_classes)``."""
        return self.readout(self.ode_features(u, rtol=rtol, atol=atol))


def train_near_identity_classifier(
    u: torch.Tensor,
    y: torch.Tensor,
    *,
    n_layers: int,
    steps: int = 200,
    lr: float = 0.05,
    d: int = 3,
    n_basis: int = 3,
    alpha: float = 1.0,
    seed: int = 0,
) -> tuple[NearIdentityClassifier, list[float]]:
    """Train a :class:`NearIdentityClassifier` with ``n_layers`` layers (full-batch Adam, cross-entropy).

    Args:
        u: inputs ``(n, d_in)``; y: integer labels ``(n,)``.
        n_layers: depth ``N`` (the step is ``h = T/N``).
        steps: Adam steps; lr: learning rate; d, n_basis, alpha: model sizes (see the class).
        seed: seed of the initial weights (the same seed gives the same start at every depth).

    Returns:
        ``(model, losses)``: the trained model and the training loss after each step.
    """
    check_state("u", u)
    if u.ndim != 2:
        raise ValueError(f"u must have shape (n, d_in); got {tuple(u.shape)}")
    if not isinstance(y, torch.Tensor) or y.shape != (u.shape[0],) or y.is_floating_point():
        raise ValueError(f"y must be an integer tensor of shape ({u.shape[0]},); got {y!r:.60}")
    for name, value in (("n_layers", n_layers), ("steps", steps)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
    check_positive("lr", lr)
    n_classes = int(y.max()) + 1
    model = NearIdentityClassifier(u.shape[1], d, n_classes, n_basis=n_basis, alpha=alpha, seed=seed)
    result = train(model, u, y, steps=steps, lr=lr, n_layers=n_layers)  # the book's one training loop
    return model, result.losses
