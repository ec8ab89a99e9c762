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
from collections.abc import Callable
from typing import Any

import torch
from torch.func import jacrev, vmap

from ._stepping import unroll
from ._typing import Field
from ._validate import (
    check_callable,
    check_first_output,
    check_int,
    check_square,
    check_state,
    check_tensor,
    check_time_grid,
)
from .momenta import _joint_field_functional
from .solvers import check_solver_args, solve

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


def _check_phase_args(f: Field, z0: Any, ts: Any) -> Field:
    """The checks of the faces on a phase point ``z0 = [x0, p0]``; returns ``f`` with its first
    (mapped) evaluation checked, on one ``x`` of shape ``(d,)``."""
    check_callable("f", f)
    check_state("z0", z0)
    if z0.shape[-1] % 2:
        raise ValueError(f"z0 must hold (x, p) with an even last dimension 2d; got shape {tuple(z0.shape)}")
    check_time_grid("ts", ts, like=z0)
    return check_first_output("f", f, z0.reshape(-1, z0.shape[-1])[0, : z0.shape[-1] // 2])  # one mapped call


def symplectic_form(d: int, *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The canonical symplectic matrix ``Ω = [[0, I_d], [−I_d, 0]]``, shape ``(2d, 2d)``.

    Reference: Hairer, Lubich & Wanner, *Geometric Numerical Integration*, §VI.2, eq. (2.4).
    """
    return _omega(check_int("d", d, 1), dtype)


def _omega(d: int, dtype: torch.dtype) -> torch.Tensor:
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
    omega = _omega(M.shape[-1] // 2, M.dtype).to(M.device)
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


def _check_points(points: Any) -> torch.Tensor:
    check_tensor("points", points, ndim=(2,), expected="have shape (n, 2) with n >= 3 points")
    if points.shape[1] != 2 or points.shape[0] < 3:
        raise ValueError(f"points must have shape (n, 2) with n >= 3 points; got shape {tuple(points.shape)}")
    return points


def polygon_area(points: torch.Tensor) -> torch.Tensor:
    """Area enclosed by a closed polygon (shoelace formula), ``½|Σ_k (x_k p_{k+1} − x_{k+1} p_k)|``.

    Used to measure the area of a blob of phase-space points of a ``d = 1`` system
    from its boundary (the polygon closes itself: the last vertex joins the first).

    Args:
        points: ``(n, 2)`` vertices in order, ``n ≥ 3``.

    Returns:
        Shape ``()``.
    """
    x, p = _check_points(points).unbind(1)
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
    n = _check_points(points).shape[0]
    k = torch.fft.fftfreq(n, d=1.0 / n, dtype=points.dtype)
    if n % 2 == 0:
        k[n // 2] = 0.0
    spectrum = torch.fft.fft(points, dim=0)
    dpoints = torch.fft.ifft(1j * k[:, None] * spectrum, dim=0).real
    x, p = points[:, 0], points[:, 1]
    dx, dp = dpoints[:, 0], dpoints[:, 1]
    return (0.5 * (2 * math.pi / n) * (x * dp - p * dx).sum()).abs()


def _phase_map(f: Field, z0: torch.Tensor, ts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unchecked joint network map on one point ``z0 = [x0, p0]`` of shape ``(2d,)``.

    Returns ``(zs, steps)``: the states ``(N+1, 2d)`` and the step maps ``I + h f_x(t_n, x_n)``,
    ``(N, d, d)``, which the faces check for singularity once the map has run (inside
    ``vmap``/``jacrev`` no value can be tested).
    """
    d = z0.shape[-1] // 2
    eye = torch.eye(d, dtype=z0.dtype, device=z0.device)
    steps: list[torch.Tensor] = []

    def step(t: torch.Tensor, t_next: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        x, p, h = z[:d], z[d:], t_next - t
        fx, jac = f(t, x), jacrev(lambda y: f(t, y))(x)
        steps.append(eye + h * jac)
        # Backprop p_n = p_{n+1} (I + h J_n), solved forward for p_{n+1}: (I + h J_n)ᵀ p_{n+1}ᵀ = p_nᵀ.
        # solve_ex: a singular step map is reported by _check_nonsingular, naming the step.
        return torch.cat([x + h * fx, torch.linalg.solve_ex(steps[-1].mT, p)[0]])

    return unroll(step, z0, ts), torch.stack(steps)


def _over_rows(fn: Callable[[torch.Tensor], Any], z0: torch.Tensor, out_dims: int | tuple[int, ...]) -> Any:
    """``fn`` of one point ``(2d,)``, applied to ``z0`` or mapped over the rows of ``(batch, 2d)`` by ``vmap``."""
    return fn(z0) if z0.ndim == 1 else vmap(fn, out_dims=out_dims)(z0)


def _check_nonsingular(steps: torch.Tensor) -> None:
    """``ValueError`` if a step map ``I + h f_x`` (``steps: (N, d, d)`` or ``(N, batch, d, d)``) is singular."""
    with torch.no_grad():
        cond = torch.linalg.cond(steps.detach().reshape(steps.shape[0], -1, *steps.shape[-2:]))  # (N, batch)
        bad = ~torch.isfinite(cond) | (cond > SINGULAR_COND)
        if bool(bad.any()):
            n, row = bad.nonzero()[0].tolist()
            raise ValueError(
                f"f gives a singular step map on the grid ts: I + h f_x(t_n, x_n) has condition number "
                f"{float(cond[n, row]):.3g} > {SINGULAR_COND:.0e} at step n = {n} (row {row}); "
                "the momentum cannot be carried forward through it"
            )


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
    f = _check_phase_args(f, z0, ts)
    zs, steps = _over_rows(lambda z: _phase_map(f, z, ts), z0, out_dims=1)
    _check_nonsingular(steps)
    return zs


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
    f = _check_phase_args(f, z0, ts)

    def end(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        zs, steps = _phase_map(f, z, ts)
        return zs[-1], steps

    try:
        m, steps = _over_rows(jacrev(end, has_aux=True), z0, out_dims=(0, 1))
    except torch.linalg.LinAlgError:  # the backward pass met an exactly singular step map: name it
        _check_nonsingular(_over_rows(lambda z: _phase_map(f, z, ts), z0, out_dims=1)[1])
        raise
    _check_nonsingular(steps)
    return m


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
    _check_phase_args(f, z0, ts)
    check_solver_args(method, rtol, atol, options)
    n2 = z0.shape[-1]
    rows = z0.reshape(-1, n2).detach()
    batch = rows.shape[0]
    joint = _joint_field_functional(check_first_output("f", f, rows[:, : n2 // 2]), n2 // 2)
    dF = jacrev(lambda t, z: joint(t, z), argnums=1)

    def augmented(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        z, m = y[:, :n2], y[:, n2:].reshape(batch, n2, n2)
        dz = joint(t, z)
        dm = vmap(dF, in_dims=(None, 0))(t, z) @ m
        return torch.cat([dz, dm.reshape(batch, n2 * n2)], dim=1)

    if options is None and method in _ADAPTIVE:
        options = {"step_t": ts}  # outputs at accepted steps: interpolation would add 10-100x the tolerance
    eye = torch.eye(n2, dtype=z0.dtype, device=z0.device).expand(batch, n2, n2).reshape(batch, n2 * n2)
    ys = solve(augmented, torch.cat([rows, eye], dim=1), ts, method=method, rtol=rtol, atol=atol, options=options)
    ms = ys[:, :, n2:].reshape(ts.numel(), batch, n2, n2).detach()
    return ms[:, 0] if z0.ndim == 1 else ms
