"""Phase space of a network: the joint ``(x, p)`` map, its Jacobian, volume and symplecticity.

The state ``x`` and its momentum ``p = ∂L/∂x`` evolve together under Hamilton's
equations ``dx/dt = f``, ``dp/dt = −p f_x`` (see :mod:`ctdepth_lib.momenta`).
Liouville's theorem (claim L1): the joint vector field ``(f, −f_xᵀp)`` has zero
divergence, so its flow preserves phase-space volume; more strongly it is
symplectic, ``MᵀΩM = Ω`` for its Jacobian ``M``.  The residual network and its
backpropagation do the same *exactly*: the map ``(x_0, p_0) ↦ (x_N, p_N)`` has
the block-triangular Jacobian ``[[J, 0], [∗, J^{-T}]]`` with ``J = ∂x_N/∂x_0``,
so its determinant is 1.

Claim L2 reads the same fact for gradients: backprop multiplies by ``J``,
``p_0 = p_N J``, so ``σ_min(J) ≤ |p_0|/|p_N| ≤ σ_max(J)``.  What decides vanishing
gradients is ``σ_max(J)``, not the volume change ``log|det J| = Σ log σ_i`` (which fixes
only the geometric mean of the singular values).  Along the flow ``σ_max`` is bounded by
the logarithmic norm ``μ(M) = λ_max((M + Mᵀ)/2)``:
``|p(0)| ≤ exp(∫₀ᵀ μ(f_x(t, x(t))) dt) |p(T)|`` (:func:`log_norm`,
:func:`log_norm_integral`); for the network the exact bound is
``|p_0| ≤ Π_n ‖I + h J_n‖₂ |p_N|`` (:func:`step_norm_product`).

Every Jacobian here is computed with ``torch.func.jacrev`` and batched with
``torch.func.vmap`` — no loop over coordinates.

Reference: Hairer, Lubich & Wanner, *Geometric Numerical Integration* (2nd ed., 2006),
§VI.2 (symplectic maps) and §VI.9 (volume preservation); Arnold, *Mathematical Methods
of Classical Mechanics*, §16 (Liouville's theorem); G. Söderlind, *The logarithmic norm.
History and modern theory*, BIT 46 (2006) 631–652, and G. Dahlquist (1958) for the
logarithmic norm.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch.func import jacrev, vjp, vmap

from ._validate import (
    Field,
    check_callable,
    check_field_output,
    check_float_tensor,
    check_positive,
    check_state,
    check_time_grid,
)
from .resnet import RK_METHODS, rk_unroll
from .solvers import odeint

__all__ = [
    "curve_area",
    "fd_state_jacobian",
    "gradient_gain",
    "jacobian_spectrum",
    "log_norm",
    "log_norm_integral",
    "log_norm_profile",
    "network_phase_jacobian",
    "network_phase_map",
    "polygon_area",
    "state_jacobian",
    "step_norm_product",
    "symplectic_defect",
    "symplectic_form",
    "variational_jacobian",
    "volume_defect",
]

#: Step maps whose Jacobian ``I + h f_x`` has a condition number above this are treated as singular.
SINGULAR_COND = 1e12

_ADAPTIVE = ("dopri8", "dopri5", "bosh3", "fehlberg2", "adaptive_heun")


def _hamiltonian_field(f: Field, d: int) -> Field:
    """``F(t, z) = (f(t, x), −p f_x(t, x))`` on ``z = [x, p]``, written with ``torch.func.vjp`` so that
    ``jacrev``/``vmap`` can differentiate it (the variational equation needs ``F_z``)."""

    def field(t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        fx, pull = vjp(lambda y: f(t, y), z[..., :d])
        (pfx,) = pull(z[..., d:])
        return torch.cat([fx, -pfx], dim=-1)

    return field


def _check_phase_point(name: str, z: Any) -> torch.Tensor:
    check_state(name, z)
    if z.shape[-1] % 2:
        raise ValueError(f"{name} must hold (x, p) with an even last dimension 2d; got shape {tuple(z.shape)}")
    return z


def _check_square(name: str, m: Any, *, even: bool = False) -> torch.Tensor:
    check_float_tensor(name, m)
    if m.ndim not in (2, 3) or m.shape[-1] != m.shape[-2] or m.shape[-1] == 0:
        raise ValueError(f"{name} must be a square matrix (n, n) or a batch (batch, n, n); got shape {tuple(m.shape)}")
    if even and m.shape[-1] % 2:
        raise ValueError(f"{name} must be a phase-space matrix of even size 2d; got shape {tuple(m.shape)}")
    return m


def symplectic_form(d: int, *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The canonical symplectic matrix ``Ω = [[0, I_d], [−I_d, 0]]``, shape ``(2d, 2d)``.

    Reference: Hairer, Lubich & Wanner, *Geometric Numerical Integration*, §VI.2, eq. (2.4).
    """
    if isinstance(d, bool) or not isinstance(d, int) or d < 1:
        raise ValueError(f"d must be an integer >= 1; got {d!r}")
    eye = torch.eye(d, dtype=dtype)
    zero = torch.zeros(d, d, dtype=dtype)
    return torch.cat([torch.cat([zero, eye], 1), torch.cat([-eye, zero], 1)], 0)


def symplectic_defect(M: torch.Tensor) -> torch.Tensor:
    """``max |MᵀΩM − Ω|`` (entrywise) — zero exactly when ``M`` is symplectic.

    Args:
        M: ``(2d, 2d)`` or ``(batch, 2d, 2d)``, e.g. the Jacobian of a map ``(x, p) ↦ (x', p')``.

    Returns:
        Shape ``()`` or ``(batch,)``.

    Reference: Hairer, Lubich & Wanner, *Geometric Numerical Integration*, Definition VI.2.2.
    """
    _check_square("M", M, even=True)
    omega = symplectic_form(M.shape[-1] // 2, dtype=M.dtype).to(M.device)
    return (M.mT @ omega @ M - omega).abs().amax(dim=(-2, -1))


def volume_defect(M: torch.Tensor) -> torch.Tensor:
    """``|det M − 1|`` — zero exactly when the linear map ``M`` preserves volume (and orientation).

    Args:
        M: square ``(n, n)`` or ``(batch, n, n)``.

    Returns:
        Shape ``()`` or ``(batch,)``.
    """
    _check_square("M", M)
    return (torch.linalg.det(M) - 1).abs()


def jacobian_spectrum(J: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(log|det J|, singular values of J)`` — the volume change and the extreme stretch factors.

    ``log|det J| = Σ_i log σ_i``; for ``J = ∂x_N/∂x_0`` it is the log-volume change of the
    forward flow (Jacobi/Liouville: ``d log|det J|/dt = tr f_x``).

    Args:
        J: square ``(d, d)`` or ``(batch, d, d)``.

    Returns:
        ``logabsdet`` of shape ``()``/``(batch,)`` and singular values ``(…, d)`` in decreasing order.

    Raises:
        ValueError: ``J`` is singular (``log|det J| = −∞``).
    """
    _check_square("J", J)
    sign, logabsdet = torch.linalg.slogdet(J)
    if not bool(torch.isfinite(logabsdet).all()) or bool((sign == 0).any()):
        raise ValueError("J must be non-singular (log|det J| is -inf); got a singular Jacobian")
    return logabsdet, torch.linalg.svdvals(J)


def gradient_gain(J: torch.Tensor, p_N: torch.Tensor) -> torch.Tensor:
    """``|p_N J| / |p_N|`` — how much backprop through ``J = ∂x_N/∂x_0`` stretches a gradient.

    By the chain rule ``p_0 = p_N J`` (row vectors), so ``σ_min(J) ≤ |p_0|/|p_N| ≤ σ_max(J)``.

    Args:
        J: ``(d, d)``.
        p_N: one final momentum ``(d,)`` or many ``(m, d)``; no row may vanish.

    Returns:
        Shape ``()`` or ``(m,)``.
    """
    _check_square("J", J)
    if J.ndim != 2:
        raise ValueError(f"J must be one matrix (d, d); got shape {tuple(J.shape)}")
    check_state("p_N", p_N)
    if p_N.shape[-1] != J.shape[0]:
        raise ValueError(f"p_N must have last dimension d = {J.shape[0]} (that of J); got shape {tuple(p_N.shape)}")
    norms = torch.linalg.vector_norm(p_N, dim=-1)
    if bool((norms == 0).any()):
        raise ValueError("p_N must have no zero rows (the gain |p_N J|/|p_N| is undefined); got a zero row")
    return torch.linalg.vector_norm(p_N @ J, dim=-1) / norms


def log_norm(M: torch.Tensor) -> torch.Tensor:
    """The logarithmic 2-norm ``μ(M) = λ_max((M + Mᵀ)/2)`` of a matrix or a batch of matrices.

    ``μ(M) = lim_{h→0⁺} (‖I + hM‖₂ − 1)/h``; it bounds the growth of linear flows,
    ``‖e^{tM}‖₂ ≤ e^{t μ(M)}`` (``t ≥ 0``), and of the solutions of ``dy/dt = A(t) y``,
    ``|y(t)| ≤ exp(∫ μ(A)) |y(0)|``.  Unlike a norm it can be negative (``μ(−I) = −1``), and it
    is at least the spectral abscissa ``max Re λ(M)``, with equality for normal ``M``.

    Args:
        M: square ``(n, n)`` or ``(…, n, n)`` (any leading batch dimensions).

    Returns:
        Shape ``()`` or ``(…)``.

    Reference: G. Söderlind, *The logarithmic norm. History and modern theory*, BIT 46 (2006)
    631–652, §2 and Table 1; G. Dahlquist, *Stability and error bounds in the numerical
    integration of ordinary differential equations*, thesis, Stockholm (1958).
    """
    check_float_tensor("M", M)
    if M.ndim < 2 or M.shape[-1] != M.shape[-2] or M.shape[-1] == 0:
        raise ValueError(f"M must be a square matrix (n, n) or a batch (..., n, n); got shape {tuple(M.shape)}")
    return torch.linalg.eigvalsh(0.5 * (M + M.mT))[..., -1]


def _check_trajectory_samples(f: Field, ts: torch.Tensor, xs: torch.Tensor) -> None:
    check_callable("f", f)
    check_float_tensor("xs", xs)
    check_time_grid("ts", ts, like=xs)
    if xs.ndim not in (2, 3) or xs.shape[0] != ts.numel() or xs.shape[-1] == 0:
        raise ValueError(
            f"xs must have shape (len(ts), d) or (len(ts), batch, d) with len(ts) = {ts.numel()}; "
            f"got shape {tuple(xs.shape)}"
        )
    check_field_output("f", f(ts[0], xs[0]), xs[0])


def _field_jacobians(f: Field, ts: torch.Tensor, xs: torch.Tensor) -> torch.Tensor:
    """``f_x(t_n, x_n)`` for every sample: ``(M, d, d)`` or ``(M, batch, d, d)`` (``f`` acts row by row)."""
    jac = jacrev(lambda t, x: f(t, x), argnums=1)
    if xs.ndim == 2:
        return vmap(jac)(ts, xs)
    return vmap(vmap(jac, in_dims=(None, 0)))(ts, xs)


def log_norm_profile(f: Field, ts: torch.Tensor, xs: torch.Tensor) -> torch.Tensor:
    """``μ(f_x(t_n, x_n))`` at the samples ``(t_n, x_n)`` of a trajectory (:func:`log_norm`).

    Args:
        f: vector field ``f(t, x)`` accepting ``x`` of shape ``(d,)``.
        ts: strictly monotone times ``(M,)``, ``M ≥ 2``, dtype/device of ``xs``.
        xs: states ``(M, d)`` or ``(M, batch, d)`` at those times (e.g. an ``odeint`` solution).

    Returns:
        ``(M,)`` or ``(M, batch)``.

    Reference: Söderlind (2006), BIT 46, §3 (the logarithmic norm along a trajectory).
    """
    _check_trajectory_samples(f, ts, xs)
    return log_norm(_field_jacobians(f, ts, xs.detach()).detach())


def log_norm_integral(f: Field, ts: torch.Tensor, xs: torch.Tensor) -> torch.Tensor:
    """``∫ μ(f_x(t, x(t))) dt`` along a sampled trajectory, by the composite trapezoidal rule.

    It bounds the backward propagation of momenta: for ``dp/dt = −p f_x`` on ``[t_0, T]``,
    ``|p(t_0)| ≤ exp(∫_{t_0}^T μ(f_x) dt) |p(T)|`` for every ``p(T)``, hence
    ``σ_max(∂x(T)/∂x(t_0)) ≤ exp(∫ μ)``.  ``μ`` is Lipschitz along a smooth trajectory but only
    piecewise smooth (eigenvalue crossings, kinks of ReLU), so the rule is second order where
    ``μ`` is smooth; sample densely.  The integral is signed like ``ts`` (``∫_{ts[0]}^{ts[-1]}``).

    Args:
        f, ts, xs: as for :func:`log_norm_profile`.

    Returns:
        Shape ``()`` or ``(batch,)``.

    Reference: Söderlind (2006), BIT 46, Theorem 3 (differential inequality); Dahlquist (1958).
    """
    mu = log_norm_profile(f, ts, xs)
    hs = (ts[1:] - ts[:-1]).reshape(-1, *([1] * (mu.ndim - 1)))
    return (0.5 * hs * (mu[1:] + mu[:-1])).sum(0)


def step_norm_product(f: Field, ts: torch.Tensor, xs: torch.Tensor) -> torch.Tensor:
    """``Π_n ‖I + h_n f_x(t_n, x_n)‖₂`` over the layers of a residual network — the exact bound
    on its backprop gain, ``|p_0| ≤ Π_n ‖I + h_n J_n‖₂ |p_N|``.

    ``‖I + hJ‖₂ = 1 + h μ(J) + O(h²)``, so ``Π_n ‖I + h_n J_n‖₂ ≈ exp(Σ_n h_n μ(J_n))`` only up
    to ``O(h)`` over the depth: for a rotation ``J = ω [[0, −1], [1, 0]]`` (``μ = 0``) every
    factor is ``(1 + h²ω²)^{1/2}`` and the product grows like ``e^{hω²T/2}``.

    Args:
        f: vector field ``f(t, x)`` accepting ``x`` of shape ``(d,)``.
        ts: the network's grid ``t_0, …, t_N`` (``h_n = t_{n+1} − t_n``).
        xs: the ResNet states ``x_0, …, x_N``, ``(N+1, d)`` or ``(N+1, batch, d)`` (``x_N`` unused).

    Returns:
        Shape ``()`` or ``(batch,)``.

    Reference: Söderlind (2006), BIT 46, §2 (``μ`` as the derivative of ``‖I + hM‖`` at ``h = 0``).
    """
    _check_trajectory_samples(f, ts, xs)
    jac = _field_jacobians(f, ts[:-1], xs[:-1].detach()).detach()
    eye = torch.eye(xs.shape[-1], dtype=xs.dtype, device=xs.device)
    hs = (ts[1:] - ts[:-1]).reshape(-1, *([1] * (jac.ndim - 1)))
    norms = torch.linalg.matrix_norm(eye + hs * jac, ord=2)
    return norms.prod(0)


def polygon_area(points: torch.Tensor) -> torch.Tensor:
    """Area enclosed by a closed polygon (shoelace formula), ``½|Σ_k (x_k p_{k+1} − x_{k+1} p_k)|``.

    Used to measure the area of a blob of phase-space points of a ``d = 1`` system
    from its boundary (the polygon closes itself: the last vertex joins the first).

    Args:
        points: ``(n, 2)`` vertices in order, ``n ≥ 3``.

    Returns:
        Shape ``()``.
    """
    check_float_tensor("points", points)
    if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] < 3:
        raise ValueError(f"points must have shape (n, 2) with n >= 3 vertices; got shape {tuple(points.shape)}")
    x, p = points[:, 0], points[:, 1]
    return 0.5 * (x * p.roll(-1) - x.roll(-1) * p).sum().abs()


def curve_area(points: torch.Tensor) -> torch.Tensor:
    """Area inside a smooth closed curve sampled at equally spaced parameters ``θ_k = 2πk/n``.

    Green's formula ``A = ½ |∫_0^{2π} (x p′ − p x′) dθ|`` with the derivatives in ``θ`` taken
    spectrally (FFT; the Nyquist mode of an even ``n`` gets none) and the integral by the
    trapezoidal rule. For a smooth periodic curve both converge faster than any power of
    ``1/n``, so the area is accurate far beyond :func:`polygon_area` (the chords through the
    same points, error ``O(1/n²)``) — the measure of a phase-space blob's area along a flow.

    Args:
        points: ``(n, 2)`` samples ``(x(θ_k), p(θ_k))`` in order around the curve, ``n ≥ 3``.

    Returns:
        Shape ``()``.
    """
    check_float_tensor("points", points)
    if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] < 3:
        raise ValueError(f"points must have shape (n, 2) with n >= 3 samples; got shape {tuple(points.shape)}")
    n = points.shape[0]
    k = torch.fft.fftfreq(n, d=1.0 / n, dtype=points.dtype)
    if n % 2 == 0:
        k[n // 2] = 0.0
    spectrum = torch.fft.fft(points, dim=0)
    dpoints = torch.fft.ifft(1j * k[:, None] * spectrum, dim=0).real
    x, p = points[:, 0], points[:, 1]
    dx, dp = dpoints[:, 0], dpoints[:, 1]
    return (0.5 * (2 * math.pi / n) * (x * dp - p * dx).sum()).abs()


def state_jacobian(f: Field, x0: torch.Tensor, ts: torch.Tensor, method: str = "euler") -> torch.Tensor:
    """``J = ∂x_N/∂x_0`` of the network (``method="euler"``: the ResNet) on the grid ``ts``.

    ``x_N`` is :func:`ctdepth_lib.rk_unroll` of ``x_0``; ``J`` comes from ``torch.func.jacrev``,
    batched over ``x0`` rows with ``vmap`` (``f`` must act row by row).

    Args:
        f: vector field ``f(t, x)``, accepting ``x`` of shape ``(d,)``.
        x0: ``(d,)`` or ``(batch, d)``.
        ts: strictly monotone grid, dtype/device of ``x0``.
        method: a key of :data:`ctdepth_lib.RK_METHODS`.

    Returns:
        ``(d, d)`` or ``(batch, d, d)``.
    """
    check_callable("f", f)
    check_state("x0", x0)
    check_time_grid("ts", ts, like=x0)
    if not isinstance(method, str) or method not in RK_METHODS:
        raise ValueError(f"method must be one of {sorted(RK_METHODS)}; got {method!r}")
    step = RK_METHODS[method][0]
    check_field_output("f", f(ts[0], x0), x0)

    def endpoint(x: torch.Tensor) -> torch.Tensor:
        for n in range(ts.numel() - 1):
            x = step(f, ts[n], ts[n + 1] - ts[n], x)
        return x

    jac = jacrev(endpoint)
    return jac(x0) if x0.ndim == 1 else vmap(jac)(x0)


def fd_state_jacobian(
    f: Field, x0: torch.Tensor, ts: torch.Tensor, method: str = "euler", *, eps: float = 1e-5
) -> torch.Tensor:
    """``J = ∂x_N/∂x_0`` of the network by central finite differences — a reference independent of autograd.

    ``J[:, i] ≈ (x_N(x_0 + ε e_i) − x_N(x_0 − ε e_i)) / (2ε)``, all ``2d`` perturbed inputs unrolled
    as one batch by :func:`ctdepth_lib.rk_unroll` (``f`` must act row by row).  Error ``O(ε²)``
    (truncation, where the map is smooth) plus ``O(u/ε)`` (rounding, ``u`` the unit roundoff);
    a kink of ReLU within ``ε`` of the trajectory spoils it.

    Args:
        f: vector field ``f(t, x)`` accepting ``(batch, d)``.
        x0: one input ``(d,)``.
        ts: strictly monotone grid, dtype/device of ``x0``.
        method: a key of :data:`ctdepth_lib.RK_METHODS`.
        eps: the difference step (> 0).

    Returns:
        ``(d, d)``, entry ``[j, i] = ∂x_{N,j}/∂x_{0,i}``.

    Reference: Nocedal & Wright, *Numerical Optimization* (2nd ed., 2006), §8.1.
    """
    check_callable("f", f)
    check_float_tensor("x0", x0)
    if x0.ndim != 1 or x0.numel() == 0:
        raise ValueError(f"x0 must be one input of shape (d,); got shape {tuple(x0.shape)}")
    check_time_grid("ts", ts, like=x0)
    check_positive("eps", eps)
    if not isinstance(method, str) or method not in RK_METHODS:
        raise ValueError(f"method must be one of {sorted(RK_METHODS)}; got {method!r}")
    d = x0.shape[0]
    shift = eps * torch.eye(d, dtype=x0.dtype, device=x0.device)
    with torch.no_grad():
        out = rk_unroll(f, torch.cat([x0 + shift, x0 - shift]).detach(), ts, method)[-1]
    return ((out[:d] - out[d:]) / (2 * eps)).mT


def _step_jacobians(f: Field, xs: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
    """``I + h_n f_x(t_n, x_n)`` for n = 0…N−1, shape ``(N, d, d)`` (one unbatched trajectory)."""
    eye = torch.eye(xs.shape[-1], dtype=xs.dtype, device=xs.device)
    hs = ts[1:] - ts[:-1]
    fx = vmap(jacrev(lambda t, x: f(t, x), argnums=1))(ts[:-1], xs[:-1])
    return eye + hs[:, None, None] * fx


def _phase_map(f: Field, z0: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
    """Unchecked joint network map on one point ``z0 = [x0, p0]`` of shape ``(2d,)``; returns ``(N+1, 2d)``."""
    d = z0.shape[-1] // 2
    x, p = z0[:d], z0[d:]
    zs = [z0]
    eye = torch.eye(d, dtype=z0.dtype, device=z0.device)
    for n in range(ts.numel() - 1):
        t, h = ts[n], ts[n + 1] - ts[n]
        fx, jac = f(t, x), jacrev(lambda y, t=t: f(t, y))(x)
        # Backprop p_n = p_{n+1} (I + h J_n), solved forward for p_{n+1}: (I + h J_n)ᵀ p_{n+1}ᵀ = p_nᵀ.
        p = torch.linalg.solve((eye + h * jac).mT, p)
        x = x + h * fx
        zs.append(torch.cat([x, p]))
    return torch.stack(zs)


def _check_phase_args(f: Field, z0: torch.Tensor, ts: torch.Tensor) -> None:
    check_callable("f", f)
    _check_phase_point("z0", z0)
    check_time_grid("ts", ts, like=z0)
    d = z0.shape[-1] // 2
    check_field_output("f", f(ts[0], z0[..., :d]), z0[..., :d])


def _check_nonsingular(f: Field, z0: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
    """Run the map once (no autograd), raising ``ValueError`` if a step map ``I + h f_x`` is singular."""
    d = z0.shape[-1] // 2
    rows = z0.reshape(-1, 2 * d).detach()
    with torch.no_grad():
        # Forward states of every row at once (f acts row by row), then the step Jacobians of each row.
        x_traj = rk_unroll(f, rows[:, :d], ts)  # (N+1, batch, d)
        steps = vmap(lambda xb: _step_jacobians(f, xb, ts), in_dims=1)(x_traj)  # (batch, N, d, d)
        cond = torch.linalg.cond(steps)
        bad = ~torch.isfinite(cond) | (cond > SINGULAR_COND)
        if bool(bad.any()):
            idx = bad.nonzero()[0].tolist()
            raise ValueError(
                f"f gives a singular step map on the grid ts: I + h f_x(t_n, x_n) has condition number "
                f"{float(cond[tuple(idx)]):.3g} > {SINGULAR_COND:.0e} at step n = {idx[1]} (row {idx[0]}); "
                "the momentum cannot be carried forward through it"
            )
    return x_traj


def network_phase_map(f: Field, z0: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
    """The residual network and its backprop as one map of phase space, ``(x_n, p_n) ↦ (x_{n+1}, p_{n+1})``.

    ``x_{n+1} = x_n + h f(t_n, x_n)`` and, inverting the backprop recursion
    ``p_n = p_{n+1}(I + h J_n)`` (``J_n = f_x(t_n, x_n)``),
    ``p_{n+1} = p_n (I + h J_n)^{-1}``.  Reading ``p`` forward in time shows where Liouville's
    compensation lives: if ``x`` contracts, ``p`` expands.

    Args:
        f: vector field ``f(t, x)`` accepting ``x`` of shape ``(d,)``.
        z0: ``(2d,)`` or ``(batch, 2d)``, the concatenation ``[x_0, p_0]``.
        ts: strictly monotone grid, dtype/device of ``z0``.

    Returns:
        ``(len(ts), *z0.shape)`` with rows ``[x_n, p_n]``.

    Raises:
        ValueError: some step map ``I + h f_x`` is (numerically) singular (condition number above
        :data:`SINGULAR_COND`), so ``p`` cannot be carried forward.

    Reference: Hairer, Lubich & Wanner, *Geometric Numerical Integration*, §VI.4.1 (symplectic Euler).
    """
    _check_phase_args(f, z0, ts)
    _check_nonsingular(f, z0, ts)
    if z0.ndim == 1:
        return _phase_map(f, z0, ts)
    return vmap(lambda z: _phase_map(f, z, ts), out_dims=1)(z0)


def network_phase_jacobian(f: Field, z0: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
    """Jacobian ``M = ∂(x_N, p_N)/∂(x_0, p_0)`` of :func:`network_phase_map` (``torch.func.jacrev``).

    ``M = [[J, 0], [∗, J^{-T}]]`` with ``J = ∂x_N/∂x_0`` is symplectic and ``det M = 1`` (claim L1).

    Args:
        f, z0, ts: as for :func:`network_phase_map`.

    Returns:
        ``(2d, 2d)`` or ``(batch, 2d, 2d)``.

    Raises:
        ValueError: a step map ``I + h f_x`` is singular.
    """
    _check_phase_args(f, z0, ts)
    _check_nonsingular(f, z0, ts)
    jac = jacrev(lambda z: _phase_map(f, z, ts)[-1])
    return jac(z0) if z0.ndim == 1 else vmap(jac)(z0)


def variational_jacobian(
    f: Field,
    z0: torch.Tensor,
    ts: torch.Tensor,
    *,
    method: str = "dopri8",
    rtol: float = 1e-12,
    atol: float = 1e-12,
    options: dict[str, Any] | None = None,
) -> torch.Tensor:
    """Jacobian ``M(t) = ∂z(t)/∂z_0`` of the continuous joint flow, by the variational equation.

    With ``z = (x, p)`` and the Hamiltonian field ``F(t, z) = (f(t, x), −p f_x(t, x))``,
    ``dM/dt = F_z(t, z(t)) M``, ``M(t_0) = I``, integrated with ``z`` by :func:`ctdepth_lib.odeint`
    (``F_z`` by ``jacrev`` of ``F``, batched with ``vmap``).  ``tr F_z = tr f_x − tr f_x = 0``, so
    ``det M ≡ 1`` (Liouville), and ``M`` is symplectic.

    Args:
        f: vector field ``f(t, x)`` accepting ``x`` of shape ``(d,)``.
        z0: ``(2d,)`` or ``(batch, 2d)``, the concatenation ``[x_0, p_0]``.
        ts: strictly monotone output grid.
        method, rtol, atol, options: passed to :func:`ctdepth_lib.odeint` (default dopri8 at 1e-12).
            For adaptive methods ``options`` defaults to ``{"step_t": ts}``, so every output time is
            an accepted step (torchdiffeq's dense-output interpolation is less accurate than the steps).

    Returns:
        ``(len(ts), 2d, 2d)`` or ``(len(ts), batch, 2d, 2d)``; entry 0 is the identity.

    Reference: Hairer, Nørsett & Wanner, *Solving ODEs I*, §I.14 (variational equation);
    Hairer, Lubich & Wanner, *Geometric Numerical Integration*, Theorem VI.2.4.
    """
    check_callable("f", f)
    _check_phase_point("z0", z0)
    check_time_grid("ts", ts, like=z0)
    check_positive("rtol", rtol)
    check_positive("atol", atol)
    n2 = z0.shape[-1]
    check_field_output("f", f(ts[0], z0[..., : n2 // 2]), z0[..., : n2 // 2])
    joint = _hamiltonian_field(f, n2 // 2)
    dF = jacrev(lambda t, z: joint(t, z), argnums=1)
    rows = z0.reshape(-1, n2).detach()
    batch = rows.shape[0]

    def augmented(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        z, m = y[:, :n2], y[:, n2:].reshape(batch, n2, n2)
        dz = joint(t, z)
        dm = vmap(dF, in_dims=(None, 0))(t, z) @ m
        return torch.cat([dz, dm.reshape(batch, n2 * n2)], dim=1)

    if options is None and method in _ADAPTIVE:
        options = {"step_t": ts}  # outputs at accepted steps: interpolation would add 10-100x the tolerance
    eye = torch.eye(n2, dtype=z0.dtype, device=z0.device).expand(batch, n2, n2).reshape(batch, n2 * n2)
    ys = odeint(augmented, torch.cat([rows, eye], dim=1), ts, method=method, rtol=rtol, atol=atol, options=options)
    ms = ys[:, :, n2:].reshape(ts.numel(), batch, n2, n2).detach()
    return ms[:, 0] if z0.ndim == 1 else ms
