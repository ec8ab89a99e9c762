"""Feedforward networks near the identity: the discretisations of ``dx/dt = A(t) x + c(t) + g(x)``.

A feedforward layer ``x_{n+1} = σ(W_n x_n + b_n)`` with weights close to the
identity, ``W_n = I + h A(t_n)``, a small bias ``b_n = h c(t_n)`` and a weak
elementwise nonlinearity ``σ_h(z) = z + h g(z)`` is a consistent one-step method
for the equation of Ruseckas, arXiv:1909.03767, as the author's talk of 28 October 2019
states it (slides 17–19: ``dx/dt = w(t)x + b(t) + g(x)`` and the network
``x_{l+1} = h(W_l x_l + B_l)`` with ``h(x) = x + Δt g(x)``, ``W_l = I + Δt w_l``,
``B_l = Δt b_l``)::

    dx/dt = A(t) x + c(t) + g(x).

The network step is the talk's Euler step "with a second-order error" (slide 18), a
*Lie–Trotter splitting* — one Euler substep of the linear part, then one of the nonlinear
part — not the Euler method: it differs from Euler by ``h² g′(x) ⊙ (A x + c) + O(h³)``
per step (:func:`euler_step_difference`).
This module holds the network (:func:`feedforward_unroll`) and its layer maps
(:func:`feedforward_layers`), the exact-subflow splitting schemes the chapter compares
(:func:`splitting_unroll`) and the O(1)-nonlinearity network that has no ODE limit
(:func:`strong_feedforward_unroll`).  Every network runs the one loop
``x_{n+1} = step(t_n, t_{n+1}, x_n)`` of :mod:`ctdepth_lib._stepping`; :func:`run_layers` is the
unchecked core of :func:`feedforward_unroll` (the trained classifier calls it).

The limit itself — the field, its nonlinearities ``g`` (:class:`~ctdepth_lib.near_identity.Nonlinearity`),
momentum equation, divergence and log norm — is :mod:`ctdepth_lib.near_identity`; the
closed-form leaky-ReLU limit :mod:`ctdepth_lib.leaky_limit` (NumPy only); the trained example
:class:`ctdepth_lib.models.NearIdentityClassifier`.

Shapes: ``x0`` is ``(d,)`` or ``(batch, d)``; ``A(t)`` is ``(d, d)`` and ``c(t)`` is ``(d,)``.

References: J. Ruseckas, *Differential equations and neural networks*, talk, 28 October 2019,
slides 17–19 — the equation and the network;
Duan, Li, Ji & Cai, *Vanilla feedforward neural networks as a discretization of dynamical systems*,
arXiv:2209.10909 (2022) — feedforward networks as splitting schemes;
Hairer, Lubich & Wanner, *Geometric Numerical Integration*, §II.5 (splitting methods).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ._stepping import Step, unroll
from ._validate import check_choice, check_positive, check_state, check_time, check_time_grid, check_type
from .near_identity import (
    Elementwise,
    MatrixFn,
    NearIdentityField,
    Nonlinearity,
    check_coefficient_functions,
    check_nonlinearity,
)

__all__ = [
    "SPLITTING_SCHEMES",
    "euler_step_difference",
    "feedforward_layers",
    "feedforward_unroll",
    "splitting_unroll",
    "strong_feedforward_unroll",
]


# --------------------------------------------------------------------------- validation
def _check_network(A: Any, c: Any, g: Any, x0: Any, ts: Any) -> None:
    """The checks of the network faces: ``x0``, the grid ``ts``, and ``A(t)``, ``c(t)``, ``g`` at ``ts[0]``."""
    check_state("x0", x0)
    check_time_grid("ts", ts, like=x0)
    _check_coefficients(A, c, g, x0, ts[0])


def _check_coefficients(A: Any, c: Any, g: Any, x0: torch.Tensor, t0: torch.Tensor) -> None:
    """Check ``A(t)``, ``c(t)`` and ``g`` at the time ``t0`` (one evaluation each: they are not the flow's)."""
    check_coefficient_functions(A, c, g)
    d = x0.shape[-1]
    a0 = check_type("A(t)", A(t0), torch.Tensor, "a torch.Tensor (a (d, d) matrix)")
    if a0.ndim != 2 or a0.shape[0] != a0.shape[1]:
        raise ValueError(f"A(t) must return a square matrix of shape (d, d); got shape {tuple(a0.shape)}")
    if a0.shape[0] != d:
        raise ValueError(f"A(t) must be ({d}, {d}) to act on x0 of dimension d = {d}; got shape {tuple(a0.shape)}")
    if a0.dtype != x0.dtype:
        raise TypeError(f"A(t) must have the dtype of x0 ({x0.dtype}); got {a0.dtype}")
    if c is not None:
        c0 = check_type("c(t)", c(t0), torch.Tensor, f"a torch.Tensor of shape ({d},)")
        if tuple(c0.shape) != (d,):
            raise ValueError(f"c(t) must return a vector of shape ({d},) (the dimension of x0); got {tuple(c0.shape)}")
        if c0.dtype != x0.dtype:
            raise TypeError(f"c(t) must have the dtype of x0 ({x0.dtype}); got {c0.dtype}")
    _check_elementwise(g, x0)


def _check_elementwise(g: Any, x: torch.Tensor) -> None:
    """``g`` must keep the shape and act on each coordinate alone."""
    with torch.no_grad():
        xd = x.detach()
        out = check_type("g(z)", g(xd), torch.Tensor, "a torch.Tensor")
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
        g: elementwise, shape-keeping nonlinearity (e.g. :data:`~ctdepth_lib.near_identity.TANH`).
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

    Reference: Ruseckas (2019), talk, slides 17–19; Duan et al. (2022).
    """
    _check_network(A, c, g, x0, ts)
    check_type("reverse", reverse, bool, "a bool")
    if max_deviation is not None:
        _check_grid_near_identity(A, ts, check_positive("max_deviation", max_deviation))
    return run_layers(A, c, g, x0, ts, reverse=reverse)


def run_layers(
    A: MatrixFn, c: MatrixFn | None, g: Elementwise, x0: torch.Tensor, ts: torch.Tensor, *, reverse: bool = False
) -> torch.Tensor:
    """The unchecked core of :func:`feedforward_unroll`, for internal callers that have checked their arguments."""
    return unroll(_ff_block(A, c, g, reverse), x0, ts)


def euler_step_difference(
    A: MatrixFn, c: MatrixFn | None, g: Nonlinearity, t: torch.Tensor, x: torch.Tensor, h: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """One network step minus one Euler step, and its leading term ``h² g′(x) ⊙ (A(t)x + c(t))``.

    Args:
        A, c: coefficient functions; g: a :class:`~ctdepth_lib.near_identity.Nonlinearity`.
        t: a 0-d tensor; x: ``(d,)`` or ``(batch, d)``; h: the step (> 0).

    Returns:
        ``(difference, leading_term)``, both of ``x``'s shape.
    """
    check_state("x", x)
    t = check_time("t", t, x)
    check_nonlinearity(g, "derivative dg")
    _check_coefficients(A, c, g, x, t)
    ts = torch.stack([t, t + check_positive("h", h)])
    net = run_layers(A, c, g, x, ts)[-1]
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
        g: a :class:`~ctdepth_lib.near_identity.Nonlinearity` (its exact ``flow`` is used).
        x0: ``(d,)`` or ``(batch, d)``; ts: strictly monotone grid.
        scheme: one of :data:`SPLITTING_SCHEMES`.

    Returns:
        ``(len(ts), *x0.shape)``.

    Reference: Hairer, Lubich & Wanner, *Geometric Numerical Integration*, §II.5 and §III.5.
    """
    check_nonlinearity(g, "exact flow")
    check_choice("scheme", scheme, SPLITTING_SCHEMES)
    _check_network(A, c, g, x0, ts)

    def step(t: torch.Tensor, t1: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        h = t1 - t
        tm = t + h / 2
        e, v = _linear_flow(A(tm), None if c is None else c(tm), h)
        if scheme == "lie":
            return g.flow(x @ e.T + v, h)
        return g.flow(g.flow(x, h / 2) @ e.T + v, h / 2)

    return unroll(step, x0, ts)


def strong_feedforward_unroll(
    A: MatrixFn, c: MatrixFn | None, sigma: Elementwise, x0: torch.Tensor, ts: torch.Tensor
) -> torch.Tensor:
    """A feedforward network with near-identity weights but an O(1) activation: ``x_{n+1} = σ(W_n x_n + b_n)``.

    ``W_n = I + h A(t_n)``, ``b_n = h c(t_n)`` as in :func:`feedforward_unroll`, but
    ``σ`` (e.g. ``tanh``) is *not* close to the identity, so each layer moves ``x``
    by O(1) when ``x`` is O(1): the scheme has no ODE limit at O(1) amplitude (claim F4).
    At small amplitude it has one: with ``x = √h y`` and the bias scaled as ``b_n = h^{3/2} c``
    (pass ``c = √h c``), ``tanh u = u − u³/3 + O(u⁵)`` makes it a first-order scheme for
    ``dy/dt = A(t)y + c(t) − y³/3`` (claim F4-small-signal).

    Args:
        A, c: as for :func:`feedforward_unroll`; sigma: elementwise activation.
        x0: ``(d,)`` or ``(batch, d)``; ts: strictly monotone grid.

    Returns:
        ``(len(ts), *x0.shape)``.
    """
    _check_network(A, c, sigma, x0, ts)

    def step(t: torch.Tensor, t1: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return sigma(_affine(A, c, x, t, t1 - t))

    return unroll(step, x0, ts)


def feedforward_layers(
    A: MatrixFn, c: MatrixFn | None, g: Elementwise, ts: torch.Tensor, *, reverse: bool = False
) -> list[Callable[[torch.Tensor], torch.Tensor]]:
    """The layer maps ``Φ_n: x_n ↦ x_{n+1}`` of :func:`feedforward_unroll`, one callable per layer.

    ``Φ_n(x) = σ_h(W_n x + b_n)`` (or ``W_n σ_h(x) + b_n`` with ``reverse=True``); pass
    them to :func:`ctdepth_lib.layer_momenta` for the backprop momenta
    ``p_n = p_{n+1} ∂Φ_n/∂x`` with ``∂Φ_n/∂x = (I + h diag g′(z_n))(I + h A(t_n))``.

    Args:
        A, c, g: as for :func:`feedforward_unroll` (checked when the first layer is applied
            through :func:`feedforward_unroll`; here only that they are callable).
        ts: strictly monotone grid of ``N + 1`` times.
        reverse: activation before the affine map.

    Returns:
        ``N`` callables ``x ↦ Φ_n(x)`` acting on ``(d,)`` or ``(batch, d)``.
    """
    check_coefficient_functions(A, c, g)
    check_time_grid("ts", ts)
    check_type("reverse", reverse, bool, "a bool")
    step = _ff_block(A, c, g, reverse)

    def layer(n: int) -> Callable[[torch.Tensor], torch.Tensor]:
        t, t1 = ts[n], ts[n + 1]
        return lambda x: step(t, t1, x)

    return [layer(n) for n in range(ts.numel() - 1)]


def _affine(A: MatrixFn, c: MatrixFn | None, x: torch.Tensor, t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """``W x + b = x + h x A(t)ᵀ [+ h c(t)]`` (row vectors), the near-identity affine map of one layer."""
    z = x + h * (x @ A(t).T)
    return z if c is None else z + h * c(t)


def _ff_block(A: MatrixFn, c: MatrixFn | None, g: Elementwise, reverse: bool) -> Step:
    """One layer of :func:`feedforward_unroll`, ``step(t_n, t_{n+1}, x_n) = x_{n+1}``."""

    def step(t: torch.Tensor, t1: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        h = t1 - t
        if reverse:
            return _affine(A, c, x + h * g(x), t, h)
        z = _affine(A, c, x, t, h)
        return z + h * g(z)

    return step
