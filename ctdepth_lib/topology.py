"""A disc inside an annulus: the paper's free-layer network, its ODE, and the measurements of folds and squeezing.

The paper's network (Ruseckas, arXiv:1909.03767; the talk's slides 20–22) acts on a state of the
input's dimension ``d`` (2 or 3) with free weights per layer::

    x_{l+1} = σ(W_l x_l + B_l),   W_l = I + Δt w_l,   B_l = Δt b_l,   σ(z) = z + Δt g(z),

``Δt = T/L``, ``g(z) = −γ z³`` elementwise (:func:`cubic_nonlinearity`), then a linear classifier on
``x_L``.  It is the Lie–Trotter splitting (first order) of ``dx/dt = w(t) x + b(t) + g(x)`` with
``w(t) = w_l``, ``b(t) = b_l`` on ``[t_l, t_{l+1})`` (:class:`PiecewiseConstantField`), the same
step as :func:`ctdepth_lib.feedforward_unroll`.  :class:`FreeLayerClassifier` holds the network, its
ODE and the read-out; :func:`train_free_layer_classifier` trains several initialisations side by side
and keeps the one with the lowest training loss.

Why the ODE cannot classify the disc-in-annulus data (:func:`ctdepth_lib.data.disc_annulus_dataset`)
with a linear read-out: its flow map is a homeomorphism of the plane, so the image of the annulus
still encloses the image of the disc and no line separates them (Dupont, Doucet & Teh 2019,
§3).  A network layer need not be injective: where a coordinate of ``z = W_l x + B_l`` passes
the critical point ``|z_i| = z* = (3Δtγ)^{-1/2}`` of ``σ`` the layer map *folds* the plane
(``σ′(z_i) = 1 − 3Δtγ z_i² < 0``), and trajectories cross.  The measurements here:

- :func:`layer_jacobian_dets` — ``det(∂x_{l+1}/∂x_l) = det(W_l) Π_i σ′(z_i)`` at every point and
  layer (``torch.func``, no loop over points); :func:`fold_summary` condenses them and the
  pre-activations into where and how often a layer folds;
- :func:`winding_number` — how often the image of a circle in the annulus winds around the image
  of the disc's centre (1 for a homeomorphism: then no line separates them); whether a set of
  features is linearly separable is measured by :func:`ctdepth_lib.information.linear_readout_accuracy`
  (``test_fraction=0``) and, in the plane, :func:`ctdepth_lib.information.best_linear_accuracy_bounds`;
- :func:`nearest_distance`, :func:`error_by_distance` — how far each test point is from the
  training set, and the error rate as a function of that distance (the signature of a flow that
  squeezes the disc through the gaps between the training points).

A layer map without folds (and with ``det W_l ≠ 0``) is injective, so a network none of whose
layers folds on the ball ``|x| ≤ r3`` is a homeomorphism onto its image and is bound by the same
topology as the ODE: it can separate a finite training set, but not the whole disc from the whole
annulus.

Shapes: inputs ``x`` are ``(batch, d)``; weights ``w: (L, d, d)``, ``b: (L, d)``.

References: E. Dupont, A. Doucet & Y. W. Teh, *Augmented Neural ODEs*, NeurIPS 2019, §3;
Duan, Li, Ji & Cai, *Vanilla feedforward neural networks as a discretization of dynamical
systems*, arXiv:2209.10909 (2022); Hairer, Lubich & Wanner, *Geometric Numerical Integration*,
§II.5 (splitting methods).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch import nn
from torch.func import jacrev, vmap
from torch.nn import functional as F

from ._validate import as_numpy, check_callable, check_int, check_positive, check_real, check_tensor, check_type
from .data import check_dataset
from .near_identity import cubic_nonlinearity
from .solvers import odeint
from .training import TrainingDiverged, restart_seeds

__all__ = [
    "FoldSummary",
    "FreeLayerClassifier",
    "FreeLayerTraining",
    "PiecewiseConstantField",
    "circle_image",
    "disc_grid",
    "error_by_distance",
    "fold_summary",
    "layer_jacobian_dets",
    "nearest_distance",
    "train_free_layer_classifier",
    "winding_number",
]


# --------------------------------------------------------------------------- the ODE of the network
class PiecewiseConstantField(nn.Module):
    """``f(t, x) = w(t) x + b(t) + g(x)`` with ``w(t) = w_l``, ``b(t) = b_l`` on ``[t_l, t_{l+1})``.

    ``t_l = l T/L`` (the layer times); at ``t = T`` the last layer's weights apply.  The layer of a
    time is ``searchsorted(grid, t, right=True) − 1`` on the stored grid, so a time just past a
    grid point (``torchdiffeq``'s ``jump_t`` evaluates at ``nextafter(t_l, +∞)``) belongs to
    layer ``l`` exactly.  It holds references to the model's tensors ``w``, ``b`` (no copy).

    Shapes: ``w: (L, d, d)``, ``b: (L, d)``, ``x: (d,)`` or ``(batch, d)``; ``t`` a 0-d tensor.

    Args:
        w: ``(L, d, d)`` finite floats; b: ``(L, d)`` of ``w``'s dtype.
        g: the elementwise nonlinearity (e.g. :func:`cubic_nonlinearity`).
        T: the time horizon (> 0).
    """

    def __init__(self, w: torch.Tensor, b: torch.Tensor, g: Callable[[torch.Tensor], torch.Tensor], T: float) -> None:
        super().__init__()
        check_tensor("w", w, ndim=(3,), expected="have shape (L, d, d)")
        if w.shape[1] != w.shape[2] or w.shape[0] == 0:
            raise ValueError(f"w must have shape (L, d, d) with L >= 1; got {tuple(w.shape)}")
        check_tensor("b", b, ndim=(2,), expected=f"have shape (L, d) = {tuple(w.shape[:2])}")
        if b.shape != w.shape[:2]:
            raise ValueError(f"b must have shape (L, d) = {tuple(w.shape[:2])}; got {tuple(b.shape)}")
        if b.dtype != w.dtype:
            raise TypeError(f"b must have the dtype of w ({w.dtype}); got {b.dtype}")
        check_callable("g", g, "g(x)")
        check_positive("T", T)
        self.w, self.b, self.g, self.T = w, b, g, float(T)
        self.n_layers = int(w.shape[0])
        self.grid = torch.linspace(0.0, self.T, self.n_layers + 1, dtype=w.dtype)

    def layer_index(self, t: torch.Tensor) -> int:
        """The layer ``l`` whose weights act at time ``t`` (clamped to ``0 … L − 1``)."""
        idx = int(torch.searchsorted(self.grid, t.detach().reshape(1).to(self.grid.dtype), right=True)[0]) - 1
        return min(max(idx, 0), self.n_layers - 1)

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``x w_lᵀ + b_l + g(x)`` (row vectors, batch in front) for the layer ``l`` of ``t``."""
        layer = self.layer_index(t)
        return x @ self.w[layer].mT + self.b[layer] + self.g(x)


# --------------------------------------------------------------------------- the network
class FreeLayerClassifier(nn.Module):
    """The paper's network with free weights per layer, a linear classifier on ``x_L``, and its ODE.

    ``x_0 = u`` (the state has the input's dimension ``d``), then for ``l = 0 … L − 1``::

        z_l = W_l x_l + B_l = x_l + Δt (w_l x_l + b_l),    x_{l+1} = z_l − Δt γ z_l³,

    ``Δt = T/L``, and ``logits = R x_L + r`` (an ``nn.Linear``).  The trainable parameters are the
    network's own weight increments ``delta_w = W − I = Δt w`` (``(L, d, d)``) and biases
    ``delta_b = B = Δt b`` (``(L, d)``) — optimising them or ``w``, ``b`` is the same problem, but
    an optimiser's learning rate refers to these.  :attr:`w`, :attr:`b` are the ODE's coefficients
    ``w_l = (W_l − I)/Δt``, ``b_l = B_l/Δt``; the ODE is ``dx/dt = w(t)x + b(t) − γx³``
    (:meth:`ode_trajectory`, dopri5 with the layer times as jump points).

    Initial weights: ``delta_w, delta_b ~ N(0, init_scale²)`` entrywise and the read-out
    ``R ~ N(0, 1/d)``, ``r = 0``, all drawn from a ``torch.Generator`` seeded with ``seed``.  A small
    random ``init_scale`` (not 0) breaks the symmetry between layers: from 0 every layer gets the
    same gradient and the network moves as a whole.

    Shapes: ``u: (batch, d)`` → logits ``(batch, n_classes)``.

    Args:
        dim: the state (and input) dimension ``d`` (>= 1).
        n_layers: the depth ``L`` (>= 1).
        n_classes: number of classes (>= 2).
        T: the time horizon (> 0); ``Δt = T/L``.
        gamma: the cubic's strength ``γ`` (>= 0).
        init_scale: standard deviation of the initial ``delta_w``, ``delta_b`` (>= 0).
        seed: seed of the initial weights (>= 0).

    Reference: Ruseckas (2019), the talk's slides 20–22; the step is that of
    :func:`ctdepth_lib.feedforward_unroll` (Lie–Trotter splitting).
    """

    def __init__(
        self,
        dim: int,
        n_layers: int,
        *,
        n_classes: int = 2,
        T: float = 1.0,
        gamma: float = 1.0,
        init_scale: float = 0.1,
        seed: int = 0,
    ) -> None:
        super().__init__()
        check_int("dim", dim, 1)
        check_int("n_layers", n_layers, 1)
        check_int("n_classes", n_classes, 2)
        self.T = check_positive("T", T)
        self.gamma = check_real("gamma", gamma, low=0.0)
        scale = check_real("init_scale", init_scale, low=0.0)
        check_int("seed", seed, 0)
        self.dim, self.n_layers, self.n_classes = dim, n_layers, n_classes
        self.g = cubic_nonlinearity(self.gamma)
        gen = torch.Generator().manual_seed(int(seed))
        f64 = torch.float64
        self.delta_w = nn.Parameter(scale * torch.randn(n_layers, dim, dim, generator=gen, dtype=f64))
        self.delta_b = nn.Parameter(scale * torch.randn(n_layers, dim, generator=gen, dtype=f64))
        self.readout = nn.Linear(dim, n_classes, dtype=f64)
        with torch.no_grad():
            self.readout.weight.copy_(torch.randn(n_classes, dim, generator=gen, dtype=f64) / math.sqrt(dim))
            self.readout.bias.zero_()

    # ---- coefficients
    @property
    def dt(self) -> float:
        """The step ``Δt = T/L``."""
        return self.T / self.n_layers

    @property
    def critical_point(self) -> float:
        """``z* = (3Δtγ)^{-1/2}``: the activation folds where a pre-activation ``|z_i| > z*`` (inf if ``γ = 0``)."""
        return math.inf if self.gamma == 0 else 1.0 / math.sqrt(3.0 * self.dt * self.gamma)

    @property
    def w(self) -> torch.Tensor:
        """The ODE's matrices ``w_l = (W_l − I)/Δt``, shape ``(L, d, d)``."""
        return self.delta_w / self.dt

    @property
    def b(self) -> torch.Tensor:
        """The ODE's biases ``b_l = B_l/Δt``, shape ``(L, d)``."""
        return self.delta_b / self.dt

    def layer_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The network's ``W_l = I + Δt w_l`` ``(L, d, d)`` and ``B_l = Δt b_l`` ``(L, d)``."""
        eye = torch.eye(self.dim, dtype=self.delta_w.dtype)
        return eye + self.delta_w, self.delta_b

    def field(self) -> PiecewiseConstantField:
        """The ODE's field ``f(t, x) = w(t)x + b(t) − γx³`` (piecewise constant in ``t``)."""
        return PiecewiseConstantField(self.w, self.b, self.g, self.T)

    # ---- the network
    def _check_input(self, name: str, u: Any) -> torch.Tensor:
        check_tensor(name, u, ndim=(2,), expected=f"have shape (batch, {self.dim})")
        if u.shape[1] != self.dim:
            raise ValueError(f"{name} must have shape (batch, {self.dim}) for this model; got {tuple(u.shape)}")
        if u.dtype != self.delta_w.dtype:
            raise TypeError(f"{name} must have the model's dtype {self.delta_w.dtype}; got {u.dtype}")
        return u

    def _layer(self, layer: int, x: torch.Tensor) -> torch.Tensor:
        z = x + x @ self.delta_w[layer].mT + self.delta_b[layer]
        return z - (self.dt * self.gamma) * z**3

    def _trajectory(self, x: torch.Tensor) -> torch.Tensor:
        a = self.dt * self.gamma
        dws, dbs = self.delta_w.unbind(0), self.delta_b.unbind(0)  # one unbind: one backward node
        states = [x]
        for dw, db in zip(dws, dbs, strict=True):
            z = x + x @ dw.mT + db
            x = z - a * z**3
            states.append(x)
        return torch.stack(states)

    def _preactivations(self, x: torch.Tensor) -> torch.Tensor:
        a = self.dt * self.gamma
        zs = []
        for dw, db in zip(self.delta_w.unbind(0), self.delta_b.unbind(0), strict=True):
            z = x + x @ dw.mT + db
            zs.append(z)
            x = z - a * z**3
        return torch.stack(zs)

    def trajectory(self, u: torch.Tensor) -> torch.Tensor:
        """The network's states ``x_0 = u, x_1, …, x_L``, shape ``(L + 1, batch, d)``."""
        return self._trajectory(self._check_input("u", u))

    def preactivations(self, u: torch.Tensor) -> torch.Tensor:
        """The pre-activations ``z_l = W_l x_l + B_l``, ``l = 0 … L − 1``, shape ``(L, batch, d)``."""
        return self._preactivations(self._check_input("u", u))

    def features(self, u: torch.Tensor) -> torch.Tensor:
        """The network's last state ``x_L``, shape ``(batch, d)``."""
        return self._trajectory(self._check_input("u", u))[-1]

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """Logits ``R x_L + r`` of the network, shape ``(batch, n_classes)``."""
        return self.readout(self._trajectory(self._check_input("u", u))[-1])

    # ---- the ODE
    def _ode_trajectory(self, x: torch.Tensor, rtol: float, atol: float) -> torch.Tensor:
        f = self.field()
        grid = f.grid
        options = {"jump_t": grid[1:-1]} if self.n_layers > 1 else None
        return odeint(f, x, grid, method="dopri5", rtol=rtol, atol=atol, options=options)

    def ode_trajectory(self, u: torch.Tensor, *, rtol: float = 1e-10, atol: float = 1e-10) -> torch.Tensor:
        """The ODE's solution ``x(t_l)`` at the layer times ``t_l = lT/L``, shape ``(L + 1, batch, d)``.

        ``dx/dt = w(t) x + b(t) − γ x³``, ``x(0) = u``, by dopri5 (torchdiffeq) with the layer times
        as ``jump_t`` (the solver steps onto each discontinuity of ``w(t)``, ``b(t)`` and restarts
        there), so the error is controlled by ``rtol``, ``atol`` alone.

        Args:
            u: ``(batch, d)``, the model's dtype.
            rtol, atol: dopri5's tolerances (> 0).
        """
        x = self._check_input("u", u)
        check_positive("rtol", rtol)
        check_positive("atol", atol)
        return self._ode_trajectory(x, rtol, atol)

    def ode_features(self, u: torch.Tensor, *, rtol: float = 1e-10, atol: float = 1e-10) -> torch.Tensor:
        """The ODE's end state ``x(T)``, shape ``(batch, d)`` (see :meth:`ode_trajectory`)."""
        return self.ode_trajectory(u, rtol=rtol, atol=atol)[-1]

    def ode_logits(self, u: torch.Tensor, *, rtol: float = 1e-10, atol: float = 1e-10) -> torch.Tensor:
        """The read-out applied to the ODE's ``x(T)``, shape ``(batch, n_classes)``."""
        return self.readout(self.ode_features(u, rtol=rtol, atol=atol))

    def ode_log_det(self, u: torch.Tensor, *, rtol: float = 1e-10, atol: float = 1e-10) -> torch.Tensor:
        """``log det(∂x(T)/∂x(0))`` of the ODE's flow at each input, by Liouville's formula, shape ``(batch,)``.

        Along a solution ``d/dt log det J(t) = div f = tr w(t) − 3γ Σ_i x_i(t)²`` (Jacobi/Liouville),
        so ``det J(T) = exp(∫₀ᵀ div f dt) > 0``: the flow never folds.  The integral is carried as an
        extra coordinate of the same dopri5 solve (layer times as jump points).

        Args:
            u: ``(batch, d)``, the model's dtype; rtol, atol: dopri5's tolerances (> 0).

        Reference: Hartman, *Ordinary Differential Equations*, Ch. IV, Cor. 3.1 (Liouville's formula).
        """
        x = self._check_input("u", u)
        check_positive("rtol", rtol)
        check_positive("atol", atol)
        f = self.field()
        traces = torch.diagonal(self.w, dim1=-2, dim2=-1).sum(-1)
        gam = self.gamma

        def augmented(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            state = y[:, :-1]
            div = traces[f.layer_index(t)] - 3.0 * gam * (state**2).sum(-1, keepdim=True)
            return torch.cat([f(t, state), div], dim=-1)

        y0 = torch.cat([x, torch.zeros(x.shape[0], 1, dtype=x.dtype)], dim=-1)
        grid = f.grid
        options = {"jump_t": grid[1:-1]} if self.n_layers > 1 else None
        ends = torch.stack([grid[0], grid[-1]])
        return odeint(augmented, y0, ends, method="dopri5", rtol=rtol, atol=atol, options=options)[-1, :, -1]


# --------------------------------------------------------------------------- training, restarts in parallel
@dataclass
class FreeLayerTraining:
    """What :func:`train_free_layer_classifier` returns.

    Attributes:
        model: the chosen run (the lowest training loss), at its lowest-loss parameters.
        seeds: the initialisation seeds of the runs (:func:`ctdepth_lib.training.restart_seeds`).
        train_losses: ``(K,)`` — each run's lowest full-batch training loss.
        best: the index of the chosen run.
        losses: ``(steps, K)`` — every run's training loss at every step (before the step's update).
    """

    model: FreeLayerClassifier
    seeds: list[int]
    train_losses: np.ndarray
    best: int
    losses: np.ndarray


class _StackedLayers(torch.autograd.Function):
    """``K`` networks' final states ``x_L`` at once, with a hand-written backward pass (one graph node).

    Forward, per layer ``l`` and network ``k``, on states laid out as columns ``s (K, d, n)``::

        z_l = (I + Δw_l) s_l + Δb_l,    s_{l+1} = z_l − a z_l³,    a = Δt γ.

    Backward (reverse-mode, the chain rule written out), from ``ḡ = ∂ℒ/∂s_L``::

        ḡ_z = ḡ ⊙ (1 − 3a z_l²),   ∂ℒ/∂Δw_l = ḡ_z s_lᵀ,   ∂ℒ/∂Δb_l = ḡ_z 1,   ḡ ← (I + Δw_l)ᵀ ḡ_z.

    Two tensor operations per layer backward and three forward, against about a dozen small
    operations per layer through autograd: the training step's cost is dispatch, not arithmetic
    (measured: forward and backward about 2.6× faster at ``d = 2``, ``n = 400``, ``K = 6``, ``L = 100``).  The gradient is
    checked against finite differences (``torch.autograd.gradcheck``) and against autograd through
    :meth:`FreeLayerClassifier.forward` in ``tests/test_topology.py``.

    Shapes: ``delta_w (K, L, d, d)``, ``delta_b (K, L, 1, d)``, ``x (n, d)`` → ``x_L (K, n, d)``.
    """

    @staticmethod
    def forward(ctx: Any, delta_w: torch.Tensor, delta_b: torch.Tensor, x: torch.Tensor, a: float) -> torch.Tensor:
        k, n_layers, d, _ = delta_w.shape
        weights = (torch.eye(d, dtype=delta_w.dtype) + delta_w).transpose(0, 1).contiguous()  # (L, K, d, d)
        biases = delta_b.transpose(0, 1).mT.contiguous()  # (L, K, d, 1)
        states = x.new_empty(n_layers + 1, k, d, x.shape[0])
        states[0] = x.mT
        pre = x.new_empty(n_layers, k, d, x.shape[0])
        for layer in range(n_layers):
            z = torch.baddbmm(biases[layer], weights[layer], states[layer], out=pre[layer])
            torch.addcmul(z, z * z, z, value=-a, out=states[layer + 1])
        ctx.save_for_backward(weights, states, pre)
        ctx.a = a
        return states[-1].mT

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, None, None]:
        weights, states, pre = ctx.saved_tensors
        slopes = torch.addcmul(torch.ones((), dtype=pre.dtype), pre, pre, value=-3.0 * ctx.a)  # σ′(z_l)
        grad_z = torch.empty_like(pre)
        g = grad.mT
        for layer in range(weights.shape[0] - 1, -1, -1):
            gz = torch.mul(g, slopes[layer], out=grad_z[layer])
            g = torch.bmm(weights[layer].mT, gz)
        grad_w = (grad_z @ states[:-1].mT).transpose(0, 1)  # (K, L, d, d)
        grad_b = grad_z.sum(-1).transpose(0, 1)[:, :, None, :]  # (K, L, 1, d)
        return grad_w, grad_b, None, None


def _batched_logits(
    dw: torch.Tensor, db: torch.Tensor, R: torch.Tensor, r: torch.Tensor, x: torch.Tensor, a: float
) -> torch.Tensor:
    """``K`` networks at once: ``dw (K, L, d, d)``, ``db (K, L, 1, d)``, ``R (K, d, C)``, ``r (K, 1, C)``, ``x (n, d)``."""
    return torch.baddbmm(r, _StackedLayers.apply(dw, db, x, a), R)


def train_free_layer_classifier(
    x: Any,
    y: Any,
    *,
    n_layers: int,
    T: float = 1.0,
    gamma: float = 1.0,
    init_scale: float = 0.1,
    lr: float = 1e-3,
    steps: int = 1500,
    restarts: int = 8,
    seed: int = 0,
) -> FreeLayerTraining:
    """Train ``K = restarts`` :class:`FreeLayerClassifier` runs side by side and keep the best (by training loss).

    Each run ``k`` starts from ``FreeLayerClassifier(d, n_layers, …, seed=s_k)`` with
    ``s_k = restart_seeds(seed, K)[k]`` and minimises the full-batch mean cross-entropy
    ``L_k = −(1/n) Σ_i log softmax(model_k(x_i))_{y_i}`` with Adam (``lr``) on all its parameters
    (``delta_w``, ``delta_b``, read-out).  The runs are stacked into batched tensors and stepped
    together on ``Σ_k L_k``; since ``∂(Σ_j L_j)/∂θ_k = ∂L_k/∂θ_k`` and Adam acts entrywise, this
    is the same as ``K`` separate runs (up to rounding), at a fraction of their cost.  Each run
    keeps the parameters with its lowest loss seen (a late loss spike does not cost the run), and
    the run with the lowest training loss is returned — the test set never takes part.  A run can
    stall (the cubic pulls the points of both classes onto one attractor); the restarts are
    the remedy (see :func:`ctdepth_lib.training.train_restarts` for the sequential version).

    Args:
        x: inputs ``(n, d)``, finite; y: integer labels ``(n,)`` (the number of classes is ``max(y) + 1 ≥ 2``).
        n_layers, T, gamma, init_scale: as for :class:`FreeLayerClassifier`.
        lr: Adam's learning rate (> 0), for the network's own weights ``W − I``, ``B`` and the read-out.
        steps: Adam steps (>= 1).
        restarts: number ``K`` of runs (>= 1).
        seed: base seed of the initialisations (>= 0).

    Returns:
        A :class:`FreeLayerTraining`.

    Raises:
        TrainingDiverged: every run's loss became NaN or infinite.

    Reference: Kingma & Ba, *Adam* (ICLR 2015); restarts: Goodfellow, Bengio & Courville,
    *Deep Learning* (2016), §8.4.
    """
    xa, ya = check_dataset(x, y)
    n_classes = int(ya.max()) + 1
    if n_classes < 2:
        raise ValueError(f"y must hold at least two classes (labels 0 and 1); got max label {int(ya.max())}")
    check_int("n_layers", n_layers, 1)
    check_positive("T", T)
    check_real("gamma", gamma, low=0.0)
    check_real("init_scale", init_scale, low=0.0)
    check_positive("lr", lr)
    check_int("steps", steps, 1)
    check_int("restarts", restarts, 1)
    check_int("seed", seed, 0)
    with _flush_denormals():
        return _train_restarts(
            torch.as_tensor(xa, dtype=torch.float64),
            torch.as_tensor(ya, dtype=torch.int64),
            n_classes,
            n_layers,
            float(T),
            float(gamma),
            float(init_scale),
            float(lr),
            steps,
            restart_seeds(seed, restarts),
        )


@contextmanager
def _flush_denormals() -> Iterator[None]:
    """Treat subnormal floats as zero inside the block (``torch.set_flush_denormal``), then restore.

    Late in training the softmax gradients of well-classified points fall below the smallest
    normal float64 (~2.2e-308); arithmetic on such subnormals is many times slower on x86 CPUs
    (measured: the 100-layer training step 1.4–1.7× slower without this).  Flushing them changes
    each gradient by less than 1e-307 in absolute value.  torch has no getter for the mode, so the
    previous mode is probed (a subnormal times one is zero only while flushing is on).
    """
    was_on = bool(torch.tensor([5e-324], dtype=torch.float64).mul(1.0)[0] == 0)
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(was_on)


def _train_restarts(
    x: torch.Tensor,
    y: torch.Tensor,
    n_classes: int,
    n_layers: int,
    T: float,
    gamma: float,
    init_scale: float,
    lr: float,
    steps: int,
    seeds: list[int],
) -> FreeLayerTraining:
    d = x.shape[1]
    models = [
        FreeLayerClassifier(d, n_layers, n_classes=n_classes, T=T, gamma=gamma, init_scale=init_scale, seed=s)
        for s in seeds
    ]
    with torch.no_grad():
        params = [
            torch.stack([m.delta_w for m in models]),
            torch.stack([m.delta_b for m in models])[:, :, None, :],
            torch.stack([m.readout.weight.mT for m in models]),
            torch.stack([m.readout.bias for m in models])[:, None, :],
        ]
    params = [p.clone().requires_grad_(True) for p in params]
    opt = torch.optim.Adam(params, lr=lr)
    a = (T / n_layers) * gamma
    k = len(seeds)
    best = torch.full((k,), math.inf, dtype=torch.float64)
    kept = [p.detach().clone() for p in params]
    history = np.empty((steps, k))
    target = y.repeat(k)

    def run_losses() -> torch.Tensor:
        logits = _batched_logits(*params, x, a)
        ce = F.cross_entropy(logits.reshape(-1, n_classes), target, reduction="none")
        return ce.reshape(k, -1).mean(1)

    for step in range(steps + 1):
        opt.zero_grad()
        losses = run_losses() if step < steps else run_losses().detach()
        with torch.no_grad():
            value = losses.detach()
            better = torch.isfinite(value) & (value < best)
            best = torch.where(better, value, best)
            for keep, p in zip(kept, params, strict=True):
                keep[better] = p[better]
        if step == steps:
            break
        history[step] = value.numpy()
        if not bool(torch.isfinite(value).any()):
            raise TrainingDiverged(
                f"training stopped at step {step}: every run's loss is NaN or infinite; lower lr ({lr!r})"
            )
        torch.where(torch.isfinite(value), losses, torch.zeros_like(losses)).sum().backward()
        opt.step()
    chosen = int(torch.argmin(best))
    model = models[chosen]
    with torch.no_grad():
        model.delta_w.copy_(kept[0][chosen])
        model.delta_b.copy_(kept[1][chosen, :, 0, :])
        model.readout.weight.copy_(kept[2][chosen].mT)
        model.readout.bias.copy_(kept[3][chosen, 0])
    return FreeLayerTraining(model=model, seeds=list(seeds), train_losses=best.numpy(), best=chosen, losses=history)


# --------------------------------------------------------------------------- folds
def _check_classifier(model: Any) -> FreeLayerClassifier:
    return check_type("model", model, FreeLayerClassifier, "a FreeLayerClassifier")


def _layer_dets(model: FreeLayerClassifier, x: torch.Tensor) -> torch.Tensor:
    states = model._trajectory(x)
    dets = []
    for layer in range(model.n_layers):

        def step(v: torch.Tensor, layer: int = layer) -> torch.Tensor:
            return model._layer(layer, v)

        dets.append(torch.linalg.det(vmap(jacrev(step))(states[layer])))
    return torch.stack(dets)


def layer_jacobian_dets(model: FreeLayerClassifier, u: torch.Tensor) -> torch.Tensor:
    """``det(∂x_{l+1}/∂x_l)`` of every layer at every point's state ``x_l``, shape ``(L, batch)``.

    The Jacobian of the layer map ``x ↦ σ(W_l x + B_l)`` is computed by ``torch.func.jacrev`` and
    batched over the points with ``vmap`` (a loop over the ``L`` layers only); in closed form it is
    ``det(W_l) Π_i (1 − 3Δtγ z_i²)`` with ``z = W_l x_l + B_l``.  A negative value means the
    layer reverses orientation there: either ``det W_l < 0`` (a reflection, still injective) or
    an odd number of coordinates past the activation's critical point (a fold).  A sign change
    between points of one connected set means the layer map is not injective on it.

    Args:
        model: a :class:`FreeLayerClassifier`.
        u: inputs ``(batch, d)`` of the model's dtype.

    Returns:
        ``(L, batch)`` (no gradient is recorded).
    """
    _check_classifier(model)
    x = model._check_input("u", u)
    with torch.no_grad():
        return _layer_dets(model, x.detach())


@dataclass(frozen=True)
class FoldSummary:
    """Where the layers of a :class:`FreeLayerClassifier` fold, measured on a set of points.

    Attributes:
        point_fraction: fraction of the points whose pre-activation passes the critical point
            (``|z_i| > z*`` for some ``i``) in at least one layer.
        layer_fraction: ``(L,)`` — per layer, the fraction of points past the critical point.
        fold_layers: the layers with at least one point past the critical point (the layers
            where the map folds the set, when it is connected).
        negative_fraction: fraction of the points with ``det(∂x_{l+1}/∂x_l) < 0`` in some layer.
        min_det: the smallest Jacobian determinant over all points and layers.
        reflection_layers: the layers with ``det W_l < 0`` (orientation reversed everywhere).
    """

    point_fraction: float
    layer_fraction: torch.Tensor
    fold_layers: list[int]
    negative_fraction: float
    min_det: float
    reflection_layers: list[int]


def fold_summary(model: FreeLayerClassifier, u: torch.Tensor) -> FoldSummary:
    """Whether, where and how often the layers fold the set of points ``u``.

    A point ``x_l`` is *past the critical point* in layer ``l`` when a coordinate of its
    pre-activation ``z = W_l x_l + B_l`` has ``|z_i| > z* = (3Δtγ)^{-1/2}``, where the activation
    ``σ(z_i) = z_i − Δtγ z_i³`` decreases: the layer folds the plane along ``|z_i| = z*``.  If ``u``
    fills a connected region (e.g. the whole ball ``|x| ≤ r3``, gap included) and some of its points
    are past the critical point in layer ``l`` while others are not, the layer map is not injective
    on it.  The Jacobian determinants come from :func:`layer_jacobian_dets`.

    Args:
        model: a :class:`FreeLayerClassifier` (with ``γ = 0`` nothing folds: ``z* = ∞``).
        u: inputs ``(batch, d)`` of the model's dtype.

    Returns:
        A :class:`FoldSummary`.
    """
    _check_classifier(model)
    x = model._check_input("u", u)
    with torch.no_grad():
        zs = model._preactivations(x.detach())
        past = (zs.abs() > model.critical_point).any(-1)  # (L, batch)
        dets = _layer_dets(model, x.detach())
        W, _ = model.layer_weights()
        wdet = torch.linalg.det(W)
    layer_fraction = past.double().mean(1)
    return FoldSummary(
        point_fraction=float(past.any(0).double().mean()),
        layer_fraction=layer_fraction,
        fold_layers=[int(i) for i in torch.nonzero(layer_fraction > 0).flatten()],
        negative_fraction=float((dets < 0).any(0).double().mean()),
        min_det=float(dets.min()),
        reflection_layers=[int(i) for i in torch.nonzero(wdet < 0).flatten()],
    )


# --------------------------------------------------------------------------- topology of an image curve
def winding_number(curve: Any, point: Any) -> float:
    """The winding number of the closed polygon ``curve`` around ``point``.

    ``w = (1/2π) Σ_k arg((c_{k+1} − p)/(c_k − p))`` over the edges of the polygon
    ``c_0, c_1, …, c_{m−1}, c_0`` (closed automatically), each angle in ``(−π, π]``: an integer
    (returned as a float, so that a wrong sampling — an edge that turns by more than π around
    ``p`` — shows as a non-integer only when the curve passes through ``p``).  It counts how often
    the curve goes around ``p`` anticlockwise.  If ``w ≠ 0`` no line has the whole curve strictly
    on one side and ``p`` on the other (the curve would then lie in a half-plane without ``p``,
    where the angle has a continuous branch and ``w = 0``).  For an orientation-preserving
    homeomorphism ``φ`` of the plane and the circle ``c`` around ``p``, the image ``φ(c)`` winds
    once around ``φ(p)``.  The edges must be short against the curve's distance to ``p`` (sample
    the curve finely): an edge turning by more than π is counted the wrong way round.

    Args:
        curve: ``(m, 2)`` finite points (``m >= 3``), the polygon's vertices in order.
        point: ``(2,)`` finite, not on the polygon's vertices.

    Returns:
        ``w`` as a float (an integer up to rounding).

    Reference: W. Fulton, *Algebraic Topology: A First Course* (Springer, 1995), §3 (winding
    numbers); Dupont, Doucet & Teh (2019), §3 (why a flow keeps the disc inside the annulus).
    """
    c = _points("curve", curve)
    if c.shape[1] != 2 or c.shape[0] < 3:
        raise ValueError(f"curve must have shape (m, 2) with m >= 3; got {c.shape}")
    p = as_numpy(point)
    if not (np.issubdtype(p.dtype, np.integer) or np.issubdtype(p.dtype, np.floating)) or p.dtype == np.bool_:
        raise TypeError(f"point must hold real numbers; got dtype {p.dtype}")
    p = p.astype(np.float64)
    if p.shape != (2,) or not np.all(np.isfinite(p)):
        raise ValueError(f"point must be 2 finite numbers, shape (2,); got shape {p.shape}")
    if np.any(np.all(c == p, axis=1)):
        raise ValueError("point must not be a vertex of curve (the winding number is undefined there)")
    return _winding_number(c, p)


def _winding_number(c: np.ndarray, p: np.ndarray) -> float:
    z = (c[:, 0] - p[0]) + 1j * (c[:, 1] - p[1])
    return float(np.angle(np.roll(z, -1) / z).sum() / (2.0 * math.pi))


def circle_image(
    features: Callable[[torch.Tensor], torch.Tensor],
    radius: float,
    *,
    n_points: int = 2000,
    max_turn: float = math.pi / 8,
    max_points: int = 200_000,
) -> tuple[np.ndarray, np.ndarray]:
    """The image of the circle ``|x| = radius`` and of its centre under a map of the plane, sampled finely enough.

    Starts from ``n_points`` equally spaced angles; every edge of the image polygon that turns by
    more than ``max_turn`` around the centre's image ``φ(0)`` gets 7 more points between its ends
    (equally spaced in angle), until no edge does.  :func:`winding_number` counts an edge that
    turns by more than π the wrong way round, and a trained map can stretch a short arc of the
    circle around ``φ(0)``; with every edge under ``max_turn < π`` the count is right.

    Args:
        features: ``φ``, a map from float64 ``(n, 2)`` to ``(n, 2)`` (e.g. a model's ``features``).
        radius: the circle's radius (> 0).
        n_points: the starting number of points (>= 3).
        max_turn: the largest angle (radians, in ``(0, π)``) an edge may turn around ``φ(0)``.
        max_points: the most points the refinement may use (>= ``n_points``).

    Returns:
        ``(curve, centre)``: ``(m, 2)`` images in the order of the angle and ``φ(0)`` ``(2,)``, NumPy float64.

    Raises:
        RuntimeError: more than ``max_points`` points would be needed.
    """
    check_callable("features", features, "features(x)")
    r = check_positive("radius", radius)
    check_int("n_points", n_points, 3)
    turn = check_positive("max_turn", max_turn)
    if not turn < math.pi:
        raise ValueError(
            f"max_turn must be less than pi (an edge turning by more than pi is miscounted); got {max_turn!r}"
        )
    check_int("max_points", max_points, n_points)

    def apply(x: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            out = features(x)
        arr = as_numpy(out)
        if arr.shape != x.shape:
            raise ValueError(f"features must map points (n, 2) to (n, 2); got shape {arr.shape} for {tuple(x.shape)}")
        return arr.astype(np.float64)

    def image(angles: np.ndarray) -> np.ndarray:
        a = torch.as_tensor(angles, dtype=torch.float64)
        return apply(r * torch.stack([a.cos(), a.sin()], dim=1))

    angles = np.linspace(0.0, 2.0 * math.pi, n_points, endpoint=False)
    a = torch.as_tensor(angles, dtype=torch.float64)
    # the centre rides with the first points: one call of φ (one ODE solve for a flow), not two
    first = apply(torch.cat([torch.zeros(1, 2, dtype=torch.float64), r * torch.stack([a.cos(), a.sin()], dim=1)]))
    centre, curve = first[0], first[1:]
    while True:
        z = (curve[:, 0] - centre[0]) + 1j * (curve[:, 1] - centre[1])
        long_edges = np.abs(np.angle(np.roll(z, -1) / z)) > turn
        if not long_edges.any():
            return curve, centre
        if angles.size + 7 * int(long_edges.sum()) > max_points:
            raise RuntimeError(f"the image of the circle needs more than max_points = {max_points} points")
        ends = np.roll(angles, -1)
        ends[-1] += 2.0 * math.pi
        start, width = angles[long_edges], (ends - angles)[long_edges]
        new = (start[:, None] + width[:, None] * np.arange(1, 8) / 8.0).ravel()
        angles = np.concatenate([angles, new])
        curve = np.concatenate([curve, image(new)])
        order = np.argsort(angles)
        angles, curve = angles[order], curve[order]


# --------------------------------------------------------------------------- a dense grid of the whole disc
def disc_grid(radius: float, spacing: float, dim: int = 2) -> torch.Tensor:
    """The points of the square lattice ``spacing·Z²`` inside the closed disc ``|x| ≤ radius``, shape ``(m, dim)``.

    ``{(i h, j h) : i, j ∈ Z, (i h)² + (j h)² ≤ r²}`` with ``h = spacing``, ``r = radius``, row by row
    (``x₂`` outer, ``x₁`` inner, increasing); with ``dim = 3`` each point gets ``x₃ = 0``.  It fills
    the *connected* region ``|x| ≤ r3`` — disc, gap and annulus — on which a fold of a layer map is
    detected (:func:`fold_summary`); about ``π r²/h²`` points.

    Args:
        radius: ``r`` (> 0); spacing: ``h`` (> 0, at most ``radius``).
        dim: 2 or 3.

    Returns:
        float64 ``(m, dim)``.
    """
    r = check_positive("radius", radius)
    h = check_positive("spacing", spacing)
    if h > r:
        raise ValueError(f"spacing must be <= radius = {r!r} (at least one step inside the disc); got {spacing!r}")
    if isinstance(dim, bool) or dim not in (2, 3):
        raise ValueError(f"dim must be 2 or 3; got {dim!r}")
    k = math.floor(r / h * (1 + 1e-12))  # r/h = 74.999…98 must still give the points at ±r
    ticks = h * torch.arange(-k, k + 1, dtype=torch.float64)
    x2, x1 = torch.meshgrid(ticks, ticks, indexing="ij")
    pts = torch.stack([x1.reshape(-1), x2.reshape(-1)], dim=1)
    pts = pts[(pts**2).sum(1) <= r * r * (1 + 1e-12)]
    return torch.nn.functional.pad(pts, (0, dim - 2))


# --------------------------------------------------------------------------- squeezing through the gaps
def nearest_distance(points: Any, reference: Any) -> np.ndarray:
    """The Euclidean distance from each point to its nearest reference point, shape ``(n,)``.

    ``dist_i = min_j |points_i − reference_j|`` by a k-d tree (``scipy.spatial.cKDTree``).

    Args:
        points: ``(n, d)`` finite reals; reference: ``(m, d)`` finite reals (e.g. the training inputs).
    """
    pa = _points("points", points)
    ra = _points("reference", reference)
    if pa.shape[1] != ra.shape[1]:
        raise ValueError(f"reference must have the dimension of points ({pa.shape[1]}); got shape {ra.shape}")
    return cKDTree(ra).query(pa, k=1)[0]


def _points(name: str, value: Any) -> np.ndarray:
    arr = as_numpy(value)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must have shape (n, d) with n, d >= 1; got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} must hold real numbers; got dtype {arr.dtype}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values")
    return arr.astype(np.float64)


def error_by_distance(distance: Any, correct: Any, edges: Any) -> tuple[np.ndarray, np.ndarray]:
    """The error rate as a function of the distance to the training set, binned.

    For bin ``k`` (``edges[k] ≤ distance < edges[k+1]``, the last bin closed) the error rate is
    ``1 − mean(correct)`` over its points (NaN for an empty bin).

    Args:
        distance: ``(n,)`` finite distances ``>= 0`` (e.g. :func:`nearest_distance`).
        correct: ``(n,)`` booleans, whether each point is classified correctly.
        edges: ``(k + 1,)`` strictly increasing bin edges (``k >= 1``).

    Returns:
        ``(error_rate, count)``: two ``(k,)`` arrays.
    """
    da = np.asarray(as_numpy(distance), dtype=float)
    ca = as_numpy(correct)
    ea = np.asarray(as_numpy(edges), dtype=float)
    if da.ndim != 1 or da.size == 0 or not np.all(np.isfinite(da)) or (da < 0).any():
        raise ValueError(f"distance must be a non-empty 1-D array of finite values >= 0; got shape {da.shape}")
    if ca.dtype != np.bool_ or ca.shape != da.shape:
        raise ValueError(
            f"correct must be a boolean array of the shape of distance {da.shape}; got {ca.dtype} {ca.shape}"
        )
    if ea.ndim != 1 or ea.size < 2 or not np.all(np.isfinite(ea)) or not np.all(np.diff(ea) > 0):
        raise ValueError(f"edges must be a 1-D strictly increasing array of >= 2 finite values; got {ea!r:.80}")
    return _error_by_distance(da, ca, ea)


def _error_by_distance(da: np.ndarray, ca: np.ndarray, ea: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    k = ea.size - 1
    idx = np.clip(np.searchsorted(ea, da, side="right") - 1, 0, k - 1)
    inside = (da >= ea[0]) & (da <= ea[-1])
    counts = np.bincount(idx[inside], minlength=k)
    wrong = np.bincount(idx[inside], weights=(~ca[inside]).astype(float), minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(counts > 0, wrong / np.maximum(counts, 1), np.nan)
    return rate, counts
