"""The gradient as a momentum: Hamiltonian, backprop momenta and the continuous adjoint.

For a network ``dx/dt = f(t, x)`` with loss ``L = ℓ(x(T))`` the gradient with
respect to the hidden state, ``p(t) = ∂L/∂x(t)``, is the momentum conjugate to
``x`` for the Hamiltonian ``H(t, x, p) = p · f(t, x)``:

    dx/dt = ∂H/∂p = f(t, x),        dp/dt = −∂H/∂x = −p f_x(t, x),

with ``p(T) = ∇ℓ(x(T))`` (Pontryagin's maximum principle; Li, Chen, Tai & E,
JMLR 2018; the adjoint method of Chen et al. 2018).  Backpropagation through the
residual network ``x_{n+1} = x_n + h f(t_n, x_n)`` gives
``p_n = p_{n+1}(I + h f_x(t_n, x_n))``: the symplectic Euler method for these
equations (Sanz-Serna, SIAM Review 2016).

The module also holds references that use neither autograd's vector–Jacobian product nor
torchdiffeq, to check the above against: :func:`fd_momentum` (central differences of the loss,
re-solved with SciPy's DOP853), :func:`hamiltonian_gradient_fd` and
:func:`hamiltonian_time_rate_fd` (central differences of ``H``), and the forward tangent
sequence :func:`tangent_unroll` that the backprop momenta pair with exactly.

Batches: for ``x0`` of shape ``(batch, d)`` the loss is a scalar of the whole
batch (e.g. the *sum* of per-sample losses); then ``p[b] = ∂L/∂x[b]``, which for
a sum is the per-sample gradient, because samples do not interact.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from scipy.integrate import solve_ivp

from ._validate import (
    Field,
    check_callable,
    check_field_output,
    check_float_tensor,
    check_positive,
    check_state,
    check_time_grid,
)
from .resnet import resnet_unroll
from .solvers import odeint

__all__ = [
    "adjoint_momenta",
    "backprop_momenta",
    "fd_momentum",
    "hamiltonian",
    "hamiltonian_flow",
    "hamiltonian_gradient_fd",
    "hamiltonian_time_rate_fd",
    "modified_hamiltonian",
    "tangent_unroll",
]

Loss = Callable[[torch.Tensor], torch.Tensor]


def _as_time(name: str, t: Any, like: torch.Tensor) -> torch.Tensor:
    if isinstance(t, bool) or not isinstance(t, (int, float, torch.Tensor)):
        raise TypeError(f"{name} must be a real number or a 0-d tensor; got {type(t).__name__}")
    if isinstance(t, torch.Tensor):
        if t.ndim != 0:
            raise ValueError(f"{name} must be a 0-d tensor (one time); got shape {tuple(t.shape)}")
        return t.to(like.dtype)
    return torch.tensor(float(t), dtype=like.dtype, device=like.device)


def _check_momentum(name: str, p: Any, x: torch.Tensor) -> torch.Tensor:
    check_float_tensor(name, p)
    if p.shape != x.shape:
        raise ValueError(f"{name} must have the shape of x {tuple(x.shape)}; got shape {tuple(p.shape)}")
    if p.dtype != x.dtype:
        raise TypeError(f"{name} must have the dtype of x ({x.dtype}); got {p.dtype}")
    return p


def _check_loss_value(value: Any) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"loss(x_N) must return a torch.Tensor (a scalar); got {type(value).__name__}")
    if value.numel() != 1:
        raise ValueError(f"loss(x_N) must return a scalar (use the sum over a batch); got shape {tuple(value.shape)}")
    if not value.is_floating_point():
        raise TypeError(f"loss(x_N) must return a floating-point scalar; got dtype {value.dtype}")
    return value.reshape(())


def _loss_gradient(loss: Loss, x: torch.Tensor) -> torch.Tensor:
    """``∇ℓ(x)`` (shape of ``x``), validating that ``loss`` returns a scalar."""
    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        value = _check_loss_value(loss(xg))
        if not value.requires_grad:
            return torch.zeros_like(x)
        (g,) = torch.autograd.grad(value, xg, allow_unused=True)
    return torch.zeros_like(x) if g is None else g.detach()


def hamiltonian(f: Field, t: float | torch.Tensor, x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """The control Hamiltonian ``H(t, x, p) = p · f(t, x)``, one value per batch element.

    Args:
        f: vector field ``f(t, x)``.
        t: a time (number or 0-d tensor).
        x: state, shape ``(d,)`` or ``(batch, d)``.
        p: momentum, shape and dtype of ``x``.

    Returns:
        Shape ``()`` for ``x: (d,)``, ``(batch,)`` for ``x: (batch, d)``.

    Reference: Li, Chen, Tai & E, *Maximum principle based algorithms for deep learning*, JMLR 18 (2018), eq. (5).
    """
    check_callable("f", f)
    check_state("x", x)
    _check_momentum("p", p, x)
    tt = _as_time("t", t, x)
    fx = f(tt, x)
    check_field_output("f", fx, x)
    return (p * fx).sum(-1)


def modified_hamiltonian(f: Field, t: float | torch.Tensor, x: torch.Tensor, p: torch.Tensor, h: float) -> torch.Tensor:
    """The modified Hamiltonian of the ResNet/backprop pair, ``H̃ = p·f − (h/2) p f_x f``, per batch element.

    The pair ``x_{n+1} = x_n + h f(x_n)``, ``p_n = p_{n+1}(I + h f_x(x_n))`` is the
    symplectic Euler method; it does not conserve ``H = p·f`` (drift O(h)), but it
    conserves ``H̃`` evaluated at ``(x_n, p_n)`` up to O(h²) for an autonomous ``f``
    (claim H2).  ``f_x f`` is one Jacobian–vector product (``torch.func.jvp``) for the
    whole batch.

    Args:
        f: vector field ``f(t, x)`` (autonomous for the conservation statement).
        t: a time (number or 0-d tensor).
        x: ``(d,)`` or ``(batch, d)`` — e.g. a whole trajectory ``(N + 1, d)`` as a batch.
        p: shape and dtype of ``x``.
        h: the step size (> 0).

    Returns:
        Shape ``()`` or ``(batch,)``.

    Reference: Hairer, Lubich & Wanner, *Geometric Numerical Integration*, 2nd ed., §IX.3
    (modified Hamiltonian of the symplectic Euler method, H̃ = H − (h/2) H_p H_q + O(h²)).
    """
    check_callable("f", f)
    check_state("x", x)
    _check_momentum("p", p, x)
    tt = _as_time("t", t, x)
    check_positive("h", h)
    fx = f(tt, x)
    check_field_output("f", fx, x)
    _, jf = torch.func.jvp(lambda y: f(tt, y), (x,), (fx,))
    return (p * fx).sum(-1) - 0.5 * h * (p * jf).sum(-1)


def backprop_momenta(f: Field, x0: torch.Tensor, ts: torch.Tensor, loss: Loss) -> tuple[torch.Tensor, torch.Tensor]:
    """The ResNet states ``x_n`` and the backprop momenta ``p_n = ∂L/∂x_n`` for every layer.

    Unrolls ``x_{n+1} = x_n + h_n f(t_n, x_n)`` with :func:`resnet_unroll` and
    differentiates ``L = loss(x_N)`` with respect to every hidden state by reverse-mode
    autograd.  The result satisfies ``p_N = ∇loss(x_N)`` and
    ``p_n = p_{n+1} (I + h_n f_x(t_n, x_n))`` (claim 2a).

    Args:
        f: vector field ``f(t, x)`` (callable or ``nn.Module``).
        x0: ``(d,)`` or ``(batch, d)``, floating point.
        ts: strictly monotone grid ``t_0, …, t_N`` (dtype/device of ``x0``).
        loss: maps ``x_N`` (shape of ``x0``) to a scalar; for a batch, the sum of per-sample losses.

    Returns:
        ``(xs, ps)``, both of shape ``(len(ts), *x0.shape)``, detached.

    Reference: Sanz-Serna, *Symplectic Runge–Kutta schemes for adjoint equations, automatic
    differentiation, optimal control, and more*, SIAM Review 58 (2016).
    """
    check_callable("f", f)
    check_state("x0", x0)
    check_time_grid("ts", ts, like=x0)
    check_callable("loss", loss)
    n_steps = ts.numel() - 1
    seen: list[torch.Tensor] = []

    def recording(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        seen.append(x)
        return f(t, x)

    with torch.enable_grad():
        start = x0.detach().requires_grad_(True)
        xs = resnet_unroll(recording, start, ts)
        x_last = xs[-1]
        value = _check_loss_value(loss(x_last))
        # The Euler unroll evaluates f once at each x_0, …, x_{N-1} (after one validation call).
        hidden = seen[-n_steps:]
        if value.requires_grad:
            grads = torch.autograd.grad(value, [*hidden, x_last], allow_unused=True)
        else:
            grads = (None,) * (n_steps + 1)
    ps = torch.stack([torch.zeros_like(x0) if g is None else g.detach() for g in grads])
    return xs.detach(), ps


def _joint_field(f: Field, d: int) -> Field:
    """The Hamiltonian vector field ``(f, −p f_x)`` on ``z = [x, p]`` (last axis ``2d``)."""

    def field(t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        # One reverse-mode vector-Jacobian product for the whole batch (plain autograd: it avoids
        # the seconds-long first-call set-up of torch.func's backward transforms).
        with torch.enable_grad():
            x = z[..., :d].detach().requires_grad_(True)
            fx = f(t, x)
            (pfx,) = torch.autograd.grad(fx, x, grad_outputs=z[..., d:].detach())
        return torch.cat([fx.detach(), -pfx], dim=-1)

    return field


def hamiltonian_flow(
    f: Field,
    x0: torch.Tensor,
    p0: torch.Tensor,
    ts: torch.Tensor,
    *,
    method: str = "dopri5",
    rtol: float = 1e-10,
    atol: float = 1e-10,
    options: dict[str, Any] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Solve Hamilton's equations ``dx/dt = ∂H/∂p = f``, ``dp/dt = −∂H/∂x = −p f_x`` with torchdiffeq.

    ``(x, p)`` starts from ``(x0, p0)`` at ``ts[0]``; ``ts`` may decrease (then the
    system is integrated backward in time, as the adjoint is).  ``p f_x`` is one
    vector–Jacobian product per evaluation (reverse-mode autograd), for the whole batch at once.

    Args:
        f: vector field ``f(t, x)``.
        x0, p0: ``(d,)`` or ``(batch, d)``, same shape and dtype.
        ts: strictly monotone output grid.
        method, rtol, atol, options: passed to :func:`ctdepth_lib.odeint`.

    Returns:
        ``(xs, ps)`` of shape ``(len(ts), *x0.shape)``, detached.

    Reference: Hairer, Lubich & Wanner, *Geometric Numerical Integration*, §VI.1.
    """
    check_callable("f", f)
    check_state("x0", x0)
    _check_momentum("p0", p0, x0)
    check_time_grid("ts", ts, like=x0)
    check_positive("rtol", rtol)
    check_positive("atol", atol)
    check_field_output("f", f(ts[0], x0.detach()), x0)
    d = x0.shape[-1]
    z0 = torch.cat([x0.detach(), p0.detach()], dim=-1)
    zs = odeint(_joint_field(f, d), z0, ts, method=method, rtol=rtol, atol=atol, options=options)
    zs = zs.detach()
    return zs[..., :d], zs[..., d:]


def adjoint_momenta(
    f: Field, x0: torch.Tensor, ts: torch.Tensor, loss: Loss, *, rtol: float = 1e-10, atol: float = 1e-10
) -> tuple[torch.Tensor, torch.Tensor]:
    """The continuous states ``x(t_n)`` and momenta ``p(t_n) = ∂L/∂x(t_n)`` on the grid ``ts``.

    Solves ``dx/dt = f`` forward from ``x0`` (dopri5), then Hamilton's equations
    ``dx/dt = ∂H/∂p``, ``dp/dt = −∂H/∂x = −p f_x`` backward from
    ``(x(T), p(T) = ∇loss(x(T)))`` (see :func:`hamiltonian_flow`).  Carrying ``x``
    along backward, instead of storing it, is the O(1)-memory adjoint of Chen et al. (2018).

    Args:
        f: vector field ``f(t, x)``.
        x0: ``(d,)`` or ``(batch, d)``, floating point.
        ts: strictly increasing grid ``t_0 < … < t_N``.
        loss: maps ``x(T)`` (shape of ``x0``) to a scalar; for a batch, the sum of per-sample losses.
        rtol, atol: dopri5 tolerances (> 0).

    Returns:
        ``(xs, ps)`` of shape ``(len(ts), *x0.shape)``: ``xs`` from the forward solve,
        ``ps`` from the backward solve, both detached.

    Reference: Chen, Rubanova, Bettencourt & Duvenaud, *Neural ordinary differential
    equations*, NeurIPS 2018, §2; Pontryagin's maximum principle.
    """
    check_callable("f", f)
    check_state("x0", x0)
    check_time_grid("ts", ts, like=x0)
    if not bool((ts[1:] > ts[:-1]).all()):
        raise ValueError("ts must be strictly increasing (t_0 < … < t_N) for adjoint_momenta")
    check_callable("loss", loss)
    check_positive("rtol", rtol)
    check_positive("atol", atol)
    with torch.no_grad():
        xs = odeint(f, x0.detach(), ts, rtol=rtol, atol=atol).detach()
    p_final = _loss_gradient(loss, xs[-1])
    _, ps_rev = hamiltonian_flow(f, xs[-1], p_final, ts.flip(0), rtol=rtol, atol=atol)
    return xs, ps_rev.flip(0)


def _check_trajectory(ts: Any, xs: Any, ps: Any) -> None:
    """``ts: (M,)``, ``xs, ps: (M, d)`` or ``(M, batch, d)`` of one dtype."""
    check_float_tensor("xs", xs)
    if xs.ndim not in (2, 3) or xs.shape[-1] == 0:
        raise ValueError(f"xs must have shape (M, d) or (M, batch, d); got shape {tuple(xs.shape)}")
    _check_momentum("ps", ps, xs)
    check_float_tensor("ts", ts)
    if ts.ndim != 1 or ts.shape[0] != xs.shape[0]:
        raise ValueError(f"ts must be 1-D with one time per row of xs ({xs.shape[0]}); got shape {tuple(ts.shape)}")
    if ts.dtype != xs.dtype:
        raise TypeError(f"ts must have the dtype of xs ({xs.dtype}); got {ts.dtype}")


def hamiltonian_gradient_fd(
    f: Field, ts: torch.Tensor, xs: torch.Tensor, ps: torch.Tensor, *, eps: float = 1e-5
) -> tuple[torch.Tensor, torch.Tensor]:
    """``∂H/∂x`` and ``∂H/∂p`` of ``H = p · f(t, x)`` by central finite differences (no autograd).

    ``∂H/∂x_i ≈ [H(t, x + ε e_i, p) − H(t, x − ε e_i, p)] / (2ε)`` and likewise in ``p``
    (where ``H`` is linear, so the difference is exact up to rounding); truncation error
    ``O(ε²)``, rounding ``O(u/ε)``.  An independent reference for the vector–Jacobian
    product ``p f_x`` that the adjoint solvers use.  All ``2d`` perturbations of all points
    of a time ``t_m`` are evaluated in one call of ``f``.

    Args:
        f: vector field ``f(t, x)`` accepting ``(batch, d)``.
        ts: times, shape ``(M,)``.
        xs, ps: states and momenta, shape ``(M, d)`` or ``(M, batch, d)``.
        eps: the difference step (> 0).

    Returns:
        ``(H_x, H_p)``, both of the shape of ``xs``.

    Reference: Nocedal & Wright, *Numerical Optimization*, 2nd ed., §8.1 (central differences).
    """
    check_callable("f", f)
    _check_trajectory(ts, xs, ps)
    check_positive("eps", eps)
    d = xs.shape[-1]
    shape = xs.shape[1:]
    steps = eps * torch.eye(d, dtype=xs.dtype, device=xs.device)  # (d, d): row i is ε e_i
    h_x, h_p = [], []
    with torch.no_grad():
        for t, x, p in zip(ts, xs.detach(), ps.detach(), strict=True):
            xb, pb = x.reshape(-1, d), p.reshape(-1, d)  # (B, d)
            shifted = torch.cat([xb[None] + steps[:, None], xb[None] - steps[:, None]])  # (2d, B, d)
            fs = f(t, shifted.reshape(-1, d)).reshape(2 * d, -1, d)
            ham = (pb[None] * fs).sum(-1)  # (2d, B)
            h_x.append(((ham[:d] - ham[d:]) / (2 * eps)).T.reshape(shape))
            f0 = f(t, xb)
            ham_p = ((pb[None] + steps[:, None]) * f0[None]).sum(-1) - ((pb[None] - steps[:, None]) * f0[None]).sum(-1)
            h_p.append((ham_p / (2 * eps)).T.reshape(shape))
    return torch.stack(h_x), torch.stack(h_p)


def hamiltonian_time_rate_fd(
    f: Field, ts: torch.Tensor, xs: torch.Tensor, ps: torch.Tensor, *, eps: float = 1e-5
) -> torch.Tensor:
    """The explicit time derivative ``∂H/∂t = p · ∂_t f(t, x)`` by central differences in ``t``.

    ``∂H/∂t ≈ p · [f(t + ε, x) − f(t − ε, x)] / (2ε)`` with ``x``, ``p`` held fixed.  Along
    a solution of Hamilton's equations ``dH/dt = ∂H/∂t``, so
    ``H(t) − H(t_0) = ∫_{t_0}^t p · ∂_s f ds`` (claim H1-control).

    Args:
        f: vector field ``f(t, x)``.
        ts: times, shape ``(M,)``.
        xs, ps: shape ``(M, d)`` or ``(M, batch, d)``.
        eps: the difference step in time (> 0).

    Returns:
        Shape ``(M,)`` or ``(M, batch)``.

    Reference: Arnold, *Mathematical Methods of Classical Mechanics*, 2nd ed., §45 (dH/dt = ∂H/∂t).
    """
    check_callable("f", f)
    _check_trajectory(ts, xs, ps)
    check_positive("eps", eps)
    rates = []
    with torch.no_grad():
        for t, x, p in zip(ts, xs.detach(), ps.detach(), strict=True):
            df = (f(t + eps, x) - f(t - eps, x)) / (2 * eps)
            rates.append((p * df).sum(-1))
    return torch.stack(rates)


def tangent_unroll(f: Field, x0: torch.Tensor, v0: torch.Tensor, ts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The ResNet states ``x_n`` and a tangent sequence ``v_n`` carried along by forward mode.

    ``x_{n+1} = x_n + h_n f(t_n, x_n)`` and ``v_{n+1} = (I + h_n J_n) v_n`` with
    ``J_n = f_x(t_n, x_n)``; ``J_n v_n`` is one Jacobian–vector product per layer for the
    whole batch (forward-mode tangent propagation).  ``v_n = (∂x_n/∂x_0) v_0``, so with the
    backprop momenta ``p_n`` of :func:`backprop_momenta` the pairing ``p_n · v_n`` is the same
    number ``∂L/∂x_0 · v_0`` at every layer (claim H2-tangent).

    Args:
        f: vector field ``f(t, x)``.
        x0, v0: ``(d,)`` or ``(batch, d)``, same shape and dtype.
        ts: strictly monotone grid ``t_0, …, t_N`` (dtype/device of ``x0``).

    Returns:
        ``(xs, vs)``, both of shape ``(len(ts), *x0.shape)``, detached.

    Reference: Griewank & Walther, *Evaluating Derivatives*, 2nd ed. (2008), ch. 3 (tangent mode).
    """
    check_callable("f", f)
    check_state("x0", x0)
    _check_momentum("v0", v0, x0)
    check_time_grid("ts", ts, like=x0)
    check_field_output("f", f(ts[0], x0.detach()), x0)
    x, v = x0.detach(), v0.detach()
    xs, vs = [x], [v]
    for n in range(ts.numel() - 1):
        t, h = ts[n], ts[n + 1] - ts[n]
        # J v as the derivative in u of the vector–Jacobian product u J (double backward, as
        # torch.autograd.functional.jvp does): a few times cheaper per layer than torch.func.jvp here.
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            fx = f(t, xg)
            jv = None
            if fx.requires_grad:
                u = torch.zeros_like(fx, requires_grad=True)
                (uj,) = torch.autograd.grad(fx, xg, grad_outputs=u, create_graph=True, allow_unused=True)
                if uj is not None and uj.requires_grad:
                    (jv,) = torch.autograd.grad(uj, u, grad_outputs=v, allow_unused=True)
        jv = torch.zeros_like(v) if jv is None else jv
        x, v = (x + h * fx).detach(), (v + h * jv).detach()
        xs.append(x)
        vs.append(v)
    return torch.stack(xs), torch.stack(vs)


def fd_momentum(
    f: Field,
    t0: float,
    t1: float,
    x: torch.Tensor,
    sample_loss: Callable[[torch.Tensor], torch.Tensor],
    *,
    eps: float = 1e-4,
    rtol: float = 1e-13,
    atol: float = 1e-13,
) -> torch.Tensor:
    """``∂L/∂x(t0)`` by central finite differences of the loss, re-solving the ODE with SciPy's DOP853.

    ``p_i ≈ [L(x + ε e_i) − L(x − ε e_i)] / (2ε)``, where ``L(ξ) = ℓ(x(t1))`` and ``x(t)``
    solves ``dx/dt = f(t, x)`` from ``x(t0) = ξ`` with ``scipy.integrate.solve_ivp(method="DOP853")``:
    a reference for the momentum independent of torchdiffeq and of autograd.  For a batch
    ``x: (B, d)`` the samples do not interact, so all ``2d`` perturbations of all samples are
    one solve of a ``2d·B·d``-dimensional system and ``p[b] = ∂ℓ_b/∂x[b]``.  Error
    ``O(ε²)`` (truncation) plus ``O(tol/ε)`` (the solver).

    Args:
        f: vector field ``f(t, x)`` accepting ``(batch, d)``.
        t0, t1: start and end of the re-solve (``t1 != t0``).
        x: the state at ``t0``, ``(d,)`` or ``(batch, d)``, float64.
        sample_loss: maps ``(batch, d)`` to the per-sample losses ``(batch,)``.
        eps: the difference step (> 0).
        rtol, atol: DOP853 tolerances (> 0).

    Returns:
        The momentum, shape of ``x``.

    Reference: Hairer, Nørsett & Wanner, *Solving Ordinary Differential Equations I*, §II.10 (DOP853).
    """
    check_callable("f", f)
    check_state("x", x)
    if x.dtype != torch.float64:
        raise TypeError(f"x must be float64 (the reference runs in double precision); got {x.dtype}")
    check_callable("sample_loss", sample_loss)
    for name, value in (("t0", t0), ("t1", t1)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            raise TypeError(f"{name} must be a finite real number; got {value!r}")
    if t0 == t1:
        raise ValueError(f"t1 must differ from t0; got t0 = t1 = {t0!r}")
    check_positive("eps", eps)
    check_positive("rtol", rtol)
    check_positive("atol", atol)
    d = x.shape[-1]
    xb = x.detach().reshape(-1, d)
    steps = eps * torch.eye(d, dtype=x.dtype)
    starts = torch.cat([xb[None] + steps[:, None], xb[None] - steps[:, None]]).reshape(-1, d)  # (2d·B, d)

    def rhs(t: float, y: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = f(torch.tensor(t, dtype=x.dtype), torch.from_numpy(y).reshape(-1, d))
        return out.numpy().ravel()

    sol = solve_ivp(rhs, (float(t0), float(t1)), starts.numpy().ravel(), method="DOP853", rtol=rtol, atol=atol)
    if not sol.success:
        raise RuntimeError(f"solve_ivp(DOP853) failed: {sol.message}")
    ends = torch.from_numpy(sol.y[:, -1].copy()).reshape(2 * d, -1, d)
    with torch.no_grad():
        values = torch.stack([sample_loss(e) for e in ends])  # (2d, B)
    if values.shape != (2 * d, xb.shape[0]):
        raise ValueError(f"sample_loss must map (batch, d) to (batch,); got shape {tuple(values.shape[1:])}")
    grad = ((values[:d] - values[d:]) / (2 * eps)).T  # (B, d)
    return grad.reshape(x.shape)
