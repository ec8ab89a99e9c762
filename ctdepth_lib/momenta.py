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

For a general layered map ``x_{n+1} = Φ_n(x_n)`` (feedforward layers, Runge–Kutta blocks)
:func:`layer_momenta` gives the same ``p_n``; the forward tangent sequence
:func:`tangent_unroll` pairs with the backprop momenta exactly.  The references that use
neither autograd's vector–Jacobian product nor torchdiffeq live in
:mod:`ctdepth_lib.finite_differences`.

Batches: for ``x0`` of shape ``(batch, d)`` the loss is a scalar of the whole
batch (e.g. the *sum* of per-sample losses); then ``p[b] = ∂L/∂x[b]``, which for
a sum is the per-sample gradient, because samples do not interact.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from ._stepping import unroll
from ._typing import Field, Loss
from ._validate import (
    check_callable,
    check_first_output,
    check_int,
    check_loss_value,
    check_positive,
    check_state,
    check_tensor,
    check_time,
    check_time_grid,
)
from .resnet import RK_METHODS, run_blocks
from .solvers import check_solver_args, solve

__all__ = [
    "adjoint_momenta",
    "backprop_momenta",
    "hamiltonian",
    "hamiltonian_flow",
    "joint_field",
    "joint_field_functional",
    "layer_momenta",
    "modified_hamiltonian",
    "tangent_unroll",
]


def _check_hamiltonian_args(f: Field, t: Any, x: torch.Tensor, p: torch.Tensor) -> tuple[Field, torch.Tensor]:
    """The checks of :func:`hamiltonian` and :func:`modified_hamiltonian`: ``f`` with its first
    evaluation checked, and ``t`` (a number or a 0-d tensor) as a 0-d tensor of ``x``'s dtype and device."""
    check_callable("f", f)
    check_state("x", x)
    check_tensor("p", p, like=x)
    return check_first_output("f", f, x), check_time("t", t, x)


def _terminal_momentum(loss: Loss, x: torch.Tensor) -> torch.Tensor:
    """``p_N = ∇ℓ(x_N)``, the state gradient of the loss (shape of ``x``), validating that ``loss`` returns a scalar.

    (A gradient with respect to the *state*; :func:`ctdepth_lib.loss_gradient` is the one with
    respect to the parameters.)
    """
    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        value = check_loss_value(loss(xg))
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
    checked, tt = _check_hamiltonian_args(f, t, x, p)
    return (p * checked(tt, x)).sum(-1)


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
    checked, tt = _check_hamiltonian_args(f, t, x, p)
    check_positive("h", h)
    fx = checked(tt, x)
    _, jf = torch.func.jvp(lambda y: f(tt, y), (x,), (fx,))
    return (p * fx).sum(-1) - 0.5 * h * (p * jf).sum(-1)


def backprop_momenta(f: Field, x0: torch.Tensor, ts: torch.Tensor, loss: Loss) -> tuple[torch.Tensor, torch.Tensor]:
    """The ResNet states ``x_n`` and the backprop momenta ``p_n = ∂L/∂x_n`` for every layer.

    Unrolls ``x_{n+1} = x_n + h_n f(t_n, x_n)`` (the network of :func:`ctdepth_lib.resnet_unroll`) and
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
    check_callable("loss", loss, "loss(x_N)")
    checked = check_first_output("f", f, x0)  # no probe call: the first layer's evaluation is checked
    n_steps = ts.numel() - 1
    seen: list[torch.Tensor] = []

    def recording(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        seen.append(x)
        return checked(t, x)

    with torch.enable_grad():
        start = x0.detach().requires_grad_(True)
        xs = run_blocks(recording, start, ts, RK_METHODS["euler"][0])
        x_last = xs[-1]
        value = check_loss_value(loss(x_last))
        # The Euler unroll evaluates f exactly once at each of x_0, …, x_{N-1}.
        hidden = seen
        if value.requires_grad:
            grads = torch.autograd.grad(value, [*hidden, x_last], allow_unused=True)
        else:
            grads = (None,) * (n_steps + 1)
    ps = torch.stack([torch.zeros_like(x0) if g is None else g.detach() for g in grads])
    return xs.detach(), ps


def layer_momenta(
    steps: Sequence[Callable[[torch.Tensor], torch.Tensor]],
    x0: torch.Tensor,
    loss: Callable[[torch.Tensor], torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor]:
    """States and momenta ``p_n = ∂L/∂x_n`` of a general layered map ``x_{n+1} = Φ_n(x_n)``.

    The layers are any callables (feedforward layers ``φ(W_n x)``, Runge–Kutta blocks, …);
    ``L = loss(x_N)``, ``p_N = ∇loss(x_N)`` and ``p_n = p_{n+1} ∂Φ_n/∂x(x_n)``, one
    vector–Jacobian product per layer (``torch.func.vjp``).  For residual layers
    ``Φ_n(x) = x + h f(t_n, x)`` this is :func:`ctdepth_lib.backprop_momenta`.

    Args:
        steps: ``N ≥ 1`` layer maps, each returning a tensor of its input's shape.
        x0: ``(d,)`` or ``(batch, d)``.
        loss: ``x_N ↦`` scalar (for a batch, the sum of per-sample losses).

    Returns:
        ``(xs, ps)`` of shape ``(N+1, *x0.shape)``, detached.
    """
    check_state("x0", x0)
    check_callable("loss", loss, "loss(x_N)")
    if isinstance(steps, (str, bytes)) or not isinstance(steps, Sequence):
        raise TypeError(f"steps must be a sequence of layer maps x -> x'; got {type(steps).__name__}")
    if len(steps) == 0:
        raise ValueError("steps must be a non-empty sequence of layer maps x -> x'; got an empty sequence")
    for k, step in enumerate(steps):
        check_callable(f"steps[{k}]", step, f"steps[{k}](x)")
    x = x0.detach()
    xs, pulls = [x], []
    for k, step in enumerate(steps):
        out, pull = torch.func.vjp(step, x)
        if not isinstance(out, torch.Tensor) or out.shape != x.shape:
            raise ValueError(
                f"steps[{k}] must return a tensor of its input's shape {tuple(x.shape)}; got {type(out).__name__} "
                f"of shape {tuple(getattr(out, 'shape', ()))}"
            )
        xs.append(out.detach())
        pulls.append(pull)
        x = out.detach()
    p = _terminal_momentum(loss, x)
    ps = [p]
    for pull in reversed(pulls):
        (p,) = pull(p)
        ps.append(p.detach())
    return torch.stack(xs), torch.stack(ps[::-1])


# --------------------------------------------------------------------------- the Hamiltonian vector field
# Two implementations of ``F(t, z) = (∂H/∂p, −∂H/∂x) = (f(t, x), −p f_x(t, x))`` on ``z = [x, p]``:
# ``joint_field`` for solvers (plain autograd, detached output: cheap per call) and
# ``joint_field_functional`` for ``jacrev``/``vmap`` (the variational equation needs ``F_z``).
# Each public face checks ``f`` and ``d``; the other modules call the cores ``_joint_field*``.


def joint_field(f: Field, d: int) -> Field:
    """The Hamiltonian vector field ``(f, −p f_x)`` on ``z = [x, p]`` (last axis ``2d``), for solvers."""
    return _joint_field(check_callable("f", f), check_int("d", d, 1))


def joint_field_functional(f: Field, d: int) -> Field:
    """``F(t, z) = (f(t, x), −p f_x(t, x))`` on ``z = [x, p]``, written with ``torch.func.vjp`` so that
    ``jacrev``/``vmap`` can differentiate it (the variational equation needs ``F_z``)."""
    return _joint_field_functional(check_callable("f", f), check_int("d", d, 1))


def _joint_field(f: Field, d: int) -> Field:
    """The unchecked core of :func:`joint_field` (the field of :func:`hamiltonian_flow`)."""

    def field(t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        # One reverse-mode vector-Jacobian product for the whole batch (plain autograd: it avoids
        # the seconds-long first-call set-up of torch.func's backward transforms).
        with torch.enable_grad():
            x = z[..., :d].detach().requires_grad_(True)
            fx = f(t, x)
            (pfx,) = torch.autograd.grad(fx, x, grad_outputs=z[..., d:].detach())
        return torch.cat([fx.detach(), -pfx], dim=-1)

    return field


def _joint_field_functional(f: Field, d: int) -> Field:
    """The unchecked core of :func:`joint_field_functional` (the field of ``phase_space.variational_jacobian``)."""

    def field(t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        fx, pull = torch.func.vjp(lambda y: f(t, y), z[..., :d])
        (pfx,) = pull(z[..., d:])
        return torch.cat([fx, -pfx], dim=-1)

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
    check_tensor("p0", p0, like=x0, like_name="x0")
    check_time_grid("ts", ts, like=x0)
    check_solver_args(method, rtol, atol, options)
    checked = check_first_output("f", f, x0)  # no probe call: the solver's first evaluation is checked
    return _hamiltonian_flow(checked, x0, p0, ts, method=method, rtol=rtol, atol=atol, options=options)


def _hamiltonian_flow(
    f: Field,
    x0: torch.Tensor,
    p0: torch.Tensor,
    ts: torch.Tensor,
    *,
    method: str,
    rtol: float,
    atol: float,
    options: dict[str, Any] | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The unchecked core of :func:`hamiltonian_flow` (also the backward solve of :func:`adjoint_momenta`)."""
    d = x0.shape[-1]
    z0 = torch.cat([x0.detach(), p0.detach()], dim=-1)
    zs = solve(_joint_field(f, d), z0, ts, method=method, rtol=rtol, atol=atol, options=options)
    zs = zs.detach()
    return zs[..., :d], zs[..., d:]


def adjoint_momenta(
    f: Field, x0: torch.Tensor, ts: torch.Tensor, loss: Loss, *, rtol: float = 1e-10, atol: float = 1e-10
) -> tuple[torch.Tensor, torch.Tensor]:
    """The continuous states ``x(t_n)`` and momenta ``p(t_n) = ∂L/∂x(t_n)`` on the grid ``ts``.

    Solves ``dx/dt = f`` forward from ``x0`` (dopri5), then Hamilton's equations
    ``dx/dt = ∂H/∂p``, ``dp/dt = −∂H/∂x = −p f_x`` backward from
    ``(x(T), p(T) = ∇loss(x(T)))`` (see :func:`hamiltonian_flow`).  Carrying ``x``
    along backward, instead of storing it, is the adjoint of Chen et al. (2018), which stores no state per step.

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
    check_time_grid("ts", ts, like=x0, increasing=True)
    check_callable("loss", loss, "loss(x_N)")
    check_positive("rtol", rtol)
    check_positive("atol", atol)
    checked = check_first_output("f", f, x0)  # no probe call: the forward solve's first evaluation is checked
    with torch.no_grad():
        xs = solve(checked, x0.detach(), ts, method="dopri5", rtol=rtol, atol=atol).detach()
    p_final = _terminal_momentum(loss, xs[-1])
    _, ps_rev = _hamiltonian_flow(
        checked, xs[-1], p_final, ts.flip(0), method="dopri5", rtol=rtol, atol=atol, options=None
    )
    return xs, ps_rev.flip(0)


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
    check_tensor("v0", v0, like=x0, like_name="x0")
    check_time_grid("ts", ts, like=x0)
    f = check_first_output("f", f, x0)  # no probe call: the first layer's evaluation is checked

    def step(t: torch.Tensor, t_next: torch.Tensor, xv: torch.Tensor) -> torch.Tensor:
        x, v = xv[0], xv[1]
        h = t_next - t
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
        return torch.stack([(x + h * fx).detach(), (v + h * jv).detach()])

    xvs = unroll(step, torch.stack([x0.detach(), v0.detach()]), ts)
    return xvs[:, 0], xvs[:, 1]
