"""Phase space of a network: the joint ``(x, p)`` map, its Jacobian, volume and symplecticity.

The state ``x`` and its momentum ``p = ∂L/∂x`` evolve together under Hamilton's
equations ``dx/dt = f``, ``dp/dt = −p f_x`` (see :mod:`ctdepth_lib.momenta`).
Liouville's theorem (claim L1): the joint vector field ``(f, −f_xᵀp)`` has zero
divergence, so its flow preserves phase-space volume; more strongly it is
symplectic, ``MᵀΩM = Ω`` for its Jacobian ``M``.  The residual network and its
backpropagation do the same *exactly*: the map ``(x_0, p_0) ↦ (x_N, p_N)`` has
the block-triangular Jacobian ``[[J, 0], [∗, J^{-T}]]`` with ``J = ∂x_N/∂x_0``,
so its determinant is 1.  What the volume does *not* decide — the size of the
gradient — is in :mod:`ctdepth_lib.jacobians` (claim L2).

Every Jacobian here is computed with ``torch.func.jacrev`` and batched with
``torch.func.vmap`` — no loop over coordinates.

Reference: Hairer, Lubich & Wanner, *Geometric Numerical Integration* (2nd ed., 2006),
§VI.2 (symplectic maps) and §VI.9 (volume preservation); Arnold, *Mathematical Methods
of Classical Mechanics*, §16 (Liouville's theorem).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch.func import jacrev, vmap

from ._stepping import unroll
from ._typing import Field
from ._validate import (
    check_callable,
    check_first_output,
    check_float_tensor,
    check_int,
    check_positive,
    check_square,
    check_state,
    check_time_grid,
)
from .jacobians import step_jacobians
from .momenta import joint_field_functional
from .resnet import rk_unroll
from .solvers import odeint

__all__ = [
    "curve_area",
    "network_phase_jacobian",
    "network_phase_map",
    "polygon_area",
    "symplectic_defect",
    "symplectic_form",
    "variational_jacobian",
    "volume_defect",
]

#: Step maps whose Jacobian ``I + h f_x`` has a condition number above this are treated as singular.
SINGULAR_COND = 1e12

_ADAPTIVE = ("dopri8", "dopri5", "bosh3", "fehlberg2", "adaptive_heun")


def _check_phase_point(name: str, z: Any) -> torch.Tensor:
    check_state(name, z)
    if z.shape[-1] % 2:
        raise ValueError(f"{name} must hold (x, p) with an even last dimension 2d; got shape {tuple(z.shape)}")
    return z


def symplectic_form(d: int, *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The canonical symplectic matrix ``Ω = [[0, I_d], [−I_d, 0]]``, shape ``(2d, 2d)``.

    Reference: Hairer, Lubich & Wanner, *Geometric Numerical Integration*, §VI.2, eq. (2.4).
    """
    check_int("d", d, 1)
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
    check_square("M", M, even=True)
    omega = symplectic_form(M.shape[-1] // 2, dtype=M.dtype).to(M.device)
    return (M.mT @ omega @ M - omega).abs().amax(dim=(-2, -1))


def volume_defect(M: torch.Tensor) -> torch.Tensor:
    """``|det M − 1|`` — zero exactly when the linear map ``M`` preserves volume (and orientation).

    Args:
        M: square ``(n, n)`` or ``(batch, n, n)``.

    Returns:
        Shape ``()`` or ``(batch,)``.
    """
    check_square("M", M)
    return (torch.linalg.det(M) - 1).abs()


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


def _phase_map(f: Field, z0: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
    """Unchecked joint network map on one point ``z0 = [x0, p0]`` of shape ``(2d,)``; returns ``(N+1, 2d)``."""
    d = z0.shape[-1] // 2
    eye = torch.eye(d, dtype=z0.dtype, device=z0.device)

    def step(t: torch.Tensor, t_next: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        x, p, h = z[:d], z[d:], t_next - t
        fx, jac = f(t, x), jacrev(lambda y: f(t, y))(x)
        # Backprop p_n = p_{n+1} (I + h J_n), solved forward for p_{n+1}: (I + h J_n)ᵀ p_{n+1}ᵀ = p_nᵀ.
        return torch.cat([x + h * fx, torch.linalg.solve((eye + h * jac).mT, p)])

    return unroll(step, z0, ts)


def _check_phase_args(f: Field, z0: torch.Tensor, ts: torch.Tensor) -> None:
    check_callable("f", f)
    _check_phase_point("z0", z0)
    check_time_grid("ts", ts, like=z0)
    # f's output is checked by the first evaluation of _check_nonsingular's rk_unroll


def _check_nonsingular(f: Field, z0: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
    """Run the map once (no autograd), raising ``ValueError`` if a step map ``I + h f_x`` is singular."""
    d = z0.shape[-1] // 2
    rows = z0.reshape(-1, 2 * d).detach()
    with torch.no_grad():
        # Forward states of every row at once (f acts row by row), then the step Jacobians of each row.
        x_traj = rk_unroll(f, rows[:, :d], ts)  # (N+1, batch, d)
        cond = torch.linalg.cond(step_jacobians(f, ts, x_traj))  # (N, batch)
        bad = ~torch.isfinite(cond) | (cond > SINGULAR_COND)
        if bool(bad.any()):
            n, row = bad.nonzero()[0].tolist()
            raise ValueError(
                f"f gives a singular step map on the grid ts: I + h f_x(t_n, x_n) has condition number "
                f"{float(cond[n, row]):.3g} > {SINGULAR_COND:.0e} at step n = {n} (row {row}); "
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
    rows = z0.reshape(-1, n2).detach()
    batch = rows.shape[0]
    joint = joint_field_functional(check_first_output("f", f, rows[:, : n2 // 2]), n2 // 2)
    dF = jacrev(lambda t, z: joint(t, z), argnums=1)

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
